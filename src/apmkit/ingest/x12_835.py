"""X12 835 (005010X221A1) electronic remittance advice into billing lines, adjustments and PLB rows.

Segments are tokenised by ``pyx12`` (a maintained X12 reader: delimiters from ISA, envelope and loop checks);
this module walks the segments it yields and keeps the ones apmkit needs:

=====  ===========================================================================================
BPR    BPR16 payment effective date -> ``paid_date`` of every line in the transaction
TRN    TRN02 check or EFT trace number (kept in the claim's provenance)
N1     N1*PR payer name -> ``payer``
CLP    a claim: CLP01 claim id, CLP02 status (4 = denied, 22 = reversal), CLP03 charge, CLP04 payment
NM1    NM1*82 rendering provider (NM109) -> ``clinician``
DTM    232/472 service date (claim statement start / line date of service)
SVC    a service line: SVC01-2 procedure, SVC02 charge, SVC03 payment
CAS    adjustments: group (CO contractual, PR patient, OA other, PI payer initiated), CARC, amount (x6)
AMT    AMT*B6 allowed amount of the line
LQ     LQ*HE remittance advice remark code (RARC)
PLB    provider-level adjustments (reason code, reference, amount) in pairs
=====  ===========================================================================================

Everything comes back as strings with ``source_file`` and ``source_line`` (the segment number, since an 835 is
often one physical line) so that conformance reports bad values by field. Amount arithmetic (allowed = charge -
CO adjustments when AMT*B6 is absent) uses Decimal and leaves the field empty when an amount does not parse, so
the row is quarantined with the field named.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa

from apmkit.errors import InputFileError
from apmkit.ingest.readers import Reject

_ADJUSTMENT_GROUPS = ("CO", "PR", "OA", "PI", "CR")


@dataclass
class Remittance:
    """The string tables parsed from one 835 file."""

    lines: pa.Table
    adjustments: pa.Table
    provider_adjustments: pa.Table
    rejects: list[Reject] = field(default_factory=list)
    segments: int = 0


def _date(text: str | None) -> str | None:
    if not text or len(text) != 8 or not text.isdigit():
        return text or None
    return f"{text[:4]}-{text[4:6]}-{text[6:]}"


def _dec(text: str | None) -> Decimal | None:
    if text is None or text == "":
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


class _Claim:
    def __init__(self, seg_no: int, values: dict[str, str | None]):
        self.seg_no = seg_no
        self.values = values
        self.lines: list[dict[str, Any]] = []
        self.claim_adjustments: list[dict[str, Any]] = []
        self.clinician: str | None = None
        self.service_date: str | None = None


def read_835(path: Path) -> Remittance:
    """Parse an 835 file.

    Raises
    ------
    InputFileError
        The file is missing or not an X12 interchange (no ISA header), or it holds no 835 transaction.
    """
    from pyx12.errors import X12Error
    from pyx12.x12file import X12Reader

    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such file")
    data = path.read_bytes()
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise InputFileError(path, f"not an ASCII X12 file (byte {exc.start})") from exc
    if not text.lstrip().startswith("ISA"):
        raise InputFileError(
            path, "not an X12 interchange: the file does not start with an ISA segment", line=1
        )
    try:
        reader = X12Reader(io.StringIO(text.lstrip()))
    except X12Error as exc:
        raise InputFileError(path, f"unreadable ISA header ({exc})", line=1) from exc

    lines: list[dict[str, Any]] = []
    adjustments: list[dict[str, Any]] = []
    plb: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    transaction_sets = 0
    payer: str | None = None
    paid_date: str | None = None
    claim: _Claim | None = None
    current_line: dict[str, Any] | None = None
    seg_no = 0

    def finish_claim() -> None:
        nonlocal claim, current_line
        if claim is None:
            return
        _emit_claim(claim, lines, adjustments, path.name, payer, paid_date)
        claim = None
        current_line = None

    try:
        for segment in reader:
            seg_no += 1
            seg_id = segment.get_seg_id()
            # One pass over the elements: pyx12's get_value parses the reference designator on every call.
            v = {ref: value for ref, _, _, value in segment.values_iterator()}
            if seg_id == "ST":
                transaction_sets += 1 if v.get("ST01") == "835" else 0
            elif seg_id == "BPR":
                paid_date = _date(v.get("BPR16"))
            elif seg_id == "N1" and v.get("N101") == "PR":
                payer = v.get("N102") or v.get("N104")
            elif seg_id == "CLP":
                finish_claim()
                claim = _Claim(
                    seg_no,
                    {
                        "claim_id": v.get("CLP01"),
                        "status": v.get("CLP02"),
                        "billed": v.get("CLP03"),
                        "paid": v.get("CLP04"),
                        "patient_resp": v.get("CLP05"),
                    },
                )
            elif seg_id in ("SVC", "CAS", "AMT", "LQ", "NM1", "DTM") and claim is None:
                if seg_id in ("SVC", "CAS"):
                    rejects.append(
                        Reject(
                            path.name,
                            seg_no,
                            seg_id,
                            f"{seg_id} segment outside a claim (no CLP before it)",
                            seg_id,
                        )
                    )
            elif seg_id == "NM1" and claim is not None:
                if v.get("NM101") == "82":
                    claim.clinician = v.get("NM109")
            elif seg_id == "DTM" and claim is not None:
                qualifier = v.get("DTM01")
                if qualifier == "472" and current_line is not None:
                    current_line["service_date"] = _date(v.get("DTM02"))
                elif qualifier in ("232", "472") and current_line is None:
                    claim.service_date = _date(v.get("DTM02"))
            elif seg_id == "SVC" and claim is not None:
                procedure = v.get("SVC01-2")
                current_line = {
                    "seg_no": seg_no,
                    "procedure_code": procedure,
                    "billed": v.get("SVC02"),
                    "paid": v.get("SVC03"),
                    "allowed": None,
                    "service_date": None,
                    "rarc": None,
                    "adjustments": [],
                }
                claim.lines.append(current_line)
            elif seg_id == "CAS" and claim is not None:
                group = v.get("CAS01")
                for k in range(6):
                    reason = v.get(f"CAS{2 + 3 * k:02d}")
                    amount = v.get(f"CAS{3 + 3 * k:02d}")
                    if not reason:
                        continue
                    entry = {"group_code": group, "carc": reason, "amount": amount, "seg_no": seg_no}
                    (
                        current_line["adjustments"] if current_line is not None else claim.claim_adjustments
                    ).append(entry)
            elif seg_id == "AMT" and current_line is not None and v.get("AMT01") == "B6":
                current_line["allowed"] = v.get("AMT02")
            elif seg_id == "LQ" and current_line is not None and v.get("LQ01") == "HE":
                current_line["rarc"] = current_line["rarc"] or v.get("LQ02")
            elif seg_id == "PLB":
                finish_claim()
                provider = v.get("PLB01")
                period = _date(v.get("PLB02"))
                for k in range(6):
                    composite = v.get(f"PLB{3 + 2 * k:02d}-1")
                    amount = v.get(f"PLB{4 + 2 * k:02d}")
                    if not composite:
                        continue
                    plb.append(
                        {
                            "provider_id": provider,
                            "fiscal_period_date": period,
                            "reason_code": composite,
                            "reference": v.get(f"PLB{3 + 2 * k:02d}-2"),
                            "amount": amount,
                            "source_file": path.name,
                            "source_line": seg_no,
                        }
                    )
            elif seg_id == "SE":
                finish_claim()
    except X12Error as exc:
        raise InputFileError(path, f"X12 structure error after segment {seg_no} ({exc})") from exc
    finally:
        reader.close()
    finish_claim()
    if transaction_sets == 0:
        raise InputFileError(path, "no 835 transaction set (ST01 = 835) in the interchange")
    for code, message in _reader_errors(reader):
        rejects.append(Reject(path.name, seg_no, "X12", f"X12 envelope error {code}: {message}", ""))
    return Remittance(
        lines=_strings(lines, _LINE_COLUMNS),
        adjustments=_strings(adjustments, _ADJ_COLUMNS),
        provider_adjustments=_strings(plb, _PLB_COLUMNS),
        rejects=rejects,
        segments=seg_no,
    )


def _reader_errors(reader: Any) -> list[tuple[str, str]]:
    out = []
    for item in reader.pop_errors():
        # pyx12 error tuples: (kind, code, message, ...)
        out.append((str(item[1]), str(item[2])))
    return out


_LINE_COLUMNS = (
    "claim_id",
    "line_number",
    "service_date",
    "payer",
    "clinician",
    "procedure_code",
    "billed_amount",
    "allowed_amount",
    "paid_amount",
    "adjustment_amount",
    "denied",
    "carc",
    "rarc",
    "paid_date",
    "source_file",
    "source_line",
)
_ADJ_COLUMNS = ("claim_id", "line_number", "group_code", "carc", "amount", "source_file", "source_line")
_PLB_COLUMNS = (
    "provider_id",
    "fiscal_period_date",
    "reason_code",
    "reference",
    "amount",
    "source_file",
    "source_line",
)


def _strings(rows: list[dict[str, Any]], names: tuple[str, ...]) -> pa.Table:
    arrays = {}
    for name in names:
        values = [row.get(name) for row in rows]
        if name == "source_line":
            arrays[name] = pa.array(values, pa.int64())
        else:
            arrays[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.table(arrays)


def _sum(entries: list[dict[str, Any]], groups: tuple[str, ...]) -> Decimal | None:
    total = Decimal(0)
    for entry in entries:
        if entry["group_code"] in groups:
            amount = _dec(entry["amount"])
            if amount is None:
                return None
            total += amount
    return total


def _emit_claim(
    claim: _Claim,
    lines: list[dict[str, Any]],
    adjustments: list[dict[str, Any]],
    file_name: str,
    payer: str | None,
    paid_date: str | None,
) -> None:
    values = claim.values
    claim_id = values["claim_id"]
    claim_denied = values["status"] == "4"
    service_lines = claim.lines or [
        {
            "seg_no": claim.seg_no,
            "procedure_code": None,
            "billed": values["billed"],
            "paid": values["paid"],
            "allowed": None,
            "service_date": None,
            "rarc": None,
            "adjustments": claim.claim_adjustments,
        }
    ]
    for number, line in enumerate(service_lines, start=1):
        entries = line["adjustments"]
        billed = _dec(line["billed"])
        paid = _dec(line["paid"])
        contractual = _sum(entries, ("CO",))
        allowed = line["allowed"]
        if allowed is None and billed is not None and contractual is not None:
            allowed = str(billed - contractual)
        other = _sum(entries, ("OA", "PI", "CR"))
        denied = claim_denied or (paid == 0 and billed is not None and billed > 0)
        denial_codes = [e["carc"] for e in entries if e["group_code"] != "PR"] or [e["carc"] for e in entries]
        lines.append(
            {
                "claim_id": claim_id,
                "line_number": number,
                "service_date": line["service_date"] or claim.service_date,
                "payer": payer,
                "clinician": claim.clinician,
                "procedure_code": line["procedure_code"],
                "billed_amount": line["billed"],
                "allowed_amount": allowed,
                "paid_amount": line["paid"],
                "adjustment_amount": None if other is None else str(other),
                "denied": "true" if denied else "false",
                "carc": denial_codes[0] if denied and denial_codes else None,
                "rarc": line["rarc"],
                "paid_date": paid_date,
                "source_file": file_name,
                "source_line": line["seg_no"],
            }
        )
        for entry in entries:
            adjustments.append(
                {
                    "claim_id": claim_id,
                    "line_number": number if claim.lines else None,
                    "group_code": entry["group_code"],
                    "carc": entry["carc"],
                    "amount": entry["amount"],
                    "source_file": file_name,
                    "source_line": entry["seg_no"],
                }
            )
    if claim.lines:
        for entry in claim.claim_adjustments:
            adjustments.append(
                {
                    "claim_id": claim_id,
                    "line_number": None,
                    "group_code": entry["group_code"],
                    "carc": entry["carc"],
                    "amount": entry["amount"],
                    "source_file": file_name,
                    "source_line": entry["seg_no"],
                }
            )
