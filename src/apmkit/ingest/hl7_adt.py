"""HL7 v2 ADT loader: ``apmkit ingest hl7-adt PATH --out DIR`` into the canonical ``adt_events`` table.

PATH is a file or a folder searched recursively for ``*.hl7``, ``*.adt``, ``*.mllp`` and ``*.txt``. A file
holds one or more messages either MLLP-framed (each message between the start block 0x0B and the end block
0x1C 0x0D, as an interface engine logs them) or as a batch file: segments one per line (CR, LF or CRLF), a new
message at every ``MSH`` segment, batch and file envelopes (``FHS``/``BHS``/``BTS``/``FTS``) skipped.

Each message is parsed with python-hl7 (``hl7.parse``, which also undoes the escape sequences). Messages of
type ``ADT`` with trigger event A01 (admit), A02 (transfer), A03 (discharge), A04 (register) or A08 (update)
become one ``adt_events`` row; other message types and other ADT events are not loaded and are counted in
the report's warnings. Field positions follow the HL7 v2.5.1 segment definitions (chapter 2 MSH, chapter 3
EVN, PID and PV1):

==========================  ===========================================================================
``event_id``                MSH-10 message control id
``member_id``               PID-3: the repetition with identifier type (CX-5) ``MC`` (Medicare number),
                            else ``MB`` (member number), else the first repetition; its ID (CX-1)
``event_type``              MSH-9 component 2 (trigger event), else EVN-1
``event_time``              EVN-2 recorded date/time, else MSH-7
``admit_time``              PV1-44; ``discharge_time`` PV1-45
``patient_class``           PV1-2 (table 0004); ``hospital_service`` PV1-10; ``visit_number`` PV1-19
``facility_id``             PV1-3 component 4 (the location's facility), else MSH-4
``attending_npi``           PV1-7: the repetition whose identifier type (XCN-13) or assigning authority
                            (XCN-9) is ``NPI``; none when the attending doctor has no NPI identifier
``discharge_disposition``   PV1-36
``setting``                 ``emergency`` for class E; ``snf`` when hospital service or patient type
                            (PV1-18) is ``SNF``; ``observation`` when either is ``OBS``; ``inpatient`` for
                            class I; ``outpatient`` for O and R; none for the other classes
==========================  ===========================================================================

Times (HL7 ``DTM``: ``YYYYMMDD[HH[MM[SS[.S]]]][+/-ZZZZ]``) keep the facility's wall-clock time: a UTC offset
is dropped, so the day of an admission is the facility's calendar day, as on claims. ``source_line`` is the
message number within its file (1-based). A message that cannot be framed, decoded or parsed, lacks its PID
or PV1 segment, or holds a date/time that is not an HL7 date/time is quarantined with its file, message
number and field; everything else is conformed by the shared pipeline (required fields, codes, NPI pattern,
duplicate control ids).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import hl7
import ibis
import pyarrow as pa

from apmkit.engines import Engine
from apmkit.errors import InputFileError
from apmkit.ingest.pipeline import Staged
from apmkit.ingest.readers import RECORD, SOURCE_FILE, SOURCE_LINE, Reject
from apmkit.schemas import ADT_EVENTS

FORMAT = "hl7-adt"
TABLE = ADT_EVENTS.name
SUFFIXES = (".hl7", ".adt", ".mllp", ".txt")
EVENTS = ("A01", "A02", "A03", "A04", "A08")
SNF_CODES = ("SNF",)
OBSERVATION_CODES = ("OBS",)
_START_BLOCK, _END_BLOCK = b"\x0b", b"\x1c"
_ENVELOPES = (b"FHS", b"BHS", b"BTS", b"FTS")
_DTM = re.compile(
    r"^(\d{4})(\d{2})(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,4}))?)?)?)?(?:[+-]\d{4})?$"
)
_TIMESTAMP_COLUMNS = ("event_time", "admit_time", "discharge_time")


class _BadMessage(Exception):
    def __init__(self, reason: str, field: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.field = field


def find_files(path: Path) -> list[Path]:
    """The HL7 files under ``path`` (itself when it is a file), in a stable order."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputFileError(path, "no such file or folder")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(SUFFIXES))
    if not files:
        raise InputFileError(path, f"no HL7 files found (expected {', '.join('*' + s for s in SUFFIXES)})")
    return files


def split_messages(data: bytes) -> list[tuple[bytes, str | None]]:
    """Split a file into messages (segments joined by CR) and, for a piece that is no message, the reason.

    MLLP framing is recognised by the start block byte; otherwise segments are lines and every ``MSH``
    starts a message. Segments before the first ``MSH`` form one rejected piece.
    """
    if _START_BLOCK in data:
        pieces: list[tuple[bytes, str | None]] = []
        before, *frames = data.split(_START_BLOCK)
        if before.strip():
            pieces.append((before, "data outside an MLLP frame (before the start block 0x0B)"))
        for frame in frames:
            body, end, after = frame.partition(_END_BLOCK)
            if not end:
                pieces.append((frame, "MLLP frame not closed (no end block 0x1C)"))
                continue
            pieces.append((_join_segments(body), None))
            if after.strip():
                pieces.append((after, "data outside an MLLP frame (after the end block 0x1C)"))
        return pieces
    messages: list[list[bytes]] = []
    orphans: list[bytes] = []
    for segment in _segments(data):
        if segment[:3] in _ENVELOPES:
            continue
        if segment.startswith(b"MSH"):
            messages.append([segment])
        elif messages:
            messages[-1].append(segment)
        else:
            orphans.append(segment)
    result: list[tuple[bytes, str | None]] = []
    if orphans:
        result.append((b"\r".join(orphans), "segments before the first MSH segment"))
    result.extend((b"\r".join(m), None) for m in messages)
    return result


def _segments(data: bytes) -> list[bytes]:
    text = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return [s.strip(b" \t") for s in text.split(b"\n") if s.strip()]


def _join_segments(body: bytes) -> bytes:
    return b"\r".join(s for s in _segments(body) if s[:3] not in _ENVELOPES)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        header = raw.split(b"\r", 1)[0]
        if b"8859/1" in header:  # MSH-18 character set ISO 8859-1
            return raw.decode("latin-1")
        raise _BadMessage(
            f"invalid UTF-8 encoding (byte 0x{raw[exc.start]:02x} at byte {exc.start + 1})"
        ) from None


class _Segments:
    """The first segment of each type in a message, looked up once, and their fields by HL7 position."""

    def __init__(self, message: hl7.Message):
        self._first: dict[str, hl7.Segment] = {}
        for segment in message:
            name = str(segment[0])
            self._first.setdefault(name, segment)

    def has(self, name: str) -> bool:
        return name in self._first

    def get(self, name: str, field: int, rep: int = 1, comp: int = 1, sub: int = 1) -> str | None:
        """Field ``name-field`` (repetition, component, subcomponent), escapes undone; None when absent or empty."""
        segment = self._first.get(name)
        if segment is None:
            return None
        try:
            value = segment.extract_field(1, field, rep, comp, sub)
        except IndexError:
            return None
        text = str(value).strip() if value is not None else ""
        return text or None

    def repetitions(self, name: str, field: int) -> int:
        segment = self._first.get(name)
        if segment is None or field >= len(segment):
            return 0
        return len(segment[field])


def timestamp(value: str | None, field: str) -> datetime | None:
    """An HL7 DTM as the facility's wall-clock time (day precision at least; a UTC offset is dropped)."""
    if value is None:
        return None
    match = _DTM.match(value)
    if match is None:
        raise _BadMessage(f"{field}: not an HL7 date/time (YYYYMMDD[HHMM[SS]])", field)
    year, month, day, hour, minute, second, fraction = match.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
    except ValueError:
        raise _BadMessage(f"{field}: not a valid date/time", field) from None
    if fraction:
        moment += timedelta(microseconds=int(fraction.ljust(6, "0")))
    return moment


def _member_id(segments: _Segments) -> str | None:
    count = segments.repetitions("PID", 3)
    ids = [(segments.get("PID", 3, r, 5), segments.get("PID", 3, r, 1)) for r in range(1, count + 1)]
    for wanted in ("MC", "MB"):
        for kind, value in ids:
            if kind is not None and kind.upper() == wanted and value:
                return value
    return next((value for _, value in ids if value), None)


def _attending_npi(segments: _Segments, issues: Counter[str]) -> str | None:
    count = segments.repetitions("PV1", 7)
    for r in range(1, count + 1):
        kind = (segments.get("PV1", 7, r, 13) or "").upper()
        authority = (segments.get("PV1", 7, r, 9) or "").upper()
        if kind == "NPI" or authority == "NPI":
            return segments.get("PV1", 7, r, 1)
    if count and segments.get("PV1", 7, 1, 1):
        issues["attending doctors given without an NPI identifier (attending_npi left empty)"] += 1
    return None


def message_row(text: str, issues: Counter[str], ignored: Counter[str]) -> dict[str, Any] | None:
    """The ``adt_events`` fields of one message; None for a message that is not a loaded ADT event."""
    try:
        segments = _Segments(hl7.parse(text))
    except Exception as exc:  # python-hl7 raises several types on malformed input
        raise _BadMessage(f"not a parseable HL7 v2 message ({type(exc).__name__})") from None
    if not segments.has("MSH"):
        raise _BadMessage("not a parseable HL7 v2 message (no MSH segment)")
    kind = (segments.get("MSH", 9, 1, 1) or "").upper()
    trigger = (segments.get("MSH", 9, 1, 2) or segments.get("EVN", 1) or "").upper()
    if kind != "ADT" or trigger not in EVENTS:
        ignored[f"{kind or '(no type)'}^{trigger or '(no event)'}"] += 1
        return None
    if not segments.has("PID"):
        raise _BadMessage("PID segment missing", "member_id")
    if not segments.has("PV1"):
        raise _BadMessage("PV1 segment missing", "patient_class")
    event_time = segments.get("EVN", 2) or segments.get("MSH", 7)
    return {
        "event_id": segments.get("MSH", 10),
        "member_id": _member_id(segments),
        "event_type": trigger,
        "event_time": timestamp(event_time, "event_time"),
        "admit_time": timestamp(segments.get("PV1", 44), "admit_time"),
        "discharge_time": timestamp(segments.get("PV1", 45), "discharge_time"),
        "patient_class": segments.get("PV1", 2),
        "hospital_service": segments.get("PV1", 10),
        "_patient_type": segments.get("PV1", 18),
        "facility_id": segments.get("PV1", 3, 1, 4, 1) or segments.get("MSH", 4),
        "attending_npi": _attending_npi(segments, issues),
        "discharge_disposition": segments.get("PV1", 36),
        "visit_number": segments.get("PV1", 19),
    }


def _record_text(raw: bytes) -> str:
    """The raw message for quarantine, segments one per line (Latin-1 when not UTF-8: no byte is lost)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text.replace("\r", "\n")


def read_file(
    file: Path,
    name: str,
    rows: list[dict[str, Any]],
    rejects: list[Reject],
    issues: Counter[str],
    ignored: Counter[str],
) -> None:
    data = file.read_bytes()
    if not data.strip(b" \t\r\n\x0b\x1c"):
        raise InputFileError(file, "file is empty (no HL7 messages)")
    for number, (raw, problem) in enumerate(split_messages(data), start=1):
        if problem is not None:
            rejects.append(Reject(name, number, None, problem, _record_text(raw)))
            continue
        try:
            row = message_row(_decode(raw), issues, ignored)
        except _BadMessage as bad:
            rejects.append(Reject(name, number, bad.field, bad.reason, _record_text(raw)))
            continue
        if row is not None:
            row.update({SOURCE_FILE: name, SOURCE_LINE: number, RECORD: _record_text(raw)})
            rows.append(row)


def _arrow(rows: list[dict[str, Any]]) -> pa.Table:
    names = [c.name for c in ADT_EVENTS.columns if c.name not in ADT_EVENTS.provenance_columns]
    names = [n for n in names if n != "setting" and n != "payer"] + ["_patient_type"]
    arrays: dict[str, pa.Array] = {}
    for name in names:
        dtype = pa.timestamp("us") if name in _TIMESTAMP_COLUMNS else pa.string()
        arrays[name] = pa.array([row.get(name) for row in rows], dtype)
    arrays[SOURCE_FILE] = pa.array([row[SOURCE_FILE] for row in rows], pa.string())
    arrays[SOURCE_LINE] = pa.array([row[SOURCE_LINE] for row in rows], pa.int64())
    arrays[RECORD] = pa.array([row[RECORD] for row in rows], pa.string())
    return pa.table(arrays)


def with_setting(raw: ibis.Table) -> ibis.Table:
    """Derive ``setting`` from patient class, hospital service and patient type (see the module docstring)."""
    patient_class = raw.patient_class.upper()
    service = raw.hospital_service.upper()
    patient_type = raw._patient_type.upper()

    def coded(codes: tuple[str, ...]) -> ibis.expr.types.BooleanValue:
        return (service.isin(codes) | patient_type.isin(codes)).fill_null(False)

    setting = ibis.cases(
        (patient_class == "E", "emergency"),
        (coded(SNF_CODES), "snf"),
        (coded(OBSERVATION_CODES), "observation"),
        (patient_class == "I", "inpatient"),
        (patient_class.isin(("O", "R")), "outpatient"),
        else_=ibis.null("string"),
    )
    return raw.mutate(setting=setting).drop("_patient_type")


def stage(engine: Engine, path: Path) -> Staged:
    """Parse HL7 v2 ADT files at ``path`` into raw ``adt_events`` records for the pipeline."""
    path = Path(path)
    staged = Staged(format=FORMAT, source=path)
    rows: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    issues: Counter[str] = Counter()
    ignored: Counter[str] = Counter()
    for file in find_files(path):
        name = file.name if path.is_file() else str(file.relative_to(path))
        staged.files.append(name)
        read_file(file, name, rows, rejects, issues, ignored)
    raw = with_setting(engine.from_arrow(_arrow(rows))) if rows else None
    staged.add(TABLE, raw, rejects)
    if ignored:
        listed = ", ".join(f"{kind} {count}" for kind, count in sorted(ignored.items()))
        staged.warnings.append(
            f"{sum(ignored.values())} messages not loaded (only ADT {', '.join(EVENTS)} are): {listed}"
        )
    for issue, count in sorted(issues.items()):
        staged.warnings.append(f"{count} × {issue}")
    return staged


__all__ = ["EVENTS", "FORMAT", "find_files", "split_messages", "stage", "timestamp"]
