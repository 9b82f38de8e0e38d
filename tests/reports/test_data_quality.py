"""The data-quality profile on a hand-built folder whose figures are computed by hand below."""

from __future__ import annotations

from decimal import Decimal

from apmkit.ingest import ingest
from apmkit.reports.data_quality import profile


def test_profile_figures_match_hand_computation(engine, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "members.csv").write_text("member_id,birth_date,sex\nA,1950-01-01,F\nB,1945-05-05,M\n")
    # A: 3 FFS months, B: 2 FFS months + 1 MA month -> 6 member-months, 5 of them FFS.
    (src / "enrollment.csv").write_text(
        "member_id,month,payer,product,line_of_business\n"
        "A,2025-01-01,Medicare,FFS,medicare_ffs\nA,2025-02-01,Medicare,FFS,medicare_ffs\n"
        "A,2025-03-01,Medicare,FFS,medicare_ffs\nB,2025-01-01,Medicare,FFS,medicare_ffs\n"
        "B,2025-02-01,Medicare,FFS,medicare_ffs\nB,2025-03-01,Medicare,MA,medicare_advantage\n"
    )
    # professional 100.00 + 50.01 on one claim; inpatient 1000.00; a claim for C, who has no enrollment.
    (src / "medical_claims.csv").write_text(
        "claim_id,claim_line_number,claim_type,member_id,service_date,rendering_npi,allowed_amount,dx_1\n"
        "P1,1,professional,A,2025-01-10,1234567893,100.00,E119\n"
        "P1,2,professional,A,2025-01-10,,50.01,E119\n"
        "I1,1,inpatient,B,2025-02-03,,1000.00,\n"
        "X1,1,professional,C,2025-03-31,1234567893,0.00,I10\n"
    )
    ingest(engine, "csv", src, tmp_path / "out")
    result = profile(engine.canonical(tmp_path / "out"))
    assert result.members == 2 and result.member_months == 6 and result.ffs_member_months == 5
    assert str(result.first_service) == "2025-01-10" and str(result.last_service) == "2025-03-31"
    by_type = {row["claim_type"]: row for row in result.spend_by_claim_type}
    assert by_type["professional"]["claims"] == 2 and by_type["professional"]["lines"] == 3
    assert by_type["professional"]["allowed"] == Decimal("150.01")
    # 150.01 / 5 FFS member-months = 30.002 -> 30.00; 1150.01 / 5 = 230.002 -> 230.00
    assert by_type["professional"]["pmpm"] == Decimal("30.00")
    assert result.allowed_total == Decimal("1150.01") and result.allowed_pmpm == Decimal("230.00")
    npi = next(c for c in result.completeness if c.column == "rendering_npi")
    assert (npi.filled, npi.rows) == (2, 4)
    assert result.claims_without_enrollment == 1
