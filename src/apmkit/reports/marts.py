"""The marts a run writes so the slow reports read results instead of recomputing them (issue 16: "every report
reads the marts in seconds").

Each mart is the engine's own result over the run's whole attributed panel, written once by ``apmkit run``
(:func:`report_marts`); a report restricts it to its scope's members. Every engine here works member by member
(a member's gaps, HCCs and features depend on that member's rows only), so the restriction of the whole-panel
result equals what the report computed over its scope before:

* ``open_gaps`` — the open gaps in care of the performance period, every eCQM apmkit computes
  (:func:`apmkit.quality.gaps.care_gaps`, claims counted as clinical evidence), ``GAP_COLUMNS``;
* ``member_hccs`` — each attributed member's CMS-HCC V28 HCCs for every measured year ``year`` with payment
  year ``year + 1`` in 2024-2027 (:func:`apmkit.risk.scoring.score` on the year's risk-adjustment-eligible
  claims): ``member_id, year, payment_year, hccs`` (``;``-separated, empty for none);
* ``member_year_features`` — the prediction model's features of every member-year with enrollment
  (:func:`apmkit.reports.prediction.member_years`).

A run without one of them (written before this module, or without ``clinical``) leaves the report to compute it
from the canonical tables, and the report says so in its notes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir

from apmkit.reports.cells import CELL_MARTS, DEPENDS, build_cells
from apmkit.reports.framework import ReportInputs, ReportRequest, panel

OPEN_GAPS = "open_gaps"
MEMBER_HCCS = "member_hccs"
MEMBER_FEATURES = "member_year_features"
HCC_PAYMENT_YEARS = range(2024, 2028)
"""Payment years the CMS-HCC V28 tables apmkit ships cover."""


def measured_years(inputs: ReportInputs) -> tuple[int, ...]:
    """The run's base years and the performance period's year, ascending."""
    return tuple(sorted({*inputs.run.base_years, inputs.run.year}))


def evaluate_open_gaps(
    inputs: ReportInputs, members: ir.Table, start: date, end: date, *, with_providers: bool = True
) -> ir.Table:
    """``GAP_COLUMNS``: the open gaps of ``members`` (``member_id``) in ``start..end`` for every eCQM apmkit
    computes, claims counted as clinical evidence (the gaps engine of ``apmkit quality gaps``). ``npi`` is the
    clinician of the patient's latest visit and ``tin`` its TIN (from ``providers`` when ``with_providers``).

    The claims are read as clinical records only where a record can matter (:func:`claims_evidence`), which
    gives the same gaps as reading every claim line and code (most of them match no value set)."""
    from apmkit.quality.ecqm import ECQM_DEFINITIONS
    from apmkit.quality.gaps import care_gaps_of_measures
    from apmkit.schemas import CLINICAL

    definitions = list(ECQM_DEFINITIONS.values())
    people = inputs["members"]
    population = inputs.keep(people.semi_join(members, people.member_id == members.member_id))
    claims = inputs["medical_claims"]
    claims = claims.semi_join(population, claims.member_id == population.member_id)
    own = CLINICAL.select_from(inputs["clinical"])
    own = own.semi_join(population, own.member_id == population.member_id)
    # The records, their tags and facts are the size of the claims (12 million rows at 100,000 members): kept
    # as compressed files where the caller can (``stage``), not as temp tables.
    evidence = claims_evidence(claims, definitions, end, keep=inputs.keep_large)
    clinical = inputs.keep_large(own.union(evidence, distinct=False))
    providers = inputs["providers"] if with_providers else None
    # one pass over the clinical records for every measure (tagged once, shared facts once)
    parts = [
        inputs.keep(part)
        for part in care_gaps_of_measures(
            definitions,
            population,
            clinical,
            start,
            end,
            providers=providers,
            materialize=inputs.keep_large,
        )
    ]
    return parts[0].union(*parts[1:], distinct=False) if len(parts) > 1 else parts[0]


def claims_evidence(
    medical_claims: ir.Table,
    definitions: list,
    end: date,
    *,
    keep: Callable[[ir.Table], ir.Table] | None = None,
) -> ir.Table:
    """The rows of :func:`apmkit.quality.claims.claims_as_clinical` (claim lines as ``Encounter`` and
    ``Procedure`` records, diagnoses as ``Condition``, ICD-10-PCS codes as ``Procedure``) that can change a gap
    of ``definitions``, as canonical ``clinical`` rows:

    * its (code system, code) is in one of the measures' value sets or direct codes (the tagging joins on
      exactly these; an untagged record is never a fact);
    * it is an encounter of an inpatient-like class (CMS165 drops blood-pressure readings of such encounters,
      whatever their code);
    * it is the member's latest claims encounter with a performer up to ``end`` (the gaps name the clinician
      of the latest visit; the latest of all visits is the latest clinical one or this one).

    Diagnosis and procedure columns are unpivoted with one ``pivot_longer`` each and filtered by code before
    any record is built (most claim codes match no value set).

    ``keep`` (``Engine.stage``) computes the coded lines and the claims' first-line keys once, each read twice:
    without it the engine keeps them as it chooses (DuckDB materialized them uncompressed, or built a hash
    table of whole claims, and at 1M members spilled tens of GB)."""
    from apmkit.quality.ecqm import INPATIENT_LIKE_CLASSES
    from apmkit.quality.valuesets import CPT, HCPCS, ICD10CM, ICD10PCS, value_set_table
    from apmkit.schemas import CLINICAL
    from apmkit.schemas.canonical import DX_COLUMNS, PX_COLUMNS

    oids = sorted({oid for d in definitions for oid in d.value_sets})
    direct = sorted({code for d in definitions for code in d.codes})
    codes = value_set_table(oids, extra=direct).select("code_system", "code").distinct()
    hits = codes.mutate(_hit=ibis.literal(True))
    c = medical_claims
    start_ts = ibis.coalesce(c.service_date, c.claim_from_date, c.admission_date).cast("timestamp")
    end_ts = ibis.coalesce(c.service_end_date, c.claim_thru_date, c.discharge_date, c.service_date).cast(
        "timestamp"
    )
    common = {
        "member_id": c.member_id,
        "effective_start": start_ts,
        "effective_end": end_ts,
        "performer_npi": ibis.coalesce(c.rendering_npi, c.attending_npi, c.billing_npi),
        "source_file": c.source_file,
        "source_line": c.source_line,
    }
    coded = c.filter(c.hcpcs_code.notnull() & (c.hcpcs_code != ""))
    lines = coded.select(
        claim_id=coded.claim_id,
        line=coded.claim_line_number.cast("string"),
        category=ibis.ifelse(coded.claim_type.isin(["inpatient", "snf"]), "IMP", "AMB"),
        # HCPCS level II codes start with a letter, CPT codes with a digit (as claims_as_clinical reads them)
        code_system=ibis.ifelse(coded.hcpcs_code.re_search("^[A-Z]"), HCPCS, CPT),
        code=coded.hcpcs_code,
        **{k: v for k, v in common.items()},
    )
    lines = lines.left_join(hits, [lines.code_system == hits.code_system, lines.code == hits.code])
    lines = lines.select(*[col for col in lines.columns if not col.endswith("_right")])
    if keep is not None:
        lines = keep(lines)
    visits = lines.filter(lines.performer_npi.notnull() & (lines.effective_start.date() <= ibis.literal(end)))
    # Each member's latest visit (ties: the smallest record id) by aggregates over four columns: a window over
    # every claim line sorted the lines whole and spilled tens of GB at 1M members.
    visits = visits.select(
        "member_id",
        "effective_start",
        "claim_id",
        "line",
        _id="Encounter/Claim/" + visits.claim_id + "/" + visits.line,
    )
    last_day = visits.group_by("member_id").agg(_last=visits.effective_start.max())
    on_last = visits.join(
        last_day, [visits.member_id == last_day.member_id, visits.effective_start == last_day._last]
    )
    latest = on_last.group_by(on_last.member_id).agg(
        _l_claim=on_last.claim_id.argmin(on_last._id), _l_line=on_last.line.argmin(on_last._id)
    )
    latest = latest.select("_l_claim", "_l_line")
    lines = lines.left_join(latest, (lines.claim_id == latest._l_claim) & (lines.line == latest._l_line))
    hit = lines._hit.fill_null(False)
    pieces = []
    for resource_type, status, recorded in (
        (
            "Encounter",
            "finished",
            hit | lines.category.isin(list(INPATIENT_LIKE_CLASSES)) | lines._l_claim.notnull(),
        ),
        ("Procedure", "completed", hit),
    ):
        kept = lines.filter(recorded)
        pieces.append(
            _clinical_records(
                kept,
                record_id=f"{resource_type}/Claim/" + kept.claim_id + "/" + kept.line,
                resource_type=resource_type,
                status=status,
                category=kept.category,
                code_system=kept.code_system,
                code=kept.code,
            )
        )
    # The claim's codes sit on its first line (as claims_as_clinical reads them): the first lines' keys are
    # found over two columns and the claims kept to them by a semi-join, never sorted or hashed whole.
    keys = c.select("claim_id", "claim_line_number")
    keys = keys.mutate(_first=keys.claim_line_number.min().over(group_by=keys.claim_id))
    first_lines = keys.filter(keys.claim_line_number == keys._first).select(
        "claim_id", _first_line=keys._first
    )
    if keep is not None:
        first_lines = keep(first_lines)
    headers = c.semi_join(
        first_lines, [c.claim_id == first_lines.claim_id, c.claim_line_number == first_lines._first_line]
    )
    for kind, prefix, columns_, resource_type, status, category, system in (
        ("dx", "Condition", DX_COLUMNS, "Condition", "active", "encounter-diagnosis", ICD10CM),
        ("px", "Procedure", PX_COLUMNS, "Procedure", "completed", "claim", ICD10PCS),
    ):
        wanted = codes.filter(codes.code_system == system).select(_code=codes.code)
        long = headers.select(
            claim_id=headers.claim_id, **common, **{col: headers[col] for col in columns_}
        ).pivot_longer(list(columns_), names_to="_column", values_to="_code")
        long = long.semi_join(wanted, "_code")
        position = long._column.cases(*[(col, i) for i, col in enumerate(columns_, 1)]).cast("string")
        pieces.append(
            _clinical_records(
                long,
                record_id=f"{prefix}/Claim/" + long.claim_id + f"/{kind}" + position,
                resource_type=resource_type,
                status=status,
                category=ibis.literal(category),
                code_system=ibis.literal(system),
                code=long._code,
            )
        )
    return CLINICAL.select_from(pieces[0].union(*pieces[1:], distinct=False))


def _clinical_records(
    rows: ir.Table,
    *,
    record_id: ir.StringValue,
    resource_type: str,
    status: str,
    category: ir.StringValue,
    code_system: ir.StringValue,
    code: ir.StringValue,
) -> ir.Table:
    """``rows`` (claim lines with the member, dates, performer and source columns) as clinical records, in the
    columns the eCQM engine reads; the record's id, type, status and coding as given."""
    return rows.select(
        record_id=record_id,
        resource_type=ibis.literal(resource_type),
        status=ibis.literal(status),
        category=category,
        code_system=code_system,
        code=code,
        coding_index=ibis.literal(0, type="int32"),
        component_index=ibis.literal(0, type="int32"),
        member_id=rows.member_id,
        effective_start=rows.effective_start,
        effective_end=rows.effective_end,
        performer_npi=rows.performer_npi,
        source_format=ibis.literal("claims"),
        source_file=rows.source_file,
        source_line=rows.source_line,
    )


def score_hccs(inputs: ReportInputs, members: ir.Table, payment_year: int) -> ir.Table:
    """``member_id, hccs``: CMS-HCC V28 HCCs (payment year ``payment_year``, the year before's
    risk-adjustment-eligible claims) of ``members`` (``member_id``)."""
    from apmkit.risk.claims import diagnoses_from_claims, persons_from_members
    from apmkit.risk.scoring import score

    people = inputs["members"]
    persons = persons_from_members(
        people.semi_join(members, people.member_id == members.member_id),
        inputs["enrollment"],
        payment_year=payment_year,
        covers_data_year=True,
    )
    # with the engine's materialize hook (as the run scores) the diagnosis columns are read once per eligible
    # line; without it the claims were unpivoted whole, 25 rows of every line (24 % of this mart's CPU at 100k)
    diagnoses = diagnoses_from_claims(
        inputs["medical_claims"], payment_year=payment_year, materialize=inputs.materialize
    )
    scored = score(
        persons, diagnoses, model="V28", payment_year=payment_year, materialize=inputs.materialize
    ).scores
    return scored.select(member_id=scored.member_id.cast("string"), hccs=scored.hccs)


def member_hccs(inputs: ReportInputs, members: ir.Table) -> ir.Table | None:
    """The ``member_hccs`` mart: ``member_id, hccs, year, payment_year`` of ``members`` for every measured year
    whose payment year V28 covers (:func:`score_hccs`)."""
    years = [y for y in measured_years(inputs) if y + 1 in HCC_PAYMENT_YEARS]
    parts = [
        score_hccs(inputs, members, year + 1).mutate(
            year=ibis.literal(year, type="int32"), payment_year=ibis.literal(year + 1, type="int32")
        )
        for year in years
    ]
    if not parts:
        return None
    return parts[0].union(*parts[1:], distinct=False) if len(parts) > 1 else parts[0]


def hccs_of_year(inputs: ReportInputs, members: ir.Table, year: int) -> tuple[ir.Table, bool]:
    """``member_id, hccs`` of ``members`` for measured year ``year`` (payment year ``year + 1``): from the run's
    ``member_hccs`` mart when it holds that year, else scored now. The flag says whether the mart was read."""
    if inputs.has(MEMBER_HCCS) and year in measured_years(inputs):
        mart = inputs[MEMBER_HCCS]
        mart = mart.filter(mart.year == year)
        chosen = mart.select(member_id=mart.member_id.cast("string"), hccs=mart.hccs)
        return chosen.semi_join(members, chosen.member_id == members.member_id), True
    return score_hccs(inputs, members, year + 1), False


def gaps_of_year(
    inputs: ReportInputs, members: ir.Table, start: date, end: date, *, with_providers: bool = True
) -> tuple[ir.Table, bool]:
    """``GAP_COLUMNS`` of ``members`` in ``start..end``: from the run's ``open_gaps`` mart when the window is the
    performance period, else evaluated now. The flag says whether the mart was read."""
    if inputs.has(OPEN_GAPS) and (start, end) == (inputs.run.start, inputs.run.end):
        mart = inputs[OPEN_GAPS]
        return mart.semi_join(members, mart.patient_id.cast("string") == members.member_id), True
    return evaluate_open_gaps(inputs, members, start, end, with_providers=with_providers), False


MONTHS_PANEL = "member_month_panel"
PROFESSIONAL_MONTHS = "professional_months"
PHARMACY_MONTHS = "pharmacy_months"
EPISODE_COMPONENTS = "episode_components"
EPISODE_CLINICIANS = "episode_clinicians"

REPORT_MARTS = (
    MONTHS_PANEL,
    OPEN_GAPS,
    MEMBER_HCCS,
    MEMBER_FEATURES,
    PROFESSIONAL_MONTHS,
    PHARMACY_MONTHS,
    EPISODE_COMPONENTS,
    EPISODE_CLINICIANS,
    "admission_visits",
    "admission_follow_ups",
    "admission_list",
    *CELL_MARTS,
)
"""The marts built on a report's first use and kept in the run folder (see :func:`report_mart`); the report
aggregates (:mod:`apmkit.reports.cells`) come last, after the marts they sum."""


def with_sources(needs: tuple[str, ...]) -> tuple[str, ...]:
    """``needs`` with the marts each report aggregate among them is built from placed before it (so a first
    use builds ``member_month_panel`` once, then the aggregates from it)."""
    ordered: list[str] = []
    for name in needs:
        for source in DEPENDS.get(name, ()):
            if source not in ordered:
                ordered.append(source)
        if name not in ordered:
            ordered.append(name)
    return tuple(ordered)


SITES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("11",), "office"),
    (("19", "22"), "outpatient hospital"),
    (("24",), "ambulatory surgical center"),
    (("23",), "emergency room"),
    (("21",), "inpatient"),
    (("31", "32"), "nursing_facility"),
    (("12",), "home"),
    (("02", "10"), "telehealth"),
)
"""Place-of-service code sets and their site of service (CMS Place of Service code set;
docs/reference/analytics-definitions.md §3)."""


def whole_months(start: date, end: date) -> bool:
    """True when ``start..end`` is whole calendar months, so a mart kept by month answers it exactly."""
    return start.day == 1 and (end + timedelta(days=1)).day == 1


def month_window(table: ir.Table, start: date, end: date) -> ir.Table:
    """Rows of a by-month mart whose ``month`` lies in ``start..end`` (whole months, see :func:`whole_months`)."""
    return table.filter(
        table.month.cast("date").between(ibis.literal(start.replace(day=1)), ibis.literal(end))
    )


def professional_months(medical_claims: ir.Table, cost_basis: str) -> ir.Table:
    """``member_id, month, specialty, site, lines, cents``: professional claim lines (voids dropped) by member,
    month of service (service date, else the claim's from date), the rendering provider's CMS specialty code
    (``(unknown)`` when blank) and site of service (:data:`SITES`, ``other`` else), on the cost basis."""
    from apmkit.money import to_cents

    claims = medical_claims.filter(
        (medical_claims.claim_type == "professional")
        & (medical_claims.adjustment_type.fill_null("original") != "void")
    )
    pos = claims.place_of_service.fill_null("")
    site = ibis.cases(
        *[(pos.isin(list(codes)), ibis.literal(label)) for codes, label in SITES], else_="other"
    )
    lines = claims.select(
        member_id=claims.member_id.cast("string"),
        month=ibis.coalesce(claims.service_date, claims.claim_from_date).truncate("M").cast("date"),
        specialty=claims.rendering_specialty.fill_null("(unknown)").cast("string"),
        site=site,
        cents=to_cents(claims[cost_basis].fill_null(0)),
    )
    return lines.group_by(["member_id", "month", "specialty", "site"]).aggregate(
        lines=lines.count(), cents=lines.cents.sum()
    )


def pharmacy_months(pharmacy_claims: ir.Table, cost_basis: str) -> ir.Table:
    """``member_id, month, ndc, brand_generic, fills, cents``: pharmacy fills (voids dropped) by member, month
    of dispensing, NDC and the source's brand/generic indicator (null where the source has none)."""
    from apmkit.money import to_cents

    rx = pharmacy_claims.filter(pharmacy_claims.adjustment_type.fill_null("original") != "void")
    indicator = rx.brand_generic if "brand_generic" in rx.columns else ibis.null("string")
    fills = rx.select(
        member_id=rx.member_id.cast("string"),
        month=rx.dispensing_date.truncate("M").cast("date"),
        ndc=rx.ndc.cast("string"),
        brand_generic=indicator.cast("string"),
        cents=to_cents(rx[cost_basis].fill_null(0)),
    )
    return fills.group_by(["member_id", "month", "ndc", "brand_generic"]).aggregate(
        fills=fills.count(), cents=fills.cents.sum()
    )


def kept_episode_windows(episodes: ir.Table) -> ir.Table:
    """``episode_key, member_id, anchor_claim_id, anchor_end, window_end`` of the kept episodes."""
    kept = episodes.filter(episodes.status == "kept")
    return kept.select(
        episode_key=kept.episode_key.cast("string"),
        member_id=kept.member_id.cast("string"),
        anchor_claim_id=kept.anchor_claim_id.cast("string"),
        anchor_end=kept.anchor_end.cast("date"),
        window_end=kept.window_end.cast("date"),
    )


def episode_components(episodes: ir.Table, medical_claims: ir.Table, cost_basis: str) -> ir.Table:
    """``episode_key, component, cents``: each kept episode's post-anchor claim lines (after the anchor's end, to
    the window's end; the anchor claim and voids left out) by setting — ``readmission`` for inpatient, else the
    claim type."""
    from apmkit.money import to_cents

    windows = kept_episode_windows(episodes)
    claims = medical_claims.filter(medical_claims.adjustment_type.fill_null("original") != "void")
    lines = claims.select(
        c_member=claims.member_id.cast("string"),
        c_claim=claims.claim_id.cast("string"),
        c_type=claims.claim_type,
        c_day=ibis.coalesce(claims.service_date, claims.claim_from_date).cast("date"),
        c_cents=to_cents(claims[cost_basis].fill_null(0)),
    )
    lines = lines.semi_join(windows, lines.c_member == windows.member_id)
    inside = windows.inner_join(
        lines,
        (windows.member_id == lines.c_member)
        & (lines.c_claim != windows.anchor_claim_id)
        & (lines.c_day > windows.anchor_end)
        & (lines.c_day <= windows.window_end),
    )
    setting = ibis.ifelse(inside.c_type == "inpatient", "readmission", inside.c_type)
    return inside.group_by(["episode_key", setting.name("component")]).aggregate(cents=inside.c_cents.sum())


def episode_clinicians(episodes: ir.Table, medical_claims: ir.Table) -> ir.Table:
    """``anchor_claim_id, clinician``: the anchor claim's attending, else operating, else rendering NPI."""
    anchors = kept_episode_windows(episodes).select("anchor_claim_id").distinct()
    claims = medical_claims.select(
        anchor_claim_id=medical_claims.claim_id.cast("string"),
        clinician=ibis.coalesce(
            medical_claims.attending_npi, medical_claims.operating_npi, medical_claims.rendering_npi
        ),
    )
    claims = claims.semi_join(anchors, "anchor_claim_id")
    return claims.group_by("anchor_claim_id").aggregate(clinician=claims.clinician.max())


_NEEDS = ("members", "enrollment", "medical_claims", "attribution", "member_detail")


def report_mart(inputs: ReportInputs, name: str) -> ir.Table | None:
    """One of :data:`REPORT_MARTS` over the run's attributed panel; None when the data do not allow it (no
    ``clinical`` for open gaps, no year with a V28 payment year for HCCs, a table missing)."""
    from apmkit.reports.prediction import member_years

    cost_basis = inputs.run.cost_basis
    if name in CELL_MARTS:
        return build_cells(inputs, name)
    if name in ("admission_visits", "admission_follow_ups", "admission_list"):
        from apmkit.reports.admissions import claim_visit_list, claim_visit_rows, follow_up_rows

        if not inputs.has("medical_claims"):
            return None
        if name == "admission_list":
            if not (inputs.has("attribution") or inputs.has("member_detail")):
                return None
            return claim_visit_list(inputs)
        return claim_visit_rows(inputs) if name == "admission_visits" else follow_up_rows(inputs)
    if name == MONTHS_PANEL:
        if not inputs.has("member_months") or not (inputs.has("attribution") or inputs.has("member_detail")):
            return None
        from apmkit.reports.measures import months_with_risk_of

        return months_with_risk_of(inputs, ReportRequest("marts"))
    if name == PROFESSIONAL_MONTHS:
        return (
            professional_months(inputs["medical_claims"], cost_basis)
            if inputs.has("medical_claims")
            else None
        )
    if name == PHARMACY_MONTHS:
        return (
            pharmacy_months(inputs["pharmacy_claims"], cost_basis) if inputs.has("pharmacy_claims") else None
        )
    if name in (EPISODE_COMPONENTS, EPISODE_CLINICIANS):
        if not (inputs.has("episodes") and inputs.has("medical_claims")):
            return None
        if name == EPISODE_COMPONENTS:
            return episode_components(inputs["episodes"], inputs["medical_claims"], cost_basis)
        return episode_clinicians(inputs["episodes"], inputs["medical_claims"])
    if not all(inputs.has(n) for n in _NEEDS):
        return None
    if name == MEMBER_FEATURES:
        return member_years(inputs)
    members = inputs.keep(panel(inputs, ReportRequest("marts")).select("member_id").distinct())
    if name == MEMBER_HCCS:
        return member_hccs(inputs, members)
    if name == OPEN_GAPS and inputs.has("clinical"):
        return evaluate_open_gaps(
            inputs, members, inputs.run.start, inputs.run.end, with_providers=inputs.has("providers")
        )
    return None


__all__ = [
    "EPISODE_CLINICIANS",
    "EPISODE_COMPONENTS",
    "HCC_PAYMENT_YEARS",
    "MEMBER_FEATURES",
    "MEMBER_HCCS",
    "MONTHS_PANEL",
    "OPEN_GAPS",
    "PHARMACY_MONTHS",
    "PROFESSIONAL_MONTHS",
    "REPORT_MARTS",
    "SITES",
    "claims_evidence",
    "episode_clinicians",
    "episode_components",
    "evaluate_open_gaps",
    "gaps_of_year",
    "hccs_of_year",
    "kept_episode_windows",
    "measured_years",
    "member_hccs",
    "month_window",
    "pharmacy_months",
    "professional_months",
    "report_mart",
    "score_hccs",
    "whole_months",
    "with_sources",
]
