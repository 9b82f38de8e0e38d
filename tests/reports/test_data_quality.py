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
    result = profile(engine.canonical(tmp_path / "out"), engine.rows)
    assert result.members == 2 and result.member_months == 6 and result.ffs_member_months == 5
    assert str(result.first_service) == "2025-01-10" and str(result.last_service) == "2025-03-31"
    by_type = {row["claim_type"]: row for row in result.spend_by_claim_type}
    # C's claim (X1) has no enrollment month behind it: reported outside the denominator, not in the spend.
    assert by_type["professional"]["claims"] == 1 and by_type["professional"]["lines"] == 2
    assert by_type["professional"]["allowed"] == Decimal("150.01")
    # 150.01 / 5 FFS member-months = 30.002 -> 30.00; 1150.01 / 5 = 230.002 -> 230.00
    assert by_type["professional"]["pmpm"] == Decimal("30.00")
    assert result.allowed_total == Decimal("1150.01") and result.allowed_pmpm == Decimal("230.00")
    npi = next(c for c in result.completeness if c.column == "rendering_npi")
    assert (npi.filled, npi.rows) == (2, 4)
    assert result.claims_without_enrollment == 1


def test_only_claims_in_denominator_months_count_and_the_rest_is_reported(engine, tmp_path):
    """Issue 15: claims of members without enrollment, after enrollment ended or in MA months were divided by FFS
    member months. Figures below are worked by hand from the rows."""
    src = tmp_path / "in"
    src.mkdir()
    (src / "members.csv").write_text(
        "member_id,birth_date,sex\nA,1950-01-01,F\nB,1945-05-05,M\nC,1940-02-02,F\nD,1948-03-03,M\n"
    )
    # FFS months: A Jan-Mar (Part D Jan-Feb), B Jan-Feb (Part D) then MA in March, D Feb and Apr (gap in March).
    # -> 7 FFS member-months; FFS months with Part D: A 2 + B 2 + D 2 = 6. C has no enrollment.
    enrollment = [
        ("A", "01", "medicare_ffs", "true", "false"),
        ("A", "02", "medicare_ffs", "true", "false"),
        ("A", "03", "medicare_ffs", "false", "false"),
        ("B", "01", "medicare_ffs", "true", "false"),
        ("B", "02", "medicare_ffs", "true", "false"),
        ("B", "03", "medicare_advantage", "true", "true"),
        ("D", "02", "medicare_ffs", "true", "false"),
        ("D", "04", "medicare_ffs", "true", "false"),
    ]
    (src / "enrollment.csv").write_text(
        "member_id,month,payer,product,line_of_business,part_d,medicare_advantage\n"
        + "".join(f"{m},2025-{mo}-01,Medicare,X,{lob},{d},{ma}\n" for m, mo, lob, d, ma in enrollment)
    )
    claims = [
        ("P1", "professional", "A", "2025-01-10", "100.00"),  # counted
        ("P2", "professional", "A", "2025-04-02", "40.00"),  # after A's enrollment ended (March)
        ("P3", "professional", "B", "2025-03-15", "70.00"),  # B's Medicare Advantage month
        ("I1", "inpatient", "B", "2025-02-03", "1000.00"),  # counted
        ("P4", "professional", "C", "2025-03-31", "25.00"),  # no enrollment
        ("O1", "outpatient", "D", "2025-01-20", "30.00"),  # before D's enrollment started (February)
        ("O2", "outpatient", "D", "2025-03-05", "20.00"),  # D's gap month
        ("O3", "outpatient", "D", "2025-04-30", "10.00"),  # counted
    ]
    (src / "medical_claims.csv").write_text(
        "claim_id,claim_line_number,claim_type,member_id,service_date,allowed_amount\n"
        + "".join(f"{c},1,{t},{m},{d},{a}\n" for c, t, m, d, a in claims)
    )
    fills = [
        ("R1", "A", "2025-01-05", "20.00"),  # counted
        ("R2", "A", "2025-03-05", "15.00"),  # A has no Part D in March
        ("R3", "B", "2025-03-09", "12.00"),  # MA month
        ("R4", "C", "2025-02-11", "5.00"),  # no enrollment
        ("R5", "D", "2025-04-01", "9.99"),  # counted
    ]
    (src / "pharmacy_claims.csv").write_text(
        "claim_id,claim_line_number,member_id,dispensing_date,allowed_amount\n"
        + "".join(f"{c},1,{m},{d},{a}\n" for c, m, d, a in fills)
    )
    report = ingest(engine, "csv", src, tmp_path / "out")
    assert report.totals.quarantined == 0, report.quarantine[:3]
    result = profile(engine.canonical(tmp_path / "out"), engine.rows)
    assert (result.denominator, result.ffs_member_months, result.denominator_member_months) == (
        "medicare_ffs",
        7,
        7,
    )
    spend = {r["claim_type"]: (r["claims"], r["allowed"], r["pmpm"]) for r in result.spend_by_claim_type}
    # 1000.00 / 7 = 142.857 -> 142.86; 100.00 / 7 = 14.286 -> 14.29; 10.00 / 7 = 1.429 -> 1.43
    assert spend == {
        "inpatient": (1, Decimal("1000.00"), Decimal("142.86")),
        "professional": (1, Decimal("100.00"), Decimal("14.29")),
        "outpatient": (1, Decimal("10.00"), Decimal("1.43")),
    }
    # 1110.00 / 7 = 158.571 -> 158.57
    assert (result.allowed_total, result.allowed_pmpm) == (Decimal("1110.00"), Decimal("158.57"))
    outside = {(r["table"], r["reason"]): (r["claims"], r["allowed"]) for r in result.outside_denominator}
    assert outside == {
        ("medical_claims", "no_enrollment"): (1, Decimal("25.00")),
        ("medical_claims", "before_enrollment_started"): (1, Decimal("30.00")),
        ("medical_claims", "after_enrollment_ended"): (1, Decimal("40.00")),
        ("medical_claims", "enrollment_gap"): (1, Decimal("20.00")),
        ("medical_claims", "medicare_advantage"): (1, Decimal("70.00")),
        ("pharmacy_claims", "no_enrollment"): (1, Decimal("5.00")),
        ("pharmacy_claims", "medicare_advantage"): (1, Decimal("12.00")),
        ("pharmacy_claims", "no_part_d"): (1, Decimal("15.00")),
    }
    # pharmacy: 20.00 + 9.99 = 29.99 over 6 FFS months with Part D = 4.998 -> 5.00
    assert result.part_d_member_months == 6
    assert result.pharmacy == {
        "lines": 2,
        "claims": 2,
        "allowed": Decimal("29.99"),
        "member_months": 6,
        "pmpm": Decimal("5.00"),
    }
    # every dollar is either counted or reported outside: 1110.00 + 185.00 medical, 29.99 + 32.00 pharmacy
    medical_outside = sum(v for (t, _), (_, v) in outside.items() if t == "medical_claims")
    assert result.allowed_total + medical_outside == Decimal("1295.00")
