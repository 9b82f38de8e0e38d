"""MSSP contract templates built from the rules data, so the shipped YAML never drifts from the rules.

Each template is a contract (:mod:`apmkit.contracts`) with one ``shared_savings`` component whose terms are
the track's rules in its first performance year; every later year whose rules differ is a ``glide_path`` step
that sets only what changed. ``render_template`` writes the YAML shipped as
``apmkit/contracts/templates/mssp_<track>.yaml``; the tests check that the shipped files equal it and that
``Contract.for_period(year)`` gives :func:`~apmkit.programs.mssp.rules.mssp_terms` for every year.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import yaml

from apmkit.programs.mssp.rules import MsrElection, mssp_terms, track_label, track_years

__all__ = [
    "ENTITY_INPUTS",
    "TEMPLATE_TRACKS",
    "default_msr_election",
    "mssp_contract_data",
    "render_template",
    "template_name",
    "verified_parameters",
]

# template file suffix → track key
TEMPLATE_TRACKS: dict[str, str] = {
    "track1": "track_1",
    "track2": "track_2",
    "track3": "track_3",
    "basic_a": "basic_a",
    "basic_b": "basic_b",
    "basic_c": "basic_c",
    "basic_d": "basic_d",
    "basic_e": "basic_e",
    "enhanced": "enhanced",
}

_ONE_SIDED = ("track_1", "basic_a", "basic_b")


def template_name(track: str) -> str:
    """The template name (``mssp_track1``) of a track key (``track_1``)."""
    for suffix, key in TEMPLATE_TRACKS.items():
        if key == track:
            return f"mssp_{suffix}"
    raise KeyError(track)


def default_msr_election(track: str) -> MsrElection:
    """The MSR/MLR election a template assumes: Track 2's historical fixed 2 %, else the variable table."""
    return Decimal("0.02") if track == "track_2" else "variable"


def _terms_data(track: str, year: int) -> dict[str, Any]:
    terms = mssp_terms(track, year, msr_election=default_msr_election(track))
    data: dict[str, Any] = terms.model_dump(mode="python", exclude_none=True)
    return data


def _changes(before: Any, after: Any, path: str) -> dict[str, Any]:
    """Leaf paths whose value differs between two nested dicts (whole values where the shape changes)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: dict[str, Any] = {}
        for key in after:
            if key in before:
                found.update(_changes(before[key], after[key], f"{path}.{key}"))
            else:
                found[f"{path}.{key}"] = after[key]
        for key in before:
            if key not in after:
                found[f"{path}.{key}"] = None
        return found
    return {} if before == after else {path: after}


def mssp_contract_data(track: str) -> dict[str, Any]:
    """The contract document (as data) of an MSSP track: first-year terms plus a glide path of later changes."""
    years = track_years(track)
    first = years[0]
    terms = _terms_data(track, first)
    glide: list[dict[str, Any]] = []
    previous = terms
    for year in years[1:]:
        current = _terms_data(track, year)
        changed = _changes(previous, current, "shared_savings.terms")
        if changed:
            # The component's clause is cited on every statement line: it must describe the terms applied in
            # that year, not the first year's (e.g. PY2021+ sequestration after the 2019-2020 moratorium).
            if current.get("citation") != previous.get("citation"):
                changed = {"shared_savings.clause": current.get("citation", ""), **changed}
            glide.append({"period": str(year), "set": changed})
        previous = current
    one_sided = track in _ONE_SIDED
    unverified = []
    if track == "track_2":
        unverified.append(
            "loss cap 10 % of benchmark assumes the third or later year in Track 2 (5 % / 7.5 % in years 1 / 2)"
        )
    if track == "track_2":
        unverified.append(
            "MSR/MLR fixed at 2 % through PY2015; from PY2016 it is the ACO's election (fixed 0-2 % or the "
            "variable table): the template keeps 2 %"
        )
    elif not one_sided:
        unverified.append(
            "MSR/MLR election assumed variable: set minimum_savings_rate to the ACO's election "
            "(fixed 0, 0.005, 0.01, 0.015 or 0.02, or the variable table)"
        )
    if track.startswith("basic_"):
        unverified.append(
            "below_msr_sharing.eligible is false from PY2024: a low-revenue ACO whose agreement period began on or "
            "after 2024-01-01 sets it to true (or gives below_msr_sharing_eligible per ACO), 42 CFR 425.605(h)"
        )
    if track in ("enhanced", "basic_c", "basic_d", "basic_e"):
        unverified.append(
            "loss_benchmark_guardrail.applies is false from PY2024: an ACO whose agreement period began on or after "
            "2024-01-01 sets it to true (or gives guardrail_applies per ACO) and gives recalculated_benchmark, "
            "42 CFR 425.652(b)(5)"
        )
    if not one_sided:
        unverified.append(
            "termination.losses: a terminated ACO owes its losses x termination_loss_share (the pro-rated share "
            "of 42 CFR 425.221(b)(2)(ii), named by 425.605(f)(2)(i); the (b)(2)(ii) text was not read)"
        )
    if default_msr_election(track) == "variable" or one_sided:
        unverified.append(
            "one-sided MSR table below 5,000 beneficiaries is data-derived from CMS PUFs (docs/mssp.md)"
        )
    return {
        "schema_version": "1",
        "id": template_name(track),
        "name": f"Medicare Shared Savings Program, {track_label(track)}, PY{first}-PY{years[-1]}",
        "version": "1",
        "program": "MSSP",
        "payer": "CMS",
        "line_of_business": "medicare_ffs",
        "entity_type": "aco",
        "hcp_lan_category": "3A" if one_sided else "3B",
        # Performance-year expenditure of assigned beneficiaries: Medicare FFS payments in months with Parts A
        # and B and no MA (42 CFR 425.652(a)(1)-(2)), each beneficiary's annualized spending truncated at the
        # 99th percentile (425.652(a)(4)). CMS truncates per enrollment type with national thresholds; this
        # section truncates over the population given, the same rule for every year the run measures.
        "definitions": {
            "cost_basis": "paid_amount",
            "eligible_months": "medicare_ffs_parts_ab",
            "truncation": {"method": "percentile", "percentile": Decimal("0.99")},
            "runout_months": 3,
        },
        # The benchmark is built from claims once the ACO fills this section with CMS's figures of its
        # Historical Benchmark Report (base years, national per capita, growth factors, ACPT: claims cannot hold
        # them) and the run is given CMS's county rates (--county-puf); until then the run asks for it by name,
        # or takes each ACO's benchmark from --inputs.
        "benchmark": {"method": "mssp", "mssp": "REQUIRED"},
        "components": [
            {
                "id": "shared_savings",
                "type": "shared_savings",
                "clause": terms.get("citation", ""),
                "description": (
                    "Earned shared savings"
                    + ("" if one_sided else " or owed shared losses")
                    + f" under the MSSP {track_label(track)} rules of each performance year"
                ),
                "terms": terms,
            }
        ],
        "glide_path": glide,
        "unverified": unverified,
        "sources": [
            "42 CFR Part 425 (sections cited on each term)",
            "CMS MSSP ACO public use files PY2013-2022 (data-derived rules; docs/mssp.md)",
            *verified_parameters(track),
        ],
        "performance_years": years,
    }


def verified_parameters(track: str) -> list[str]:
    """Which of a template's parameters are verified, and against what (listed under ``sources``)."""
    regulation = [
        "sided",
        "max_sharing_rate",
        "quality.method",
        "savings_cap",
        "minimum_savings_rate (bands from 5,000 beneficiaries)",
        "termination.savings_forfeited (425.221(b)(1)-(2))",
    ]
    data = ["sequestration_rate by year", "minimum_savings_rate bands below 5,000 beneficiaries"]
    if track in ("track_2", "track_3", "enhanced", "basic_c", "basic_d", "basic_e"):
        regulation += ["loss_rate", "loss_cap"]
    if track == "track_2":
        regulation.remove("loss_rate")
        regulation.append("loss_rate through PY2020")
        data.append("loss_rate PY2021 (1 - 0.60 x quality score)")
    return [
        "verified against 42 CFR Part 425 (citation on each term and glide-path step): "
        + ", ".join(regulation),
        "verified against CMS's published results (data-derived; reproduced by apmkit mssp reproduce-puf): "
        + ", ".join(data),
    ]


ENTITY_INPUTS: dict[str, str] = {
    "benchmark": "total updated benchmark for the performance year ($)",
    "expenditure": "total assigned-beneficiary expenditure ($)",
    "population": "assigned beneficiaries (variable MSR/MLR)",
    "quality_score": "quality score as a fraction (PY2023+: health-equity adjusted)",
    "quality_standard_met": "whether the quality performance standard was met",
    "alternative_quality_standard_met": "PY2023+: whether the alternative quality performance standard was met",
    "participant_revenue": "ACO participant Parts A and B FFS revenue (BASIC C-E revenue-based loss limit)",
    "below_msr_sharing_eligible": (
        "PY2024+: low-revenue ACO in an agreement period from 2024 (half rate below the MSR, 42 CFR 425.605(h))"
    ),
    "euc_affected_fraction / euc_loss_reduction": "extreme and uncontrollable circumstances share or amount",
    "terminated_during_year / termination_loss_share": (
        "agreement ended during the year: no shared savings; the pro-rated share of losses owed (42 CFR 425.221(b))"
    ),
    "guardrail_applies / recalculated_benchmark": (
        "PY2024+, two-sided: ACPT guardrail for agreements from 2024 and the benchmark recalculated without the ACPT"
    ),
}
"""The per-ACO inputs an MSSP template settles on (``apmkit settle --inputs``); listed in each template."""


class _Dumper(yaml.SafeDumper):
    """Writes Decimals as plain numbers (the contract loader reads them back as exact decimals)."""

    def ignore_aliases(self, data: object) -> bool:
        return True  # the contract reader refuses aliases: write every value out


def _decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.Node:
    text = format(value, "f")
    if "." not in text:
        text += ".0"
    return dumper.represent_scalar("tag:yaml.org,2002:float", text)


_Dumper.add_representer(Decimal, _decimal)


def _input_applies(track: str, name: str) -> bool:
    """Whether a per-ACO input of :data:`ENTITY_INPUTS` is used by the track's rules in some year."""
    years = track_years(track)
    if name == "participant_revenue":
        return track in ("basic_c", "basic_d", "basic_e")
    if name.startswith("guardrail_applies"):
        return track in ("enhanced", "basic_c", "basic_d", "basic_e") and years[-1] >= 2024
    if name == "below_msr_sharing_eligible":
        return track.startswith("basic_") and years[-1] >= 2024
    if name == "alternative_quality_standard_met":
        return years[-1] >= 2023
    if name.startswith("euc_"):
        return track not in _ONE_SIDED
    if name.startswith("terminated_"):
        return True
    return True


def render_template(track: str) -> str:
    """The YAML text of the track's template, with a header saying where it comes from."""
    years = track_years(track)
    inputs = [
        f"#   {name}: {meaning}" for name, meaning in ENTITY_INPUTS.items() if _input_applies(track, name)
    ]
    header = (
        f"# MSSP {track_label(track)}, performance years {years[0]}-{years[-1]}: generated from\n"
        "# apmkit/programs/mssp/data/rules.yaml by apmkit.programs.mssp.templates (do not edit by hand; edit the\n"
        "# rules and regenerate). The glide path sets the terms that change in later performance years; other\n"
        "# years are refused (performance_years). Verified parameters and their sources: see `sources`;\n"
        "# parameters to confirm: `unverified`. benchmark.mssp is REQUIRED: fill it with CMS's figures (base_years,\n"
        "# performance_year, national_per_capita, update.national_growth, update.acpt; docs/benchmark.md) and give\n"
        "# the county FFS benchmark PUF (apmkit run --county-puf) to build the benchmark from claims, or give each\n"
        "# ACO's benchmark in --inputs. Inputs per ACO (not part of the template):\n"
        + "\n".join(inputs)
        + "\n"
    )
    body = yaml.dump(
        mssp_contract_data(track), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110
    )
    return header + body
