"""The base of every spec model (contracts, spending definitions): frozen, strict about unknown keys, floats read
as exact decimals, and every number finite and bounded, so a bad value fails validation naming its field
instead of failing later in the arithmetic."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from apmkit.money import to_decimal

NUMBER_LIMIT = Decimal(10) ** 15
"""Every number in a contract is finite and smaller than this in magnitude (a quadrillion: far above any
real amount, far below what exact cents arithmetic in 38-digit decimals can carry)."""

NUMBER_RULE = "must be a finite number smaller than 10^15 in magnitude"


# YAML 1.1 reads ``1e+999999999`` (no decimal point) as text; pydantic would still take it as a number.
_NUMERIC_TEXT = re.compile(r"[-+]?(\d[\d_]*\.?\d*|\.\d+)[eE][-+]?\d+")


def out_of_range(value: Any) -> bool:
    """Is ``value`` a number (or the text of one) that a contract may not hold?"""
    if isinstance(value, bool):
        return False
    if isinstance(value, float | int):
        value = to_decimal(value)
    elif isinstance(value, str) and _NUMERIC_TEXT.fullmatch(value.strip()):
        value = Decimal(value.strip().replace("_", ""))
    if not isinstance(value, Decimal):
        return False
    return not value.is_finite() or value.copy_abs() >= NUMBER_LIMIT  # copy_abs: no context, no Overflow


def check_number(value: Decimal) -> Decimal:
    """``value`` when finite and bounded; else ValueError with the rule."""
    if out_of_range(value):
        raise ValueError(NUMBER_RULE)
    return value


class SpecModel(BaseModel):
    """Base of every spec model: frozen, strict about unknown keys, floats read as exact decimals."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _floats_to_decimal(cls, data: Any) -> Any:
        if isinstance(data, dict):
            converted = {key: _convert(value) for key, value in data.items()}
            _check_numbers(converted)
            return converted
        return data


def _check_numbers(data: dict[Any, Any]) -> None:
    """Reject NaN, infinities and huge numbers among a model's own values (and lists of numbers).

    Every contract model runs this on its own fields, so a field typed plain ``Decimal`` anywhere in the
    contract (or an integer such as ``1e+999999999`` read from YAML) fails validation with a message naming
    the field instead of failing later in the arithmetic.
    """
    for key, value in data.items():
        items: list[tuple[str, Any]] = [("", value)]
        if isinstance(value, list):  # lists of numbers; nested models and maps check themselves
            items = [(f"[{index}]", item) for index, item in enumerate(value)]
        for suffix, item in items:
            if out_of_range(item):
                raise ValueError(f"{key}{suffix}: {NUMBER_RULE}")


def _convert(value: Any) -> Any:
    if isinstance(value, float):
        return to_decimal(value)
    if isinstance(value, list):
        return [_convert(v) for v in value]
    if isinstance(value, dict):
        return {k: _convert(v) for k, v in value.items()}
    return value


__all__ = ["NUMBER_LIMIT", "NUMBER_RULE", "SpecModel", "check_number", "out_of_range"]
