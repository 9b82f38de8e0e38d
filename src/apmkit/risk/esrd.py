"""CMS-HCC ESRD V24 scores (dialysis, kidney transplant, functioning graft) over a whole population.

The ESRD model shares the V24 diagnosis mapping, age/sex edits and hierarchies with CMS-HCC V24
(:func:`apmkit.risk.model.condition_categories`, :func:`apmkit.risk.model._impose_hierarchies` are reused),
and differs in its demographics and scores (rules of CMS's ESRD V24 software):

* age on 1 February of the payment year; aged = 65 or older;
* continuing enrollees: age/sex cell, originally disabled (OREC 1, aged), originally ESRD (OREC 2/3, aged),
  full-/partial-benefit dual and long-term institutional status by sex and aged/non-aged, HCCs, disease
  interactions and non-aged interactions; no payment-HCC count;
* dialysis new enrollees: one cell by dual group (FBD or ND_PBD), originally disabled (OREC 1, any age)
  and age band (0-34 ... 80-84, 85+; a 64-year-old with OREC 0 is placed in 65-69);
* functioning-graft new enrollees: one cell by originally disabled (OREC 1 and aged) and the
  CMS-HCC new-enrollee bands (single years 65-69; 64 with OREC 0 -> 65), read for the score's dual group;
  the graft duration factor is added and the sum divided by CMS's actuarial adjustment
  (0.905 for months 4-9, 0.698 for 10+), rounded half-up to 3 decimals;
* community / institutional functioning graft: the segment's factors plus the graft duration factor
  (by dual group, aged, months 4-9 or 10+), the partial-dual flag factor, and for institutional
  members CMS's LTI factor;
* kidney transplant months 1-3: a single factor;
* renal CCs 134-138 are removed (they carry factor 0 in every ESRD segment).

Every person gets the 29 score variables CMS's software writes; ``segment``/``score`` are the one that
applies: dialysis (no ``months_since_transplant``) -> ``SCORE_DIAL`` or ``SCORE_DIAL_NE``; months 1-3 ->
``SCORE_TRANSPLANT_KIDNEY_ONLY_<m>M``; months 4+ -> new enrollee ``SCORE_GRAFT_NE_*``, institutional
``SCORE_GRAFT_INST_*``, else ``SCORE_G_COMM_*``. A score variable that does not apply is what the member
would score in that segment (its factors over the member's own variables, plus that segment's add-ons).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from apmkit.money import div_round_half_up
from apmkit.portable import one_of
from apmkit.risk.esrd_reference import (
    DIALYSIS,
    DIALYSIS_NEW_ENROLLEE,
    GRAFT_DURATION,
    INSTITUTIONAL_GRAFT,
    KIDNEY_TRANSPLANT,
    PARTIAL_DUAL_GRAFT,
    RENAL_CCS,
    SEGMENT_COLUMNS,
    EsrdTables,
    esrd_tables,
)
from apmkit.risk.inputs import add_checked_column, text_column
from apmkit.risk.model import (
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

MONTHS_COLUMN = "months_since_transplant"
"""Optional persons column: months since the kidney transplant (blank = on dialysis, no transplant)."""

_MAX_MONTHS = 999
_DIALYSIS_NE_BANDS = (
    (34, "0_34"),
    (44, "35_44"),
    (54, "45_54"),
    (59, "55_59"),
    (64, "60_64"),
    (69, "65_69"),
    (74, "70_74"),
    (79, "75_79"),
    (84, "80_84"),
)
_GRAFT_NE_TAIL = ((74, "70_74"), (79, "75_79"), (84, "80_84"), (89, "85_89"), (94, "90_94"))


def _flag_text(value: ir.BooleanValue, yes: str, no: str) -> ir.StringValue:
    return ibis.ifelse(value, yes, no)


def esrd_demographics(persons: ir.Table, payment_year: int) -> ir.Table:
    """Demographic variables and the applicable segment of each person.

    Parameters
    ----------
    persons
        Conformed persons plus ``months_since_transplant`` (int64, NULL = dialysis).
    payment_year
        Age is taken on 1 February of this year.

    Returns
    -------
    ibis.Table
        The columns of :func:`apmkit.risk.model.demographics` plus ``aged``, ``dialysis_ne_cell``,
        ``graft_ne_cell`` and ``segment`` (a CMS ESRD score name).
    """
    t = demographics(persons, payment_year)
    aged = t.age >= 65
    aged_64 = (t.age == 64) & (t.orec == "0")
    t = t.mutate(aged=aged, ne_aged=aged | aged_64)
    sex_letter = ibis.ifelse(t.sex == "F", "F", "M")
    dual_group = _flag_text(t.full_dual, "FBD", "ND_PBD")
    # CMS places a 64-year-old new enrollee entitled by age (OREC 0) in the 65+ cells.
    dialysis_band = ibis.ifelse(
        aged_64,
        "65_69",
        ibis.cases(*[(t.age <= upper, label) for upper, label in _DIALYSIS_NE_BANDS], else_="85_GT"),
    )
    graft_band = ibis.ifelse(aged_64, "65", _age_band(t.age, _NE_BANDS + _GRAFT_NE_TAIL))
    dialysis_ne_cell = (
        dual_group + _flag_text(t.orec == "1", "_ORIGDIS_NE", "_NORIGDIS_NE") + sex_letter + dialysis_band
    )
    graft_ne_cell = (
        _flag_text(aged & (t.orec == "1"), "ORIGDIS_G_NE", "NORIGDIS_G_NE") + sex_letter + graft_band
    )

    months = t[MONTHS_COLUMN]
    duration = ibis.ifelse(months <= 9, "DUR4_9", "DUR10PL")
    age_group = _flag_text(aged, "GE65", "LT65")
    ne_age_group = _flag_text(t.ne_aged, "GE65", "LT65")
    segment = ibis.cases(
        (months.isnull() & t.new_enrollee, ibis.literal(DIALYSIS_NEW_ENROLLEE)),
        (months.isnull(), ibis.literal(DIALYSIS)),
        (months <= 3, "SCORE_TRANSPLANT_KIDNEY_ONLY_" + months.cast("string") + "M"),
        (t.new_enrollee, "SCORE_GRAFT_NE_" + ne_age_group + "_" + duration + "_" + dual_group),
        (t.institutional, "SCORE_GRAFT_INST_" + dual_group + "_" + age_group + "_" + duration),
        else_="SCORE_G_COMM_" + dual_group + "_" + age_group + "_" + duration,
    )
    return t.mutate(dialysis_ne_cell=dialysis_ne_cell, graft_ne_cell=graft_ne_cell, segment=segment)


def _term(table: ir.Table, variable: ir.StringValue | str, kind: str) -> ir.Table:
    value = ibis.literal(variable) if isinstance(variable, str) else variable
    return table.select("member_id", variable=value, kind=ibis.literal(kind))


# Terms every person has: looked up by one join per person (cells) or added as constants, so that only
# the optional terms go through the per-member aggregation (the costliest step of a large run).
_EVERYONE_CONSTANT_TERMS = (KIDNEY_TRANSPLANT, GRAFT_DURATION)
_CELL_COLUMNS = ("cell", "dialysis_ne_cell", "graft_ne_cell")


def _everyone_terms(people: ir.Table) -> list[ir.Table]:
    return [
        _term(people, people.cell, "demographic"),
        _term(people, people.dialysis_ne_cell, "demographic"),
        _term(people, people.graft_ne_cell, "demographic"),
        _term(people, KIDNEY_TRANSPLANT, "transplant"),
        _term(people, GRAFT_DURATION, "graft"),
    ]


def _optional_demographic_terms(people: ir.Table) -> list[ir.Table]:
    sex_word = ibis.ifelse(people.sex == "F", "Female", "Male")
    aged_word = ibis.ifelse(people.aged, "Aged", "NonAged")
    originally_disabled = people.filter((people.orec == "1") & people.aged)
    originally_esrd = people.filter(one_of(people.orec, ("2", "3")) & people.aged)
    full = people.filter(people.full_dual)
    partial = people.filter(people.partial_dual)
    institutional = people.filter(people.institutional)
    return [
        _term(originally_disabled, "OriginallyDisabled_" + sex_word, "demographic"),
        _term(originally_disabled, "ORIGDS", "demographic"),
        _term(originally_esrd, "Originally_ESRD_" + sex_word, "demographic"),
        _term(full, "FBDual_" + sex_word + "_" + aged_word, "demographic"),
        _term(partial, "PBDual_" + sex_word + "_" + aged_word, "demographic"),
        _term(institutional, "LTI_" + aged_word, "demographic"),
        _term(partial, PARTIAL_DUAL_GRAFT, "graft"),
        _term(institutional, INSTITUTIONAL_GRAFT, "graft"),
    ]


def score_esrd_model(
    persons: ir.Table,
    diagnoses: ir.Table,
    *,
    payment_year: int,
    materialize: Materialize | None = None,
) -> RawScores:
    """Raw CMS-HCC ESRD V24 scores of every person.

    Parameters
    ----------
    persons
        Conformed persons with ``months_since_transplant`` (int64, NULL = dialysis).
    diagnoses
        Conformed diagnoses: ``member_id, dx_code``.
    payment_year
        2024-2027: selects the ICD-10 mapping; age on 1 February.
    materialize
        Called on the tables several later steps read (see :func:`apmkit.risk.model.score_model`).

    Returns
    -------
    RawScores
        ``scores``: ``member_id, segment, score, hccs, interactions`` and the 29 CMS score variables.
        ``explanations``: as for CMS-HCC, with kinds ``demographic``, ``hcc``, ``interaction``,
        ``graft`` (duration, partial-dual and institutional add-ons, named by their CMS factor),
        ``transplant``, ``adjustment`` (the effect of CMS's new-enrollee graft actuarial adjustment,
        so that the terms sum exactly to the score) and ``dropped``.
    """
    stage = materialize or (lambda table: table)
    tables = esrd_tables(payment_year)
    people = stage(esrd_demographics(persons, payment_year))

    mapped = condition_categories(diagnoses, people, tables.mapping.as_model_tables())
    mapped = stage(mapped.filter(~one_of(mapped.cc.cast("string"), [str(cc) for cc in RENAL_CCS])))
    present = mapped.select("member_id", "cc").distinct()
    kept, dropped = _impose_hierarchies(present, tables.mapping.as_model_tables())
    kept = stage(kept)

    group_members = tables.table("group_members")
    hcc_factors = kept.join(group_members, "cc").select("member_id", "factor")
    non_aged = people.filter(~people.aged).select("member_id", factor=ibis.literal("NONAGED"))
    factors = hcc_factors.union(non_aged).distinct()
    matched = factors.join(tables.table("interaction_factors"), "factor")
    interactions = matched.group_by(["member_id", "interaction", "factor_count"]).aggregate(
        matched_factors=matched.count()
    )
    interactions = interactions.filter(interactions.matched_factors == interactions.factor_count)

    optional_terms = ibis.union(
        *_optional_demographic_terms(people),
        _term(kept, "HCC" + kept.cc.cast("string"), "hcc"),
        _term(interactions, interactions.interaction, "interaction"),
    )
    terms = ibis.union(*_everyone_terms(people), optional_terms)
    coefficients = tables.table("coefficients")
    weighted = optional_terms.left_join(coefficients, "variable").select(
        "member_id", "kind", "variable", *SEGMENT_COLUMNS
    )

    def listed(kind: str) -> ir.StringValue:
        where = weighted.kind == kind
        return weighted.variable.group_concat(";", where=where).split(";").sort().join(";")

    sums = weighted.group_by("member_id").aggregate(
        hccs=listed("hcc"),
        interactions=listed("interaction"),
        **{f"terms_{s}": weighted[s].sum() for s in SEGMENT_COLUMNS},
    )
    sums = sums.rename(sums_member_id="member_id")
    constant_rows = [
        row for row in tables.coefficients.to_pylist() if row["variable"] in _EVERYONE_CONSTANT_TERMS
    ]
    constants = {s: sum(row[s] for row in constant_rows) for s in SEGMENT_COLUMNS}
    base = people.select("member_id", "segment", *_CELL_COLUMNS)
    for index, column in enumerate(_CELL_COLUMNS):
        lookup = coefficients.select(
            **{column: coefficients.variable}, **{f"c{index}_{s}": coefficients[s] for s in SEGMENT_COLUMNS}
        )
        base = base.left_join(lookup, column).drop(f"{column}_right")
    base = base.left_join(sums, base.member_id == sums.sums_member_id)
    sums = base.select(
        "member_id",
        "segment",
        hccs=base.hccs,
        interactions=base.interactions,
        **{
            s: sum(
                (base[f"c{i}_{s}"].fill_null(0) for i in range(len(_CELL_COLUMNS))),
                base[f"terms_{s}"].fill_null(0) + constants[s],
            )
            for s in SEGMENT_COLUMNS
        },
    )
    divisors = {row["segment"]: row["divisor"] for row in tables.divisors.to_pylist()}

    def adjusted(column: str) -> ir.IntegerValue:
        total = sums[column].fill_null(0)
        if divisors[column] == 1000:
            return total
        # CMS divides the new-enrollee graft score by the actuarial adjustment before rounding.
        return div_round_half_up(total * 1000, divisors[column])

    joined = sums.select(
        "member_id", "segment", "hccs", "interactions", **{s: adjusted(s) for s in SEGMENT_COLUMNS}
    )
    chosen = ibis.cases(
        *[(joined.segment == s, joined[s]) for s in SEGMENT_COLUMNS], else_=ibis.null("int64")
    )
    scores = joined.select(
        "member_id",
        "segment",
        score=_to_score(chosen),
        hccs=joined.hccs.fill_null(""),
        interactions=joined.interactions.fill_null(""),
        **{s: _to_score(joined[s]) for s in SEGMENT_COLUMNS},
    )

    return RawScores(
        model=HccModel.ESRD_V24,
        payment_year=payment_year,
        scores=scores,
        explain=lambda: _explanations(people, terms, mapped, dropped, joined, tables),
    )


def _explanations(
    people: ir.Table,
    terms: ir.Table,
    mapped: ir.Table,
    dropped: ir.Table,
    totals: ir.Table,
    tables: EsrdTables,
) -> ir.Table:
    """Terms of each member's segment with CMS's factor, evidence, hierarchy drops and the adjustment."""
    published = tables.table("published")
    segment_terms = terms.join(people.select("member_id", "segment"), "member_id")
    contributions = segment_terms.join(published, ["segment", "variable"]).select(
        "member_id", "segment", "kind", "variable", "label", "thousandths"
    )
    evidence = diagnosis_evidence(mapped)
    contributions = with_evidence(
        contributions.select("member_id", "segment", "kind", "thousandths", variable=contributions.label),
        evidence,
    )
    # The new-enrollee graft scores are (sum of factors) / actuarial adjustment: the adjustment's effect
    # is its own term, so that a member's terms still add up to the score exactly.
    summed = contributions.group_by("member_id").aggregate(term_total=contributions.thousandths.sum())
    chosen = ibis.cases(
        *[(totals.segment == s, totals[s]) for s in SEGMENT_COLUMNS], else_=ibis.null("int64")
    )
    divisors = tables.table("divisors")
    adjusted = (
        totals.select("member_id", "segment", score_thousandths=chosen)
        .join(divisors.filter(divisors.divisor != 1000), "segment")
        .join(summed, "member_id")
    )
    duration = ibis.ifelse(adjusted.segment.contains("DUR4_9"), "ActAdj_DUR4_9", "ActAdj_DUR10PL")
    adjustment_rows = adjusted.select(
        "member_id",
        "segment",
        kind=ibis.literal("adjustment"),
        variable=duration,
        thousandths=adjusted.score_thousandths - adjusted.term_total.fill_null(0),
        diagnoses=ibis.null("string"),
        dropped_by=ibis.null("string"),
    )
    rows = ibis.union(contributions, adjustment_rows, dropped_terms(dropped, evidence, people))
    return explanation_rows(HccModel.ESRD_V24, rows)


def conform_transplant_months(
    raw: ir.Table, valid_people: ir.Table, *, source_file: str = "persons"
) -> tuple[ir.Table, ir.Table]:
    """Add ``months_since_transplant`` (int64) to the valid persons and reject rows where it is malformed.

    Blank means the member is on dialysis (no kidney transplant). See
    :func:`apmkit.risk.inputs.add_checked_column`.
    """
    text = text_column(raw, MONTHS_COLUMN)
    well_formed = text.re_search(r"^[0-9]{1,3}$")
    months = ibis.ifelse(well_formed, text, ibis.null("string")).try_cast("int64")
    return add_checked_column(
        raw,
        valid_people,
        column=MONTHS_COLUMN,
        value=months,
        bad=(text != "") & (months.isnull() | (months < 1)),
        reason=f"must be a whole number of months from 1 to {_MAX_MONTHS}",
        source_file=source_file,
    )
