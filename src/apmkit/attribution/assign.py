"""Attribution runs: eligibility, overrides, claims methods and the explained result, as ibis expressions.

The entry points are :func:`attribute` (one spec) and :func:`attribute_many` (one attribution per payer
or contract in the same job). Both take ibis tables and return ibis tables; nothing here reads files.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from apmkit.attribution.eligibility import eligibility
from apmkit.attribution.episodes import episode_attribution
from apmkit.attribution.inputs import REJECTS
from apmkit.attribution.lines import active_participants, code_list, qualifying_lines
from apmkit.attribution.outputs import ATTRIBUTION
from apmkit.attribution.ranking import (
    UNRESOLVED,
    Basis,
    candidate_scores,
    provider_scores,
    rank_candidates,
    top_provider,
)
from apmkit.attribution.spec import (
    AnySpec,
    EpisodeSpec,
    MsspStepwiseSpec,
    OverrideSource,
    PluralitySpec,
    RosterSpec,
    TieBreak,
    VisitUnit,
    program_year,
)
from apmkit.attribution.windows import Window, assignment_window
from apmkit.errors import ConfigurationError
from apmkit.money import from_cents
from apmkit.portable import Materialize

_DECISION = ibis.schema(
    {
        "member_id": "string",
        "attributed": "boolean",
        "step": "string",
        "entity_id": "string",
        "tin": "string",
        "npi": "string",
        "winner_id": "string",
        "winner_visits": "int64",
        "winner_allowed_cents": "int64",
        "winner_last_visit": "date",
        "runner_up_id": "string",
        "runner_up_visits": "int64",
        "runner_up_allowed_cents": "int64",
        "tie_break": "string",
        "reason": "string",
    }
)


@dataclass(frozen=True)
class AttributionInputs:
    """The tables an attribution run reads.

    Attributes
    ----------
    members, enrollment, medical_claims, providers
        Canonical tables.
    participants
        Participant list (:data:`apmkit.attribution.inputs.PARTICIPANTS`); None = every billing TIN is
        its own entity.
    roster, member_selected_pcp, voluntary_alignment
        Assignment inputs (:data:`apmkit.attribution.inputs.ASSIGNMENT_INPUT`), used when the spec lists
        them in ``overrides`` (roster: always for the ``roster`` method).
    """

    members: ir.Table
    enrollment: ir.Table
    medical_claims: ir.Table
    providers: ir.Table
    participants: ir.Table | None = None
    roster: ir.Table | None = None
    member_selected_pcp: ir.Table | None = None
    voluntary_alignment: ir.Table | None = None

    @classmethod
    def from_tables(cls, tables: Mapping[str, ir.Table], **extras: ir.Table | None) -> AttributionInputs:
        """From canonical tables by name (e.g. :class:`apmkit.engines.CanonicalTables`) plus extras."""
        return cls(
            members=tables["members"],
            enrollment=tables["enrollment"],
            medical_claims=tables["medical_claims"],
            providers=tables["providers"],
            **extras,
        )


@dataclass(frozen=True)
class AttributionResult:
    """What a run returns: the explained attribution and the input rows it could not use."""

    attribution: ir.Table
    rejects: ir.Table


def attribute(
    inputs: AttributionInputs, spec: AnySpec, as_of: dt.date, *, materialize: Materialize
) -> AttributionResult:
    """Attribute members under one spec as of a date.

    Parameters
    ----------
    inputs
        Canonical tables and the optional participant/roster/selection/alignment inputs.
    spec
        An :data:`apmkit.attribution.spec.AttributionSpec`.
    as_of
        Run date: claims after it are unknown; it also places the window (see
        :func:`apmkit.attribution.windows.assignment_window`).

    Returns
    -------
    AttributionResult
        ``attribution`` in :data:`apmkit.attribution.outputs.ATTRIBUTION` (one row per member, or per
        episode), ``rejects`` in :data:`apmkit.attribution.inputs.REJECTS`.
    """
    window = assignment_window(spec, as_of)
    if isinstance(spec, EpisodeSpec):
        table, episode_rejects = episode_attribution(
            inputs.medical_claims, inputs.providers, inputs.members, inputs.enrollment, spec, window
        )
        return AttributionResult(_label(table, spec, window, as_of), _label_rejects(episode_rejects, spec))
    participants = inputs.participants
    rejects: list[ir.Table] = []
    decisions: list[ir.Table] = []
    blocked_reasons: ir.Table | None = None

    elig = eligibility(
        inputs.members,
        inputs.enrollment,
        spec.eligibility,
        window,
        payer=spec.payer,
        check_from=window.start,
        check_to=window.end,
    )
    if isinstance(spec, MsspStepwiseSpec | PluralitySpec) and spec.timing == "prospective":
        # 425.400(a)(3)(ii) / 425.401(b): prospectively assigned members stay unless excluded during the year.
        during_year = eligibility(
            inputs.members,
            inputs.enrollment,
            spec.eligibility,
            window,
            payer=spec.payer,
            check_from=window.period_start,
            check_to=min(window.claims_through, window.period_end),
        )
        during_year = during_year.select(
            _y_member=during_year.member_id, _y_reason=during_year.ineligible_reason
        )
        elig = elig.left_join(during_year, elig.member_id == during_year._y_member)
        # No enrollment yet in the year (a run on January 1) is not an exclusion.
        excluded = elig._y_reason.notnull() & (elig._y_reason != "not_eligible:no_enrollment_in_window")
        reason = elig.ineligible_reason.fill_null(
            ibis.ifelse(excluded, elig._y_reason + "_during_year", ibis.null("string"))
        )
        elig = elig.select(member_id=elig.member_id, eligible=reason.isnull(), ineligible_reason=reason)
    # Eligibility and the qualifying lines feed several steps: computing them once (the caller's materialize,
    # a backend-side table) keeps the query plans small and avoids recomputing the claims joins.
    elig = materialize(elig)
    ineligible = elig.filter(~elig.eligible)
    decisions.append(_decision(ineligible, attributed=False, step=None, reason=ineligible.ineligible_reason))

    override_sources: tuple[OverrideSource, ...]
    override_sources = ("roster",) if isinstance(spec, RosterSpec) else spec.overrides
    for source in override_sources:
        table = getattr(inputs, source)
        if table is None:
            raise ConfigurationError(f"attribution spec: field overrides: the {source} input was not given")
        chosen, conflicts, source_rejects = _override_assignments(
            table, source, spec, participants, inputs.providers, window, as_of
        )
        rejects.append(source_rejects)
        decisions.append(_override_decisions(chosen, source, spec))
        if source == "roster":
            blocked_reasons = conflicts

    if isinstance(spec, PluralitySpec | MsspStepwiseSpec):
        year = program_year(spec, as_of)
        codes = code_list(spec.primary_care_codes, year, window)
        awv = spec.awv_codes if isinstance(spec, PluralitySpec) and spec.awv_trigger else ()
        lines, line_rejects = qualifying_lines(
            inputs.medical_claims,
            inputs.providers,
            participants,
            codes=codes,
            window=window,
            payer=spec.payer,
            eta_hospital_ccns=spec.eta_hospital_ccns,
            need_specialty=isinstance(spec, MsspStepwiseSpec) or spec.providers == "primary_care_specialties",
            need_provider=isinstance(spec, PluralitySpec) and spec.providers == "primary_care",
            extra_codes=awv,
            materialize=materialize,
        )
        rejects.append(line_rejects)
        eligible_members = elig.filter(elig.eligible).select(_e_member=elig.member_id)
        lines = materialize(lines.semi_join(eligible_members, lines.member_id == eligible_members._e_member))
        if isinstance(spec, MsspStepwiseSpec):
            decisions.extend(_mssp_decisions(lines, spec, year, participants is not None, materialize))
        else:
            decisions.extend(_plurality_decisions(lines, spec, participants is not None, materialize))

    default_reason = {
        "roster": "not_on_roster",
        "mssp_stepwise": "no_primary_care_service",
        "plurality": "no_qualifying_services",
    }[spec.method]
    table = _finalize(elig, decisions, spec, default_reason, blocked_reasons)
    all_rejects = _union_all(rejects) if rejects else None
    return AttributionResult(
        _label(table, spec, window, as_of),
        _label_rejects(all_rejects, spec) if all_rejects is not None else _no_rejects(elig, spec),
    )


def attribute_many(
    inputs: AttributionInputs, specs: Sequence[AnySpec], as_of: dt.date, *, materialize: Materialize
) -> AttributionResult:
    """Several attributions (one per payer/contract) in one job; results are stacked by ``contract_id``."""
    if not specs:
        raise ConfigurationError("attribution spec: no attribution to run")
    results = [attribute(inputs, spec, as_of, materialize=materialize) for spec in specs]
    return AttributionResult(
        _union_all([r.attribution for r in results]),
        _union_all([r.rejects for r in results]),
    )


# ---- decisions ----------------------------------------------------------------------------------------
def _decision(
    table: ir.Table,
    *,
    attributed: bool | ir.BooleanValue,
    step: str | ir.StringValue | None,
    reason: str | ir.StringValue | None,
    **values: ir.Value,
) -> ir.Table:
    """Project ``table`` onto the common decision layout (missing columns are NULL)."""
    exprs: dict[str, ir.Value] = {}
    given: dict[str, object] = {"attributed": attributed, "step": step, "reason": reason, **values}
    for name, dtype in _DECISION.items():
        if name == "member_id":
            exprs[name] = table.member_id.cast(dtype)
            continue
        value = given.get(name)
        if value is None:
            exprs[name] = ibis.null(dtype)
        elif isinstance(value, ir.Value):
            exprs[name] = value.cast(dtype)
        else:
            exprs[name] = ibis.literal(value, type=dtype)
    return table.select(**exprs)


def _candidate_expr(lines: ir.Table, level: str) -> ir.StringValue:
    entity = ibis.literal("ENTITY:") + lines.entity_id
    tin = ibis.literal("TIN:") + lines.tin
    if level == "tin_npi":
        return ibis.literal("TIN_NPI:") + lines.tin + ibis.literal("|") + lines.npi
    if level == "tin":
        return tin
    return ibis.ifelse(lines.entity_id.notnull(), entity, tin)


def _ranked_decisions(
    lines: ir.Table,
    *,
    level: str,
    basis: Basis,
    tie_breaks: Sequence[TieBreak],
    step: str,
    qualified_pairs: ir.Table | None,
    require_entity: bool,
    outside_reason: str,
    materialize: Materialize,
    visit_unit: VisitUnit = "npi_date",
) -> ir.Table:
    """Rank candidates for the members in ``lines`` and turn the result into decisions."""
    candidate = _candidate_expr(lines, level)
    by_provider = provider_scores(lines, candidate)
    scores = candidate_scores(by_provider, lines=lines, candidate=candidate, visit_unit=visit_unit)
    ranked = rank_candidates(scores, basis=basis, tie_breaks=tie_breaks)
    if level == "tin_npi":
        # The winner already is one TIN/NPI pair: read it back from its id instead of ranking again.
        joined = ranked.mutate(
            top_tin=ranked.winner_id.re_extract(r"^TIN_NPI:([^|]*)[|]", 1),
            top_npi=ranked.winner_id.re_extract(r"[|](.*)$", 1),
        )
    else:
        top = top_provider(
            by_provider, ranked, basis="allowed" if basis == "recency" else basis, tie_breaks=tie_breaks
        )
        joined = ranked.left_join(top, ranked.member_id == top.member_id).drop("member_id_right")
    if qualified_pairs is not None:
        pairs = qualified_pairs.select(
            _q_member=qualified_pairs.member_id, _q_entity=qualified_pairs.entity_id
        )
        joined = joined.left_join(
            pairs, [joined.member_id == pairs._q_member, joined.winner_entity_id == pairs._q_entity]
        )
        attributed = joined._q_member.notnull()
    elif require_entity:
        attributed = joined.winner_entity_id.notnull()
    else:
        attributed = ibis.literal(True)
    unresolved = joined.tie_break.fill_null("") == UNRESOLVED
    reason: ir.StringValue = ibis.literal(outside_reason)
    # A tie no rule of the chain separated assigns no one (the contract chose not to end with lowest_id).
    reason = ibis.ifelse(unresolved, ibis.literal("tie_unresolved"), reason)
    attributed = attributed & ~unresolved
    entity = (
        joined.winner_entity_id
        if require_entity or qualified_pairs is not None
        else joined.winner_entity_id.fill_null(joined.top_tin)
    )
    decided = _decision(
        joined,
        attributed=attributed,
        step=step,
        reason=ibis.ifelse(attributed, ibis.null("string"), reason),
        entity_id=ibis.ifelse(attributed, entity, ibis.null("string")),
        tin=ibis.ifelse(attributed, joined.top_tin, ibis.null("string")),
        npi=ibis.ifelse(attributed, joined.top_npi, ibis.null("string")),
        winner_id=joined.winner_id,
        winner_visits=joined.winner_visits,
        winner_allowed_cents=joined.winner_allowed_cents,
        winner_last_visit=joined.winner_last_visit,
        runner_up_id=joined.runner_up_id,
        runner_up_visits=joined.runner_up_visits,
        runner_up_allowed_cents=joined.runner_up_allowed_cents,
        tie_break=joined.tie_break,
    )
    # Each step is ranked on its own: caching its result keeps the compiled plans small.
    return materialize(decided)


def _plurality_decisions(
    lines: ir.Table, spec: PluralitySpec, has_participants: bool, materialize: Materialize
) -> list[ir.Table]:
    all_in_window = lines.filter(lines.in_window)
    if spec.providers == "primary_care":
        lines = lines.filter(lines.is_primary_care)
    elif spec.providers == "primary_care_specialties":
        lines = lines.filter(lines.specialty.isin(list(spec.primary_care_specialties)))
    lines = lines.filter(lines.in_window)
    out: list[ir.Table] = []
    rank = functools.partial(
        _ranked_decisions,
        level=spec.level,
        tie_breaks=spec.tie_breaks,
        qualified_pairs=None,
        require_entity=has_participants,
        outside_reason="plurality_outside_contract",
        visit_unit=spec.visit_unit,
        materialize=materialize,
    )
    if spec.awv_trigger:
        awv_lines = lines.filter(lines.hcpcs_code.isin(list(spec.awv_codes)))
        out.append(rank(awv_lines, basis="recency", step="awv"))
        awv_members = awv_lines.select(_a_member=awv_lines.member_id).distinct()
        lines = lines.anti_join(awv_members, lines.member_id == awv_members._a_member)
    out.append(rank(lines, basis=spec.basis, step="plurality"))
    # Members with qualifying services that no step assigned (lowest precedence): only clinicians the spec
    # does not count, or (basis allowed) no allowed charges.
    seen = all_in_window.select(_s_member=all_in_window.member_id).distinct()
    counted = lines.select(_c_member=lines.member_id).distinct()
    t = seen.left_join(counted, seen._s_member == counted._c_member)
    not_counted = {
        "primary_care": "no_qualifying_service_by_primary_care_provider",
        "primary_care_specialties": "no_qualifying_service_by_primary_care_specialty",
        "any": "no_qualifying_services",
    }[spec.providers]
    why = ibis.ifelse(t._c_member.notnull(), ibis.literal("no_allowed_charges"), ibis.literal(not_counted))
    out.append(_decision(t.mutate(member_id=t._s_member), attributed=False, step=None, reason=why))
    return out


def _mssp_decisions(
    lines: ir.Table, spec: MsspStepwiseSpec, year: int, has_participants: bool, materialize: Materialize
) -> list[ir.Table]:
    """Steps 1-3 of 42 CFR 425.402(b) for every ACO in the participant list."""
    if not has_participants:
        raise ConfigurationError("mssp_stepwise needs the participants input (the ACO participant TIN list)")
    role = ibis.cases(
        (lines.specialty.isin(list(spec.primary_care_physician_specialties)), "pcp"),
        (lines.specialty.isin(list(spec.non_physician_specialties)), "npp"),
        (lines.specialty.isin(list(spec.specialists)), "specialist"),
        else_=ibis.null("string"),
    )
    all_in_window = lines.filter(lines.in_window)
    lines = lines.mutate(role=role)
    lines = lines.filter(lines.role.notnull())
    in_window = lines.filter(lines.in_window)
    aco_physician = in_window.entity_id.notnull() & in_window.role.isin(["pcp", "specialist"])
    # (b)(1): at least one primary care service with an ACO physician who is a PCP or listed specialist.
    prestep = in_window.filter(aco_physician).select("member_id", "entity_id").distinct()
    prestep_members = prestep.select(_p_member=prestep.member_id).distinct()
    pcp_npp = in_window.filter(in_window.role.isin(["pcp", "npp"]))
    any_pcp_npp = pcp_npp.select(_n_member=pcp_npp.member_id).distinct()
    rank = functools.partial(
        _ranked_decisions,
        level="entity",
        basis="allowed",
        tie_breaks=spec.tie_breaks,
        require_entity=True,
        outside_reason="plurality_elsewhere",
        visit_unit=spec.visit_unit,
        materialize=materialize,
    )
    # (b)(3) step 1: PCP + NPP allowed charges, ACO against every other ACO and unaffiliated TIN.
    step1_lines = pcp_npp.semi_join(prestep_members, pcp_npp.member_id == prestep_members._p_member)
    out = [rank(step1_lines, step="step1", qualified_pairs=prestep)]
    # (b)(4) step 2: no PCP/NPP primary care anywhere; listed specialists' charges.
    specialists = in_window.filter(in_window.role == "specialist")
    step2_lines = specialists.semi_join(prestep_members, specialists.member_id == prestep_members._p_member)
    step2_lines = step2_lines.anti_join(any_pcp_npp, step2_lines.member_id == any_pcp_npp._n_member)
    out.append(rank(step2_lines, step="step2", qualified_pairs=prestep))
    include_step3 = spec.include_step3 if spec.include_step3 is not None else year >= 2025
    if include_step3:
        # (b)(5): not identified by the pre-step; an ACO NPP service in the window and an ACO physician
        # service in the expanded window; all three groups' charges over the expanded window.
        aco_npp = in_window.filter(in_window.entity_id.notnull() & (in_window.role == "npp"))
        aco_npp = aco_npp.anti_join(prestep_members, aco_npp.member_id == prestep_members._p_member)
        aco_npp = aco_npp.select("member_id", "entity_id").distinct()
        expanded_physician = lines.filter(lines.entity_id.notnull() & lines.role.isin(["pcp", "specialist"]))
        expanded_physician = expanded_physician.select(
            _x_member=expanded_physician.member_id, _x_entity=expanded_physician.entity_id
        ).distinct()
        step3_pairs = aco_npp.join(
            expanded_physician,
            [
                aco_npp.member_id == expanded_physician._x_member,
                aco_npp.entity_id == expanded_physician._x_entity,
            ],
        ).select("member_id", "entity_id")
        step3_members = step3_pairs.select(_s_member=step3_pairs.member_id).distinct()
        step3_lines = lines.semi_join(step3_members, lines.member_id == step3_members._s_member)
        out.append(rank(step3_lines, step="step3", qualified_pairs=step3_pairs))
    out.append(_mssp_unassigned_reasons(all_in_window, prestep_members))
    return out


def _mssp_unassigned_reasons(in_window: ir.Table, prestep_members: ir.Table) -> ir.Table:
    """Why a member with primary care services in the window was assigned by no step (lowest precedence).

    ``no_allowed_charges``: identified by the pre-step, but no candidate had allowed charges;
    ``no_primary_care_service_by_aco_physician``: services billed through an ACO, none by an ACO primary care
    physician or listed specialist (e.g. only an ACO nurse practitioner) and step 3 did not apply;
    ``no_primary_care_service_with_aco_professional``: every service was billed outside the ACOs.
    """
    seen = in_window.select(_s_member=in_window.member_id).distinct()
    aco = in_window.filter(in_window.entity_id.notnull())
    aco_members = aco.select(_a_member=aco.member_id).distinct()
    t = seen.left_join(aco_members, seen._s_member == aco_members._a_member)
    t = t.left_join(prestep_members, t._s_member == prestep_members._p_member)
    reason = ibis.cases(
        (t._p_member.notnull(), "no_allowed_charges"),
        (t._a_member.notnull(), "no_primary_care_service_by_aco_physician"),
        else_="no_primary_care_service_with_aco_professional",
    )
    return _decision(t.mutate(member_id=t._s_member), attributed=False, step=None, reason=reason)


def _override_assignments(
    table: ir.Table,
    source: OverrideSource,
    spec: AnySpec,
    participants: ir.Table | None,
    providers: ir.Table,
    window: Window,
    as_of: dt.date,
) -> tuple[ir.Table, ir.Table, ir.Table]:
    """Active rows of one assignment input on the as-of date, one per member, plus conflicts and rejects.

    A row naming only an NPI (no entity, no TIN) gets its TIN from the participant list (the NPI is listed
    under one TIN there) or else from the providers table (the NPI has one TIN there). When neither settles
    it, the row is rejected with the reason -- never read as a designation outside the contract.
    """
    active = table.filter(
        table.start_date <= as_of,
        table.end_date.isnull() | (table.end_date >= as_of),
    )
    npi_only = active.entity_id.isnull() & active.tin.isnull() & active.npi.notnull()
    listed = providers.filter(providers.tin.notnull())
    by_provider = listed.group_by(_v_npi=listed.npi).agg(
        _v_tins=listed.tin.nunique(), _v_tin=listed.tin.max()
    )
    active = active.left_join(by_provider, active.npi == by_provider._v_npi)
    if participants is not None:
        named = active_participants(participants, window)
        named = named.filter(named.npi.notnull())
        by_participant = named.group_by(_w_npi=named.npi).agg(
            _w_tins=named.tin.nunique(),
            _w_tin=named.tin.max(),
            _w_entities=named.entity_id.nunique(),
            _w_entity=named.entity_id.max(),
        )
        active = active.left_join(by_participant, active.npi == by_participant._w_npi)
        from_participants = ibis.ifelse(active._w_tins == 1, active._w_tin, ibis.null("string"))
        participant_entity = ibis.ifelse(active._w_entities == 1, active._w_entity, ibis.null("string"))
        several_participant_tins = active._w_entities.fill_null(0) > 1
    else:
        from_participants = ibis.null("string")
        participant_entity = ibis.null("string")
        several_participant_tins = ibis.literal(False)
    from_providers = ibis.ifelse(active._v_tins == 1, active._v_tin, ibis.null("string"))
    resolved_tin = from_participants.fill_null(from_providers)
    unresolved_reason = ibis.cases(
        (
            several_participant_tins,
            "only an NPI: it is listed under several entities of the participant list; give the TIN",
        ),
        (
            active._v_tins.fill_null(0) > 1,
            "only an NPI: it bills under several TINs in the providers table; give the TIN",
        ),
        else_="only an NPI, and it is in neither the providers table nor the participant list; give the TIN",
    )
    active = active.mutate(
        entity_id=ibis.ifelse(npi_only, participant_entity, active.entity_id),
        tin=ibis.ifelse(npi_only, resolved_tin, active.tin),
        _npi_unresolved=npi_only & resolved_tin.isnull() & participant_entity.isnull(),
        _npi_reason=unresolved_reason,
    )
    npi_rejects = active.filter(active._npi_unresolved)
    active = active.filter(~active._npi_unresolved)
    if participants is not None:
        current = active_participants(participants, window)
        npi_map = (
            current.filter(current.npi.notnull())
            .group_by(_m_tin=current.tin, _m_npi=current.npi)
            .agg(_m_entity=current.entity_id.max())
        )
        tin_rows = current.filter(current.npi.isnull())
        tin_map = tin_rows.group_by(_t_tin=tin_rows.tin).agg(_t_entity=tin_rows.entity_id.max())
        active = active.left_join(npi_map, [active.tin == npi_map._m_tin, active.npi == npi_map._m_npi])
        active = active.left_join(tin_map, active.tin == tin_map._t_tin)
        resolved_entity = active.entity_id.fill_null(active._m_entity).fill_null(active._t_entity)
        active = active.mutate(_entity=resolved_entity, _in_contract=resolved_entity.notnull())
    else:
        active = active.mutate(
            _entity=active.entity_id.fill_null(active.tin), _in_contract=ibis.literal(True)
        )
    unusable = active._entity.isnull() & active.tin.isnull() & active.npi.isnull()
    active = active.mutate(_unusable=unusable)
    no_target = active.filter(active._unusable)
    usable = active.filter(~active._unusable)
    target = usable._entity.fill_null("") + "|" + usable.tin.fill_null("") + "|" + usable.npi.fill_null("")
    usable = usable.mutate(_target=target)
    per_member = usable.group_by(_c_member=usable.member_id).agg(_targets=usable._target.nunique())
    usable = usable.left_join(per_member, usable.member_id == per_member._c_member)
    overlapping = usable._targets > 1
    rank_window = ibis.window(
        group_by=usable.member_id, order_by=[usable.start_date.desc(), usable.source_line.asc()]
    )
    usable = usable.mutate(_overlap=overlapping, _rank=ibis.row_number().over(rank_window))
    reject_overlaps = source == "roster" and isinstance(spec, RosterSpec) and spec.overlap == "reject"
    if source == "roster":
        if reject_overlaps:
            dropped = usable.filter(usable._overlap)
            drop_reason = ibis.literal(
                "overlapping roster rows for the member on the as-of date (overlap: reject)"
            )
            chosen = usable.filter(~usable._overlap)
        else:
            dropped = usable.filter(usable._overlap & (usable._rank > 0))
            drop_reason = ibis.literal("overlapping roster row superseded by a later start_date")
            chosen = usable.filter(usable._rank == 0)
        conflicts = usable.filter(usable._overlap).select(_r_member=usable.member_id).distinct()
    else:
        # A newer designation replaces an older one; that is history, not an error.
        dropped = usable.filter(ibis.literal(False))
        drop_reason = ibis.literal("")
        chosen = usable.filter(usable._rank == 0)
        conflicts = usable.filter(ibis.literal(False)).select(_r_member=usable.member_id)
    rejects = _union_all(
        [
            _reject_rows(dropped, source, drop_reason, "member_id"),
            _reject_rows(
                no_target, source, ibis.literal("no entity, TIN or NPI to assign the member to"), "tin"
            ),
            _reject_rows(npi_rejects, source, npi_rejects._npi_reason, "tin"),
        ]
    )
    return chosen, conflicts, rejects


def _reject_rows(table: ir.Table, source: str, reason: ir.StringValue, field: str) -> ir.Table:
    return table.select(
        contract_id=ibis.null("string"),
        input=ibis.literal(source),
        source_file=table.source_file.cast("string"),
        source_line=table.source_line.cast("int64"),
        record_id=table.member_id.cast("string"),
        field=ibis.literal(field),
        reason=reason,
    )


def _override_decisions(chosen: ir.Table, source: OverrideSource, spec: AnySpec) -> ir.Table:
    level = spec.level if isinstance(spec, PluralitySpec) else "entity"
    winner = {
        "tin_npi": ibis.literal("TIN_NPI:") + chosen.tin.fill_null("") + "|" + chosen.npi.fill_null(""),
        "tin": ibis.literal("TIN:") + chosen.tin.fill_null(""),
        "entity": ibis.literal("ENTITY:") + chosen._entity.fill_null(""),
    }[level]
    blocked = ~chosen._in_contract
    # 425.402(e)(2)(ii)(C): designating a professional outside the ACO blocks claims-based assignment.
    reason = ibis.ifelse(blocked, ibis.literal("designated_outside_contract"), ibis.null("string"))
    return _decision(
        chosen,
        attributed=~blocked,
        step=source,
        reason=reason,
        entity_id=ibis.ifelse(blocked, ibis.null("string"), chosen._entity),
        tin=ibis.ifelse(blocked, ibis.null("string"), chosen.tin),
        npi=ibis.ifelse(blocked, ibis.null("string"), chosen.npi),
        # An outside designation names the professional, not an entity of the contract.
        winner_id=ibis.ifelse(
            blocked,
            ibis.literal("TIN_NPI:") + chosen.tin.fill_null("") + "|" + chosen.npi.fill_null(""),
            winner,
        ),
    )


# ---- assembly -----------------------------------------------------------------------------------------
def _finalize(
    elig: ir.Table,
    decisions: list[ir.Table],
    spec: AnySpec,
    default_reason: str,
    roster_conflicts: ir.Table | None,
) -> ir.Table:
    """First decision per member in precedence order; then the minimum panel; then defaults."""
    ranked_sources = [d.mutate(_precedence=ibis.literal(i, type="int32")) for i, d in enumerate(decisions)]
    stacked = _union_all(ranked_sources)
    order = ibis.window(group_by=stacked.member_id, order_by=[stacked._precedence.asc()])
    first = stacked.mutate(_rank=ibis.row_number().over(order))
    first = first.filter(first._rank == 0).drop("_rank", "_precedence")
    universe = elig.select(_u_member=elig.member_id)
    joined = universe.left_join(first, universe._u_member == first.member_id)
    fallback = ibis.literal(default_reason)
    if roster_conflicts is not None and isinstance(spec, RosterSpec):
        joined = joined.left_join(roster_conflicts, joined._u_member == roster_conflicts._r_member)
        fallback = ibis.ifelse(joined._r_member.notnull(), ibis.literal("roster_conflict"), fallback)
    decided = joined.mutate(
        member_id=joined._u_member,
        attributed=joined.attributed.fill_null(False),
        reason=ibis.ifelse(joined.member_id.isnull(), fallback, joined.reason),
    ).select(*_DECISION.names)
    if isinstance(spec, MsspStepwiseSpec) and spec.aco_id is not None:
        # The run assigns for one ACO: members another ACO of the participant list won are not its members.
        other = decided.attributed & (decided.entity_id.fill_null("") != spec.aco_id)
        decided = decided.mutate(
            attributed=decided.attributed & ~other,
            reason=ibis.ifelse(other, ibis.literal("assigned_to_other_aco"), decided.reason),
            entity_id=ibis.ifelse(other, ibis.null("string"), decided.entity_id),
            tin=ibis.ifelse(other, ibis.null("string"), decided.tin),
            npi=ibis.ifelse(other, ibis.null("string"), decided.npi),
        ).select(*_DECISION.names)
    if spec.minimum_panel > 0:
        level = spec.level if isinstance(spec, PluralitySpec) else "entity"
        panel_key = {
            "entity": decided.entity_id,
            "tin": decided.tin,
            "tin_npi": decided.tin + "|" + decided.npi,
        }[level]
        keyed = decided.mutate(_panel=panel_key)
        sizes = keyed.filter(keyed.attributed).group_by(_s_panel=keyed._panel).agg(_size=ibis._.count())
        keyed = keyed.left_join(sizes, keyed._panel == sizes._s_panel)
        small = keyed.attributed & (keyed._size < spec.minimum_panel)
        decided = keyed.mutate(
            attributed=keyed.attributed & ~small,
            reason=ibis.ifelse(small, ibis.literal("below_minimum_panel"), keyed.reason),
            entity_id=ibis.ifelse(small, ibis.null("string"), keyed.entity_id),
            tin=ibis.ifelse(small, ibis.null("string"), keyed.tin),
            npi=ibis.ifelse(small, ibis.null("string"), keyed.npi),
        ).select(*_DECISION.names)
    return decided


def _label(table: ir.Table, spec: AnySpec, window: Window, as_of: dt.date) -> ir.Table:
    """Add the run's constants and cast to the ATTRIBUTION schema."""
    timing = spec.timing if isinstance(spec, PluralitySpec | MsspStepwiseSpec) else None
    values: dict[str, ir.Value] = {
        "contract_id": ibis.literal(spec.name),
        "method": ibis.literal(spec.method),
        "timing": ibis.literal(timing, type="string"),
        "as_of_date": ibis.literal(as_of, type="date"),
        # Step 3 ranks charges over the expanded window: its rows report the window actually used.
        "window_start": (
            ibis.ifelse(
                table.step.fill_null("") == "step3",
                ibis.literal(window.expanded_start, type="date"),
                ibis.literal(window.start, type="date"),
            )
            if "step" in table.columns
            else ibis.literal(window.start, type="date")
        ),
        "window_end": ibis.literal(window.end, type="date"),
    }
    if "winner_allowed_cents" in table.columns:
        values["winner_allowed"] = from_cents(table.winner_allowed_cents)
        values["runner_up_allowed"] = from_cents(table.runner_up_allowed_cents)
    exprs = []
    for column in ATTRIBUTION.columns:
        if column.name in values:
            exprs.append(values[column.name].cast(column.ibis_type).name(column.name))
        elif column.name in table.columns:
            exprs.append(table[column.name].cast(column.ibis_type).name(column.name))
        else:
            exprs.append(ibis.null(column.ibis_type).name(column.name))
    return table.select(exprs)


def _label_rejects(rejects: ir.Table, spec: AnySpec) -> ir.Table:
    return REJECTS.select_from(rejects.mutate(contract_id=ibis.literal(spec.name)))


def _no_rejects(anchor: ir.Table, spec: AnySpec) -> ir.Table:
    empty = anchor.filter(ibis.literal(False))
    return _label_rejects(
        empty.select(
            contract_id=ibis.null("string"),
            input=ibis.literal("none"),
            source_file=ibis.null("string"),
            source_line=ibis.null("int64"),
            record_id=ibis.null("string"),
            field=ibis.null("string"),
            reason=ibis.literal(""),
        ),
        spec,
    )


def _union_all(tables: Sequence[ir.Table]) -> ir.Table:
    result = tables[0]
    for table in tables[1:]:
        result = result.union(table, distinct=False)
    return result
