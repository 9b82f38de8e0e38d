"""Spec parsing and the CMS code lists shipped as package data (counted by hand from the eCFR text)."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from apmkit.attribution.codes import mssp_primary_care_codes
from apmkit.attribution.spec import (
    MsspStepwiseSpec,
    PluralitySpec,
    RosterSpec,
    parse_attribution_spec,
    parse_attribution_specs,
)
from apmkit.errors import ConfigurationError

CONTRACT = """
name: Demo ACO agreement
attribution:
  method: mssp_stepwise
  performance_year: 2025
  timing: prospective
  tie_breaks: [highest_allowed]
"""


def test_contract_attribution_section() -> None:
    spec = parse_attribution_spec(yaml.safe_load(CONTRACT))
    assert isinstance(spec, MsspStepwiseSpec)
    assert (spec.performance_year, spec.timing, spec.window_offset_months) == (2025, "prospective", 3)
    # The chain is used as written: lowest_id is not appended (a tie left over assigns no one).
    assert spec.tie_breaks == ("highest_allowed",)


def test_standalone_spec_and_multi_payer_list() -> None:
    specs = parse_attribution_specs(
        [{"method": "plurality", "name": "payer_a", "payer": "A"}, {"method": "roster", "name": "payer_b"}]
    )
    assert [type(s) for s in specs] == [PluralitySpec, RosterSpec]
    with pytest.raises(ConfigurationError, match="distinct name"):
        parse_attribution_specs([{"method": "roster"}, {"method": "roster"}])


def test_errors_name_the_field() -> None:
    with pytest.raises(ConfigurationError, match=r"plurality\.lookback_months"):
        parse_attribution_spec({"method": "plurality", "lookback_months": 99}, source="contract.yaml")
    with pytest.raises(ConfigurationError, match=r"contract\.yaml"):
        parse_attribution_spec({"method": "capitation"}, source="contract.yaml")


def test_contract_spec_composes_the_attribution_section() -> None:
    from apmkit.contracts.spec import domain_spec_adapter

    adapter = domain_spec_adapter("attribution")
    assert adapter is not None
    assert isinstance(adapter.validate_python(yaml.safe_load(CONTRACT)["attribution"]), MsspStepwiseSpec)


def test_specialty_roles_follow_the_regulation() -> None:
    spec = MsspStepwiseSpec()
    # 42 CFR 425.20 (PY2016+): general practice, family practice, internal, pediatric, geriatric medicine.
    assert set(spec.primary_care_physician_specialties) == {"01", "08", "11", "37", "38"}
    # 425.20 "ACO professional": nurse practitioner, clinical nurse specialist, physician assistant.
    assert set(spec.non_physician_specialties) == {"50", "89", "97"}
    # 425.402(c) lists 19 specialties, cardiology (06) first and gynecology/oncology (98) last.
    assert len(spec.specialists) == 19 and {"06", "98"} <= set(spec.specialists)


def test_primary_care_code_counts_per_performance_year() -> None:
    # 425.400(c)(1)(ix) (PY2025+): 97 CPT + 42 HCPCS codes; (viii) (PY2024): 95 CPT + 30 HCPCS.
    assert len(mssp_primary_care_codes(2025)) == 139
    assert len(mssp_primary_care_codes(2024)) == 125
    added_2025 = {"98016", "99452", "G0537", "G0538", "G0539", "G0540", "G0541", "G0542", "G0543", "G0544"}
    assert added_2025 <= {c.code for c in mssp_primary_care_codes(2025)}
    assert not added_2025 & {c.code for c in mssp_primary_care_codes(2024)}


def test_code_conditions() -> None:
    def conditions(year: int) -> dict[str, str]:
        return {c.code: c.condition for c in mssp_primary_care_codes(year)}

    # Home visits needed POS 12 through PY2022 ((iv)-(vi)) and not from PY2023 ((vii)).
    assert conditions(2022)["99341"] == "home_pos_12"
    assert conditions(2023)["99341"] == ""
    assert conditions(2025)["99309"] == "not_in_snf"
    assert conditions(2025)["99497"] == "not_inpatient"
    assert conditions(2025)["99354"] == "with_base_code"
    assert conditions(2025)["G0463"] == "eta_hospital"


def test_covid_phe_codes_follow_the_window() -> None:
    # 425.400(c)(2): telephone E/M 99441-99443 count when the window includes a PHE month.
    with_phe = {c.code for c in mssp_primary_care_codes(2022, dt.date(2021, 1, 1), dt.date(2021, 12, 31))}
    without = {c.code for c in mssp_primary_care_codes(2024, dt.date(2024, 1, 1), dt.date(2024, 12, 31))}
    assert {"99441", "99442", "99443"} <= with_phe
    assert not {"99441", "99442", "99443"} & without
