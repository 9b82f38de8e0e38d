"""Building blocks that compile eCQM logic to set-based ibis expressions.

A measure is evaluated in three set-based steps, never per patient:

1. **Data criteria** (:class:`Criterion`) select records from the long-form ``clinical`` table: resource
   types, a value set (matched by a semi-join on (code_system, code)) or codes, statuses, negation, value
   and timing relative to the measurement period. Each criterion yields *facts*: rows of
   (member_id, fact, record_id, fact_day, fact_value).
2. All facts of a measure are unioned and **pivoted** once per member into boolean columns (the fact
   exists) and evidence columns (the record that satisfied it).
3. **Population expressions** (:class:`Fact`, :class:`Age`, :class:`AllOf`, :class:`AnyOf`, :class:`Not`)
   combine those columns into the initial population, denominator, exclusions, exceptions and numerator.

Times are UTC; CQL's "during day of" comparisons are done on calendar days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from apmkit.quality.valuesets import value_set_table

PERFORMED_EVENT = ("completed",)
RESULT_STATUSES = ("final", "amended", "corrected")
ORDER_STATUSES = ("active", "completed")
ACTIVE_CONDITION = ("active", "recurrence", "relapse")
HEADER_COLUMNS = (
    "record_id",
    "member_id",
    "resource_type",
    "status",
    "category",
    "value_numeric",
    "value_unit",
    "value_code_system",
    "value_code",
    "effective_start",
    "effective_end",
    "recorded_at",
    "encounter_id",
    "negated",
    "reason_code_system",
    "reason_code",
)
"""The columns of ``clinical`` the measure logic reads from a record's header row."""


def add_years(day: dt.date, years: int) -> dt.date:
    """``day`` shifted by whole years (Feb 29 → Feb 28, as CQL date arithmetic does)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` shifted by whole months, clamped to the month's last day."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Window:
    """A date window relative to the measurement period [start, end].

    ``years_before``/``months_before`` move the window start back from the period start;
    ``months_after_start`` ends the window that many months after the period start (exclusive) instead of at
    the period end; ``start_month_day`` pins the start to a month and day (e.g. October 1 two years prior).
    """

    years_before: int = 0
    months_before: int = 0
    months_after_start: int | None = None
    start_month_day: tuple[int, int] | None = None

    def resolve(self, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
        low = add_months(add_years(start, -self.years_before), -self.months_before)
        if self.start_month_day is not None:
            low = dt.date(low.year, *self.start_month_day)
        high = end
        if self.months_after_start is not None:
            high = add_months(start, self.months_after_start) - dt.timedelta(days=1)
        return low, high


MEASUREMENT_PERIOD = Window()

Timing = Literal[
    "during",  # the record's interval lies within the window (day precision)
    "overlaps",  # the interval overlaps the window
    "ends_during",  # the interval ends within the window
    "starts_during",  # the interval starts within the window
    "latest_during",  # the latest time of the record (end, else start) is within the window
    "ends_by_end",  # the interval ends on or before the window end
    "starts_by_end",  # the interval starts on or before the window end
    "any",  # no timing condition
]


@dataclass(frozen=True)
class Criterion:
    """A declarative data criterion: which records count and when.

    Parameters
    ----------
    fact
        Name of the fact the matching records produce.
    resource_types
        FHIR resource types searched.
    value_sets
        Value set OIDs the record's code must be in (any coding).
    codes
        Individual (code system, code) pairs, alternatively or in addition to value sets.
    statuses
        Allowed resource statuses; ``None`` = any.
    timing, window
        How the record's interval must relate to the window.
    negated
        Whether the record must be a negation (not done / do not perform) or must not be.
    value_codes
        The record's coded value must be one of these (code system, code) pairs.
    value_value_sets
        The record's coded value must be in one of these value sets.
    value_required
        The record must carry a value (quantity or code).
    prevalence
        Condition semantics: the interval is the prevalence period (onset to abatement; an active condition
        without abatement is ongoing).
    categories
        The record's (first) category must be one of these.
    anchor
        ``effective`` times the record by its effective/performed/onset period; ``recorded`` by its
        authored/issued time (requests and orders).
    """

    fact: str
    resource_types: tuple[str, ...]
    value_sets: tuple[str, ...] = ()
    codes: tuple[tuple[str, str], ...] = ()
    statuses: tuple[str, ...] | None = None
    timing: Timing = "during"
    window: Window = MEASUREMENT_PERIOD
    negated: bool | None = False
    value_codes: tuple[tuple[str, str], ...] = ()
    value_value_sets: tuple[str, ...] = ()
    value_required: bool = False
    prevalence: bool = False
    categories: tuple[str, ...] = field(default=())
    anchor: Literal["effective", "recorded"] = "effective"


Materialize = Callable[[ibis.Table], ibis.Table]
"""Computes a table once and returns it (``Engine.materialize``); the identity when not given."""


def _identity(table: ibis.Table) -> ibis.Table:
    return table


class MeasureData:
    """The inputs of one evaluation: canonical tables, the measurement period and the codes in play.

    Construction does the one pass over ``clinical`` that matters: it tags every record whose code is in
    one of the measure's value sets or among its direct codes (a join on (code_system, code)), and keeps one
    header row per tagged record. Every criterion then filters these two small tables.

    Parameters
    ----------
    members
        Canonical ``members`` (member_id, birth_date, sex).
    clinical
        Canonical ``clinical`` (long form).
    start, end
        Measurement period, inclusive days.
    value_sets
        OIDs the measure needs.
    codes
        Direct-reference (code system, code) pairs the measure needs.
    materialize
        Called on the tag and header tables so the engine computes them once (``Engine.materialize``);
        without it the expressions are inlined wherever they are used.
    """

    def __init__(
        self,
        members: ibis.Table,
        clinical: ibis.Table,
        start: dt.date,
        end: dt.date,
        value_sets: Iterable[str],
        codes: Iterable[tuple[str, str]] = (),
        materialize: Materialize | None = None,
    ):
        self.members = members
        self.clinical = clinical
        self.start = start
        self.end = end
        self.materialize = materialize or _identity
        oids = tuple(sorted(set(value_sets)))
        self.direct_codes = tuple(sorted(set(codes)))
        self.codes = value_set_table(oids, extra=self.direct_codes)
        # Every row of a record repeats its code, so codes match on all rows.
        matched = clinical.join(
            self.codes, [clinical.code_system == self.codes.code_system, clinical.code == self.codes.code]
        )
        self.tags = self.materialize(
            matched.select(record_id=matched.record_id, tag=matched.value_set_oid).distinct()
        )
        # The header (one row per record) is its first row: the resource row (component 0) when present,
        # else its first component written (some producers write multi-component observations as components
        # only, and a reading may lack its first component: a blood pressure with only a diastolic value).
        # That is the row of its first coding with the smallest component index. The smallest index is found
        # over two columns and kept once, then the rows are kept to it by a semi-join: a window over the
        # records (or one subquery read twice) held every column of the clinical rows, which at 1M members
        # spilled tens of GB.
        relevant = clinical.filter((clinical.coding_index == 0) & (clinical.component_index >= 0))
        relevant = relevant.semi_join(self.tags.select("record_id").distinct(), "record_id")
        first = self.materialize(
            relevant.group_by("record_id").agg(_first_component=relevant.component_index.min())
        )
        header = relevant.semi_join(
            first,
            (relevant.record_id == first.record_id) & (relevant.component_index == first._first_component),
        )
        header = header.select(*HEADER_COLUMNS)
        header = header.mutate(
            start_day=header.effective_start.date(),
            end_day=header.effective_end.date(),
            latest_day=ibis.coalesce(header.effective_end, header.effective_start).date(),
            recorded_day=header.recorded_at.date(),
        )
        # Header x tag (one row per record and value set), so a criterion is one filter, not a semi-join.
        self.tagged = self.materialize(header.join(self.tags, "record_id"))

    @property
    def header(self) -> ibis.Table:
        """One row per tagged record (its header columns and day columns)."""
        return self.tagged.drop("tag").distinct()

    def matching(
        self,
        resource_types: Sequence[str],
        value_sets: Sequence[str] = (),
        codes: Sequence[tuple[str, str]] = (),
    ) -> ibis.Table:
        """Record headers of ``resource_types`` with any coding in the value sets or among the codes."""
        missing = set(codes) - set(self.direct_codes)
        if missing:
            raise ValueError(f"codes not declared to MeasureData: {sorted(missing)}")
        wanted = list(value_sets) + [code_tag(system, code) for system, code in codes]
        rows = self.tagged.filter(
            self.tagged.tag.isin(wanted) & self.tagged.resource_type.isin(list(resource_types))
        ).drop("tag")
        # A record in two of the wanted sets appears twice; one row per record is the contract.
        return rows.distinct() if len(wanted) > 1 else rows


def code_tag(system: str, code: str) -> str:
    """The tag a direct-reference code gets in :attr:`MeasureData.tags`."""
    return f"{system}|{code}"


def day_literal(day: dt.date) -> ir.DateScalar:
    return ibis.literal(day, type="date")


REQUEST_TYPES = ("MedicationRequest", "ServiceRequest", "DeviceRequest")
"""Requests: without a period of their own they are timed by when they were authored (a point in time)."""


def interval_predicate(
    rows: ibis.Table, timing: Timing, low: dt.date, high: dt.date, *, prevalence: bool = False
) -> ir.BooleanValue:
    """The CQL timing relation of each record's interval to the window [low, high] (days)."""
    return _interval_relation(
        rows.start_day,
        rows.end_day,
        rows.latest_day,
        rows.status,
        timing,
        low,
        high,
        prevalence=prevalence,
        point=rows.resource_type.isin(list(REQUEST_TYPES)),
    )


def _interval_relation(
    start: ir.DateValue,
    end_day: ir.DateValue,
    latest_day: ir.DateValue,
    status: ir.StringValue,
    timing: Timing,
    low: dt.date,
    high: dt.date,
    *,
    prevalence: bool = False,
    point: ir.BooleanValue | bool = False,
) -> ir.BooleanValue:
    """``point``: where true, a record without an end lasts no longer than its start (requests)."""
    lo, hi = day_literal(low), day_literal(high)
    if prevalence:
        # QICoreCommon prevalenceInterval: an active condition runs to its abatement or indefinitely; an
        # inactive one without abatement has an unknown end, which never satisfies an end comparison.
        active = status.isin(list(ACTIVE_CONDITION))
        end_known = end_day.notnull()
        start_ok_before = start.isnull() | (start <= hi)
        if timing == "overlaps":
            return start_ok_before & (ibis.ifelse(end_known, end_day >= lo, active))
        if timing == "starts_by_end":
            return start_ok_before
        if timing == "starts_during":
            return start.notnull() & (start >= lo) & (start <= hi)
        raise ValueError(f"timing {timing} is not defined for prevalence intervals")
    # FHIRHelpers ToInterval(Period): a period without a start is Interval(null, end], whose start is
    # unknown, so no comparison with its start holds; one without an end is Interval[start, null], which
    # runs on to the end of time: it overlaps and starts in a window, but never ends in one or lies within
    # it. A dateTime is loaded as a period of one instant (start = end).
    end = ibis.ifelse(end_day.isnull() & point, start, end_day)
    begin = start
    if timing == "during":
        return begin.notnull() & (begin >= lo) & end.notnull() & (end <= hi)
    if timing == "overlaps":
        return begin.notnull() & (begin <= hi) & (end.isnull() | (end >= lo))
    if timing == "ends_during":
        return end.notnull() & (end >= lo) & (end <= hi)
    if timing == "starts_during":
        return begin.notnull() & (begin >= lo) & (begin <= hi)
    if timing == "latest_during":
        return (latest_day >= lo) & (latest_day <= hi)
    if timing == "ends_by_end":
        return end.notnull() & (end <= hi)
    if timing == "starts_by_end":
        return begin.notnull() & (begin <= hi)
    if timing == "any":
        return ibis.literal(True)
    raise ValueError(f"unknown timing {timing}")


def criterion_predicate(rows: ibis.Table, criterion: Criterion, data: MeasureData) -> ir.BooleanValue:
    """Whether a tagged record satisfies ``criterion`` apart from its code (status, negation, value, timing).

    Coded values in value sets (``value_value_sets``) need a join and are handled by :func:`select_records`.
    """
    if criterion.value_value_sets:
        raise ValueError("value_value_sets needs select_records")
    conditions = [rows.resource_type.isin(list(criterion.resource_types))]
    if criterion.statuses is not None:
        conditions.append(rows.status.isin(list(criterion.statuses)))
    if criterion.negated is not None:
        negated = rows.negated.fill_null(False)
        conditions.append(negated if criterion.negated else ~negated)
    if criterion.categories:
        conditions.append(rows.category.isin(list(criterion.categories)))
    if criterion.value_required:
        conditions.append(rows.value_numeric.notnull() | rows.value_code.notnull())
    if criterion.value_codes:
        conditions.append(
            ibis.or_(
                *[
                    (rows.value_code_system == system) & (rows.value_code == code)
                    for system, code in criterion.value_codes
                ]
            )
        )
    low, high = criterion.window.resolve(data.start, data.end)
    if criterion.anchor == "recorded":
        day = rows.recorded_day
        timing = _interval_relation(day, day, day, rows.status, criterion.timing, low, high)
    else:
        timing = interval_predicate(rows, criterion.timing, low, high, prevalence=criterion.prevalence)
    conditions.append(timing)
    return ibis.and_(*conditions).fill_null(False)


def criteria_facts(data: MeasureData, criteria: Sequence[Criterion]) -> ibis.Table:
    """Facts of many criteria in one scan of the tagged records.

    The (fact, tag) pairs of the criteria are joined to the tagged records once; each row is then kept when
    its own criterion's predicate holds. Criteria on coded values in value sets go through
    :func:`select_records`.
    """
    simple = [c for c in criteria if not c.value_value_sets]
    others = [criterion_facts(data, c) for c in criteria if c.value_value_sets]
    if not simple:
        return union_all(others)
    pairs = [
        (c.fact, tag)
        for c in simple
        for tag in (*c.value_sets, *(code_tag(system, code) for system, code in c.codes))
    ]
    mapping = ibis.memtable(
        pa.table(
            {
                "criterion_fact": pa.array([p[0] for p in pairs], pa.string()),
                "tag": pa.array([p[1] for p in pairs], pa.string()),
            }
        )
    )
    rows = data.tagged.join(mapping, "tag")
    keep = ibis.or_(*[(rows.criterion_fact == c.fact) & criterion_predicate(rows, c, data) for c in simple])
    hits = rows.filter(keep)
    recorded = [c.fact for c in simple if c.anchor == "recorded"]
    fact_day = (
        ibis.ifelse(hits.criterion_fact.isin(recorded), hits.recorded_day, hits.latest_day)
        if recorded
        else hits.latest_day
    )
    facts = hits.select(
        member_id=hits.member_id,
        fact=hits.criterion_fact,
        record_id=hits.record_id,
        fact_day=fact_day.cast("date"),
        fact_value=ibis.null("float64"),
    )
    return union_all([facts, *others])


def select_records(data: MeasureData, criterion: Criterion) -> ibis.Table:
    """Record headers satisfying ``criterion`` (codes, status, negation, value and timing)."""
    rows = data.matching(criterion.resource_types, criterion.value_sets, criterion.codes)
    if criterion.statuses is not None:
        rows = rows.filter(rows.status.isin(list(criterion.statuses)))
    if criterion.negated is not None:
        negated = rows.negated.fill_null(False)
        rows = rows.filter(negated if criterion.negated else ~negated)
    if criterion.categories:
        rows = rows.filter(rows.category.isin(list(criterion.categories)))
    if criterion.value_required:
        rows = rows.filter(rows.value_numeric.notnull() | rows.value_code.notnull())
    if criterion.value_codes:
        rows = rows.filter(
            ibis.or_(
                *[
                    (rows.value_code_system == system) & (rows.value_code == code)
                    for system, code in criterion.value_codes
                ]
            )
        )
    if criterion.value_value_sets:
        assert data.codes is not None
        wanted = data.codes.filter(data.codes.value_set_oid.isin(list(criterion.value_value_sets)))
        rows = rows.semi_join(
            wanted, [rows.value_code_system == wanted.code_system, rows.value_code == wanted.code]
        )
    if criterion.anchor == "recorded":
        rows = on_recorded_day(rows)
    low, high = criterion.window.resolve(data.start, data.end)
    return rows.filter(interval_predicate(rows, criterion.timing, low, high, prevalence=criterion.prevalence))


def on_recorded_day(rows: ibis.Table) -> ibis.Table:
    """Time requests by when they were authored: the interval collapses to the recorded day."""
    return rows.mutate(start_day=rows.recorded_day, end_day=rows.recorded_day, latest_day=rows.recorded_day)


def facts_of(
    rows: ibis.Table, fact: str, *, day: ir.Value | None = None, value: ir.Value | None = None
) -> ibis.Table:
    """Fact rows (member_id, fact, record_id, fact_day, fact_value) from selected records."""
    return rows.select(
        member_id=rows.member_id,
        fact=ibis.literal(fact),
        record_id=rows.record_id,
        fact_day=(day if day is not None else rows.latest_day).cast("date"),
        fact_value=(value if value is not None else ibis.null("float64")).cast("float64"),
    )


def criterion_facts(data: MeasureData, criterion: Criterion) -> ibis.Table:
    return facts_of(select_records(data, criterion), criterion.fact)


def union_all(tables: Sequence[ibis.Table]) -> ibis.Table:
    result = tables[0]
    for table in tables[1:]:
        result = result.union(table, distinct=False)
    return result


def pivot_facts(facts: ibis.Table, names: Sequence[str]) -> ibis.Table:
    """One row per member: ``<fact>`` (bool) and ``<fact>__ev`` (first supporting record) for every fact."""
    # Collapse to one row per (member, fact) first: the wide pivot then evaluates its conditions on far
    # fewer rows (patients have many qualifying encounters, readings, ...).
    firsts = facts.group_by(["member_id", "fact"]).aggregate(first_record=facts.record_id.min())
    aggregates = {}
    for name in names:
        hit = firsts.fact == name
        aggregates[name] = hit.any()
        aggregates[f"{name}__ev"] = ibis.ifelse(hit, firsts.first_record, ibis.null("string")).max()
    return firsts.group_by("member_id").aggregate(**aggregates)


def age_at(birth_date: ir.DateValue, on: dt.date) -> ir.IntegerValue:
    """Whole years of age on ``on`` (CQL AgeInYearsAt)."""
    had_birthday = (birth_date.month() * 100 + birth_date.day()) <= on.month * 100 + on.day
    return (on.year - birth_date.year() - ibis.ifelse(had_birthday, 0, 1)).cast("int32")


# ---- population expressions ---------------------------------------------------------------------------


class Expr:
    """A boolean population expression over a member's pivoted facts."""

    def compile(self, row: ibis.Table, data: MeasureData) -> ir.BooleanValue:
        raise NotImplementedError

    def facts(self) -> list[str]:
        return []

    def __and__(self, other: Expr) -> Expr:
        return AllOf((self, other))

    def __or__(self, other: Expr) -> Expr:
        return AnyOf((self, other))

    def __invert__(self) -> Expr:
        return Not(self)


@dataclass(frozen=True)
class Fact(Expr):
    """True when the member has at least one record of the named fact."""

    name: str

    def compile(self, row: ibis.Table, data: MeasureData) -> ir.BooleanValue:
        return row[self.name].fill_null(False)

    def facts(self) -> list[str]:
        return [self.name]


@dataclass(frozen=True)
class Age(Expr):
    """Age in whole years at the start or end of the measurement period within [low, high]."""

    low: int | None = None
    high: int | None = None
    at: Literal["start", "end"] = "end"

    def compile(self, row: ibis.Table, data: MeasureData) -> ir.BooleanValue:
        age = age_at(row.birth_date, data.start if self.at == "start" else data.end)
        result = row.birth_date.notnull()
        if self.low is not None:
            result &= age >= self.low
        if self.high is not None:
            result &= age <= self.high
        return result.fill_null(False)


@dataclass(frozen=True)
class Female(Expr):
    def compile(self, row: ibis.Table, data: MeasureData) -> ir.BooleanValue:
        return (row.sex == "F").fill_null(False)


@dataclass(frozen=True)
class AllOf(Expr):
    parts: tuple[Expr, ...]

    def compile(self, row: ibis.Table, data: MeasureData) -> ir.BooleanValue:
        return ibis.and_(*[part.compile(row, data) for part in self.parts])

    def facts(self) -> list[str]:
        return [name for part in self.parts for name in part.facts()]


@dataclass(frozen=True)
class AnyOf(Expr):
    parts: tuple[Expr, ...]

    def compile(self, row: ibis.Table, data: MeasureData) -> ir.BooleanValue:
        return ibis.or_(*[part.compile(row, data) for part in self.parts])

    def facts(self) -> list[str]:
        return [name for part in self.parts for name in part.facts()]


@dataclass(frozen=True)
class Not(Expr):
    part: Expr

    def compile(self, row: ibis.Table, data: MeasureData) -> ir.BooleanValue:
        return ~self.part.compile(row, data)

    def facts(self) -> list[str]:
        return []


def any_of(*parts: Expr) -> Expr:
    return AnyOf(tuple(parts))


def all_of(*parts: Expr) -> Expr:
    return AllOf(tuple(parts))
