"""CMS-HCC V24/V28 raw risk scores as ibis expressions over a whole population.

The steps follow CMS's risk-adjustment software:

1. demographics: age as of February 1 of the payment year, sex, disabled / originally-disabled
   flags, the age/sex cell and the new-enrollee cell (with the age-64, OREC 0 rule);
2. ICD-10 -> CC by a join to the payment year's mapping, then the model's age/sex edits;
3. hierarchies by anti-joins (with CMS's order of imposition, see :func:`_impose_hierarchies`);
4. interaction terms and the payment-HCC count as aggregations;
5. every variable is joined to a wide coefficient table (one column per segment) and summed, which
   yields the nine segment scores CMS's software writes for every person.

Coefficients are integer thousandths throughout, so scores are exact; they become ``decimal(12,3)``
only at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import ibis
import ibis.expr.types as ir

from apmkit.portable import one_of
from apmkit.risk.reference import (
    FULL_BENEFIT_DUAL_CODES,
    PARTIAL_BENEFIT_DUAL_CODES,
    SEGMENTS,
    ModelTables,
    model_tables,
)
from apmkit.risk.spec import HccModel

SCORE_TYPE = "decimal(12, 3)"

Materialize = Callable[[ir.Table], ir.Table]
"""Computes a table once and returns it (e.g. ``Engine.materialize``); the identity keeps everything lazy."""


def _lazy(table: ir.Table) -> ir.Table:
    return table


SEGMENT_COLUMNS = tuple(SEGMENTS)

# Community and institutional age bands (upper bound inclusive), as CMS names the cells.
_BANDS = ((34, "0_34"), (44, "35_44"), (54, "45_54"), (59, "55_59"), (64, "60_64"), (69, "65_69"))
_BANDS_TAIL = ((74, "70_74"), (79, "75_79"), (84, "80_84"), (89, "85_89"), (94, "90_94"))
# New-enrollee bands split 65-69 into single years.
_NE_BANDS = (
    (34, "0_34"),
    (44, "35_44"),
    (54, "45_54"),
    (59, "55_59"),
    (64, "60_64"),
    (65, "65"),
    (66, "66"),
    (67, "67"),
    (68, "68"),
    (69, "69"),
)


@dataclass(frozen=True)
class RawScores:
    """Raw (unnormalized) scores of one model and their explanation.

    Attributes
    ----------
    model, payment_year
        The model and payment year scored.
    scores
        One row per person: ``member_id, segment, score, hccs, interactions`` and the nine CMS
        segment columns (raw scores, ``decimal(12,3)``).
    explanations
        One row per person and term of the applicable segment: ``member_id, model, segment, kind``
        (demographic, hcc, interaction, count, dropped), ``variable``, ``coefficient``, ``diagnoses``
        (the codes that produced an HCC) and ``dropped_by`` (the HCC whose hierarchy removed it).
        Coefficients of one member sum exactly to its ``score``.
    """

    model: HccModel
    payment_year: int
    scores: ir.Table
    explain: Callable[[], ir.Table] = field(repr=False, compare=False)
    """Builds ``explanations``; called on first use, since most runs never ask for them."""

    @cached_property
    def explanations(self) -> ir.Table:
        return self.explain()


def _age_band(age: ir.IntegerValue, bands: tuple[tuple[int, str], ...]) -> ir.StringValue:
    cases = [(age <= upper, label) for upper, label in bands]
    return ibis.cases(*cases, else_="95_GT")


def demographics(persons: ir.Table, payment_year: int) -> ir.Table:
    """Derive the demographic variables of each person.

    Parameters
    ----------
    persons
        Conformed persons (:func:`apmkit.risk.inputs.conform_persons`).
    payment_year
        Age is computed as of February 1 of this year, as CMS does.

    Returns
    -------
    ibis.Table
        ``persons`` plus ``age``, ``sex_code`` ('1' male, '2' female), ``disabled``, ``orig_disabled``,
        ``full_dual``, ``partial_dual``, ``cell`` (e.g. ``F70_74``), ``ne_cell``
        (e.g. ``NMCAID_NORIGDIS_NEF70_74``) and ``segment``.
    """
    birth = persons.birth_date
    # Completed years on 1 February: one less when the birthday falls after 1 February.
    after_feb_1 = (birth.month() > 2) | ((birth.month() == 2) & (birth.day() > 1))
    age = (ibis.literal(payment_year) - birth.year() - after_feb_1.cast("int64")).cast("int64")
    t = persons.mutate(age=age)
    female = t.sex == "F"
    disabled = (t.age < 65) & (t.orec != "0")
    dual = t.dual_status_code
    t = t.mutate(
        sex_code=ibis.ifelse(female, "2", "1"),
        disabled=disabled,
        orig_disabled=(t.orec == "1") & ~disabled,
        full_dual=one_of(dual, FULL_BENEFIT_DUAL_CODES).fill_null(False),
        partial_dual=one_of(dual, PARTIAL_BENEFIT_DUAL_CODES).fill_null(False),
    )
    sex_letter = ibis.ifelse(female, "F", "M")
    community_band = _age_band(t.age, _BANDS + _BANDS_TAIL)
    # CMS places a 64-year-old new enrollee whose OREC is 0 (entitled by age) in the age-65 cell.
    ne_age = ibis.ifelse((t.age == 64) & (t.orec == "0"), 65, t.age)
    ne_band = _age_band(ne_age, _NE_BANDS + _BANDS_TAIL)
    ne_orig_disabled = (t.age >= 65) & (t.orec == "1")
    ne_cell = (
        ibis.ifelse(t.nemcaid, "MCAID", "NMCAID")
        + ibis.ifelse(ne_orig_disabled, "_ORIGDIS_NE", "_NORIGDIS_NE")
        + sex_letter
        + ne_band
    )
    aged = t.age >= 65
    community = ibis.cases(
        (t.full_dual & aged, "COMMUNITY_FBA"),
        (t.full_dual, "COMMUNITY_FBD"),
        (t.partial_dual & aged, "COMMUNITY_PBA"),
        (t.partial_dual, "COMMUNITY_PBD"),
        (aged, "COMMUNITY_NA"),
        else_="COMMUNITY_ND",
    )
    # New enrollees are scored with the new-enrollee model whatever their institutional status (apmkit's
    # choice, not yet confirmed against CMS documentation: docs/risk.md);
    # ESRD beneficiaries belong to the ESRD model (ESRD-V24, apmkit.risk.esrd): here they get segment ESRD, no score.
    segment = ibis.cases(
        (t.esrd, "ESRD"),
        (t.new_enrollee & t.snp, "SNP_NEW_ENROLLEE"),
        (t.new_enrollee, "NEW_ENROLLEE"),
        (t.institutional, "INSTITUTIONAL"),
        else_=community,
    )
    return t.mutate(cell=sex_letter + community_band, ne_cell=ne_cell, segment=segment)


def condition_categories(diagnoses: ir.Table, people: ir.Table, tables: ModelTables) -> ir.Table:
    """Map diagnoses to CCs and apply the model's age/sex edits.

    Returns one row per diagnosis row that maps to a CC and survives the edits: ``member_id, cc,
    dx_code``. Repeats are kept: the next steps need distinct (member, CC) pairs and distinct evidence
    codes, and a three-column DISTINCT here cost more than those two.
    """
    mapping = tables.table("dx_to_cc")
    mapped = diagnoses.join(mapping, "dx_code").select("member_id", "dx_code", "cc")
    who = people.select("member_id", "age", "sex_code")
    edits = tables.table("edits")
    # Only the few codes with an edit need the member's age and sex: the rest skip a join of every
    # mapped diagnosis to the persons table.
    unedited = mapped.anti_join(edits, "dx_code")
    with_edit = mapped.semi_join(edits, "dx_code").join(who, "member_id").join(edits, "dx_code")
    by_sex = (with_edit.edit_type == "sex") & (with_edit.edit_sex == with_edit.sex_code)
    by_age = one_of(with_edit.edit_type, ("age", "mce_age")) & (
        (with_edit.age_max.notnull() & (with_edit.age <= with_edit.age_max))
        | (with_edit.age_min.notnull() & (with_edit.age >= with_edit.age_min))
    )
    fires = (by_sex | by_age).fill_null(False)
    edited_cc = ibis.cases(
        (fires & (with_edit.action == "invalid"), ibis.null("int64")),
        (fires & (with_edit.action == "override"), with_edit.cc_override),
        else_=with_edit.cc,
    )
    edited = with_edit.mutate(cc=edited_cc).select("member_id", "cc", "dx_code")
    return unedited.select("member_id", "cc", "dx_code").union(edited.filter(edited.cc.notnull()))


def _impose_hierarchies(
    present: ir.Table, tables: ModelTables, materialize: Materialize | None = None
) -> tuple[ir.Table, ir.Table]:
    """Keep the CCs no hierarchy removes; return (kept, dropped with the HCC that removed each).

    CMS's software imposes hierarchies one parent at a time, so a parent that an earlier parent
    already removed removes nothing. The published hierarchies are transitive except V28 62 -> 63 ->
    202 (62 does not list 202): with 62, 63 and 202 present CMS keeps 62 and 202. A child is
    therefore dropped only by a present parent that is not itself dropped by another present parent.

    ``materialize`` computes the (small) table of present parent/child pairs once; both the dropped
    and the outranked pairs read it.
    """
    hierarchy = tables.table("hierarchy")
    parents = present.select("member_id", parent_cc=present.cc)
    candidate = parents.join(hierarchy, "parent_cc").select("member_id", "parent_cc", "child_cc")
    candidate = candidate.join(
        present.select("member_id", child_cc=present.cc), ["member_id", "child_cc"]
    ).select("member_id", "parent_cc", "child_cc")
    candidate = (materialize or _lazy)(candidate)
    outranked = candidate.select("member_id", parent_cc=candidate.child_cc).distinct()
    effective = candidate.anti_join(outranked, ["member_id", "parent_cc"])
    dropped = effective.group_by(["member_id", "child_cc"]).aggregate(dropped_by=effective.parent_cc.min())
    dropped = dropped.select("member_id", cc=dropped.child_cc, dropped_by=dropped.dropped_by)
    kept = present.anti_join(dropped, ["member_id", "cc"])
    return kept, dropped


def _conditional_hccs(present: ir.Table, tables: ModelTables) -> ir.Table:
    """Drop CCs that need a companion CC the member does not have (V28 HCC 223)."""
    rules = tables.table("conditional_hccs")
    companions = present.select("member_id", requires_cc=present.cc).join(rules, "requires_cc")
    satisfied = companions.select("member_id", "cc").distinct()
    conditional = present.semi_join(rules, "cc")
    unmet = conditional.anti_join(satisfied, ["member_id", "cc"])
    return present.anti_join(unmet, ["member_id", "cc"])


def score_model(
    persons: ir.Table,
    diagnoses: ir.Table,
    *,
    model: HccModel | str,
    payment_year: int,
    materialize: Materialize | None = None,
) -> RawScores:
    """Raw CMS-HCC scores of ``model`` for every person.

    Parameters
    ----------
    persons
        Conformed persons: ``member_id, birth_date, sex (M/F), orec, ltimcaid, nemcaid,
        dual_status_code, esrd, snp, institutional, new_enrollee``.
    diagnoses
        Conformed diagnoses: ``member_id, dx_code`` (upper case, no dot).
    model, payment_year
        CMS-HCC model and payment year.
    materialize
        Called on the intermediate tables that several later steps read (demographics, mapped
        CCs, kept HCCs). SQL engines do not share repeated subqueries, so on large inputs
        pass ``engine.materialize`` to compute each once; the default keeps one lazy expression.

    Returns
    -------
    RawScores
    """
    stage = materialize or _lazy
    model = HccModel(model)
    tables = model_tables(model, payment_year)
    people = stage(demographics(persons, payment_year))

    # Mapped diagnoses are read once by the scores (and again only for explanations), so they stay
    # lazy; the distinct (member, CC) pairs feed the hierarchies three times and are computed once.
    mapped = condition_categories(diagnoses, people, tables)
    present = stage(_conditional_hccs(mapped.select("member_id", "cc").distinct(), tables))
    kept, dropped = _impose_hierarchies(present, tables, materialize)

    summary = _hcc_summary(kept, tables)
    per_member = _per_member(people, summary, tables)
    profiles = _profile_terms(per_member, tables)
    joined = per_member.join(profiles, "profile")
    totals = {
        s: joined[f"cell_{s}"].fill_null(0)
        + joined[f"ne_{s}"].fill_null(0)
        + joined[f"hcc_{s}"].fill_null(0)
        + joined[f"flags_{s}"]
        for s in SEGMENT_COLUMNS
    }
    chosen = ibis.cases(
        *[(joined.segment == s, totals[s]) for s in SEGMENT_COLUMNS], else_=ibis.null("int64")
    )
    scores = joined.select(
        "member_id",
        "segment",
        score=_to_score(chosen),
        hccs=joined.hccs.fill_null(""),
        interactions=joined.interactions,
        **{s: _to_score(totals[s]) for s in SEGMENT_COLUMNS},
    )

    flags = _flag_terms(per_member, tables)
    return RawScores(
        model=model,
        payment_year=payment_year,
        scores=scores,
        explain=lambda: _explanations(model, per_member, flags, kept, mapped, dropped, tables),
    )


def _to_score(thousandths: ir.IntegerValue) -> ir.DecimalValue:
    # Multiply by a decimal literal: ibis types integer / integer as float64.
    # decimal(18, 3), not (38, 3): 128-bit decimals made this projection ~30x slower on DuckDB.
    wide = "decimal(18, 3)"
    return (thousandths.cast(wide) * ibis.literal("0.001", type=wide)).cast(SCORE_TYPE)


def _hcc_summary(kept: ir.Table, tables: ModelTables) -> ir.Table:
    """Per member: the HCC count, the sorted ``hccs`` list, the HCC coefficient sums per segment and,
    ``group_bits``: bit k set when the member has an HCC of the model's k-th interaction group.

    One aggregation over the kept HCCs, joined to the HCCs' coefficients by the integer CC.
    """
    hcc_terms = tables.table("hcc_terms")
    joined = kept.left_join(hcc_terms, kept.cc == hcc_terms.cc)
    return joined.group_by(joined.member_id).aggregate(
        hcc_count=joined.member_id.count(),
        # Concatenated unordered and sorted afterwards: ordered aggregates were 5-10x slower on DuckDB.
        hccs=("HCC" + joined.cc.cast("string")).group_concat(";").split(";").sort().join(";"),
        **{f"hcc_{s}": joined[s].sum() for s in SEGMENT_COLUMNS},
        group_bits=joined.group_bits.bit_or(),
    )


def _per_member(people: ir.Table, summary: ir.Table, tables: ModelTables) -> ir.Table:
    """One row per person: demographics, the HCC summary, the coefficients of the age/sex cell and
    the new-enrollee cell (``cell_<segment>``, ``ne_<segment>``, each looked up by one join per
    person) and the person's ``profile`` (see :func:`_profile_terms`)."""

    def lookup(key: str, prefix: str) -> ir.Table:
        # A fresh in-memory table per lookup: ibis cannot tell apart two projections of one table
        # joined in a single chain.
        coefficients = tables.table("coefficients")
        return coefficients.select(
            **{key: coefficients.variable}, **{f"{prefix}_{s}": coefficients[s] for s in SEGMENT_COLUMNS}
        )

    summary = summary.rename(summary_member_id="member_id")
    base = people.select(
        "member_id", "segment", "sex", "disabled", "orig_disabled", "ltimcaid", "cell", "ne_cell"
    )
    cell, ne_cell = lookup("cell", "cell"), lookup("ne_cell", "ne")
    joined = (
        base.left_join(summary, base.member_id == summary.summary_member_id)
        .left_join(cell, "cell")
        .left_join(ne_cell, "ne_cell")
    )
    joined = joined.select(
        *base.columns,
        *[c for c in summary.columns if c not in ("summary_member_id", "hcc_count", "group_bits")],
        *[c for c in cell.columns if c != "cell"],
        *[c for c in ne_cell.columns if c != "ne_cell"],
        hcc_count=joined.hcc_count.fill_null(0),
        group_bits=joined.group_bits.fill_null(0),
    )
    profile = (
        ibis.least(joined.hcc_count, _COUNT_CAP)
        + ibis.ifelse(joined.disabled, _DISABLED, 0)
        + ibis.ifelse(joined.orig_disabled, _ORIG_DISABLED, 0)
        + ibis.ifelse(joined.sex == "F", _FEMALE, 0)
        + ibis.ifelse(joined.ltimcaid, _LTIMCAID, 0)
        + joined.group_bits * _GROUPS
    )
    return joined.mutate(profile=profile)


# A person's profile packs everything the constant-coefficient terms depend on into one integer:
# the payment-HCC count capped at 10 (bits 0-3), four demographic flags (bits 4-7) and the
# interaction-group bits (from bit 8).
_COUNT_CAP, _DISABLED, _ORIG_DISABLED, _FEMALE, _LTIMCAID, _GROUPS = 10, 16, 32, 64, 128, 256


def _profile_terms(per_member: ir.Table, tables: ModelTables) -> ir.Table:
    """Per distinct profile: the flag, interaction and count coefficients summed per segment
    (``flags_<segment>``) and the sorted ``interactions`` list.

    Those terms are constants of the model that depend only on the profile, and a population has
    few distinct profiles, so the many CASE expressions run once per profile instead of once per
    person.
    """
    keys = per_member.select("profile").distinct()
    key = keys.profile
    decoded = keys.select(
        "profile",
        hcc_count=key % 16,
        disabled=(key & _DISABLED) != 0,
        orig_disabled=(key & _ORIG_DISABLED) != 0,
        sex=ibis.ifelse((key & _FEMALE) != 0, "F", "M"),
        ltimcaid=(key & _LTIMCAID) != 0,
        group_bits=key // _GROUPS,
    )
    flags = _flag_terms(decoded, tables)
    values = tables.coefficient_values()
    sums = {}
    for s in SEGMENT_COLUMNS:
        total: ir.IntegerValue = ibis.literal(0, type="int64")
        for variable, _, condition in flags:
            coefficient = values.get(variable, {}).get(s, 0)
            if coefficient:
                total = total + ibis.ifelse(condition, coefficient, 0)
        sums[f"flags_{s}"] = total
    return decoded.select("profile", interactions=_listed(flags), **sums)


FlagTerm = tuple[str, str, ir.BooleanValue]
"""(variable, kind, condition): a 0/1 term of the model whose coefficient is a constant."""


def _flag_terms(per_member: ir.Table, tables: ModelTables) -> list[FlagTerm]:
    """The originally-disabled and LTI Medicaid flags, every interaction term and the payment-HCC
    count variables, as conditions on a table with ``sex, disabled, orig_disabled, ltimcaid,
    group_bits, hcc_count`` (a person's row or a profile's)."""
    female = per_member.sex == "F"
    terms: list[FlagTerm] = [
        ("ORIGDS", "demographic", per_member.orig_disabled),
        ("OriginallyDisabled_Female", "demographic", per_member.orig_disabled & female),
        ("OriginallyDisabled_Male", "demographic", per_member.orig_disabled & ~female),
        ("LTIMCAID", "demographic", per_member.ltimcaid),
    ]
    bit = {group: 1 << k for k, group in enumerate(tables.interaction_groups)}
    group_bits = per_member.group_bits.fill_null(0)
    for interaction, factors in tables.interactions.items():
        parts = [
            per_member.disabled if factor == "DISABLED" else (group_bits & bit[factor]) != 0
            for factor in factors
        ]
        terms.append((interaction, "interaction", ibis.and_(*parts)))
    count = per_member.hcc_count
    terms.extend((f"D{n}", "count", count == n) for n in range(1, 10))
    terms.append(("D10P", "count", count >= 10))
    return terms


def _listed(flags: list[FlagTerm]) -> ir.StringValue:
    """The interaction and count variables that apply, sorted, ``;``-separated.

    The possible names are constants of the model, so the list is built in sorted order without a
    per-row sort: one piece per name, NULL unless the term applies (the join skips NULLs).
    """
    pieces = {name: condition for name, kind, condition in flags if kind in ("interaction", "count")}
    listed = ibis.literal(";").join(
        [ibis.ifelse(pieces[name].fill_null(False), name, ibis.null("string")) for name in sorted(pieces)]
    )
    return listed.fill_null("")


def diagnosis_evidence(mapped: ir.Table, prefix: str = "HCC") -> ir.Table:
    """Per member and CC: ``variable`` (``prefix`` + CC) and the sorted, distinct codes that produced it.

    ``mapped`` may repeat a diagnosis (one row per claim line): a code is evidence once.
    """
    codes = mapped.select("member_id", "cc", "dx_code").distinct()
    evidence = codes.group_by(["member_id", "cc"]).aggregate(
        diagnoses=codes.dx_code.group_concat(";").split(";").sort().join(";")
    )
    return evidence.mutate(variable=prefix + evidence.cc.cast("string"))


def dropped_terms(dropped: ir.Table, evidence: ir.Table, people: ir.Table, prefix: str = "HCC") -> ir.Table:
    """Explanation rows (coefficient 0) for the CCs a hierarchy removed, with the CC that removed each
    and the codes behind the removed one."""
    rows = dropped.left_join(evidence, ["member_id", "cc"]).select(
        "member_id", "cc", "dropped_by", "diagnoses"
    )
    rows = rows.join(people.select("member_id", "segment"), "member_id")
    return rows.select(
        "member_id",
        "segment",
        kind=ibis.literal("dropped"),
        variable=prefix + rows.cc.cast("string"),
        thousandths=ibis.literal(0, type="int64"),
        diagnoses=rows.diagnoses,
        dropped_by=prefix + rows.dropped_by.cast("string"),
    )


def with_evidence(contributions: ir.Table, evidence: ir.Table) -> ir.Table:
    """``member_id, segment, kind, variable, thousandths`` plus the codes behind each HCC term."""
    return contributions.left_join(
        evidence.select("member_id", "variable", "diagnoses"), ["member_id", "variable"]
    ).select(
        "member_id",
        "segment",
        "kind",
        "variable",
        "thousandths",
        "diagnoses",
        dropped_by=ibis.null("string"),
    )


def explanation_rows(model: HccModel, rows: ir.Table) -> ir.Table:
    """Explanation terms in their published form (``coefficient`` as a 3-decimal score)."""
    return rows.select(
        "member_id",
        model=ibis.literal(model.value),
        segment=rows.segment,
        kind=rows.kind,
        variable=rows.variable,
        coefficient=_to_score(rows.thousandths),
        diagnoses=rows.diagnoses,
        dropped_by=rows.dropped_by,
    )


def _explanations(
    model: HccModel,
    per_member: ir.Table,
    flags: list[FlagTerm],
    kept: ir.Table,
    mapped: ir.Table,
    dropped: ir.Table,
    tables: ModelTables,
) -> ir.Table:
    """Terms of each member's applicable segment with their coefficients and evidence."""

    def term(table: ir.Table, variable: ir.StringValue, kind: str) -> ir.Table:
        return table.select("member_id", variable=variable, kind=ibis.literal(kind))

    terms = ibis.union(
        term(per_member, per_member.cell, "demographic"),
        term(per_member, per_member.ne_cell, "demographic"),
        *[term(per_member.filter(condition), ibis.literal(name), kind) for name, kind, condition in flags],
        term(kept, "HCC" + kept.cc.cast("string"), "hcc"),
    )
    people = per_member.select("member_id", "segment")
    coefficients = tables.table("coefficients")
    segment_terms = terms.join(people, "member_id")
    with_coefficients = segment_terms.join(coefficients, "variable")
    coefficient = ibis.cases(
        *[(with_coefficients.segment == s, with_coefficients[s]) for s in SEGMENT_COLUMNS],
        else_=ibis.null("int64"),
    )
    contributions = with_coefficients.select(
        "member_id",
        "segment",
        "kind",
        "variable",
        thousandths=coefficient,
    )
    # The wide table stores an absent coefficient as 0; keep only terms the segment really has.
    published = tables.table("coefficient_presence")
    contributions = contributions.semi_join(
        published,
        (contributions.segment == published.segment) & (contributions.variable == published.variable),
    )
    evidence = diagnosis_evidence(mapped)
    return explanation_rows(
        model, with_evidence(contributions, evidence).union(dropped_terms(dropped, evidence, people))
    )
