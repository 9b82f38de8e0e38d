"""Qualifying service lines: the claim lines attribution counts, and the ones it must reject."""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from apmkit.attribution.codes import PrimaryCareCode, mssp_primary_care_codes
from apmkit.attribution.spec import CodeEntry, CodeLists, expand_code_range
from apmkit.attribution.windows import Window
from apmkit.errors import ConfigurationError
from apmkit.money import to_cents
from apmkit.portable import Materialize, trim_text

SNF_POS = "31"
HOME_POS = "12"
INPATIENT_POS = "21"
RHC_FQHC_BILL_TYPES = ("71", "77")
SPECIALTY_PATTERN = r"^[0-9A-Z]{2}$"


def code_list(codes: CodeLists, year: int, window: Window) -> tuple[PrimaryCareCode, ...]:
    """The primary-care codes that apply to ``year`` (and to ``window``, for the PHE additions)."""
    if codes.source == "cms_mssp":
        base = list(mssp_primary_care_codes(year, window.expanded_start, window.end))
    else:
        by_year = codes.codes_for()
        years = [y for y in by_year if y <= year]
        if not years:
            raise ConfigurationError(
                f"attribution spec: field primary_care_codes.by_year: no code list for program year {year} or earlier"
            )
        base = [pc for entry in by_year[max(years)] for pc in _entry_codes(entry)]
    base.extend(pc for entry in codes.extra_codes for pc in _entry_codes(entry))
    return tuple(dict.fromkeys(base))


def _entry_codes(entry: CodeEntry) -> list[PrimaryCareCode]:
    if isinstance(entry, str):
        return [PrimaryCareCode(code, "") for code in expand_code_range(entry)]
    return [
        PrimaryCareCode(code, "", tuple(sorted(entry.pos)), tuple(sorted(entry.exclude_pos)))
        for code in entry.expanded()
    ]


def primary_care_filter(
    claims: ir.Table, codes: tuple[PrimaryCareCode, ...], eta_hospital_ccns: tuple[str, ...]
) -> ir.BooleanValue:
    """Whether a claim line is a primary care service under ``codes`` and their conditions."""
    by_condition: dict[str, list[str]] = {}
    by_place: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for pc in codes:
        if pc.pos or pc.exclude_pos:
            by_place.setdefault((pc.pos, pc.exclude_pos), []).append(pc.code)
        else:
            by_condition.setdefault(pc.condition, []).append(pc.code)
    pos = claims.place_of_service.fill_null("")
    hcpcs = claims.hcpcs_code
    tests: dict[str, ir.BooleanValue] = {
        "": ibis.literal(True),
        "not_in_snf": pos != SNF_POS,
        "home_pos_12": pos == HOME_POS,
        "not_inpatient": pos != INPATIENT_POS,
        "eta_hospital": claims.facility_ccn.isin(list(eta_hospital_ccns))
        if eta_hospital_ccns
        else ibis.literal(False),
    }
    base: ir.BooleanValue = ibis.literal(False)
    for condition, code_values in by_condition.items():
        if condition in ("with_base_code", "rhc_fqhc_revenue"):
            continue
        base = base | (hcpcs.isin(code_values) & tests[condition])
    for (only_at, never_at), code_values in by_place.items():
        place_ok: ir.BooleanValue = pos.isin(list(only_at)) if only_at else ibis.literal(True)
        if never_at:
            place_ok = place_ok & ~pos.isin(list(never_at))
        base = base | (hcpcs.isin(code_values) & place_ok)
    if "rhc_fqhc_revenue" in by_condition:
        bill_type = claims.bill_type.fill_null("").substr(0, 2)
        base = base | (
            claims.revenue_code.isin(by_condition["rhc_fqhc_revenue"])
            & bill_type.isin(list(RHC_FQHC_BILL_TYPES))
        )
    if "with_base_code" in by_condition:
        # Add-on codes (prolonged services) count only beside a qualifying base code on the same claim.
        base_claims = claims.filter(base).claim_id
        base = base | (hcpcs.isin(by_condition["with_base_code"]) & claims.claim_id.isin(base_claims))
    return base


def qualifying_lines(
    claims: ir.Table,
    providers: ir.Table,
    participants: ir.Table | None,
    *,
    codes: tuple[PrimaryCareCode, ...],
    window: Window,
    payer: str | None,
    eta_hospital_ccns: tuple[str, ...] = (),
    need_specialty: bool = False,
    need_provider: bool = False,
    extra_codes: tuple[str, ...] = (),
    materialize: Materialize,
) -> tuple[ir.Table, ir.Table]:
    """Primary-care claim lines in the (expanded) window, resolved to NPI, TIN, specialty and entity.

    Parameters
    ----------
    claims, providers
        Canonical ``medical_claims`` and ``providers``.
    participants
        :data:`apmkit.attribution.inputs.PARTICIPANTS` or None (every TIN is its own entity).
    need_specialty
        Reject lines whose specialty (line, else provider record) is missing or not a CMS code.
    need_provider
        Reject lines whose rendering NPI is not in ``providers``.
    extra_codes
        Codes that qualify a line besides the primary-care list (e.g. anchor or AWV codes).

    Returns
    -------
    (lines, rejects)
        ``lines``: member_id, claim_id, service_date, hcpcs_code, npi, tin, specialty,
        is_primary_care, allowed_cents, entity_id, in_window. ``rejects`` in the REJECTS layout.
    """
    service_date = claims.service_date.fill_null(claims.claim_from_date)
    last_day = min(window.end, window.claims_through)
    scoped = claims.filter(
        service_date.between(window.expanded_start, last_day),
        claims.adjustment_type.fill_null("original") != "void",
    )
    if payer is not None:
        scoped = scoped.filter(scoped.payer == payer)
    qualifies = primary_care_filter(scoped, codes, eta_hospital_ccns)
    if extra_codes:
        qualifies = qualifies | scoped.hcpcs_code.isin(list(extra_codes))
    scoped = scoped.filter(qualifies)
    joined = _join_providers(scoped, providers)
    line_specialty = trim_text(joined.rendering_specialty)
    specialty = ibis.ifelse(line_specialty == "", ibis.null("string"), line_specialty).fill_null(
        joined._p_specialty
    )
    resolved = joined.mutate(
        _npi=joined.rendering_npi,
        _tin=joined.billing_tin.fill_null(joined._p_tin),
        _specialty=specialty,
        _service_date=joined.service_date.fill_null(joined.claim_from_date),
    )
    resolved, conflict = _attach_entity(resolved, participants, window)
    checks: list[tuple[ir.BooleanValue, str, str]] = [
        (resolved._npi.isnull(), "rendering_npi", "visit without a rendering NPI"),
        (
            resolved._tin.isnull() & (resolved._p_tins > 1),
            "billing_tin",
            "visit without a billing TIN, and the rendering NPI bills under several TINs in the providers table",
        ),
        (resolved._tin.isnull(), "billing_tin", "visit without a billing TIN"),
    ]
    if need_specialty:
        checks.append(
            (
                resolved._specialty.isnull() | ~resolved._specialty.re_search(SPECIALTY_PATTERN),
                "rendering_specialty",
                "unknown specialty (no CMS specialty code on the line or the provider record)",
            )
        )
    if need_provider:
        checks.append((resolved._p_npi.isnull(), "rendering_npi", "rendering NPI not in the providers table"))
    checks.append(
        (conflict, "billing_tin", "TIN (or TIN/NPI) belongs to more than one entity in the participant list")
    )
    field = ibis.cases(*[(bad, name) for bad, name, _ in checks], else_=ibis.null("string"))
    reason = ibis.cases(*[(bad, text) for bad, _, text in checks], else_=ibis.null("string"))
    # Valid lines and rejects both come from this table: compute it once rather than scan claims twice.
    flagged = materialize(
        resolved.select(
            "member_id",
            "claim_id",
            "claim_line_number",
            "hcpcs_code",
            "allowed_amount",
            "source_file",
            "source_line",
            "_npi",
            "_tin",
            "_specialty",
            "_service_date",
            "_p_is_pc",
            "_entity_id",
            _field=field,
            _reason=reason,
        )
    )
    bad = flagged.filter(flagged._field.notnull())
    rejects = bad.select(
        contract_id=ibis.null("string"),
        input=ibis.literal("medical_claims"),
        source_file=bad.source_file,
        source_line=bad.source_line,
        record_id=bad.claim_id + ibis.literal(":") + bad.claim_line_number.cast("string"),
        field=bad._field,
        reason=bad._reason,
    )
    good = flagged.filter(flagged._field.isnull())
    lines = good.select(
        member_id=good.member_id,
        claim_id=good.claim_id,
        service_date=good._service_date,
        hcpcs_code=good.hcpcs_code,
        npi=good._npi,
        tin=good._tin,
        specialty=good._specialty,
        is_primary_care=good._p_is_pc.fill_null(False),
        allowed_cents=to_cents(good.allowed_amount.fill_null(0)),
        entity_id=good._entity_id,
        in_window=good._service_date >= window.start,
    )
    return lines, rejects


def _join_providers(claims: ir.Table, providers: ir.Table) -> ir.Table:
    """Attach the provider record of each line's rendering NPI.

    The providers table may list one NPI under several TINs (a clinician reassigns billing to several
    groups). The record of the line's billing TIN is used when there is one; otherwise the NPI's values
    when all its records agree (its only TIN, its one specialty), else NULL. Adds ``_p_npi`` (NULL: NPI not
    in the table), ``_p_tin``, ``_p_tins`` (number of TINs), ``_p_specialty``, ``_p_is_pc``.
    """
    exact = providers.select(
        _x_npi=providers.npi,
        _x_tin=providers.tin,
        _x_specialty=providers.specialty_code,
        _x_is_pc=providers.is_primary_care,
    )
    flag = providers.is_primary_care.cast("int8")
    per_npi = providers.group_by(_p_npi=providers.npi).agg(
        _p_tins=providers.tin.nunique(),
        _n_tin=providers.tin.max(),
        _n_specialties=providers.specialty_code.nunique(),
        _n_specialty=providers.specialty_code.max(),
        _n_pc_min=flag.min(),
        _n_pc_max=flag.max(),
    )
    joined = claims.left_join(
        exact, [claims.rendering_npi == exact._x_npi, claims.billing_tin == exact._x_tin]
    )
    joined = joined.left_join(per_npi, joined.rendering_npi == per_npi._p_npi)
    one = ibis.null("string")
    return joined.mutate(
        _p_tin=ibis.ifelse(joined._p_tins == 1, joined._n_tin, one),
        _p_specialty=joined._x_specialty.fill_null(
            ibis.ifelse(joined._n_specialties == 1, joined._n_specialty, one)
        ),
        _p_is_pc=joined._x_is_pc.fill_null(
            ibis.ifelse(joined._n_pc_min == joined._n_pc_max, joined._n_pc_max == 1, ibis.null("boolean"))
        ),
    )


def active_participants(participants: ir.Table, window: Window) -> ir.Table:
    """Participant rows in force at some point of the window."""
    return participants.filter(
        participants.start_date.isnull() | (participants.start_date <= window.end),
        participants.end_date.isnull() | (participants.end_date >= window.start),
    )


def _attach_entity(
    lines: ir.Table, participants: ir.Table | None, window: Window
) -> tuple[ir.Table, ir.BooleanValue]:
    if participants is None:
        lines = lines.mutate(_entity_id=ibis.null("string"))
        return lines, ibis.literal(False)
    active = active_participants(participants, window)
    by_npi = (
        active.filter(active.npi.notnull())
        .group_by(_pn_tin=active.tin, _pn_npi=active.npi)
        .agg(_pn_entity=active.entity_id.max(), _pn_count=active.entity_id.nunique())
    )
    tin_level = active.filter(active.npi.isnull())
    by_tin = tin_level.group_by(_pt_tin=tin_level.tin).agg(
        _pt_entity=tin_level.entity_id.max(), _pt_count=tin_level.entity_id.nunique()
    )
    joined = lines.left_join(by_npi, (lines._tin == by_npi._pn_tin) & (lines._npi == by_npi._pn_npi))
    joined = joined.left_join(by_tin, joined._tin == by_tin._pt_tin)
    conflict = (
        (joined._pn_count.fill_null(0) > 1)
        | (joined._pt_count.fill_null(0) > 1)
        | (
            joined._pn_entity.notnull()
            & joined._pt_entity.notnull()
            & (joined._pn_entity != joined._pt_entity)
        )
    )
    joined = joined.mutate(_entity_id=joined._pn_entity.fill_null(joined._pt_entity), _conflict=conflict)
    return joined, joined._conflict


def date_literal(day: dt.date) -> ir.DateValue:
    return ibis.literal(day, type="date")
