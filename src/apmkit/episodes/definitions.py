"""Bundled episode definitions: BPCI Advanced-style categories and CJR.

The code lists are package data generated from the CMS Shadow Bundles workbooks (see
``data/PROVENANCE.md``). Episode ids: ``<group id>-IP`` / ``<group id>-OP`` (a multi-setting category
such as MS-Major joint replacement of the lower extremity yields one definition per setting).
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

from apmkit.episodes.spec import EpisodeDefinition

CJR_HIP_FRACTURE_DX_PREFIXES = ("S720", "S721", "S722")
"""Principal-diagnosis prefixes treated as hip fracture for CJR: fractures of the head/neck (S72.0),
pertrochanteric (S72.1) and subtrochanteric (S72.2) femur. CMS keeps its own list (42 CFR
510.300(a)(4)), which was not available here: ⚠ an approximation, replace it through the spec."""


def _csv(name: str) -> list[dict[str, str]]:
    with resources.files("apmkit.episodes.data").joinpath(name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@cache
def excluded_readmission_drgs() -> tuple[str, ...]:
    """MS-DRGs of readmissions excluded from episode spending (Shadow Bundles Table 19)."""
    return tuple(row["ms_drg"] for row in _csv("excluded_readmission_drgs.csv"))


@cache
def excluded_part_b_hcpcs() -> tuple[str, ...]:
    """Part B drug HCPCS excluded from episode spending (Shadow Bundles Table 35)."""
    return tuple(row["hcpcs"] for row in _csv("excluded_part_b_hcpcs.csv"))


@cache
def state_census_division() -> dict[str, str]:
    """State abbreviation -> US Census division number."""
    return {row["state"]: row["census_division"] for row in _csv("state_census_division.csv")}


@cache
def ccn_state() -> dict[str, str]:
    """First two CCN characters -> state abbreviation."""
    return {row["ccn_prefix"]: row["state"] for row in _csv("ccn_state.csv")}


@cache
def bpcia_definitions(post_anchor_days: int = 90) -> tuple[EpisodeDefinition, ...]:
    """The 34 BPCI Advanced-style Clinical Episode Categories as definitions (one per setting)."""
    names: dict[tuple[str, str], str] = {}
    codes_by_key: dict[tuple[str, str], list[str]] = {}
    for row in _csv("bpcia_triggers.csv"):
        key = (row["episode_id"], row["setting"])
        names.setdefault(key, row["episode_name"])
        codes_by_key.setdefault(key, []).append(row["code"])
    tavr = tuple(row["px"] for row in _csv("tavr_px.csv"))
    readmissions = excluded_readmission_drgs()
    part_b = excluded_part_b_hcpcs()
    definitions = []
    for (group_id, setting), code_list in sorted(codes_by_key.items()):
        codes = tuple(code_list)
        suffix = "IP" if setting == "inpatient" else "OP"
        definitions.append(
            EpisodeDefinition(
                episode_id=f"{group_id}-{suffix}",
                name=names[(group_id, setting)],
                setting="inpatient" if setting == "inpatient" else "outpatient",
                trigger_ms_drgs=codes if setting == "inpatient" else (),
                trigger_hcpcs=codes if setting == "outpatient" else (),
                post_anchor_days=post_anchor_days,
                excluded_ms_drgs=readmissions,
                excluded_hcpcs=part_b,
                required_px=tavr if group_id == "A0031" else (),
            )
        )
    return tuple(definitions)


def cjr_definition(hip_fracture_dx: tuple[str, ...] = CJR_HIP_FRACTURE_DX_PREFIXES) -> EpisodeDefinition:
    """CJR lower-extremity joint replacement (42 CFR 510.300(a)(1), 510.210(a)).

    Anchor MS-DRGs 469/470 (+521/522 from 10/1/2020); 90 days after discharge with the discharge day as
    day 1; four price groups: 469 and 470, each with/without hip fracture (521 -> 469 with fracture,
    522 -> 470 with fracture).
    """
    return EpisodeDefinition(
        episode_id="CJR",
        name="Comprehensive Care for Joint Replacement (LEJR)",
        setting="inpatient",
        trigger_ms_drgs=("469", "470", "521", "522"),
        post_anchor_days=90,
        excluded_ms_drgs=excluded_readmission_drgs(),
        excluded_hcpcs=excluded_part_b_hcpcs(),
        subgroup_dx=hip_fracture_dx,
        subgroup_drgs=("521", "522"),
        price_group_by_drg={"469": "469", "470": "470", "521": "469", "522": "470"},
    )
