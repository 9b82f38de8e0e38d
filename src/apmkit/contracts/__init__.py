"""Contracts as code: a declarative, versioned contract document validated into frozen pydantic models."""

from apmkit.contracts.components import COMPONENT_TYPES, Component
from apmkit.contracts.document import (
    contract_from_data,
    contract_json_schema,
    contract_to_yaml,
    load_template,
    parse_contract,
    template_names,
    template_text,
)
from apmkit.contracts.spec import Contract, Period

__all__ = [
    "COMPONENT_TYPES",
    "Component",
    "Contract",
    "Period",
    "contract_from_data",
    "contract_json_schema",
    "contract_to_yaml",
    "load_template",
    "parse_contract",
    "template_names",
    "template_text",
]
