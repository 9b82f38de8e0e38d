"""Reconciliation and audit of settlements: our statement against a payer's report, a re-settled period against
an earlier statement (true-up), and an entity's savings distributed to its participants.

Pure functions over plain rows (``dict`` per entity, as :func:`rows_from_statement_json` and
:func:`rows_from_summary_table` read a statement written by :mod:`apmkit.settlement.render`) and Arrow tables;
the CLI reads the files and prints. Money is exact :class:`~decimal.Decimal`; error messages name the file, the
row and the field, never a value (a value may be member data).

Comparison steps, in the order a reconciliation computes them (the first that differs is where the two
computations part):

==============  ===================================  =============================
step            our statement (summary column)        payer report column (default)
==============  ===================================  =============================
benchmark       ``benchmark``                         ``benchmark``
expenditure     ``expenditure``                       ``expenditure``
savings         ``savings``                           ``savings``
quality         ``quality_score``                     ``quality_score``
sharing_rate    ``final_sharing_rate``                ``sharing_rate``
payment         ``net_settlement``                    ``payment``
==============  ===================================  =============================
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Literal

import pyarrow as pa

from apmkit.errors import ConfigurationError

STEPS: tuple[tuple[str, str, str], ...] = (
    ("benchmark", "benchmark", "USD"),
    ("expenditure", "expenditure", "USD"),
    ("savings", "savings", "USD"),
    ("quality", "quality_score", "score"),
    ("sharing_rate", "final_sharing_rate", "rate"),
    ("payment", "net_settlement", "USD"),
)
"""(step, our summary column, unit) in reconciliation order."""

PAYER_COLUMNS: dict[str, str] = {
    "entity_id": "entity_id",
    "benchmark": "benchmark",
    "expenditure": "expenditure",
    "savings": "savings",
    "quality": "quality_score",
    "sharing_rate": "sharing_rate",
    "payment": "payment",
}
"""Step -> payer CSV column, by default; pass ``columns=`` to map a payer's own headers."""

_LINE_FALLBACKS: dict[str, tuple[str, ...]] = {
    "benchmark": ("Benchmark / target", "Total target amount"),
    "expenditure": ("Actual expenditure",),
    "quality_score": ("Quality score",),
}
"""Statement line labels that give a step when the summary has no column for it (episode contracts)."""

VALUE = pa.decimal128(38, 12)

Row = dict[str, Any]


# ---- reading our statement -----------------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _typed(summary: Mapping[str, Any]) -> Row:
    row: Row = {}
    for key, value in summary.items():
        if key in ("entity_id", "outcome"):
            row[key] = None if value is None else str(value)
        else:
            number = _decimal(value)
            row[key] = number if number is not None else value
    return row


def rows_from_statement_json(text: str, source: str = "statement.json") -> list[Row]:
    """One row per entity from ``statement.json``: the statement's summary with numbers as Decimal, plus
    ``contract_id`` and ``period``; steps missing from the summary are taken from the statement lines."""
    try:
        data = json.loads(text)
        statements = data["statements"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"{source}: not a settlement statement (no statements list)") from exc
    rows = []
    for statement in statements:
        row = _typed(statement.get("summary", {}))
        row.setdefault("entity_id", statement.get("entity_id"))
        row["contract_id"] = data.get("contract_id")
        row["period"] = data.get("period")
        for column, labels in _LINE_FALLBACKS.items():
            if row.get(column) is None:
                for line in statement.get("lines", []):
                    if line.get("label") in labels and line.get("value") is not None:
                        row[column] = _decimal(line["value"])
                        break
        rows.append(row)
    return rows


def rows_from_summary_table(summary: pa.Table, lines: pa.Table | None = None) -> list[Row]:
    """One row per entity from ``summary.parquet`` (and ``lines.parquet`` for steps the summary lacks)."""
    rows = [_typed(row) for row in summary.to_pylist()]
    if lines is None:
        return rows
    wanted = {label: column for column, labels in _LINE_FALLBACKS.items() for label in labels}
    found: dict[tuple[str, str], Decimal] = {}
    for line in lines.select(["entity_id", "label", "value_text"]).to_pylist():
        column = wanted.get(line["label"])
        if column is not None and line["value_text"] is not None:
            found.setdefault((line["entity_id"], column), Decimal(line["value_text"]))
    for row in rows:
        for column in _LINE_FALLBACKS:
            if row.get(column) is None and (row["entity_id"], column) in found:
                row[column] = found[(row["entity_id"], column)]
    if lines.num_rows and "period" in lines.column_names:
        contract = lines.column("contract_id")[0].as_py()
        period = lines.column("period")[0].as_py()
        for row in rows:
            row.setdefault("contract_id", contract)
            row.setdefault("period", period)
    return rows


# ---- reading the payer's report ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """A payer-report cell that cannot be used. ``str()`` is one line: file, row, field and why (no value)."""

    file: str
    row: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}, row {self.row}, field {self.field}: {self.reason}"


@dataclass(frozen=True)
class PayerReport:
    """The payer's per-entity figures by step, and the rows that could not be read."""

    source: str
    rows: dict[str, dict[str, Decimal | None]]
    steps: tuple[str, ...]
    """Steps the report has a column for."""
    errors: tuple[RowError, ...] = ()


def _header_key(name: str) -> str:
    return name.replace("\ufeff", "").strip().lower()


def parse_number(text: str) -> Decimal:
    """A report figure: ``$``, thousands separators and spaces ignored, ``(1,234.50)`` negative, ``12.5%`` =
    0.125. Raises ValueError (without the text) when it is not a number."""
    cleaned = text.strip().replace("$", "").replace(",", "").replace(" ", "")
    negative = cleaned.startswith("(") and cleaned.endswith(")")
    if negative:
        cleaned = cleaned[1:-1]
    percent = cleaned.endswith("%")
    if percent:
        cleaned = cleaned[:-1]
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError("expected a number") from None
    if not number.is_finite():
        raise ValueError("expected a finite number")
    if percent:
        number /= 100
    return -number if negative else number


def read_payer_rows(
    rows: Iterable[Mapping[str, str | None]],
    source: str,
    *,
    columns: Mapping[str, str] | None = None,
    first_row: int = 2,
) -> PayerReport:
    """Read a payer's reconciliation report given as CSV rows (``csv.DictReader`` over the file; the header is
    row 1, so the first data row is ``first_row`` = 2).

    ``columns`` maps steps (``entity_id``, ``benchmark``, ``expenditure``, ``savings``, ``quality``,
    ``sharing_rate``, ``payment``) to the payer's headers; unmapped steps use :data:`PAYER_COLUMNS`. Empty cells
    are not compared. A row without an entity id, a cell that is not a number, and every row of an entity that
    appears twice are errors (the entity is then left out).
    """
    wanted = {**PAYER_COLUMNS, **(columns or {})}
    materialized = list(rows)
    # Header names match case-insensitively, ignoring surrounding spaces and a byte-order mark.
    actual = {_header_key(key): key for key in (materialized[0] if materialized else {}) if key is not None}
    names = {step: actual.get(_header_key(column), column) for step, column in wanted.items()}
    header = set(actual.values())
    errors: list[RowError] = []
    if materialized and names["entity_id"] not in header:
        errors.append(RowError(source, 1, names["entity_id"], "column missing"))
        return PayerReport(source, {}, (), tuple(errors))
    steps = tuple(step for step, _, _ in STEPS if names[step] in header)
    if materialized and not steps:
        expected = ", ".join(names[step] for step, _, _ in STEPS)
        errors.append(RowError(source, 1, "(header)", f"no comparable column (expected any of {expected})"))
    parsed: dict[str, dict[str, Decimal | None]] = {}
    seen: dict[str, list[int]] = {}
    for number, raw in enumerate(materialized, start=first_row):
        entity = (raw.get(names["entity_id"]) or "").strip()
        if not entity:
            errors.append(RowError(source, number, names["entity_id"], "missing"))
            continue
        seen.setdefault(entity, []).append(number)
        values: dict[str, Decimal | None] = {}
        bad = False
        for step in steps:
            cell = (raw.get(names[step]) or "").strip()
            if not cell:
                values[step] = None
                continue
            try:
                values[step] = parse_number(cell)
            except ValueError as exc:
                errors.append(RowError(source, number, names[step], str(exc)))
                bad = True
        if not bad and len(seen[entity]) == 1:
            parsed[entity] = values
    for entity, numbers in seen.items():
        if len(numbers) > 1:
            parsed.pop(entity, None)
            for number in numbers:
                errors.append(
                    RowError(
                        source, number, names["entity_id"], f"entity repeated on rows {numbers}: all rejected"
                    )
                )
    errors.sort(key=lambda e: (e.row, e.field))
    return PayerReport(source, parsed, steps, tuple(errors))


# ---- diff -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepDiff:
    step: str
    ours: Decimal | None
    payer: Decimal | None
    difference: Decimal | None
    """ours − payer; None when one side has no figure."""
    matches: bool | None
    """None when not comparable (one side has no figure)."""


@dataclass(frozen=True)
class EntityDiff:
    entity_id: str
    status: Literal["matches", "differs", "only_ours", "only_payer"]
    first_divergence: str | None
    steps: tuple[StepDiff, ...]


@dataclass(frozen=True)
class SettlementDiff:
    """Our statement against the payer's report, entity by entity."""

    entities: tuple[EntityDiff, ...]
    errors: tuple[RowError, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)

    def to_table(self) -> pa.Table:
        """One row per entity and step: ``entity_id, status, first_divergence, step, ours, payer, difference,
        matches`` (entities on one side only get one row with ``step`` null)."""
        out: list[dict[str, Any]] = []
        for entity in self.entities:
            base = {
                "entity_id": entity.entity_id,
                "status": entity.status,
                "first_divergence": entity.first_divergence,
            }
            if not entity.steps:
                out.append(
                    {**base, "step": None, "ours": None, "payer": None, "difference": None, "matches": None}
                )
            for step in entity.steps:
                out.append(
                    {
                        **base,
                        "step": step.step,
                        "ours": step.ours,
                        "payer": step.payer,
                        "difference": step.difference,
                        "matches": step.matches,
                    }
                )
        schema = pa.schema(
            [
                ("entity_id", pa.string()),
                ("status", pa.string()),
                ("first_divergence", pa.string()),
                ("step", pa.string()),
                ("ours", VALUE),
                ("payer", VALUE),
                ("difference", VALUE),
                ("matches", pa.bool_()),
            ]
        )
        return pa.Table.from_pylist([_scaled_row(r) for r in out], schema=schema)


def _scaled_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (_scale(v) if isinstance(v, Decimal) else v) for k, v in row.items()}


def _scale(value: Decimal) -> Decimal:
    return value.quantize(Decimal("1e-12"))


def diff_statement(
    ours: Sequence[Mapping[str, Any]],
    payer: PayerReport,
    *,
    money_tolerance: Decimal = Decimal(0),
    rate_tolerance: Decimal = Decimal(0),
) -> SettlementDiff:
    """Line up the payer's figures with ours per entity, step by step.

    A step is compared when the payer gives a figure; it matches when ``|ours − payer|`` is within
    ``money_tolerance`` (benchmark, expenditure, savings, payment) or ``rate_tolerance`` (quality, sharing
    rate) — both 0 by default: to the cent. ``first_divergence`` is the first step, in reconciliation order, that
    does not match.
    """
    by_id = {str(row["entity_id"]): row for row in ours}
    entities: list[EntityDiff] = []
    units = {step: unit for step, _, unit in STEPS}
    columns = {step: column for step, column, _ in STEPS}
    for entity_id in sorted(set(by_id) | set(payer.rows)):
        if entity_id not in payer.rows:
            entities.append(EntityDiff(entity_id, "only_ours", None, ()))
            continue
        if entity_id not in by_id:
            entities.append(EntityDiff(entity_id, "only_payer", None, ()))
            continue
        steps: list[StepDiff] = []
        first: str | None = None
        for step in payer.steps:
            theirs = payer.rows[entity_id].get(step)
            if theirs is None:
                continue
            mine = _decimal(by_id[entity_id].get(columns[step]))
            if mine is None:
                steps.append(StepDiff(step, None, theirs, None, None))
                continue
            difference = mine - theirs
            tolerance = money_tolerance if units[step] == "USD" else rate_tolerance
            matches = abs(difference) <= tolerance
            if not matches and first is None:
                first = step
            steps.append(StepDiff(step, mine, theirs, difference, matches))
        status: Literal["matches", "differs"] = "differs" if first else "matches"
        entities.append(EntityDiff(entity_id, status, first, tuple(steps)))
    counts: dict[str, int] = {}
    for entity in entities:
        counts[entity.status] = counts.get(entity.status, 0) + 1
    return SettlementDiff(tuple(entities), payer.errors, counts)


def _fmt(value: Decimal | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "USD":
        return f"{value:,.2f}"
    return format(value.normalize(), "f")


def diff_text(result: SettlementDiff) -> str:
    """The diff for people, one line per entity (and one per differing step), for the CLI to print."""
    units = {step: unit for step, _, unit in STEPS}
    lines = [str(error) for error in result.errors]
    for entity in result.entities:
        if entity.status in ("only_ours", "only_payer"):
            side = "our statement" if entity.status == "only_ours" else "the payer's report"
            lines.append(f"{entity.entity_id}: only on {side}")
            continue
        if entity.first_divergence is None:
            lines.append(f"{entity.entity_id}: matches ({len(entity.steps)} steps compared)")
            continue
        lines.append(f"{entity.entity_id}: differs, first at {entity.first_divergence}")
        for step in entity.steps:
            if step.matches is False:
                unit = units[step.step]
                lines.append(
                    f"  {step.step}: ours {_fmt(step.ours, unit)}, payer {_fmt(step.payer, unit)}, "
                    f"difference {_fmt(step.difference, unit)}"
                )
    summary = ", ".join(f"{count} {status}" for status, count in sorted(result.counts.items()))
    lines.append(f"entities: {summary or 'none'}")
    return "\n".join(lines)


# ---- true-up ----------------------------------------------------------------------------------------------------

TRUE_UP_FIELDS: tuple[str, ...] = (
    "population",
    "person_years",
    "member_months",
    "benchmark",
    "expenditure",
    "savings",
    "quality_score",
    "final_sharing_rate",
    "earned_savings",
    "owed_losses",
)


@dataclass(frozen=True)
class EntityTrueUp:
    entity_id: str
    status: Literal["changed", "unchanged", "new", "dropped"]
    earlier_net: Decimal
    later_net: Decimal
    true_up: Decimal
    """later − earlier net settlement: + the payer pays the entity more, − the payer recoups."""
    changes: tuple[tuple[str, Decimal | None, Decimal | None, Decimal | None], ...]
    """(field, earlier, later, later − earlier) for every compared field whose value changed."""


@dataclass(frozen=True)
class TrueUp:
    """A period settled again (after run-out) against an earlier statement of the same period."""

    entities: tuple[EntityTrueUp, ...]
    total_true_up: Decimal

    def to_table(self) -> pa.Table:
        """One row per entity and changed field (``field`` null on the entity's total row):
        ``entity_id, status, field, earlier, later, change``; the total row carries net settlements and the
        true-up amount."""
        out: list[dict[str, Any]] = []
        for entity in self.entities:
            out.append(
                {
                    "entity_id": entity.entity_id,
                    "status": entity.status,
                    "field": "net_settlement",
                    "earlier": entity.earlier_net,
                    "later": entity.later_net,
                    "change": entity.true_up,
                }
            )
            for name, before, after, change in entity.changes:
                if name == "net_settlement":
                    continue
                out.append(
                    {
                        "entity_id": entity.entity_id,
                        "status": entity.status,
                        "field": name,
                        "earlier": before,
                        "later": after,
                        "change": change,
                    }
                )
        schema = pa.schema(
            [
                ("entity_id", pa.string()),
                ("status", pa.string()),
                ("field", pa.string()),
                ("earlier", VALUE),
                ("later", VALUE),
                ("change", VALUE),
            ]
        )
        return pa.Table.from_pylist([_scaled_row(r) for r in out], schema=schema)


def true_up(earlier: Sequence[Mapping[str, Any]], later: Sequence[Mapping[str, Any]]) -> TrueUp:
    """Compare a period settled again (final, after run-out) with an earlier statement (preliminary).

    The true-up of an entity is its later net settlement minus its earlier one: what is paid (+) or recouped
    (−) on top of the earlier settlement. An entity only in the later statement is ``new`` (true-up = its net);
    one only in the earlier statement is ``dropped`` (its earlier settlement is reversed). Compared fields:
    :data:`TRUE_UP_FIELDS`, every ``amount_*`` component column, ``paid_during_period`` and ``balance_due``.

    Raises
    ------
    ConfigurationError
        When the two statements are for different contracts or periods.
    """
    for key in ("contract_id", "period"):
        before = {row.get(key) for row in earlier if row.get(key) is not None}
        after = {row.get(key) for row in later if row.get(key) is not None}
        if before and after and before != after:
            raise ConfigurationError(
                f"true-up: the two statements differ in field {key}: settle the same {key}"
            )
    old = {str(row["entity_id"]): row for row in earlier}
    new = {str(row["entity_id"]): row for row in later}
    entities: list[EntityTrueUp] = []
    zero = Decimal(0)
    for entity_id in sorted(set(old) | set(new)):
        before_row = old.get(entity_id, {})
        after_row = new.get(entity_id, {})
        before_net = _decimal(before_row.get("net_settlement")) or zero
        after_net = _decimal(after_row.get("net_settlement")) or zero
        names = list(TRUE_UP_FIELDS)
        for row in (before_row, after_row):
            names += [k for k in row if k.startswith("amount_") and k not in names]
        names += ["net_settlement", "paid_during_period", "balance_due"]
        changes = []
        for name in names:
            a, b = _decimal(before_row.get(name)), _decimal(after_row.get(name))
            if a == b:
                continue
            changes.append((name, a, b, None if a is None or b is None else b - a))
        if entity_id not in old:
            status: Literal["changed", "unchanged", "new", "dropped"] = "new"
        elif entity_id not in new:
            status = "dropped"
        else:
            status = "changed" if changes else "unchanged"
        entities.append(
            EntityTrueUp(entity_id, status, before_net, after_net, after_net - before_net, tuple(changes))
        )
    return TrueUp(tuple(entities), sum((e.true_up for e in entities), zero))


# ---- distribution to participants ---------------------------------------------------------------------------

Basis = Literal["member_months", "spending", "quality_weight"]
BASES: tuple[str, ...] = ("member_months", "spending", "quality_weight")


def allocate(total: Decimal, weights: Mapping[str, Decimal], places: int = 2) -> dict[str, Decimal]:
    """Split ``total`` over ``weights`` pro rata, exact to ``10^-places`` (largest remainder, Hamilton's method).

    1. Every part gets the whole units (cents) of its exact share ``|total| × weight / Σ weights``, rounded
       down.
    2. The units left over (fewer than the number of parts) go one each to the parts with the largest
       remaining fractions; equal fractions go in the order of the keys (sorted), so the result is
       deterministic.
    3. A negative total (a loss to recoup) is split the same way and the parts are negated.

    The parts sum to ``total`` exactly, each is within one unit of its exact share, and a zero weight gets 0.

    Raises
    ------
    ConfigurationError
        When a weight is negative, every weight is zero, or ``total`` has more decimals than ``places``.
    """
    unit = Decimal(1).scaleb(-places)
    units_total = total / unit
    if units_total != units_total.to_integral_value():
        raise ConfigurationError(f"allocate: the total has more than {places} decimal places")
    if any(weight < 0 for weight in weights.values()):
        raise ConfigurationError("allocate: a weight is negative")
    weight_sum = sum((Fraction(w) for w in weights.values()), Fraction(0))
    if not weights or weight_sum == 0:
        raise ConfigurationError("allocate: the weights sum to zero")
    count = abs(int(units_total))
    keys = sorted(weights)
    exact = {key: Fraction(weights[key]) * count / weight_sum for key in keys}
    floors = {key: exact[key].numerator // exact[key].denominator for key in keys}
    left = count - sum(floors.values())
    by_remainder = sorted(keys, key=lambda key: (-(exact[key] - floors[key]), keys.index(key)))
    for key in by_remainder[:left]:
        floors[key] += 1
    sign = -1 if units_total < 0 else 1
    return {key: (sign * floors[key] * unit).quantize(unit) for key in keys}


def participant_breakdown(
    amounts: Mapping[str, Decimal],
    participants: Iterable[Mapping[str, Any]],
    basis: Basis,
    *,
    places: int = 2,
    source: str = "participants",
    first_row: int = 2,
) -> pa.Table:
    """Each entity's amount (e.g. its net shared savings) distributed to its participants pro rata by ``basis``.

    Parameters
    ----------
    amounts
        Entity id -> amount to distribute (``net_settlement`` or ``earned_savings`` of our statement).
    participants
        One row per participant: ``entity_id``, ``tin``, ``npi`` (optional: a TIN-level row has none) and the
        basis columns ``member_months`` (attributed member months), ``spending`` and ``quality_weight`` (a
        participant's quality weight, e.g. quality points × member months, computed as the agreement says).
    basis
        The column the split is proportional to.
    places
        Money places of the parts (the contract's ``rounding.money_places``).

    Returns
    -------
    pyarrow.Table
        ``entity_id, tin, npi, member_months, spending, quality_weight, basis, share, amount``: ``share`` is the
        participant's exact share of the basis (to 12 places), ``amount`` its part; parts of an entity sum to its
        amount to the cent (:func:`allocate`).

    Raises
    ------
    ConfigurationError
        A participant row without entity or TIN, a basis value that is missing, not a number or negative, a
        participant listed twice, or an entity to distribute that has no participant with a positive basis
        (named by source, row and field, or by entity id).
    """
    if basis not in BASES:
        raise ConfigurationError(f"participant breakdown: basis must be one of {', '.join(BASES)}")
    by_entity: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    problems: list[str] = []
    for number, row in enumerate(participants, start=first_row):
        entity = str(row.get("entity_id") or "").strip()
        tin = str(row.get("tin") or "").strip()
        npi = str(row.get("npi") or "").strip()
        if not entity or not tin:
            problems.append(f"{source}, row {number}, field {'entity_id' if not entity else 'tin'}: missing")
            continue
        values: dict[str, Decimal | None] = {}
        for name in BASES:
            raw = row.get(name)
            if raw is None or str(raw).strip() == "":
                values[name] = None
                continue
            try:
                values[name] = raw if isinstance(raw, Decimal) else parse_number(str(raw))
            except ValueError as exc:
                problems.append(f"{source}, row {number}, field {name}: {exc}")
                values[name] = None
        weight = values[basis]
        if weight is None:
            problems.append(f"{source}, row {number}, field {basis}: missing (the basis of the distribution)")
            continue
        if weight < 0:
            problems.append(f"{source}, row {number}, field {basis}: negative")
            continue
        key = (tin, npi)
        if key in by_entity.setdefault(entity, {}):
            problems.append(f"{source}, row {number}, field npi: participant listed twice for its entity")
            continue
        by_entity[entity][key] = values
    if problems:
        raise ConfigurationError(
            "; ".join(problems[:20]) + (f" (and {len(problems) - 20} more)" if len(problems) > 20 else "")
        )
    out: list[dict[str, Any]] = []
    for entity in sorted(amounts):
        members = by_entity.get(entity, {})
        weights = {f"{tin}\x1f{npi}": values[basis] for (tin, npi), values in members.items()}
        if not weights or sum(weights.values(), Decimal(0)) == 0:
            if amounts[entity] == 0:
                continue
            raise ConfigurationError(
                f"participant breakdown: entity {entity} has no participant with a positive {basis}"
            )
        parts = allocate(amounts[entity], weights, places)
        total_weight = sum((w for w in weights.values() if w is not None), Decimal(0))
        for (tin, npi), values in sorted(members.items()):
            weight = values[basis]
            assert weight is not None
            out.append(
                {
                    "entity_id": entity,
                    "tin": tin,
                    "npi": npi or None,
                    "member_months": values["member_months"],
                    "spending": values["spending"],
                    "quality_weight": values["quality_weight"],
                    "basis": basis,
                    "share": weight / total_weight,
                    "amount": parts[f"{tin}\x1f{npi}"],
                }
            )
    schema = pa.schema(
        [
            ("entity_id", pa.string()),
            ("tin", pa.string()),
            ("npi", pa.string()),
            ("member_months", VALUE),
            ("spending", VALUE),
            ("quality_weight", VALUE),
            ("basis", pa.string()),
            ("share", VALUE),
            ("amount", VALUE),
        ]
    )
    return pa.Table.from_pylist([_scaled_row(r) for r in out], schema=schema)


__all__ = [
    "BASES",
    "PAYER_COLUMNS",
    "STEPS",
    "EntityDiff",
    "EntityTrueUp",
    "PayerReport",
    "RowError",
    "SettlementDiff",
    "StepDiff",
    "TrueUp",
    "allocate",
    "diff_statement",
    "diff_text",
    "parse_number",
    "participant_breakdown",
    "read_payer_rows",
    "rows_from_statement_json",
    "rows_from_summary_table",
    "true_up",
]
