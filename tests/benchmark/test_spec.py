"""Spec loading: contract sections, standalone specs, and errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from apmkit.benchmark.spec import BenchmarkSpec, parse_spec_section
from apmkit.cli.episodes import build_spec
from apmkit.errors import ConfigurationError

GENERAL = {"method": "general", "general": {"base_years": [2022, 2023], "performance_year": 2024}}


def test_contract_section_and_standalone_spec_are_equivalent() -> None:
    from_contract = parse_spec_section(
        {"benchmark": GENERAL, "name": "x"}, "c.yaml", "benchmark", BenchmarkSpec
    )
    standalone = parse_spec_section(GENERAL, "s.yaml", "benchmark", BenchmarkSpec)
    assert from_contract == standalone


def test_missing_method_section_is_reported() -> None:
    with pytest.raises(ConfigurationError, match=r"c\.yaml, field benchmark: .*needs a general: section"):
        parse_spec_section({"benchmark": {"method": "general"}}, "c.yaml", "benchmark", BenchmarkSpec)


def test_weights_must_sum_to_one() -> None:
    bad = {"method": "general", "general": {**GENERAL["general"], "base_year_weights": ["0.5", "0.6"]}}
    with pytest.raises(ConfigurationError, match="must sum to 1"):
        parse_spec_section(bad, "c.yaml", "benchmark", BenchmarkSpec)


def test_episode_definitions_from_a_yaml_list(tmp_path: Path) -> None:
    path = tmp_path / "defs.yaml"
    path.write_text(
        yaml.safe_dump([{"episode_id": "HF", "trigger_ms_drgs": ["291", "292"], "post_anchor_days": 30}])
    )
    spec = build_spec(str(path))
    assert spec.definitions is not None
    assert spec.definitions[0].post_anchor_days == 30
    path.write_text(yaml.safe_dump([{"episode_id": "HF", "setting": "outpatient"}]))
    with pytest.raises(ConfigurationError, match=r"defs\.yaml, field episodes\.build\.definitions\.0"):
        build_spec(str(path))
