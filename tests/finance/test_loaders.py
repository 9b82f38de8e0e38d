"""Finance loaders: the X12 835 reader (values derived by hand from the segments of the fixture) and quarantine
of bad ledger, billing and 835 rows with file, line, field and reason."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from apmkit.engines import Engine
from apmkit.errors import InputFileError
from apmkit.ingest.practice_finance import load_835, load_billing, load_billing_files, load_ledger
from apmkit.ingest.x12_835 import read_835

FIN = Path(__file__).parent.parent / "fixtures" / "finance"


def test_835_claim_lines(engine: Engine) -> None:
    """C1 line 1: SVC 200 billed, 132 paid; CAS CO-45 48 -> allowed AMT*B6 152; PR-2 20 stays with the patient.
    C1 line 2: 100 billed, CO-45 50, paid 50, allowed 50. C2 (CLP02 = 4, denied): 150 billed, CO-50 150, paid 0,
    allowed 150 - 150 = 0, RARC N115. Payer from N1*PR, paid date from BPR16, clinician from NM1*82."""
    loaded = load_835(engine, [FIN / "era_example.835"])
    rows = sorted(engine.to_arrow(loaded.table).to_pylist(), key=lambda r: (r["claim_id"], r["line_number"]))
    assert [(r["claim_id"], r["line_number"]) for r in rows] == [("C1", 1), ("C1", 2), ("C2", 1)]
    first, second, denied = rows
    assert (first["billed_amount"], first["allowed_amount"], first["paid_amount"]) == (
        D("200.00"),
        D("152.00"),
        D("132.00"),
    )
    assert (second["allowed_amount"], second["paid_amount"]) == (D("50.00"), D("50.00"))
    assert first["denied"] is False and first["carc"] is None
    assert (denied["denied"], denied["carc"], denied["rarc"], denied["allowed_amount"]) == (
        True,
        "50",
        "N115",
        D("0.00"),
    )
    assert {r["payer"] for r in rows} == {"ACME HEALTH PLAN"}
    assert str(first["paid_date"]) == "2025-01-15"
    assert str(first["service_date"]) == "2025-01-05"
    assert first["clinician"] == "1111111112" and denied["clinician"] == "2222222225"
    assert first["procedure_code"] == "99213"
    adjustments = engine.to_arrow(loaded.extra["remit_adjustments"]).to_pylist()
    assert sorted((a["claim_id"], a["group_code"], a["carc"], a["amount"]) for a in adjustments) == [
        ("C1", "CO", "45", D("48.00")),
        ("C1", "CO", "45", D("50.00")),
        ("C1", "PR", "2", D("20.00")),
        ("C2", "CO", "50", D("150.00")),
    ]
    plb = engine.to_arrow(loaded.extra["provider_adjustments"]).to_pylist()
    assert [(p["reason_code"], p["reference"], p["amount"]) for p in plb] == [("L6", "INT1", D("-2.50"))]
    assert loaded.rejected == 0


def test_835_remittance_balances() -> None:
    """Paid lines plus the PLB adjustment reproduce the BPR02 total: 132 + 50 + 0 - (-2.50) = 184.50."""
    remit = read_835(FIN / "era_example.835")
    paid = sum(D(v) for v in remit.lines.column("paid_amount").to_pylist())
    plb = sum(D(v) for v in remit.provider_adjustments.column("amount").to_pylist())
    assert paid - plb == D("184.50")


def _835(tmp_path: Path, body: str) -> Path:
    isa = "ISA*00*" + " " * 10 + "*00*" + " " * 10 + "*ZZ*" + "P".ljust(15) + "*ZZ*" + "R".ljust(15)
    isa += "*250115*1200*^*00501*000000001*0*P*:~"
    segments = [s for s in body.split("~") if s.strip()]
    text = isa + "GS*HP*P*R*20250115*1200*1*X*005010X221A1~ST*835*0001~" + "~".join(segments) + "~"
    text += f"SE*{len(segments) + 2}*0001~GE*1*1~IEA*1*000000001~"
    path = tmp_path / "bad.835"
    path.write_text(text, encoding="ascii")
    return path


def test_835_bad_amount_is_quarantined(engine: Engine, tmp_path: Path) -> None:
    path = _835(
        tmp_path,
        "BPR*I*0*C*NON************20250115~N1*PR*X~CLP*K1*1*12X*0*0*12~SVC*HC:99213*12X*0**1~DTM*472*20250105",
    )
    loaded = load_835(engine, [path])
    bad = engine.to_arrow(loaded.quarantine).to_pylist()
    assert [(q["source_file"], q["field"]) for q in bad] == [("bad.835", "billed_amount")]
    assert bad[0]["source_line"] == 7  # ISA, GS, ST, BPR, N1, CLP, SVC: the SVC segment
    assert loaded.read == loaded.loaded + loaded.rejected


def test_835_service_line_outside_a_claim_is_rejected(engine: Engine, tmp_path: Path) -> None:
    path = _835(tmp_path, "BPR*I*0*C*NON************20250115~N1*PR*X~SVC*HC:99213*10*0**1")
    loaded = load_835(engine, [path])
    reasons = [q["reason"] for q in engine.to_arrow(loaded.quarantine).to_pylist()]
    assert reasons == ["SVC segment outside a claim (no CLP before it)"]


def test_not_an_835_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "x.835"
    path.write_text("hello", encoding="ascii")
    with pytest.raises(InputFileError, match="ISA"):
        read_835(path)


def test_billing_csv_bad_rows_are_quarantined(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "billing.csv"
    path.write_text(
        "claim_id,line_number,service_date,payer,billed_amount,carc\n"
        "B1,1,2025-01-05,Acme,100.00,\n"
        "B2,1,2025-13-05,Acme,100.00,\n"
        "B3,1,2025-01-05,Acme,-5,\n"
        "B4,1,2025-01-05,Acme,10.00,X-1\n"
        "B1,1,2025-01-06,Acme,100.00,\n",
        encoding="utf-8",
    )
    loaded = load_billing(engine, [path])
    bad = sorted(engine.to_arrow(loaded.quarantine).to_pylist(), key=lambda q: q["source_line"])
    assert [(q["source_line"], q["field"]) for q in bad] == [
        (3, "service_date"),
        (4, "billed_amount"),
        (5, "carc"),
        (6, "claim_id"),
    ]
    assert "duplicate key" in bad[3]["reason"]
    assert loaded.counts() == {"read": 5, "loaded": 1, "rejected": 4}


def test_ledger_bad_rows_are_quarantined(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "gl.csv"
    path.write_text(
        "posting_date,account,account_type,amount\n2025-01-31,4000,revenue,10\n2025-01-31,4000,income,10\n",
        encoding="utf-8",
    )
    loaded = load_ledger(engine, [path])
    bad = engine.to_arrow(loaded.quarantine).to_pylist()
    assert [(q["source_file"], q["source_line"], q["field"]) for q in bad] == [("gl.csv", 3, "account_type")]


def test_missing_required_column_names_the_file(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "gl.csv"
    path.write_text("posting_date,account\n2025-01-31,4000\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"gl\.csv, line 1: missing required column"):
        load_ledger(engine, [path])


def test_mixed_billing_files(engine: Engine) -> None:
    loaded = load_billing_files(engine, [FIN / "billing_example.csv", FIN / "era_example.835"])
    assert engine.count(loaded.table) == 9


def test_counts_per_table_reconcile(engine: Engine) -> None:
    """CSV: 6 lines; 835: 3 lines, 4 CAS adjustments, 1 PLB amount. Every table: read = loaded + rejected."""
    loaded = load_billing_files(engine, [FIN / "billing_example.csv", FIN / "era_example.835"])
    tables = loaded.counts()["tables"]
    assert tables["billing_lines"] == {"read": 9, "loaded": 9, "rejected": 0}
    assert tables["remit_adjustments"] == {"read": 4, "loaded": 4, "rejected": 0}
    assert tables["provider_adjustments"] == {"read": 1, "loaded": 1, "rejected": 0}
    assert loaded.read == loaded.loaded + loaded.rejected == 14
