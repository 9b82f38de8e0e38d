"""Reproduce CMS's published MSSP results (``EarnSaveLoss``) from an ACO public use file (PUF).

Each row of a PUF is one ACO's aggregate reconciliation: benchmark, expenditure, assigned population, quality
and the published earned shared savings or owed losses. We recompute the amount from the inputs with the
performance year's rules (:mod:`apmkit.programs.mssp.rules`) through the generic calculator
(:func:`apmkit.settlement.shared_savings.compute_shared_savings`) and compare.

Two steps, so that files and engines stay in the shells:

1. :func:`map_puf_header` maps a PUF header (raw CMS names such as ``Total benchmark expenditures ($)`` or
   ``ABtotBnchmk``, or the lower-case standardized names; case-insensitive) to canonical field names. The
   caller renames the columns and hands over an ibis table of strings.
2. :func:`reproduce_puf` recomputes every ACO of one performance year and returns a
   :class:`PufReproduction` whose :meth:`~PufReproduction.to_table` is the result table.

Settlement arithmetic is exact Decimal per ACO (a PUF has a few hundred rows; the rules are branchy and each
row carries its own trace), so the rows are fetched from the engine once and computed in Python; there are
no member- or claim-level loops here.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from apmkit.errors import ConfigurationError, InputFileError
from apmkit.money import round_money
from apmkit.programs.mssp.rules import MSR_ELECTIONS, MsrElection, mssp_terms, one_sided_msr
from apmkit.settlement.shared_savings import (
    MinimumRateTerms,
    SharedSavingsInputs,
    SharedSavingsResult,
    compute_shared_savings,
)

__all__ = [
    "OUTPUT_COLUMNS",
    "PufReproduction",
    "PufRowResult",
    "map_puf_header",
    "reproduce_puf",
]

OUTPUT_COLUMNS = (
    "aco_id",
    "track",
    "computed_earned_save_loss",
    "published_earned_save_loss",
    "difference",
    "status",
)

LINE_COLUMN = "source_line"
"""Column the caller adds with each row's line number in the file (header = line 1)."""

# Canonical field → accepted header names (lower-case; raw CMS names and the standardized names).
_ALIASES: dict[str, tuple[str, ...]] = {
    "aco_id": ("aco_id", "aco_num", "aco identifier"),
    "aco_name": ("aco_name", "aco name"),
    "performance_year": ("performance_year",),
    "n_ab": ("n_ab", "total number of assigned beneficiaries"),
    "abtotbnchmk": ("abtotbnchmk", "total benchmark expenditures ($)"),
    "abtotexp": ("abtotexp", "total expenditures ($)"),
    "bnchmkminexp": ("bnchmkminexp",),
    "sav_rate": ("sav_rate",),
    "minsavperc": ("minsavperc", "minimum savings rate (%)"),
    "gensaveloss": ("gensaveloss",),
    "earnsaveloss": ("earnsaveloss",),
    "earned_savings": (),
    "owed_losses": (),
    "qualscore": ("qualscore", "quality score"),
    "finalsharerate": ("finalsharerate", "final sharing rate"),
    "met_qps": ("met_qps",),
    "disadj": ("disadj",),
    "revlosslimit": ("revlosslimit",),
    "updatedbnchmk": ("updatedbnchmk",),
    "n_ab_year_py": ("n_ab_year_py", "n_ab_year"),
    "start_date": ("current_start_date", "start_date", "start date", "initial_start_date"),
    "current_track_1": ("current_track_1", "track1", "track_1"),
    "current_track_2": ("current_track_2", "track2", "track_2", "track 2 aco"),
    "current_track_3": ("current_track_3", "track3", "track_3"),
    "current_track_1_plus": ("current_track_1_plus", "track_1_plus"),
    "current_basic_a": ("current_basic_a",),
    "current_basic_b": ("current_basic_b",),
    "current_basic_c": ("current_basic_c",),
    "current_basic_d": ("current_basic_d",),
    "current_basic_e": ("current_basic_e",),
    "current_enhanced": ("current_enhanced",),
    # PY2022+ layout (docs/mssp.md, "PY2022-2024")
    "current_track": ("current_track",),
    "met_alt_qps": ("met_altqps", "met_alt_qps"),
    "guardrail": ("guardrail",),
    "reduced_ss": ("reducedss", "reduced_ss"),
    "terminated": ("impact_mid_year_termination", "prorate_shared_losses"),
    "revenue_category": ("rev_exp_cat",),
}

# PY2022+ ``Current_Track`` codes.
_TRACK_CODES = {
    "A": "basic_a",
    "B": "basic_b",
    "C": "basic_c",
    "D": "basic_d",
    "E": "basic_e",
    "EN": "enhanced",
}

CURRENT_LAYOUT_FROM = 2022
"""From PY2022 the PUF has one ``Current_Track`` code and percent columns (QualScore, FinalShareRate, ...)."""

# Track flag columns, most specific first (an ACO carries exactly one in a well-formed file).
_TRACK_FLAGS = (
    ("current_enhanced", "enhanced"),
    ("current_basic_e", "basic_e"),
    ("current_basic_d", "basic_d"),
    ("current_basic_c", "basic_c"),
    ("current_basic_b", "basic_b"),
    ("current_basic_a", "basic_a"),
    ("current_track_1_plus", "track_1_plus"),
    ("current_track_3", "track_3"),
    ("current_track_2", "track_2"),
    ("current_track_1", "track_1"),
)

_REQUIRED = ("abtotbnchmk", "abtotexp", "n_ab")

# The raw PY2013 PUF labels columns 13-18 one position right of their values (docs/mssp.md, "Data quirks"):
# under "Total benchmark expenditures ($)" and the five headers after it sit B, E, B - E, earned savings,
# owed losses and the assigned population.
_PY2013_SHIFTED = ("abtotbnchmk", "abtotexp", "bnchmkminexp", "earned_savings", "owed_losses", "n_ab")


def map_puf_header(header: Sequence[str], *, source: str = "PUF") -> list[str | None]:
    """Canonical field name for each column of a PUF header (None for columns not needed).

    Matching is case-insensitive and ignores surrounding blanks and a byte-order mark. The raw PY2013 layout,
    whose labels are shifted against the values, is recognised by its ``Total savings/losses ($)`` header.

    Raises
    ------
    InputFileError
        When a field every year needs (benchmark, expenditure, assigned population) has no column.
    """
    names = [name.replace("\ufeff", "").strip().lower() for name in header]
    mapped: list[str | None] = [None] * len(names)
    lookup = {alias: canonical for canonical, aliases in _ALIASES.items() for alias in aliases}
    for index, name in enumerate(names):
        canonical = lookup.get(name)
        if canonical is not None and canonical not in mapped:
            mapped[index] = canonical
    if "total savings/losses ($)" in names and "total benchmark expenditures ($)" in names:
        start = names.index("total benchmark expenditures ($)")
        for offset, canonical in enumerate(_PY2013_SHIFTED):
            for index, current in enumerate(mapped):
                if current == canonical:
                    mapped[index] = None
            if start + offset < len(mapped):
                mapped[start + offset] = canonical
    missing = [name for name in _REQUIRED if name not in mapped]
    if missing:
        raise InputFileError(
            source,
            "not an MSSP ACO PUF: no column for "
            + ", ".join(missing)
            + " (expected CMS names such as ABtotBnchmk, ABtotExp, N_AB)",
            line=1,
        )
    if "earnsaveloss" not in mapped and "earned_savings" not in mapped:
        raise InputFileError(
            source, "no published EarnSaveLoss column to compare with", line=1, field="EarnSaveLoss"
        )
    return mapped


@dataclass(frozen=True)
class PufRowResult:
    """One ACO's recomputation: the six output columns, the reason when not reproducible, and the trace."""

    aco_id: str
    track: str
    computed: Decimal | None
    published: Decimal | None
    difference: Decimal | None
    status: str
    reason: str = ""
    line: int | None = None
    calculation: SharedSavingsResult | None = None
    notes: tuple[str, ...] = ()

    @property
    def status_text(self) -> str:
        """The ``status`` column: ``match``, ``mismatch`` or ``not_reproducible: <reason>``."""
        return (
            f"{self.status}: {self.reason}"
            if self.status == "not_reproducible" and self.reason
            else self.status
        )


@dataclass(frozen=True)
class PufReproduction:
    """All ACOs of one performance year, with the run's counts."""

    performance_year: int
    rows_read: int
    rows: tuple[PufRowResult, ...]
    rows_other_years: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def matched(self) -> int:
        return sum(row.status == "match" for row in self.rows)

    @property
    def mismatched(self) -> int:
        return sum(row.status == "mismatch" for row in self.rows)

    @property
    def not_reproducible(self) -> int:
        return sum(row.status == "not_reproducible" for row in self.rows)

    @property
    def match_rate(self) -> Decimal:
        """Matched ACOs / ACOs of the year (0 when there are none)."""
        if not self.rows:
            return Decimal(0)
        return Decimal(self.matched) / Decimal(len(self.rows))

    def to_arrow(self) -> pa.Table:
        """The result table with exactly :data:`OUTPUT_COLUMNS` (money as decimal(18,2))."""
        money = pa.decimal128(18, 2)
        return pa.table(
            {
                "aco_id": pa.array([row.aco_id for row in self.rows], pa.string()),
                "track": pa.array([row.track for row in self.rows], pa.string()),
                "computed_earned_save_loss": pa.array([row.computed for row in self.rows], money),
                "published_earned_save_loss": pa.array([row.published for row in self.rows], money),
                "difference": pa.array([row.difference for row in self.rows], money),
                "status": pa.array([row.status_text for row in self.rows], pa.string()),
            }
        )

    def to_table(self) -> ir.Table:
        """The result table as an ibis memtable (executes on any engine)."""
        return ibis.memtable(self.to_arrow())


class _RowError(Exception):
    """A row-level input problem: the row is kept as not_reproducible with this reason."""

    def __init__(self, reason: str, track: str = "") -> None:
        super().__init__(reason)
        self.track = track


def reproduce_puf(puf: Sequence[Mapping[str, Any]], performance_year: int) -> PufReproduction:
    """Recompute every ACO's earned shared savings / owed losses of one performance year.

    Parameters
    ----------
    puf
        PUF rows (one mapping per ACO, e.g. ``Engine.rows`` of the PUF table) as strings, columns renamed by
        :func:`map_puf_header` (unmapped columns dropped), plus ``source_line`` (the row's line number in the
        file); a few thousand rows at most, computed in exact Decimal. A ``performance_year`` column, as in the
        standardized multi-year table, selects the year's rows.
    performance_year
        The year whose rules apply (2013-2021 are checked against CMS's files).

    Returns
    -------
    PufReproduction
        One :class:`PufRowResult` per ACO, in file order.
    """
    data = [dict(row) for row in puf]
    rows_read = len(data)
    if data and "performance_year" in data[0]:
        data = [row for row in data if _year_of(row.get("performance_year")) == performance_year]
    units = _UnitScale.detect(data)
    results = tuple(_reproduce_row(row, performance_year, units) for row in data)
    results = tuple(sorted(results, key=lambda r: r.line if r.line is not None else 0))
    return PufReproduction(
        performance_year=performance_year,
        rows_read=rows_read,
        rows=results,
        rows_other_years=rows_read - len(data),
        notes=units.notes,
    )


def _year_of(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _number(value: Any) -> Decimal | None:
    """A PUF cell as an exact Decimal: blanks → None; ``$``, ``,`` and ``%`` signs dropped (units handled apart)."""
    if value is None:
        return None
    text = str(value).strip().replace("$", "").replace(",", "").replace("%", "")
    negative = text.startswith("(") and text.endswith(")")
    text = text.strip("()")
    if text in ("", "NA", "nan", "NaN", "-", ".", "*"):  # "-" not applicable, "*" small-cell suppression
        return None
    if not _NUMBER.match(text):
        raise ValueError(text)
    try:
        number = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern above admits only valid numbers
        raise ValueError(text) from exc
    return -number if negative else number


@dataclass(frozen=True)
class _UnitScale:
    """Factor turning the file's MinSavPerc / Sav_rate into fractions (percent in raw PY2014, percent/100 in the
    standardized PY2014-2015 table)."""

    msr_factor: Decimal
    notes: tuple[str, ...]

    @classmethod
    def detect(cls, rows: Iterable[Mapping[str, Any]]) -> _UnitScale:
        values: list[Decimal] = []
        for row in rows:
            try:
                number = _number(row.get("minsavperc"))
            except ValueError:
                continue
            if number is not None and number > 0:
                values.append(number)
        if not values:
            return cls(Decimal(1), ())
        median = statistics.median(values)
        # MSRs lie between 0.5 % and 25 %: a median above 0.5 can only be percent, one below 0.005 only
        # percent / 100.
        if median > Decimal("0.5"):
            return cls(Decimal("0.01"), ("MinSavPerc read as percent (median above 0.5)",))
        if median < Decimal("0.005"):
            return cls(Decimal(100), ("MinSavPerc read as percent/100 (median below 0.005)",))
        return cls(Decimal(1), ())


def _flag(row: Mapping[str, Any], name: str) -> bool | None:
    value = _number(row.get(name))
    return None if value is None else value == 1


def _track_of(row: Mapping[str, Any], year: int, msr: Decimal | None) -> tuple[str, str]:
    """The row's track key and how it was decided."""
    code = str(row.get("current_track") or "").strip().upper()
    if code:
        if code not in _TRACK_CODES:
            raise _RowError(
                f"Current_Track code is not one of {', '.join(_TRACK_CODES)} (no rules for this track)"
            )
        return _TRACK_CODES[code], "Current_Track code"
    saw_flag = False
    for column, track in _TRACK_FLAGS:
        flag = _flag(row, column)
        if flag is not None:
            saw_flag = True
        if flag:
            return track, f"track flag {column}"
    if saw_flag:
        return "track_1", "no two-sided flag set"
    if year > 2015:
        raise _RowError("no track flag (current_track_*, current_basic_*, current_enhanced) on the row")
    # The standardized PY2014-2015 table has no track flags. Track 2's final rate is 60 % × quality against
    # Track 1's 50 %; when the rate is 0 (quality standard failed), Track 2's fixed 2 % MSR tells it apart
    # (Track 1's variable MSR is 2 % only at 60,000+ assigned beneficiaries).
    final_rate = _number(row.get("finalsharerate"))
    score = _number(row.get("qualscore"))
    if final_rate:
        base = score if score else Decimal(1)
        ratio = final_rate / base
        return (
            "track_2" if abs(ratio - Decimal("0.6")) < Decimal("0.005") else "track_1"
        ), "FinalShareRate / QualScore"
    population = _number(row.get("n_ab"))
    if (
        msr is not None
        and abs(msr - Decimal("0.02")) < Decimal("0.00005")
        and population
        and population < 60000
    ):
        return "track_2", "fixed 2 % MSR below 60,000 beneficiaries"
    return "track_1", "variable MSR"


def _published(row: Mapping[str, Any]) -> Decimal:
    published = _number(row.get("earnsaveloss"))
    if published is not None:
        return published
    if "earned_savings" in row or "owed_losses" in row:
        earned = _number(row.get("earned_savings")) or Decimal(0)
        owed = _number(row.get("owed_losses")) or Decimal(0)
        return earned - abs(owed)
    raise _RowError("published EarnSaveLoss is blank (this file does not publish it for this year)")


def _msr_election(published_msr: Decimal | None, population: int) -> tuple[MsrElection, str]:
    """Read a two-sided ACO's MSR/MLR election from the published MinSavPerc."""
    if published_msr is None:
        raise _RowError("MinSavPerc is blank: a two-sided ACO's elected MSR/MLR is needed")
    if population >= 500:
        variable = one_sided_msr(population)
        # The file rounds; a value equal to the variable one at the file's precision is the variable election.
        if abs(variable - published_msr) <= Decimal("0.000051"):
            return "variable", "variable (equals the table value at the published precision)"
    for election in MSR_ELECTIONS:
        if abs(election - published_msr) <= Decimal("0.000001"):
            return election, f"elected fixed {election}"
    return published_msr, "published MinSavPerc (not one of the standard elections)"


def _reproduce_row(row: Mapping[str, Any], year: int, units: _UnitScale) -> PufRowResult:
    line = _year_of(row.get(LINE_COLUMN))
    aco_id = str(row.get("aco_id") or "").strip() or str(row.get("aco_name") or "").strip() or f"line {line}"
    track = ""
    published: Decimal | None = None
    try:
        published = round_money(_published(row))
        return _compute_row(row, year, units, aco_id, line, published)
    except _RowError as exc:
        # Includes a track the rules do not cover in this year: the row is reported and the others go on.
        return PufRowResult(aco_id, exc.track, None, published, None, "not_reproducible", str(exc), line)
    except ValueError as exc:
        return PufRowResult(
            aco_id, track, None, published, None, "not_reproducible", f"a field is not a number ({exc})", line
        )


def _field(row: Mapping[str, Any], name: str, line: int | None) -> Decimal | None:
    try:
        return _number(row.get(name))
    except ValueError:
        raise _RowError(f"line {line}, field {name}: not a number") from None


def _compute_row(
    row: Mapping[str, Any], year: int, units: _UnitScale, aco_id: str, line: int | None, published: Decimal
) -> PufRowResult:
    notes: list[str] = []
    benchmark = _field(row, "abtotbnchmk", line)
    expenditure = _field(row, "abtotexp", line)
    population_value = _field(row, "n_ab", line)
    for name, value in (("abtotbnchmk", benchmark), ("abtotexp", expenditure), ("n_ab", population_value)):
        if value is None:
            raise _RowError(f"line {line}, field {name}: blank")
    assert benchmark is not None and expenditure is not None and population_value is not None
    if benchmark <= 0:
        raise _RowError(f"line {line}, field abtotbnchmk: not positive")
    population = int(population_value)
    difference = _field(row, "bnchmkminexp", line)
    if "earned_savings" in row and difference is not None and abs(benchmark - expenditure - difference) > 1:
        raise _RowError(f"line {line}: PY2013 layout check failed (benchmark − expenditure ≠ savings column)")

    raw_msr = _field(row, "minsavperc", line)
    published_msr = raw_msr * units.msr_factor if raw_msr is not None else None
    track, how = _track_of(row, year, published_msr)
    notes.append(f"track: {how}")

    # Quality: PY2016+ publish Met_QPS; before that a 0 final sharing rate is how a failed standard shows.
    pay_for_reporting = str(row.get("qualscore") or "").strip().upper() == "P4R"
    score = None if pay_for_reporting else _field(row, "qualscore", line)
    final_rate = _field(row, "finalsharerate", line)
    current = year >= CURRENT_LAYOUT_FROM
    if current:
        # PY2022+ percent columns ("89.41%" in PY2022-2023, bare 89.41 in PY2024).
        score = score / 100 if score is not None else None
        final_rate = final_rate / 100 if final_rate is not None else None
    met_flag = _flag(row, "met_qps")
    alternative_met = bool(_flag(row, "met_alt_qps")) if year >= 2023 else False
    if met_flag is None:
        met_flag = not (final_rate is not None and final_rate == 0)
    if score is None and current:
        if met_flag or alternative_met:
            raise _RowError(f"line {line}, field QualScore: blank, and the quality standard decides the rate")
        score = Decimal(0)
    if score is None:
        # First-year ACOs are paid for reporting: "P4R" in the raw PY2014 file, blank in the standardized
        # PY2014-2015 table. Complete reporting meets the standard (docs/reference/methodology.md §1.3).
        score = Decimal(1)
        notes.append("quality score blank or P4R: pay-for-reporting year, scored 1")
    score = min(score, Decimal(1))

    election: MsrElection | None = None
    msr_note = ""
    if track not in ("track_1", "basic_a", "basic_b") and not (track == "track_2" and year <= 2015):
        election, msr_note = _msr_election(published_msr, population)
    elif population < 500:
        if published_msr is None:
            raise _RowError(f"line {line}: fewer than 500 assigned beneficiaries and no MinSavPerc")
        election, msr_note = published_msr, "published MinSavPerc (the table starts at 500 beneficiaries)"
    if msr_note:
        notes.append(f"MSR/MLR: {msr_note}")

    agreement_year = None
    start_year = _start_year(row.get("start_date"))
    if start_year is not None:
        agreement_year = year - max(start_year, 2013) + 1
    revenue_flag = _flag(row, "revlosslimit")
    revenue_note = ""
    if current and track in _REVENUE_LIMIT and expenditure > benchmark:
        # No RevLossLimit column from PY2022. A high-revenue ACO's participant revenue is at least 35 % of its
        # assigned beneficiaries' expenditure (42 CFR 425.20), so its revenue-based limit cannot bind while
        # 30 % of the loss stays within pct_of_revenue x 35 % of expenditure.
        category = str(row.get("revenue_category") or "").strip().lower()
        floor = _REVENUE_LIMIT[track] * Decimal("0.35") * expenditure
        if category.startswith("high") and Decimal("0.30") * (expenditure - benchmark) <= floor:
            revenue_flag = False
            revenue_note = "high-revenue ACO whose revenue-based loss limit cannot bind (425.20: revenue >= 35 % of expenditure)"
        else:
            revenue_note = "revenue-based loss limit may bind (participant revenue not published)"
        notes.append(revenue_note)

    try:
        terms = mssp_terms(
            track,
            year,
            msr_election=election,
            agreement_year=agreement_year,
            revenue_loss_limit=revenue_flag,
        )
    except ConfigurationError as exc:
        raise _RowError(str(exc), track) from None
    if isinstance(election, Decimal) and track in ("track_1", "basic_a", "basic_b"):
        # Below 500 beneficiaries the table is not known: use the published rate as a fixed one.
        terms = terms.model_copy(
            update={"minimum_savings_rate": MinimumRateTerms(kind="fixed", rate=election, citation=msr_note)}
        )

    if terms.loss_cap.pct_of_revenue is not None:
        # No PUF publishes ACO participant revenue: apply the benchmark part and flag the loss as an upper bound.
        terms = terms.model_copy(
            update={
                "loss_cap": terms.loss_cap.model_copy(update={"if_revenue_missing": "benchmark_part_only"})
            }
        )

    euc_fraction = Decimal(0)
    euc_amount = Decimal(0)
    adjustment = _field(row, "disadj", line)
    if year in (2020, 2021, 2022):
        euc_fraction = Decimal(1)
        notes.append("EUC: COVID-19 public health emergency, all months and beneficiaries affected")
    elif year >= 2017 and adjustment:
        euc_amount = abs(adjustment)
        if year == 2019 and _six_month_2019(row, benchmark, line):
            euc_amount = euc_amount / 2
            notes.append(
                "PY2019 January-June period: 12-month DisAdj pro-rated by one half (42 CFR 425.609(d))"
            )

    eligible: bool | None = None
    if terms.below_msr_sharing is not None:
        # The row says whether the ACO is eligible; the template's stated default never stands in for it.
        eligible = _low_revenue_exception(row, start_year, notes)
        terms = terms.model_copy(
            update={"below_msr_sharing": terms.below_msr_sharing.model_copy(update={"eligible": None})}
        )
    if terms.loss_benchmark_guardrail is not None:
        # The published ABtotBnchmk is the benchmark CMS settled on, the guardrail already applied.
        terms = terms.model_copy(update={"loss_benchmark_guardrail": None})
    inputs = SharedSavingsInputs(
        benchmark=benchmark,
        expenditure=expenditure,
        assigned_population=population,
        quality_score=score,
        quality_standard_met=met_flag,
        alternative_quality_standard_met=alternative_met,
        euc_affected_fraction=euc_fraction,
        euc_loss_reduction=euc_amount,
        below_msr_sharing_eligible=eligible,
    )
    try:
        result = compute_shared_savings(terms, inputs)
    except ValueError as exc:
        raise _RowError(f"line {line}: {exc}", track) from None
    computed = result.net
    if result.earned_savings > 0:
        if _flag(row, "terminated"):
            computed = Decimal(0)
            notes.append("terminated during the year: no shared savings (42 CFR 425.221(b)(2))")
        elif _flag(row, "guardrail"):
            computed = Decimal(0)
            notes.append(
                "ACPT guardrail applies (Guardrail = 1): no shared savings (42 CFR 425.652(b)(5); the PY2024 file's "
                "treatment of the flag was not checked here)"
            )
    difference_amount = computed - published
    tolerance = max(Decimal(2), abs(published) * Decimal("0.0005"))
    if abs(difference_amount) <= tolerance:
        status, reason = "match", ""
    elif result.loss_cap_incomplete and result.outcome == "losses" and computed <= published:
        status = "not_reproducible"
        reason = (
            "upper bound: the revenue-based loss limit may bind and needs ACO participant revenue, which the PUF "
            "does not publish (computed owed loss is an upper bound; the published loss is within it)"
        )
    else:
        status, reason = "mismatch", ""
    return PufRowResult(
        aco_id=aco_id,
        track=track,
        computed=computed,
        published=published,
        difference=difference_amount,
        status=status,
        reason=reason,
        line=line,
        calculation=result,
        notes=tuple(notes),
    )


_REVENUE_LIMIT = {
    "basic_c": Decimal("0.02"),
    "basic_d": Decimal("0.04"),
    "basic_e": Decimal("0.08"),
}
"""Revenue-based loss limit (share of ACO participant revenue) of the BASIC two-sided levels (425.605(d))."""


def _low_revenue_exception(row: Mapping[str, Any], start_year: int | None, notes: list[str]) -> bool | None:
    """Whether a BASIC ACO may share savings below its MSR (425.605(h)): low revenue, agreement from 2024."""
    category = str(row.get("revenue_category") or "").strip().lower()
    if not category or start_year is None:
        return None  # the calculator stops with the field named if the exception decides the amount
    eligible = category.startswith("low") and start_year >= 2024
    published = _flag(row, "reduced_ss")
    if published is not None and published != eligible:
        notes.append("ReducedSS differs from the eligibility read from Rev_Exp_Cat and Current_Start_Date")
    return eligible


def _start_year(value: Any) -> int | None:
    if value is None:
        return None
    match = re.search(r"(19|20)\d\d", str(value))
    return int(match.group(0)) if match else None


def _six_month_2019(row: Mapping[str, Any], benchmark: Decimal, line: int | None) -> bool:
    """Whether a PY2019 row is the January-June period: its total benchmark is half the 12-month one."""
    per_capita = _field(row, "updatedbnchmk", line)
    person_years = _field(row, "n_ab_year_py", line)
    if not per_capita or not person_years:
        return False
    full_year = per_capita * person_years
    return abs(benchmark - full_year / 2) < abs(benchmark - full_year)
