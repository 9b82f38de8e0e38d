"""CMS-HCC reference tables shipped as package data (see ``data/SOURCES.md`` for provenance).

Each loader returns an ibis in-memory table, so the same expression joins it to member data on DuckDB
and on PySpark. Coefficients are carried as integer thousandths: CMS publishes them to 3 decimals, so
every raw score is an exact integer sum and no float ever rounds a score.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources

import ibis
import pyarrow as pa

from apmkit.errors import ConfigurationError
from apmkit.risk.spec import HccModel

SUPPORTED_PAYMENT_YEARS = (2024, 2025, 2026, 2027)

# CMS's output names for the nine segments, in the order the software writes them, with the
# coefficient prefix each one reads (CMS-HCC V24 and V28 share the prefixes).
SEGMENTS: dict[str, str] = {
    "COMMUNITY_NA": "CNA",
    "COMMUNITY_ND": "CND",
    "COMMUNITY_FBA": "CFA",
    "COMMUNITY_FBD": "CFD",
    "COMMUNITY_PBA": "CPA",
    "COMMUNITY_PBD": "CPD",
    "INSTITUTIONAL": "INS",
    "NEW_ENROLLEE": "NE",
    "SNP_NEW_ENROLLEE": "SNPNE",
}

# CMS 2-digit Medicare-Medicaid dual status codes (MMR / MBSF): full-benefit and partial-benefit duals.
FULL_BENEFIT_DUAL_CODES = ("02", "04", "08")
PARTIAL_BENEFIT_DUAL_CODES = ("01", "03", "05", "06")

# Groups of payment HCCs and demographic flags that interaction terms multiply, by model. From the
# CMS-HCC software's interaction definitions (V24: 2020 CMS-HCC model; V28: 2024 CMS-HCC model).
# "DISABLED" is the demographic flag (age < 65 and OREC != 0), not an HCC group.
_V28_GROUPS: dict[str, tuple[int, ...]] = {
    "CANCER_V28": (17, 18, 19, 20, 21, 22, 23),
    "DIABETES_V28": (35, 36, 37, 38),
    "CARD_RESP_FAIL_V28": (211, 212, 213),
    "HF_V28": (221, 222, 223, 224, 225, 226),
    "CHR_LUNG_V28": (276, 277, 278, 279, 280),
    "KIDNEY_V28": (326, 327, 328, 329),
    "gSubUseDisorder_V28": (135, 136, 137, 138, 139),
    "gPsychiatric_V28": (151, 152, 153, 154, 155),
    "NEURO_V28": (180, 181, 182, 190, 191, 192, 195, 196, 198, 199),
    "ULCER_V28": (379, 380, 381, 382),
    "HCC238": (238,),
}
_V28_INTERACTIONS: dict[str, tuple[str, ...]] = {
    "DIABETES_HF_V28": ("DIABETES_V28", "HF_V28"),
    "HF_CHR_LUNG_V28": ("HF_V28", "CHR_LUNG_V28"),
    "HF_KIDNEY_V28": ("HF_V28", "KIDNEY_V28"),
    "CHR_LUNG_CARD_RESP_FAIL_V28": ("CHR_LUNG_V28", "CARD_RESP_FAIL_V28"),
    "HF_HCC238_V28": ("HF_V28", "HCC238"),
    "gSubUseDisorder_gPsych_V28": ("gSubUseDisorder_V28", "gPsychiatric_V28"),
    "DISABLED_CANCER_V28": ("DISABLED", "CANCER_V28"),
    "DISABLED_NEURO_V28": ("DISABLED", "NEURO_V28"),
    "DISABLED_HF_V28": ("DISABLED", "HF_V28"),
    "DISABLED_CHR_LUNG_V28": ("DISABLED", "CHR_LUNG_V28"),
    "DISABLED_ULCER_V28": ("DISABLED", "ULCER_V28"),
}
_V24_GROUPS: dict[str, tuple[int, ...]] = {
    "CANCER": (8, 9, 10, 11, 12),
    "DIABETES": (17, 18, 19),
    "CARD_RESP_FAIL": (82, 83, 84),
    "CHF": (85,),
    "gCopdCF": (110, 111, 112),
    "RENAL_V24": (134, 135, 136, 137, 138),
    "SEPSIS": (2,),
    "gSubstanceUseDisorder_V24": (54, 55, 56),
    "gPsychiatric_V24": (57, 58, 59, 60),
    "PRESSURE_ULCER": (157, 158, 159),
    "HCC6": (6,),
    "HCC39": (39,),
    "HCC47": (47,),
    "HCC57": (57,),
    "HCC77": (77,),
    "HCC79": (79,),
    "HCC96": (96,),
    "HCC114": (114,),
    "HCC161": (161,),
    "HCC188": (188,),
}
_V24_INTERACTIONS: dict[str, tuple[str, ...]] = {
    "HCC47_gCancer": ("HCC47", "CANCER"),
    "DIABETES_CHF": ("DIABETES", "CHF"),
    "CHF_gCopdCF": ("CHF", "gCopdCF"),
    "HCC85_gRenal_V24": ("CHF", "RENAL_V24"),
    "gCopdCF_CARD_RESP_FAIL": ("gCopdCF", "CARD_RESP_FAIL"),
    "HCC85_HCC96": ("CHF", "HCC96"),
    "gSubstanceUseDisorder_gPsych": ("gSubstanceUseDisorder_V24", "gPsychiatric_V24"),
    "SEPSIS_PRESSURE_ULCER": ("SEPSIS", "PRESSURE_ULCER"),
    "SEPSIS_ARTIF_OPENINGS": ("SEPSIS", "HCC188"),
    "ART_OPENINGS_PRESS_ULCER": ("HCC188", "PRESSURE_ULCER"),
    "gCopdCF_ASP_SPEC_B_PNEUM": ("gCopdCF", "HCC114"),
    "ASP_SPEC_B_PNEUM_PRES_ULC": ("HCC114", "PRESSURE_ULCER"),
    "SEPSIS_ASP_SPEC_BACT_PNEUM": ("SEPSIS", "HCC114"),
    "SCHIZOPHRENIA_gCopdCF": ("HCC57", "gCopdCF"),
    "SCHIZOPHRENIA_CHF": ("HCC57", "CHF"),
    "SCHIZOPHRENIA_SEIZURES": ("HCC57", "HCC79"),
    "DISABLED_HCC85": ("DISABLED", "CHF"),
    "DISABLED_PRESSURE_ULCER": ("DISABLED", "PRESSURE_ULCER"),
    "DISABLED_HCC161": ("DISABLED", "HCC161"),
    "DISABLED_HCC39": ("DISABLED", "HCC39"),
    "DISABLED_HCC77": ("DISABLED", "HCC77"),
    "DISABLED_HCC6": ("DISABLED", "HCC6"),
}
INTERACTION_GROUPS = {HccModel.V24: _V24_GROUPS, HccModel.V28: _V28_GROUPS}
INTERACTIONS = {HccModel.V24: _V24_INTERACTIONS, HccModel.V28: _V28_INTERACTIONS}

# V28 software recodes HCC 223 (heart assist device / artificial heart) away unless the member also
# has another heart-failure HCC (221, 222, 224, 225 or 226) before hierarchies are imposed.
CONDITIONAL_HCCS: dict[HccModel, dict[int, tuple[int, ...]]] = {
    HccModel.V24: {},
    HccModel.V28: {223: (221, 222, 224, 225, 226)},
}

# Normalization factors CMS announced, by model and payment year, shipped only where checked against a
# CMS-derived source (PY2024, docs/reference/methodology.md §7). The PY2025-2027 CMS-HCC factors circulating in third-party
# code (V24 2025 1.153; V28 2025 1.045, 2026 1.067, 2027 1.079) are NOT shipped: until they are confirmed from
# CMS's Rate Announcements, a caller who normalizes those years must give the factor (fail closed, issue 15).
NORMALIZATION_FACTORS: dict[tuple[HccModel, int], tuple[Decimal, bool]] = {
    (HccModel.V24, 2024): (Decimal("1.146"), True),
    (HccModel.V28, 2024): (Decimal("1.015"), True),
}
# MA coding-pattern adjustment: the statutory minimum 5.9%, unchanged through CY2027.
MA_CODING_INTENSITY = Decimal("0.059")
# Phase-in of the 2024 CMS-HCC model (V28) for non-PACE MA plans.
PAYMENT_YEAR_BLENDS: dict[int, tuple[tuple[HccModel, Decimal], ...]] = {
    2024: ((HccModel.V24, Decimal("0.67")), (HccModel.V28, Decimal("0.33"))),
    2025: ((HccModel.V24, Decimal("0.33")), (HccModel.V28, Decimal("0.67"))),
    2026: ((HccModel.V28, Decimal("1")),),
    2027: ((HccModel.V28, Decimal("1")),),
}


def _rows(name: str) -> Iterator[dict[str, str]]:
    with resources.files("apmkit.risk.data").joinpath(name).open("r", encoding="utf-8") as handle:
        yield from csv.DictReader(handle)


def _thousandths(value: str) -> int:
    return int((Decimal(value) * 1000).to_integral_value())


def check_payment_year(payment_year: int) -> None:
    if payment_year not in SUPPORTED_PAYMENT_YEARS:
        years = ", ".join(str(y) for y in SUPPORTED_PAYMENT_YEARS)
        raise ConfigurationError(f"payment year {payment_year} is not supported (choose one of {years})")


@dataclass(frozen=True)
class ModelTables:
    """The reference tables of one model and payment year, as Arrow (converted to ibis on demand)."""

    model: HccModel
    payment_year: int
    dx_to_cc: pa.Table  # dx_code, cc
    edits: pa.Table  # dx_code, edit_type, sex, age_min, age_max, action, cc_override
    hierarchy: pa.Table  # parent_cc, child_cc
    coefficients: pa.Table  # variable, variable_id (row index), one int64 column (thousandths) per segment
    coefficient_presence: pa.Table  # segment, variable: the coefficients published (some are 0)
    interaction_factors: pa.Table  # interaction, factor, factor_count
    group_members: pa.Table  # factor, cc
    conditional_hccs: pa.Table  # cc, requires_cc
    # cc, one int64 column per segment (thousandths), group_bits (bit k: the k-th interaction group)
    hcc_terms: pa.Table

    def table(self, name: str) -> ibis.Table:
        """The named reference table as an ibis in-memory table."""
        return ibis.memtable(getattr(self, name))

    @property
    def interaction_groups(self) -> tuple[str, ...]:
        """Names of the HCC groups the model's interaction terms combine, in the order of their bits in
        ``hcc_terms.group_bits``."""
        return tuple(INTERACTION_GROUPS[self.model])

    @property
    def interactions(self) -> dict[str, tuple[str, ...]]:
        """Interaction term -> the groups (or ``DISABLED``) that must all be present."""
        return INTERACTIONS[self.model]

    def coefficient_values(self) -> dict[str, dict[str, int]]:
        """Variable -> segment column -> coefficient in thousandths (0 where the segment has none)."""
        columns = self.coefficients.to_pydict()
        return {
            variable: {segment: columns[segment][i] for segment in SEGMENTS}
            for i, variable in enumerate(columns["variable"])
        }


@cache
def model_tables(model: HccModel, payment_year: int) -> ModelTables:
    """Load the reference tables of ``model`` for ``payment_year`` (cached per process)."""
    check_payment_year(payment_year)
    model = HccModel(model)
    dx_codes: list[str] = []
    ccs: list[int] = []
    for row in _rows("dx_to_cc.csv"):
        if row["model"] == model and int(row["first_payment_year"]) <= payment_year <= int(
            row["last_payment_year"]
        ):
            dx_codes.append(row["dx_code"])
            ccs.append(int(row["cc"]))
    dx_to_cc = pa.table({"dx_code": pa.array(dx_codes, pa.string()), "cc": pa.array(ccs, pa.int64())})

    edit_rows = [row for row in _rows("dx_edits.csv") if row["model"] == model]
    edits = pa.table(
        {
            "dx_code": pa.array([r["dx_code"] for r in edit_rows], pa.string()),
            "edit_type": pa.array([r["edit_type"] for r in edit_rows], pa.string()),
            "edit_sex": pa.array([r["sex"] or None for r in edit_rows], pa.string()),
            "age_min": pa.array([int(r["age_min"]) if r["age_min"] else None for r in edit_rows], pa.int64()),
            "age_max": pa.array([int(r["age_max"]) if r["age_max"] else None for r in edit_rows], pa.int64()),
            "action": pa.array([r["action"] for r in edit_rows], pa.string()),
            "cc_override": pa.array(
                [int(r["cc_override"]) if r["cc_override"] else None for r in edit_rows], pa.int64()
            ),
        }
    )

    hierarchy_rows = [row for row in _rows("hierarchies.csv") if row["model"] == model]
    hierarchy = pa.table(
        {
            "parent_cc": pa.array([int(r["parent_cc"]) for r in hierarchy_rows], pa.int64()),
            "child_cc": pa.array([int(r["child_cc"]) for r in hierarchy_rows], pa.int64()),
        }
    )

    wide: dict[str, dict[str, int]] = {}
    for row in _rows("coefficients.csv"):
        if row["model"] == model:
            wide.setdefault(row["variable"], {})[row["segment"]] = _thousandths(row["value"])
    variables = sorted(wide)
    columns: dict[str, pa.Array] = {
        "variable": pa.array(variables, pa.string()),
        "variable_id": pa.array(range(len(variables)), pa.int64()),
    }
    for segment, prefix in SEGMENTS.items():
        columns[segment] = pa.array([wide[v].get(prefix, 0) for v in variables], pa.int64())
    coefficients = pa.table(columns)
    prefix_segment = {prefix: segment for segment, prefix in SEGMENTS.items()}
    pairs = sorted(
        (prefix_segment[p], v) for v, by_prefix in wide.items() for p in by_prefix if p in prefix_segment
    )
    coefficient_presence = pa.table(
        {
            "segment": pa.array([p[0] for p in pairs], pa.string()),
            "variable": pa.array([p[1] for p in pairs], pa.string()),
        }
    )

    interactions = INTERACTIONS[model]
    interaction_factors = pa.table(
        {
            "interaction": pa.array([name for name, fs in interactions.items() for _ in fs], pa.string()),
            "factor": pa.array([f for fs in interactions.values() for f in fs], pa.string()),
            "factor_count": pa.array([len(fs) for fs in interactions.values() for _ in fs], pa.int64()),
        }
    )
    groups = INTERACTION_GROUPS[model]
    group_members = pa.table(
        {
            "factor": pa.array([g for g, members in groups.items() for _ in members], pa.string()),
            "cc": pa.array([cc for members in groups.values() for cc in members], pa.int64()),
        }
    )
    conditional = CONDITIONAL_HCCS[model]
    conditional_hccs = pa.table(
        {
            "cc": pa.array([cc for cc, req in conditional.items() for _ in req], pa.int64()),
            "requires_cc": pa.array([r for req in conditional.values() for r in req], pa.int64()),
        }
    )
    return ModelTables(
        hcc_terms=_hcc_terms(coefficients, groups),
        model=model,
        payment_year=payment_year,
        dx_to_cc=dx_to_cc,
        edits=edits,
        hierarchy=hierarchy,
        coefficients=coefficients,
        coefficient_presence=coefficient_presence,
        interaction_factors=interaction_factors,
        group_members=group_members,
        conditional_hccs=conditional_hccs,
    )


def _hcc_terms(coefficients: pa.Table, groups: dict[str, tuple[int, ...]]) -> pa.Table:
    """One row per HCC with a coefficient: its coefficients and the interaction groups it belongs to."""
    columns = coefficients.to_pydict()
    rows = [i for i, variable in enumerate(columns["variable"]) if re.fullmatch(r"HCC[0-9]+", variable)]
    ccs = [int(columns["variable"][i][3:]) for i in rows]
    table: dict[str, pa.Array] = {"cc": pa.array(ccs, pa.int64())}
    for segment in SEGMENTS:
        table[segment] = pa.array([columns[segment][i] for i in rows], pa.int64())
    # One bit per group, in the order of ``groups`` (bit k = the k-th group), OR-ed per member later.
    bits = [sum(1 << k for k, members in enumerate(groups.values()) if cc in members) for cc in ccs]
    table["group_bits"] = pa.array(bits, pa.int64())
    return pa.table(table)


@cache
def eligible_cpt_hcpcs(service_year: int) -> pa.Table:
    """CPT/HCPCS codes whose encounters are risk-adjustment eligible in ``service_year`` (column ``hcpcs_code``)."""
    codes = [
        row["hcpcs_code"]
        for row in _rows("eligible_cpt_hcpcs.csv")
        if int(row["first_service_year"]) <= service_year <= int(row["last_service_year"])
    ]
    if not codes:
        raise ConfigurationError(
            f"no risk-adjustment eligible CPT/HCPCS list for service year {service_year}"
        )
    return pa.table({"hcpcs_code": pa.array(codes, pa.string())})


def normalization_factor(model: HccModel, payment_year: int) -> Decimal:
    """The normalization factor CMS announced for ``model`` in ``payment_year`` (only factors checked against
    CMS are shipped; any other year is an error asking for the factor)."""
    chosen = HccModel(model)
    published = NORMALIZATION_FACTORS.get((chosen, payment_year))
    if published is None or not published[1]:
        raise ConfigurationError(
            f"no published normalization factor for {chosen.value} in {payment_year} shipped (none checked "
            f"against CMS's CY{payment_year} Rate Announcement yet): pass one explicitly"
        )
    return published[0]
