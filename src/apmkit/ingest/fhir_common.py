"""Small, pure helpers shared by the FHIR mappers: codings, references, dates, amounts.

Every helper takes parsed JSON (dicts, lists, :class:`~decimal.Decimal` numbers) and returns strings or
None. Values that cannot be understood are passed through unchanged as text, so that schema conformance
(:mod:`apmkit.ingest.conform`) rejects the record with the field named, instead of the mapper guessing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

Json = dict[str, Any]

BB = "https://bluebutton.cms.gov/resources/"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$")
_TEN_DIGITS = re.compile(r"^[0-9]{10}$")
_NINE_DIGITS = re.compile(r"^[0-9]{9}$")


def mapping(value: Any) -> Json:
    """``value`` when it is a JSON object, else an empty one (FHIR elements are often absent)."""
    return value if isinstance(value, dict) else {}


def sequence_key(element: Json) -> int:
    """Sort key for elements with a FHIR ``sequence`` (those without one go last)."""
    sequence = element.get("sequence")
    return sequence if isinstance(sequence, int) else 10**6


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def codings(concept: Any) -> list[Json]:
    """The codings of a CodeableConcept (or of a bare Coding), skipping empty ones."""
    if not isinstance(concept, dict):
        return []
    if "coding" in concept:
        return [
            c for c in as_list(concept.get("coding")) if isinstance(c, dict) and c.get("code") is not None
        ]
    if concept.get("code") is not None and "system" in concept:
        return [concept]
    return []


def first_code(concept: Any) -> str | None:
    found = codings(concept)
    return text(found[0].get("code")) if found else None


_MAX_EXPONENT = 38
"""Numbers beyond 10**38 (or below 10**-38) are never written out digit by digit (decimal(38) is the widest column)."""


def text(value: Any) -> str | None:
    """A JSON scalar as text (Decimal without exponent; booleans as true/false); None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        if value.is_finite() and not -_MAX_EXPONENT <= value.adjusted() <= _MAX_EXPONENT:
            # Written out in full, 1e300000000 is 300 million digits: keep the short form, which no
            # numeric column accepts, so the record is quarantined instead.
            return str(value)
        return format(value, "f")
    if isinstance(value, (dict, list)):
        return None
    return str(value)


def tail(url: str | None) -> str:
    """Last path segment of a URL (the Blue Button variable name of a system)."""
    return (url or "").rstrip("/").rsplit("/", 1)[-1]


def system_codes(concept: Any, *suffixes: str) -> Iterator[str]:
    """Codes whose system ends with one of ``suffixes``."""
    for coding in codings(concept):
        system = coding.get("system") or ""
        if any(system.endswith(s) for s in suffixes):
            code = text(coding.get("code"))
            if code is not None:
                yield code


def first_system_code(concept: Any, *suffixes: str) -> str | None:
    return next(system_codes(concept, *suffixes), None)


def reference_id(reference: Any, fullurls: dict[str, str] | None = None) -> str | None:
    """The logical id a FHIR reference points to.

    ``Patient/123``, ``https://server/fhir/Patient/123`` and ``Patient/123/_history/2`` resolve to
    ``123``; ``urn:uuid:...`` is looked up among the Bundle ``fullUrl``s read so far and otherwise yields
    the uuid itself (Synthea and other transaction Bundles give resources that uuid as their id).
    """
    if isinstance(reference, dict):
        ref = reference.get("reference")
        if ref is None:
            identifier = reference.get("identifier")
            return text(identifier.get("value")) if isinstance(identifier, dict) else None
    else:
        ref = reference
    if not isinstance(ref, str) or not ref.strip():
        return None
    ref = ref.strip()
    if fullurls and ref in fullurls:
        return fullurls[ref]
    if ref.startswith("urn:uuid:") or ref.startswith("urn:oid:"):
        return ref.split(":", 2)[2]
    parts = ref.split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return parts[-1] if parts else None


def fhir_date(value: Any) -> str | None:
    """A FHIR date or dateTime as ``YYYY-MM-DD`` (partial dates take the first day); else the raw text."""
    raw = text(value)
    if raw is None:
        return None
    raw = raw.strip()
    match = _DATE.match(raw)
    if match:
        year, month, day = match.groups()
        return f"{year}-{month or '01'}-{day or '01'}"
    # A dateTime keeps its own calendar date: converting to UTC could move it to the next day.
    if _DATETIME.match(raw) and fhir_instant(raw) != raw:
        return raw[:10]
    return raw


def fhir_instant(value: Any) -> str | None:
    """A FHIR date/dateTime/instant as a UTC ``YYYY-MM-DD HH:MM:SS[.ffffff]`` string; else the raw text.

    Partial dates (``2025``, ``2025-03``) take their first instant; offsets are converted to UTC.
    """
    raw = text(value)
    if raw is None:
        return None
    raw = raw.strip()
    match = _DATE.match(raw)
    if match:
        year, month, day = match.groups()
        return f"{year}-{month or '01'}-{day or '01'} 00:00:00"
    match = _DATETIME.match(raw)
    if not match:
        return raw
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
    except ValueError:
        return raw
    micros = round(float(fraction) * 1_000_000) if fraction else 0
    moment = moment + timedelta(microseconds=micros)
    if offset and offset != "Z":
        sign = 1 if offset[0] == "+" else -1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        moment = moment - sign * timedelta(hours=hours, minutes=minutes)
    moment = moment.replace(tzinfo=UTC)
    stamp = moment.strftime("%Y-%m-%d %H:%M:%S")
    return stamp + (f".{moment.microsecond:06d}" if moment.microsecond else "")


def period_bounds(resource: Json, prefix: str) -> tuple[str | None, str | None]:
    """``prefix[x]`` as (start, end) instants: dateTime, Period, instant or date choice types."""
    for suffix in ("DateTime", "Instant", "Date"):
        if prefix + suffix in resource:
            moment = fhir_instant(resource[prefix + suffix])
            return moment, moment
    period = resource.get(prefix + "Period")
    if isinstance(period, dict):
        return fhir_instant(period.get("start")), fhir_instant(period.get("end"))
    return None, None


def digits_only(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = re.sub(r"[^0-9A-Za-z]", "", value)
    return cleaned or None


def npi_or_none(value: str | None) -> str | None:
    """Keep a 10-digit NPI; anything else is not an NPI (see the loader's NPI warning)."""
    return value if value is not None and _TEN_DIGITS.match(value) else None


def is_npi(value: str | None) -> bool:
    return value is not None and bool(_TEN_DIGITS.match(value))


def is_tin(value: str | None) -> bool:
    return value is not None and bool(_NINE_DIGITS.match(value))


def money(value: Any) -> str | None:
    """A Money element (or bare number) as exact decimal text."""
    if isinstance(value, dict):
        value = value.get("value")
    return text(value)


def extension_value(extension: Json) -> Any:
    """The value[x] of an extension: a code for codings, the value for identifiers/quantities/money."""
    for key, value in extension.items():
        if not key.startswith("value"):
            continue
        if key == "valueCoding":
            return value.get("code")
        if key == "valueCodeableConcept":
            return first_code(value)
        if key in ("valueIdentifier", "valueQuantity", "valueMoney"):
            return value.get("value")
        return value
    return None


def extensions(resource: Any, *url_suffixes: str) -> Iterator[Json]:
    for extension in as_list(resource.get("extension") if isinstance(resource, dict) else None):
        url = extension.get("url") or ""
        if not url_suffixes or any(url.endswith(s) for s in url_suffixes):
            yield extension


def modifier_extensions(resource: Json) -> Iterable[Json]:
    return as_list(resource.get("modifierExtension"))


def strip_dot(code: str | None) -> str | None:
    return code.replace(".", "").strip() if code else code
