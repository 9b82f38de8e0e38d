"""HCP-LAN category of every shipped template and of hand-built contracts for every category.

Expected categories come from the HCP-LAN 2017 framework definitions (HL7 Da Vinci VBPR code system
``hcp-lan-apm-framework``, docs/reference/methodology.md §6) applied to each model's published payment terms, not from
the classifier's output.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apmkit.classify import CATEGORY_ORDER, classify_lan, glide_path_stages
from apmkit.contracts import contract_from_data, load_template, template_names

# template -> (expected category, why under the LAN definitions)
TEMPLATES: dict[str, tuple[str, str]] = {
    "mssp_track1": ("3A", "one-sided shared savings scaled by quality"),
    "mssp_basic_a": ("3A", "one-sided shared savings with a quality standard"),
    "mssp_basic_b": ("3A", "one-sided shared savings with a quality standard"),
    "mssp_basic_c": ("3B", "shared losses (downside) with quality"),
    "mssp_basic_d": ("3B", "shared losses (downside) with quality"),
    "mssp_basic_e": ("3B", "shared losses (downside) with quality"),
    "mssp_enhanced": ("3B", "shared losses (downside) with quality"),
    "mssp_track2": ("3B", "shared losses (downside) with quality"),
    "mssp_track3": ("3B", "shared losses (downside) with quality"),
    "commercial_upside_shared_savings": ("3A", "upside-only shared savings plus pay for reporting"),
    "bpci_advanced": ("3B", "episode payment with repayment (stop-loss 20 %) and a CQS adjustment"),
    "cjr": ("3A", "performance year 1 (2016) had no repayment; quality bands adjust the discount"),
    "cpc_plus_track1": ("2C", "care management fees (2A) plus a performance-based incentive (2C)"),
    "cpc_plus_track2": ("2C", "care management fees (2A) plus a performance-based incentive (2C)"),
    "primary_care_first": ("4A", "prospective population-based payment for primary care with a PBA"),
    "commercial_capitation": ("4B", "capitation of professional + institutional services, quality withhold"),
    # OCM (performance multiplier) and EOM (quality reduces payment or recoupment) adjust the performance-based
    # payment by quality; the share is a REQUIRED term of the templates, the link to quality is there.
    "oncology_care_model": ("3A", "one-sided target-price reconciliation adjusted by quality"),
    "enhancing_oncology_model": ("3B", "two-sided target-price reconciliation adjusted by quality"),
}


def test_every_shipped_template_is_listed() -> None:
    assert set(TEMPLATES) == set(template_names())


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_template_category(name: str) -> None:
    expected, _why = TEMPLATES[name]
    result = classify_lan(load_template(name))
    assert result.category == expected
    assert result.deciding_component is not None
    assert result.rule.startswith(expected)


def test_cjr_glide_path_moves_to_downside() -> None:
    """CJR: no repayment in PY1; repayment responsibility from PY2 (2017) on -> 3B."""
    stages = dict(glide_path_stages(load_template("cjr")))
    assert stages[None] == "3A"
    assert stages["PY2"] == "3B"
    assert classify_lan(load_template("cjr"), "PY3").category == "3B"


def test_declared_category_disagreement_is_reported() -> None:
    contract = load_template("oncology_care_model").model_copy(update={"hcp_lan_category": "3N"})
    result = classify_lan(contract)
    assert result.declared == "3N"
    assert result.agrees_with_declared is False
    assert any("declares 3N" in note for note in result.notes)


# ---- hand-built contracts --------------------------------------------------------------------------------

SHARED_SAVINGS_TERMS: dict[str, Any] = {
    "sided": "one_sided",
    "minimum_savings_rate": {"kind": "fixed", "rate": 0.02},
    "max_sharing_rate": 0.5,
}
COMPONENTS: dict[str, dict[str, Any]] = {
    "infrastructure": {"id": "infra", "type": "infrastructure_payment", "pbpm": 5},
    "cmf": {"id": "cmf", "type": "care_management_fee", "pbpm_by_tier": {"t1": 6}},
    "p4r": {"id": "p4r", "type": "pay_for_reporting", "bonus_pbpm": 1},
    "p4p": {"id": "p4p", "type": "pay_for_performance", "pbpm_by_score": [{"min_score": 0, "value": 0}]},
    "withhold": {
        "id": "withhold",
        "type": "withhold",
        "withhold_rate": 0.05,
        "returned_by_score": [{"min_score": 0, "value": 1}],
    },
    "ss_upside_quality": {
        "id": "ss",
        "type": "shared_savings",
        "terms": {**SHARED_SAVINGS_TERMS, "quality": {"method": "scale"}},
    },
    "ss_upside_plain": {"id": "ss", "type": "shared_savings", "terms": SHARED_SAVINGS_TERMS},
    "ss_two_sided_plain": {
        "id": "ss",
        "type": "shared_savings",
        "terms": {
            **SHARED_SAVINGS_TERMS,
            "sided": "two_sided",
            "loss_rate": {"method": "fixed", "rate": 0.3},
        },
    },
    "ss_two_sided_quality": {
        "id": "ss",
        "type": "shared_savings",
        "terms": {
            **SHARED_SAVINGS_TERMS,
            "sided": "two_sided",
            "loss_rate": {"method": "fixed", "rate": 0.3},
            "quality": {"method": "gate"},
        },
    },
    "corridor_two_sided": {
        "id": "corridor",
        "type": "risk_corridor",
        "gain_bands": [{"lower": 0, "upper": 0.05, "entity_share": 0.5}],
    },
    "bundle": {"id": "bundle", "type": "prospective_bundle", "bundle_price": 25000},
    "pbp": {"id": "pbp", "type": "population_based_payment", "pbpm_by_risk_group": {"g1": 28}},
    "capitation_full": {"id": "cap", "type": "capitation", "default_pmpm": 400},
    "interim": {"id": "interim", "type": "interim_payments"},
}


def _contract(*names: str, entity_type: str = "aco") -> Any:
    return contract_from_data(
        {
            "id": "hand_built",
            "name": "hand built",
            "entity_type": entity_type,
            "components": [COMPONENTS[n] for n in names],
        }
    )


@pytest.mark.parametrize(
    ("components", "entity_type", "expected"),
    [
        (("interim",), "aco", "1"),  # no payment model at all: FFS
        (("infrastructure",), "practice", "2A"),
        (("cmf",), "practice", "2A"),
        (("cmf", "p4r"), "practice", "2B"),
        (("cmf", "p4r", "p4p"), "practice", "2C"),
        (("withhold",), "practice", "2C"),
        (("ss_upside_quality",), "aco", "3A"),
        (("ss_upside_plain", "p4p"), "aco", "3A"),  # quality linked through another component
        (("ss_two_sided_quality",), "aco", "3B"),
        (("corridor_two_sided", "p4p"), "aco", "3B"),
        (("bundle", "p4p"), "hospital", "3B"),
        (("ss_upside_plain",), "aco", "3N"),
        (("ss_two_sided_plain",), "aco", "3N"),
        (("infrastructure", "ss_two_sided_plain"), "aco", "3N"),
        (("pbp", "p4p"), "practice", "4A"),
        (("capitation_full", "withhold"), "provider_group", "4B"),
        (("capitation_full", "withhold"), "health_system", "4C"),
        (("capitation_full",), "provider_group", "4N"),
        (("pbp",), "practice", "4N"),
        (("cmf", "p4p", "ss_two_sided_quality", "capitation_full"), "aco", "4B"),  # most advanced wins
    ],
)
def test_hand_built_category(components: tuple[str, ...], entity_type: str, expected: str) -> None:
    result = classify_lan(_contract(*components, entity_type=entity_type))
    assert result.category == expected
    assert len(result.components) == len(components)


def test_administrative_components_are_not_considered() -> None:
    result = classify_lan(_contract("interim"))
    assert result.components[0].category is None
    assert result.deciding_component is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(sorted(COMPONENTS)), min_size=1, max_size=4, unique=True), st.data())
def test_adding_a_component_never_lowers_the_category(names: list[str], data: st.DataObject) -> None:
    """Most advanced category wins: with a quality link fixed, a superset of components ranks at least as high."""
    ids = {COMPONENTS[n]["id"] for n in names}
    if len(ids) < len(names):
        return
    base = [*names, "p4p"] if "p4p" not in names else names
    extra = data.draw(st.sampled_from(sorted(set(COMPONENTS) - set(base))))
    if COMPONENTS[extra]["id"] in {COMPONENTS[n]["id"] for n in base}:
        return
    before = classify_lan(_contract(*base)).category
    after = classify_lan(_contract(*base, extra)).category
    assert CATEGORY_ORDER.index(after) >= CATEGORY_ORDER.index(before)
