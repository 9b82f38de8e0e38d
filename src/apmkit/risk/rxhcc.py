"""CMS RxHCC V08 (Part D) scores for payment year 2026 over a whole population.

CMS publishes the PY2026 RxHCC model as two coefficient segments with one mapping and hierarchy:
``T`` (calibrated on specialty-filtered 2018 diagnoses and 2019 Part D costs) and ``X`` (HCPCS-filtered
2022 diagnoses, 2023 costs). apmkit ships both (models ``RxHCC-V08-T`` and ``RxHCC-V08-X``); which one
pays a given organization is CMS's Rate Announcement's call, so the caller chooses.

Rules (CMS's RxHCC software, as the CMS-cross-validated implementation in data/SOURCES.md describes them):

* age on 1 February; aged = 65+; originally disabled = OREC 1 and aged;
* continuing enrollees: age/sex cell, ``<sex>65OD`` and ``OD65`` when originally disabled, RxHCCs after
  hierarchies, ``NONAGED_RXHCC<n>`` (n = 1, 130, 131, 132, 133, 159, 163) under 65; no count terms and no
  age/sex edits (CMS's V08 edit macro has none; its optional MCE edits are not applied);
* new enrollees: one cell ``<ESRD|NESRD>_<ORIGDIS|NORIGDIS>_X_<sex><band>``, bands with single years
  65-69, a 64-year-old with OREC 0 in the 65 cell;
* segment: new enrollee -> ``NE_LTI`` (institutional), ``NE_Low_Community`` (low-income subsidy) or
  ``NE_NonLow_Community``; otherwise ``CE_LTI``, ``CE_Low_Aged``/``CE_Low_NonAged`` or
  ``CE_NonLow_Aged``/``CE_NonLow_NonAged``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from apmkit.errors import ConfigurationError
from apmkit.portable import one_of
from apmkit.risk.esrd_reference import MappingTables, edits_table
from apmkit.risk.inputs import add_checked_column, text_column
from apmkit.risk.model import (
    _BANDS_TAIL,
    _NE_BANDS,
    Materialize,
    RawScores,
    _age_band,
    _impose_hierarchies,
    _to_score,
    condition_categories,
    demographics,
    diagnosis_evidence,
    dropped_terms,
    explanation_rows,
    with_evidence,
)
from apmkit.risk.spec import HccModel

RXHCC_PAYMENT_YEARS = (2026,)
RXHCC_SEGMENT_SETS = {HccModel.RXHCC_V08_T: "T", HccModel.RXHCC_V08_X: "X"}
CONTINUING_SEGMENTS = ("CE_NonLow_Aged", "CE_NonLow_NonAged", "CE_Low_Aged", "CE_Low_NonAged", "CE_LTI")
NEW_ENROLLEE_SEGMENTS = ("NE_NonLow_Community", "NE_Low_Community", "NE_LTI")
SEGMENT_COLUMNS = CONTINUING_SEGMENTS + NEW_ENROLLEE_SEGMENTS
NON_AGED_RXHCCS = (1, 130, 131, 132, 133, 159, 163)

LOW_INCOME_COLUMN = "low_income"
"""Optional persons column: 0/1, the member has the Part D low-income subsidy (LIS)."""

_TRUE = ("1", "TRUE", "T", "Y", "YES")
_FALSE = ("0", "FALSE", "F", "N", "NO", "")


def _rows(name: str) -> Iterator[dict[str, str]]:
    with resources.files("apmkit.risk.data").joinpath(name).open("r", encoding="utf-8") as handle:
        yield from csv.DictReader(handle)


def _thousandths(value: str) -> int:
    return int((Decimal(value) * 1000).to_integral_value())


@dataclass(frozen=True)
class RxhccTables:
    """RxHCC V08 tables of one coefficient segment (``T`` or ``X``).

    ``mapping`` holds ``dx_to_cc`` (RxCC in ``cc``), an empty ``edits`` and the ``hierarchy``, so the
    mapping and hierarchy expressions of :mod:`apmkit.risk.model` apply. ``coefficients``: ``variable``
    plus one int64 column (thousandths) per segment. ``published``: ``segment, variable`` of every factor
    in the segment's CMS table (continuing-enrollee tables have no new-enrollee cells and vice versa).
    """

    mapping: MappingTables
    coefficients: pa.Table
    published: pa.Table

    def table(self, name: str) -> ibis.Table:
        """The named table as an ibis in-memory table."""
        return ibis.memtable(getattr(self, name))


def check_rxhcc_payment_year(payment_year: int) -> None:
    if payment_year not in RXHCC_PAYMENT_YEARS:
        raise ConfigurationError(
            f"RxHCC is shipped for payment year 2026 only (CMS's PY2026 T and X tables), not {payment_year}"
        )


@cache
def rxhcc_tables(model: HccModel, payment_year: int) -> RxhccTables:
    """Load the RxHCC tables of ``model`` (RxHCC-V08-T or RxHCC-V08-X) for ``payment_year``."""
    check_rxhcc_payment_year(payment_year)
    segment_set = RXHCC_SEGMENT_SETS[HccModel(model)]
    dx_codes: list[str] = []
    rxccs: list[int] = []
    for row in _rows("rxhcc_dx_to_cc.csv"):
        if int(row["first_payment_year"]) <= payment_year <= int(row["last_payment_year"]):
            dx_codes.append(row["dx_code"])
            rxccs.append(int(row["rxcc"]))
    hierarchy_rows = list(_rows("rxhcc_hierarchies.csv"))
    mapping = MappingTables(
        dx_to_cc=pa.table({"dx_code": pa.array(dx_codes, pa.string()), "cc": pa.array(rxccs, pa.int64())}),
        # CMS's RxHCC V08 edit macro (R08I0ED1) has no mandatory age/sex edits.
        edits=edits_table([]),
        hierarchy=pa.table(
            {
                "parent_cc": pa.array([int(r["parent_rxcc"]) for r in hierarchy_rows], pa.int64()),
                "child_cc": pa.array([int(r["child_rxcc"]) for r in hierarchy_rows], pa.int64()),
            }
        ),
    )
    factor_rows = [row for row in _rows("rxhcc_coefficients.csv") if row["segment_set"] == segment_set]
    variables = [row["variable"] for row in factor_rows]
    columns: dict[str, pa.Array] = {"variable": pa.array(variables, pa.string())}
    for segment in SEGMENT_COLUMNS:
        columns[segment] = pa.array([_thousandths(row[segment]) for row in factor_rows], pa.int64())
    # CMS's continuing-enrollee and new-enrollee tables are separate: new-enrollee cells ("..._X_...")
    # belong to the NE segments only, every other factor to the CE segments only.
    pairs = [
        (segment, variable)
        for variable in variables
        for segment in (NEW_ENROLLEE_SEGMENTS if "_X_" in variable else CONTINUING_SEGMENTS)
    ]
    published = pa.table(
        {
            "segment": pa.array([p[0] for p in pairs], pa.string()),
            "variable": pa.array([p[1] for p in pairs], pa.string()),
        }
    )
    return RxhccTables(mapping=mapping, coefficients=pa.table(columns), published=published)


def rxhcc_demographics(persons: ir.Table, payment_year: int) -> ir.Table:
    """Demographic variables and segment of each person (``low_income`` boolean column required)."""
    t = demographics(persons, payment_year)
    aged = t.age >= 65
    sex_letter = ibis.ifelse(t.sex == "F", "F", "M")
    originally_disabled = (t.orec == "1") & aged
    # CMS places a 64-year-old new enrollee entitled by age (OREC 0) in the 65 cell.
    ne_age = ibis.ifelse((t.age == 64) & (t.orec == "0"), 65, t.age)
    ne_cell = (
        ibis.ifelse(t.esrd, "ESRD", "NESRD")
        + ibis.ifelse(originally_disabled, "_ORIGDIS_X_", "_NORIGDIS_X_")
        + sex_letter
        + _age_band(ne_age, _NE_BANDS + _BANDS_TAIL)
    )
    low = t[LOW_INCOME_COLUMN]
    segment = ibis.cases(
        (t.new_enrollee & t.institutional, "NE_LTI"),
        (t.new_enrollee & low, "NE_Low_Community"),
        (t.new_enrollee, "NE_NonLow_Community"),
        (t.institutional, "CE_LTI"),
        (low & aged, "CE_Low_Aged"),
        (low, "CE_Low_NonAged"),
        (aged, "CE_NonLow_Aged"),
        else_="CE_NonLow_NonAged",
    )
    return t.mutate(aged=aged, originally_disabled=originally_disabled, rx_ne_cell=ne_cell, segment=segment)


def _term(table: ir.Table, variable: ir.StringValue | str, kind: str) -> ir.Table:
    value = ibis.literal(variable) if isinstance(variable, str) else variable
    return table.select("member_id", variable=value, kind=ibis.literal(kind))


def score_rxhcc_model(
    persons: ir.Table,
    diagnoses: ir.Table,
    *,
    model: HccModel,
    payment_year: int,
    materialize: Materialize | None = None,
) -> RawScores:
    """Raw RxHCC V08 scores of every person (``scores`` with the 8 CMS segment columns, ``explanations``)."""
    stage = materialize or (lambda table: table)
    tables = rxhcc_tables(model, payment_year)
    people = stage(rxhcc_demographics(persons, payment_year))
    mapped = stage(condition_categories(diagnoses, people, tables.mapping.as_model_tables()))
    kept, dropped = _impose_hierarchies(
        mapped.select("member_id", "cc").distinct(), tables.mapping.as_model_tables()
    )
    kept = stage(kept)
    young = kept.join(people.filter(~people.aged).select("member_id"), "member_id")
    young = young.filter(one_of(young.cc.cast("string"), [str(n) for n in NON_AGED_RXHCCS]))
    originally_disabled = people.filter(people.originally_disabled)
    sex_letter = ibis.ifelse(originally_disabled.sex == "F", "F", "M")
    terms = ibis.union(
        _term(people, people.cell, "demographic"),
        _term(people, people.rx_ne_cell, "demographic"),
        _term(originally_disabled, sex_letter + "65OD", "demographic"),
        _term(originally_disabled, "OD65", "demographic"),
        _term(kept, "RXHCC" + kept.cc.cast("string"), "hcc"),
        _term(young, "NONAGED_RXHCC" + young.cc.cast("string"), "interaction"),
    )
    weighted = terms.left_join(tables.table("coefficients"), "variable").select(
        "member_id", "kind", "variable", *SEGMENT_COLUMNS
    )

    def listed(kind: str) -> ir.StringValue:
        return weighted.variable.group_concat(";", where=weighted.kind == kind).split(";").sort().join(";")

    sums = weighted.group_by("member_id").aggregate(
        hccs=listed("hcc"),
        interactions=listed("interaction"),
        **{s: weighted[s].sum() for s in SEGMENT_COLUMNS},
    )
    sums = sums.rename(sums_member_id="member_id")
    joined = people.select("member_id", "segment").join(sums, people.member_id == sums.sums_member_id)
    thousandths = {s: joined[s].fill_null(0) for s in SEGMENT_COLUMNS}
    chosen = ibis.cases(
        *[(joined.segment == s, thousandths[s]) for s in SEGMENT_COLUMNS], else_=ibis.null("int64")
    )
    scores = joined.select(
        "member_id",
        "segment",
        score=_to_score(chosen),
        hccs=joined.hccs.fill_null(""),
        interactions=joined.interactions.fill_null(""),
        **{s: _to_score(thousandths[s]) for s in SEGMENT_COLUMNS},
    )

    def explain() -> ir.Table:
        coefficients = tables.table("coefficients")
        own = terms.join(people.select("member_id", "segment"), "member_id")
        own = own.semi_join(tables.table("published"), ["segment", "variable"])
        own = own.join(coefficients, "variable")
        coefficient = ibis.cases(
            *[(own.segment == s, own[s]) for s in SEGMENT_COLUMNS], else_=ibis.null("int64")
        )
        evidence = diagnosis_evidence(mapped, prefix="RXHCC")
        contributions = own.select("member_id", "segment", "kind", "variable", thousandths=coefficient)
        rows = with_evidence(contributions, evidence).union(
            dropped_terms(dropped, evidence, people, prefix="RXHCC")
        )
        return explanation_rows(HccModel(model), rows)

    return RawScores(model=HccModel(model), payment_year=payment_year, scores=scores, explain=explain)


def conform_low_income(
    raw: ir.Table, valid_people: ir.Table, *, source_file: str = "persons"
) -> tuple[ir.Table, ir.Table]:
    """Add ``low_income`` (boolean) to the valid persons; reject rows whose value is not a 0/1 flag
    (see :func:`apmkit.risk.inputs.add_checked_column`)."""
    text = text_column(raw, LOW_INCOME_COLUMN).upper()
    return add_checked_column(
        raw,
        valid_people,
        column=LOW_INCOME_COLUMN,
        value=one_of(text, _TRUE),
        bad=~(one_of(text, _TRUE) | one_of(text, _FALSE)),
        reason="must be 0 or 1",
        source_file=source_file,
    )
