"""Contract documents: templates load, YAML round-trips, bad contracts are rejected naming field and rule."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from apmkit.contracts import (
    contract_json_schema,
    contract_to_yaml,
    load_template,
    parse_contract,
    template_names,
    template_text,
)
from apmkit.errors import ConfigurationError

SHIPPED = {
    "bpci_advanced",
    "cjr",
    "commercial_capitation",
    "commercial_upside_shared_savings",
    "cpc_plus_track1",
    "cpc_plus_track2",
    "enhancing_oncology_model",
    "oncology_care_model",
    "primary_care_first",
}

MINIMAL = """
id: c1
name: Contract one
components:
{components}
"""


def rejected(components: str, **replace: str) -> str:
    text = MINIMAL.format(components=components)
    for old, new in replace.items():
        text = text.replace(old, new)
    with pytest.raises(ConfigurationError) as info:
        parse_contract(text, "contract.yaml")
    return str(info.value)


def test_all_templates_ship_and_validate() -> None:
    assert set(template_names()) >= SHIPPED
    for name in SHIPPED:
        contract = load_template(name)
        assert contract.components
        # every glide-path period resolves into a valid contract
        for step in contract.glide_path:
            resolved, applied = contract.for_period(step.period)
            assert applied and resolved.id == contract.id


def test_yaml_round_trip_is_exact() -> None:
    for name in SHIPPED:
        contract = load_template(name)
        again = parse_contract(contract_to_yaml(contract), f"{name} round trip")
        assert again == contract


def test_decimals_stay_exact() -> None:
    contract = load_template("oncology_care_model")
    assert str(contract.components[1].discount) == "0.04"  # type: ignore[union-attr]
    cjr = load_template("cjr")
    weights = cjr.components[0]
    assert abs(weights.hospital_weight + weights.regional_weight - 1) < D("1e-30")  # type: ignore[union-attr]


def test_json_schema_describes_components() -> None:
    schema = contract_json_schema()
    text = json.dumps(schema, default=str)
    assert schema["title"] == "apmkit contract"
    for kind in (
        "shared_savings",
        "risk_corridor",
        "capitation",
        "episode_reconciliation",
        "interim_payments",
    ):
        assert f'"{kind}"' in text
    assert "components" in schema["properties"]


def test_unknown_field_is_named() -> None:
    message = rejected("  - {id: cmf, type: care_management_fee, pbpm_by_tier: {t1: 6}, pbpm: 3}")
    assert "contract.yaml: components[0:cmf].pbpm: Extra inputs are not permitted" in message


def test_rate_above_one_is_named() -> None:
    message = rejected(
        "  - {id: seq, type: infrastructure_payment, lump_sum: 1}\n  - {id: s, type: sequestration, rate: 2, applies_to: [seq]}"
    )
    assert "components[1:s].rate: Input should be less than or equal to 1" in message


def test_one_sided_with_loss_terms_names_the_rule() -> None:
    message = rejected(
        """  - id: ss
    type: shared_savings
    terms: {sided: two_sided, minimum_savings_rate: {kind: fixed, rate: 0.02}, max_sharing_rate: 0.5}"""
    )
    assert "components[0:ss].terms: loss_rate is required when sided is two_sided" in message


def test_episode_weights_must_sum_to_one() -> None:
    message = rejected(
        "  - {id: r, type: episode_reconciliation, hospital_weight: 0.5, regional_weight: 0.4, discount: 0.03, "
        "downside: false}"
    )
    assert "hospital_weight 0.5 + regional_weight 0.4 must equal 1" in message


def test_quality_reduction_cannot_exceed_discount() -> None:
    message = rejected(
        "  - {id: r, type: episode_reconciliation, discount: 0.01, downside: false, "
        "quality_bands: [{min_score: 0, reduction: 0.02}]}"
    )
    assert "quality reduction 0.02 exceeds the discount 0.01" in message


def test_two_sided_episode_needs_stop_loss() -> None:
    message = rejected("  - {id: r, type: episode_reconciliation, discount: 0.03}")
    assert "stop_loss is required when downside is true" in message


def test_reference_to_unknown_component() -> None:
    message = rejected("  - {id: s, type: sequestration, rate: 0.02, applies_to: [nothing]}")
    assert "component 's' refers to 'nothing', which is not an earlier component" in message


def test_duplicate_component_id() -> None:
    message = rejected(
        "  - {id: a, type: infrastructure_payment, lump_sum: 1}\n  - {id: a, type: infrastructure_payment, lump_sum: 2}"
    )
    assert "component id 'a' is used twice" in message


def test_unknown_component_type() -> None:
    message = rejected("  - {id: a, type: bonus_pool}")
    assert "components[0:a]" in message and "does not match any of the expected tags" in message


def test_corridor_bands_must_be_contiguous() -> None:
    message = rejected(
        "  - {id: c, type: risk_corridor, gain_bands: [{lower: 0, upper: 0.02, entity_share: 0}, "
        "{lower: 0.03, entity_share: 0.5}]}"
    )
    assert "gain_bands must be contiguous: a band ends at 0.02, the next starts at 0.03" in message


def test_glide_path_field_must_exist() -> None:
    text = MINIMAL.format(components="  - {id: a, type: infrastructure_payment, lump_sum: 1}") + (
        "glide_path:\n  - {period: '2026', set: {a.lumpsum: 5}}\n"
    )
    with pytest.raises(
        ConfigurationError, match=r"glide_path\[0\] sets 'a.lumpsum': 'a' has no field 'lumpsum'"
    ):
        parse_contract(text, "contract.yaml")


def test_glide_path_value_is_validated_for_its_period() -> None:
    text = MINIMAL.format(components="  - {id: s, type: sequestration, rate: 0.02, applies_to: []}")
    with pytest.raises(ConfigurationError, match=r"components\[0:s\]\.applies_to"):
        parse_contract(text, "contract.yaml")


def test_yaml_syntax_error_names_the_line() -> None:
    with pytest.raises(ConfigurationError, match=r"contract.yaml, line 4: not valid YAML"):
        parse_contract("id: x\nname: y\ncomponents: [\n  - : :\n", "contract.yaml")


def test_not_a_mapping() -> None:
    with pytest.raises(ConfigurationError, match="a contract must be a mapping"):
        parse_contract("- 1\n- 2\n", "contract.yaml")


def test_template_text_unknown_name() -> None:
    with pytest.raises(ConfigurationError, match="no contract template 'nope'"):
        template_text("nope")


def test_unverified_parameters_are_declared() -> None:
    # Templates built on secondary-source numbers must say so (they are shown as warnings at settlement).
    for name in ("bpci_advanced", "primary_care_first", "cpc_plus_track2", "enhancing_oncology_model"):
        assert load_template(name).unverified


def test_calendar_year_period_and_named_period() -> None:
    cjr = load_template("cjr")
    assert cjr.period("PY3").start.isoformat() == "2018-01-01"
    assert cjr.period("2030").end.isoformat() == "2030-12-31"
    with pytest.raises(KeyError):
        cjr.period("next year")


def test_domain_sections_are_validated_by_their_packages() -> None:
    from apmkit.contracts.spec import domain_spec_adapter

    text = MINIMAL.format(components="  - {id: a, type: infrastructure_payment, lump_sum: 1}")
    if domain_spec_adapter("attribution") is not None:
        contract = parse_contract(text + "attribution: {method: plurality, level: tin}\n", "contract.yaml")
        assert contract.attribution.method == "plurality"  # type: ignore[union-attr]
        with pytest.raises(ConfigurationError, match=r"contract.yaml: attribution"):
            parse_contract(text + "attribution: {method: astrology}\n", "contract.yaml")
    schema = contract_json_schema()
    for section in ("attribution", "risk_adjustment", "benchmark", "episodes", "quality"):
        if domain_spec_adapter(section) is not None:
            assert "anyOf" in schema["properties"][section]


def test_python_floats_become_exact_decimals_everywhere() -> None:
    from apmkit.contracts import contract_from_data

    contract = contract_from_data(
        {
            "id": "f",
            "name": "floats",
            "components": [{"id": "cmf", "type": "care_management_fee", "pbpm_by_tier": {"t": 40.28}}],
        }
    )
    assert contract.components[0].pbpm_by_tier["t"] == D("40.28")  # type: ignore[union-attr]


def test_whole_dollar_rounding() -> None:
    from apmkit.contracts import contract_from_data
    from apmkit.settlement.engine import settle
    from apmkit.settlement.inputs import EntityInputs

    contract = contract_from_data(
        {
            "id": "r",
            "name": "rounding",
            "rounding": {"money_places": 0},
            "components": [{"id": "cmf", "type": "care_management_fee", "pbpm_by_tier": {"t": "2.50"}}],
        }
    )
    # 3 months x 2.50 = 7.50 -> 8 (half-up to whole dollars as the contract says)
    statement = settle(contract, "2025", [EntityInputs(entity_id="E", months_by_cell={"t": 3})]).statements[0]
    assert statement.net_settlement == D("8")


def test_cjr_calendar_year_applies_only_the_steps_that_started() -> None:
    # --period 2017 is CJR's PY2 (2017-01-01..12-31): the PY2 step applies, PY3-PY4 (2018+) do not.
    cjr = load_template("cjr")
    _, steps = cjr.for_period("2017")
    assert [s.period for s in steps] == ["PY2"]
    _, steps = cjr.for_period("2016")
    assert steps == []


def test_glide_steps_follow_their_periods_dates_not_their_names() -> None:
    periods = "".join(f"  PY{n}: {{start: {2015 + n}-01-01, end: {2015 + n}-12-31}}\n" for n in range(1, 11))
    text = MINIMAL.format(components="  - {id: a, type: infrastructure_payment, lump_sum: 1}") + (
        "periods:\n" + periods + "glide_path:\n"
        "  - {period: PY10, set: {a.lump_sum: 10}}\n"
        "  - {period: PY2, set: {a.lump_sum: 2}}\n"
    )
    contract = parse_contract(text, "c.yaml")
    resolved, steps = contract.for_period("PY9")
    assert [s.period for s in steps] == ["PY2"]
    assert resolved.components[0].lump_sum == 2  # type: ignore[union-attr]
    resolved, steps = contract.for_period("PY10")
    assert [s.period for s in steps] == ["PY2", "PY10"]
    assert resolved.components[0].lump_sum == 10  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("{s.rate: 7}", r"glide_path\[0\] \(period 2026\) makes components"),
        ("{s.applies_to: [nope]}", r"glide_path\[0\] \(period 2026\) makes"),
    ],
)
def test_glide_steps_are_validated_when_the_contract_is_read(setting: str, message: str) -> None:
    text = (
        MINIMAL.format(
            components="  - {id: x, type: infrastructure_payment, lump_sum: 1}\n"
            "  - {id: s, type: sequestration, rate: 0.02, applies_to: [x]}"
        )
        + f"glide_path:\n  - {{period: '2026', set: {setting}}}\n"
    )
    with pytest.raises(ConfigurationError, match=message):
        parse_contract(text, "contract.yaml")


@pytest.mark.parametrize("period", ["0000", "9999", "99999", "PY"])
def test_periods_outside_the_calendar_are_refused_by_name(period: str, tmp_path: Path) -> None:
    # 0000 used to reach date(0, 1, 1) and crash; a period is a named one or a calendar year 1900-2199
    contract = load_template("commercial_upside_shared_savings")
    with pytest.raises(KeyError):
        contract.period(period)
    inputs = tmp_path / "inputs.csv"
    inputs.write_text("entity_id,benchmark,expenditure\nA,100,90\n", encoding="utf-8")
    from apmkit.workspace.run import settle_aggregate

    with pytest.raises(ConfigurationError, match="nor a calendar year"):
        settle_aggregate(contract, period, inputs)
