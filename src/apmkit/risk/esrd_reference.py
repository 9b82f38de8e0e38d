"""Reference tables of the CMS-HCC ESRD V24 model (CMS's "2023 CMS-HCC ESRD model") as package data.

Provenance of the ``esrd_*.csv`` files: ``data/SOURCES.md``. The model has 29 score variables, named as
CMS's ESRD V24 software writes them (``SCORE_DIAL``, ``SCORE_G_COMM_FBD_GE65_DUR4_9``, ...). Each is a
sum of relative factors over the member's variables; the functioning-graft scores add CMS's graft
duration factors, and the new-enrollee graft scores are divided by CMS's actuarial adjustment.

Relative factors are carried as integer thousandths (CMS publishes 3 decimals), so every score is exact.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import cast

import ibis
import pyarrow as pa

from apmkit.risk.reference import ModelTables, check_payment_year

DIALYSIS = "SCORE_DIAL"
DIALYSIS_NEW_ENROLLEE = "SCORE_DIAL_NE"
TRANSPLANT_MONTHS = (1, 2, 3)
DUAL_GROUPS = ("FBD", "ND_PBD")  # full-benefit dual; non-dual or partial-benefit dual
AGE_GROUPS = ("GE65", "LT65")
DURATIONS = ("DUR4_9", "DUR10PL")  # months 4-9 and 10+ after the kidney transplant

# Which relative-factor prefix each community functioning-graft score reads (dual group, age group).
_COMMUNITY_GRAFT_PREFIX = {
    ("FBD", "GE65"): "GFA_",
    ("FBD", "LT65"): "GFN_",
    ("ND_PBD", "GE65"): "GNPA_",
    ("ND_PBD", "LT65"): "GNPN_",
}

# CMS removes the renal CCs (dialysis status, chronic kidney disease) for ESRD beneficiaries: the
# model is for people whose kidney failure is the reason they are scored (all their factors are 0).
RENAL_CCS = (134, 135, 136, 137, 138)

# Terms that are not diagnoses or demographic cells: the transplant-month factor and the graft duration,
# partial-dual and long-term-institutional add-ons. Each score gives them the CMS factor of its own
# segment; the explanation names that factor.
KIDNEY_TRANSPLANT = "KIDNEY_TRANSPLANT"
GRAFT_DURATION = "GRAFT_DURATION"
PARTIAL_DUAL_GRAFT = "PARTIAL_DUAL_GRAFT"
INSTITUTIONAL_GRAFT = "INSTITUTIONAL_GRAFT"

# Disease groups and interaction terms of the ESRD V24 model (CMS's V24 groups; "NONAGED" is the
# demographic flag age < 65). HCC85_gRenal_V24 is published with factor 0 in every segment and can
# never fire once the renal CCs are removed, so it is not listed.
INTERACTION_GROUPS: dict[str, tuple[int, ...]] = {
    "CANCER": (8, 9, 10, 11, 12),
    "DIABETES": (17, 18, 19),
    "CARD_RESP_FAIL": (82, 83, 84),
    "CHF": (85,),
    "gCopdCF": (110, 111, 112),
    "gSubUseDs": (54, 55, 56),
    "gPsych": (57, 58, 59, 60),
    "PRESSURE_ULCER": (157, 158, 159),
    "SEPSIS": (2,),
    **{f"HCC{cc}": (cc,) for cc in (6, 34, 39, 46, 47, 57, 77, 79, 96, 110, 114, 161, 176, 188)},
}
INTERACTIONS: dict[str, tuple[str, ...]] = {
    "HCC47_gCancer": ("HCC47", "CANCER"),
    "DIABETES_CHF": ("DIABETES", "CHF"),
    "CHF_gCopdCF": ("CHF", "gCopdCF"),
    "gCopdCF_CARD_RESP_FAIL": ("gCopdCF", "CARD_RESP_FAIL"),
    "HCC85_HCC96": ("CHF", "HCC96"),
    "gSubUseDs_gPsych_V24": ("gSubUseDs", "gPsych"),
    "NONAGED_gSubUseDs_gPsych": ("NONAGED", "gSubUseDs", "gPsych"),
    "SEPSIS_PRESSURE_ULCER_V24": ("SEPSIS", "PRESSURE_ULCER"),
    "SEPSIS_ARTIF_OPENINGS": ("SEPSIS", "HCC188"),
    "ART_OPENINGS_PRESS_ULCER_V24": ("HCC188", "PRESSURE_ULCER"),
    "gCopdCF_ASP_SPEC_B_PNEUM": ("gCopdCF", "HCC114"),
    "ASP_SPEC_B_PNEUM_PRES_ULC_V24": ("HCC114", "PRESSURE_ULCER"),
    "SEPSIS_ASP_SPEC_BACT_PNEUM": ("SEPSIS", "HCC114"),
    "SCHIZOPHRENIA_gCopdCF": ("HCC57", "gCopdCF"),
    "SCHIZOPHRENIA_CHF": ("HCC57", "CHF"),
    "SCHIZOPHRENIA_SEIZURES": ("HCC57", "HCC79"),
    "NONAGED_PRESSURE_ULCER_V24": ("NONAGED", "PRESSURE_ULCER"),
    **{
        f"NONAGED_HCC{cc}": ("NONAGED", f"HCC{cc}" if cc != 85 else "CHF")
        for cc in (6, 34, 39, 46, 77, 85, 110, 161, 176)
    },
}


@dataclass(frozen=True)
class EsrdSegment:
    """One CMS ESRD score variable and how it is computed.

    Attributes
    ----------
    name
        CMS's output name, e.g. ``SCORE_GRAFT_INST_FBD_GE65_DUR10PL``.
    prefix
        Relative-factor prefix whose factors are summed (``DI_``, ``GNE_FBD_``, ...); empty for transplant months.
    add_ons
        Term -> CMS factor added when the member has the term (graft duration, partial dual, institutional,
        transplant month).
    actuarial_adjustment
        CMS factor the new-enrollee graft score is divided by (``ActAdj_DUR4_9``), else ``None``.
    """

    name: str
    prefix: str
    add_ons: tuple[tuple[str, str], ...] = ()
    actuarial_adjustment: str | None = None


def _segments() -> tuple[EsrdSegment, ...]:
    segments = [EsrdSegment(DIALYSIS, "DI_"), EsrdSegment(DIALYSIS_NEW_ENROLLEE, "DNE_")]
    segments += [
        EsrdSegment(
            f"SCORE_TRANSPLANT_KIDNEY_ONLY_{m}M", "", ((KIDNEY_TRANSPLANT, f"TRANSPLANT_KIDNEY_ONLY_{m}M"),)
        )
        for m in TRANSPLANT_MONTHS
    ]
    for dual in DUAL_GROUPS:
        for age in AGE_GROUPS:
            for duration in DURATIONS:
                add_ons = [(GRAFT_DURATION, f"FGC_{age}_{duration}_{dual}")]
                if dual == "ND_PBD":
                    add_ons.append((PARTIAL_DUAL_GRAFT, f"FGC_PBD_{age}_flag"))
                segments.append(
                    EsrdSegment(
                        f"SCORE_G_COMM_{dual}_{age}_{duration}",
                        _COMMUNITY_GRAFT_PREFIX[(dual, age)],
                        tuple(add_ons),
                    )
                )
    for dual in DUAL_GROUPS:
        for age in AGE_GROUPS:
            for duration in DURATIONS:
                add_ons = [(GRAFT_DURATION, f"FGI_{age}_{duration}_{dual}")]
                if dual == "ND_PBD":
                    add_ons.append((PARTIAL_DUAL_GRAFT, f"FGI_PBD_{age}_flag"))
                add_ons.append((INSTITUTIONAL_GRAFT, f"LTI_{age}"))
                segments.append(
                    EsrdSegment(f"SCORE_GRAFT_INST_{dual}_{age}_{duration}", "GI_", tuple(add_ons))
                )
    for age in AGE_GROUPS:
        for duration in DURATIONS:
            for dual in DUAL_GROUPS:
                segments.append(
                    EsrdSegment(
                        f"SCORE_GRAFT_NE_{age}_{duration}_{dual}",
                        f"GNE_{dual}_",
                        ((GRAFT_DURATION, f"FGC_{age}_{duration}_{dual}"),),
                        actuarial_adjustment=f"ActAdj_{duration}",
                    )
                )
    return tuple(segments)


SEGMENTS: tuple[EsrdSegment, ...] = _segments()
SEGMENT_COLUMNS: tuple[str, ...] = tuple(segment.name for segment in SEGMENTS)


def _rows(name: str) -> Iterator[dict[str, str]]:
    with resources.files("apmkit.risk.data").joinpath(name).open("r", encoding="utf-8") as handle:
        yield from csv.DictReader(handle)


def _thousandths(value: str) -> int:
    return int((Decimal(value) * 1000).to_integral_value())


@cache
def relative_factors() -> dict[str, int]:
    """CMS's ESRD V24 relative factors by their published names, in thousandths."""
    return {row["factor"]: _thousandths(row["value"]) for row in _rows("esrd_coefficients.csv")}


@dataclass(frozen=True)
class MappingTables:
    """The diagnosis tables a model shares with the CMS-HCC expressions of :mod:`apmkit.risk.model`.

    ``dx_to_cc``: ``dx_code, cc``; ``edits``: ``dx_code, edit_type, edit_sex, age_min, age_max, action,
    cc_override``; ``hierarchy``: ``parent_cc, child_cc``.
    """

    dx_to_cc: pa.Table
    edits: pa.Table
    hierarchy: pa.Table

    def table(self, name: str) -> ibis.Table:
        """The named table as an ibis in-memory table."""
        return ibis.memtable(getattr(self, name))

    def as_model_tables(self) -> ModelTables:
        """These tables where :func:`~apmkit.risk.model.condition_categories` and the hierarchy step expect
        a :class:`ModelTables`: both read only ``dx_to_cc``, ``edits`` and ``hierarchy`` through ``table()``,
        and the ESRD and RxHCC models have no CMS-HCC coefficient tables to fill the rest with."""
        return cast(ModelTables, self)


def edits_table(rows: list[dict[str, str]]) -> pa.Table:
    """Age/sex edit rows (``dx_code, edit_type, sex, age_min, age_max, action, cc_override``) as a table."""
    return pa.table(
        {
            "dx_code": pa.array([r["dx_code"] for r in rows], pa.string()),
            "edit_type": pa.array([r["edit_type"] for r in rows], pa.string()),
            "edit_sex": pa.array([r["sex"] or None for r in rows], pa.string()),
            "age_min": pa.array([int(r["age_min"]) if r["age_min"] else None for r in rows], pa.int64()),
            "age_max": pa.array([int(r["age_max"]) if r["age_max"] else None for r in rows], pa.int64()),
            "action": pa.array([r["action"] for r in rows], pa.string()),
            "cc_override": pa.array(
                [int(r["cc_override"]) if r["cc_override"] else None for r in rows], pa.int64()
            ),
        }
    )


@dataclass(frozen=True)
class EsrdTables:
    """The ESRD V24 tables of one payment year.

    ``mapping`` holds ``dx_to_cc``, ``edits`` and ``hierarchy`` (:class:`MappingTables`).
    ``coefficients``: ``variable`` plus one int64 column (thousandths) per score variable;
    ``published``: ``segment, variable, label, thousandths`` for every factor a segment really has
    (``label`` is CMS's factor name for the add-on terms, else the variable);
    ``divisors``: ``segment, divisor`` (thousandths; 1000 = none).
    """

    mapping: MappingTables
    coefficients: pa.Table
    published: pa.Table
    divisors: pa.Table
    interaction_factors: pa.Table
    group_members: pa.Table

    def table(self, name: str) -> ibis.Table:
        """The named table as an ibis in-memory table."""
        return ibis.memtable(getattr(self, name))


def _mapping(payment_year: int) -> MappingTables:
    dx_codes: list[str] = []
    ccs: list[int] = []
    for row in _rows("esrd_dx_to_cc.csv"):
        if int(row["first_payment_year"]) <= payment_year <= int(row["last_payment_year"]):
            dx_codes.append(row["dx_code"])
            ccs.append(int(row["cc"]))
    hierarchy_rows = list(_rows("esrd_hierarchies.csv"))
    return MappingTables(
        dx_to_cc=pa.table({"dx_code": pa.array(dx_codes, pa.string()), "cc": pa.array(ccs, pa.int64())}),
        edits=edits_table(list(_rows("esrd_dx_edits.csv"))),
        hierarchy=pa.table(
            {
                "parent_cc": pa.array([int(r["parent_cc"]) for r in hierarchy_rows], pa.int64()),
                "child_cc": pa.array([int(r["child_cc"]) for r in hierarchy_rows], pa.int64()),
            }
        ),
    )


@cache
def esrd_tables(payment_year: int) -> EsrdTables:
    """Load the ESRD V24 tables for ``payment_year`` (cached per process)."""
    check_payment_year(payment_year)
    factors = relative_factors()
    # (segment, variable) -> (label, thousandths)
    entries: dict[tuple[str, str], tuple[str, int]] = {}
    for segment in SEGMENTS:
        if segment.prefix:
            for name, value in factors.items():
                if name.startswith(segment.prefix):
                    variable = name[len(segment.prefix) :]
                    entries[(segment.name, variable)] = (variable, value)
        for term, factor in segment.add_ons:
            entries[(segment.name, term)] = (factor, factors[factor])
    variables = sorted({variable for _, variable in entries})
    columns: dict[str, pa.Array] = {"variable": pa.array(variables, pa.string())}
    for segment in SEGMENTS:
        columns[segment.name] = pa.array(
            [entries.get((segment.name, v), ("", 0))[1] for v in variables], pa.int64()
        )
    keys = sorted(entries)
    published = pa.table(
        {
            "segment": pa.array([k[0] for k in keys], pa.string()),
            "variable": pa.array([k[1] for k in keys], pa.string()),
            "label": pa.array([entries[k][0] for k in keys], pa.string()),
            "thousandths": pa.array([entries[k][1] for k in keys], pa.int64()),
        }
    )
    divisors = pa.table(
        {
            "segment": pa.array([s.name for s in SEGMENTS], pa.string()),
            "divisor": pa.array(
                [factors[s.actuarial_adjustment] if s.actuarial_adjustment else 1000 for s in SEGMENTS],
                pa.int64(),
            ),
        }
    )
    interaction_factors = pa.table(
        {
            "interaction": pa.array([name for name, fs in INTERACTIONS.items() for _ in fs], pa.string()),
            "factor": pa.array([f for fs in INTERACTIONS.values() for f in fs], pa.string()),
            "factor_count": pa.array([len(fs) for fs in INTERACTIONS.values() for _ in fs], pa.int64()),
        }
    )
    group_members = pa.table(
        {
            "factor": pa.array([g for g, ccs in INTERACTION_GROUPS.items() for _ in ccs], pa.string()),
            "cc": pa.array([cc for ccs in INTERACTION_GROUPS.values() for cc in ccs], pa.int64()),
        }
    )
    return EsrdTables(
        mapping=_mapping(payment_year),
        coefficients=pa.table(columns),
        published=published,
        divisors=divisors,
        interaction_factors=interaction_factors,
        group_members=group_members,
    )
