"""Contracts as documents: YAML text to a validated :class:`Contract` and back, and the JSON Schema.

These functions take and return text; the CLI reads and writes the files. Validation errors become one
:class:`~apmkit.errors.ConfigurationError` that names the document, each field path and the rule broken.
"""

from __future__ import annotations

import json
from decimal import Decimal
from importlib import resources
from typing import Any

import yaml
from pydantic import ValidationError

from apmkit.contracts.spec import DOMAIN_SECTIONS, Contract
from apmkit.documents import parse_yaml
from apmkit.errors import ConfigurationError

TEMPLATE_PACKAGE = "apmkit.contracts.templates"


def _location(loc: tuple[Any, ...], data: Any) -> str:
    """A readable field path; list positions of components also show the component id."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if (
                isinstance(node, list)
                and item < len(node)
                and isinstance(node[item], dict)
                and "id" in node[item]
            ):
                label = f"[{item}:{node[item]['id']}]"
            parts.append(label)
            node = node[item] if isinstance(node, list) and item < len(node) else None
        else:
            key = str(item)
            if "[" in key:
                continue  # pydantic's union-member tag (``function-after[...]``), not a field
            if isinstance(node, dict) and key in node:
                node = node[key]
                parts.append(("." if parts else "") + key)
            elif isinstance(node, dict) and node.get("type") == key:
                # pydantic adds the discriminator tag as a path step; it is not a field
                continue
            else:
                node = None
                parts.append(("." if parts else "") + key)
    return "".join(parts) or "(document)"


def format_validation_error(error: ValidationError, data: Any, source: str) -> str:
    """One line per broken rule: ``source: field.path: message``."""
    lines = []
    problems = error.errors(include_url=False, include_input=False)
    # a model-or-REQUIRED field reports the marker's mismatch too: show the model's problems only
    tagged = [p for p in problems if not any(str(part).startswith("literal[") for part in p["loc"])]
    for problem in tagged or problems:
        where = _location(tuple(problem["loc"]), data)
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{source}: {where}: {message}")
    return "\n".join(lines)


def parse_contract(text: str, source: str = "<contract>") -> Contract:
    """Validate a contract given as YAML (or JSON) text.

    Raises
    ------
    ConfigurationError
        The text is not YAML, not a mapping, or breaks a rule; the message lists every problem with its field.
    """
    data = parse_yaml(text, source)
    return contract_from_data(data, source)


def contract_from_data(data: Any, source: str = "<contract>") -> Contract:
    """Validate a contract given as Python data (the parsed YAML)."""
    if not isinstance(data, dict):
        raise ConfigurationError(
            f"{source}: a contract must be a mapping of fields, got {type(data).__name__}"
        )
    try:
        return Contract.model_validate(data)
    except ValidationError as exc:
        raise ConfigurationError(format_validation_error(exc, data, source)) from exc


class _DecimalDumper(yaml.SafeDumper):
    """YAML dumper that writes decimals as exact numbers (read back as Decimal by the loader)."""

    def ignore_aliases(self, data: object) -> bool:
        return True  # the contract reader refuses aliases: write every value out


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:float", str(value))


_DecimalDumper.add_representer(Decimal, _represent_decimal)


def contract_to_yaml(contract: Contract) -> str:
    """The contract as YAML (defaults left out); decimals are written as their exact text."""
    data = json.loads(contract.model_dump_json(exclude_defaults=True))
    # ``type`` has a default on each component class but is the discriminator: it must be written.
    data["components"] = [
        {"id": written.pop("id"), "type": component.type, **written}
        for written, component in zip(data["components"], contract.components, strict=True)
    ]
    for section in DOMAIN_SECTIONS:
        # domain sections as the document gave them: their discriminators (``method``) have defaults too
        value = getattr(contract, section)
        if value is not None:
            data[section] = json.loads(value.model_dump_json(exclude_unset=True))
    if contract.glide_path:
        # glide-path values are free-form: keep their Python types (Decimal) rather than JSON strings
        data["glide_path"] = [{"period": step.period, "set": dict(step.set)} for step in contract.glide_path]
    return yaml.dump(data, Dumper=_DecimalDumper, sort_keys=False, allow_unicode=True)


def contract_json_schema() -> dict[str, Any]:
    """JSON Schema of the contract document, for editors (e.g. YAML language servers)."""
    schema = Contract.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://apmkit.dev/schemas/contract-v1.json"
    schema["title"] = "apmkit contract"
    return schema


def template_names() -> list[str]:
    """Names of the contract templates shipped with apmkit (file names without ``.yaml``)."""
    folder = resources.files(TEMPLATE_PACKAGE)
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def template_text(name: str) -> str:
    """The YAML text of a shipped template."""
    if name not in template_names():
        raise ConfigurationError(
            f"no contract template {name!r}; choose one of {', '.join(template_names())}"
        )
    return resources.files(TEMPLATE_PACKAGE).joinpath(f"{name}.yaml").read_text(encoding="utf-8")


def load_template(name: str) -> Contract:
    """A shipped template, validated."""
    return parse_contract(template_text(name), source=f"template {name}")
