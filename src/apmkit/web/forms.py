"""The worksheet form <-> the answers mapping of ``apmkit design --answers``, and errors -> form fields.

The form only reshapes text: every check of the answers is :func:`apmkit.design.worksheet.parse_answers`'s
and :func:`apmkit.design.worksheet.draft_contract`'s, whose errors are mapped back to the field they concern so
the page can show them next to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from apmkit.design.capability import DOMAINS
from apmkit.design.worksheet import PTAC_CRITERIA, DesignAnswers, SimulationAnswer
from apmkit.documents import parse_yaml
from apmkit.errors import ApmkitError, ConfigurationError

FormValues = Mapping[str, list[str]]
"""A submitted form: field name -> its values (several for the measure checkboxes)."""

FieldErrors = dict[str, list[str]]
"""Form field name (or ``_form`` for the whole form) -> messages."""

SIMULATION_FIELDS: tuple[str, ...] = (
    "period",
    "benchmark_per_person_year",
    "quality_score",
    "participant_revenue",
    "expenditure_sd",
    "scenarios",
    "seed",
)


def _one(form: FormValues, name: str) -> str:
    values = form.get(name) or [""]
    return values[0].strip()


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def answers_from_form(form: FormValues) -> tuple[dict[str, Any], FieldErrors]:
    """The answers mapping the form describes, and errors of fields that could not even be read.

    Blank optional fields are left out so the worksheet's defaults apply (a blank scale means "from the data").
    """
    errors: FieldErrors = {}
    data: dict[str, Any] = {
        "name": _one(form, "name"),
        "starting_point": _one(form, "starting_point"),
        "apm_type": {
            "target": _one(form, "apm_type_target") or "advanced_apm",
            "ptac": {
                name: _one(form, f"ptac_{name}") for name, _ in PTAC_CRITERIA if _one(form, f"ptac_{name}")
            },
        },
        "clinical_transformation": _one(form, "clinical_transformation"),
        "rationale": _one(form, "rationale"),
        "scale": {
            "eligible_providers": _one(form, "scale_eligible_providers") or None,
            "beneficiaries": _one(form, "scale_beneficiaries") or None,
            "geography": _one(form, "scale_geography"),
        },
        "alignment": _lines(_one(form, "alignment")),
        "quality": {
            "measures": [m for m in form.get("measures", []) if m],
            "notes": _one(form, "quality_notes"),
        },
        "operational_feasibility": _one(form, "operational_feasibility"),
    }
    for optional in ("id", "payer", "cehrt_share"):
        if _one(form, optional):
            data[optional] = _one(form, optional)
    terms_text = (form.get("terms") or [""])[0]
    if terms_text.strip():
        try:
            terms = parse_yaml(terms_text, "terms", max_bytes=64 * 1024)
        except ConfigurationError:
            terms = None
        if isinstance(terms, dict):
            data["terms"] = terms
        else:
            errors["terms"] = ["write one `component_id.field: value` per line (a YAML mapping)"]
    data["simulation"] = {
        field: _one(form, f"sim_{field}") for field in SIMULATION_FIELDS if _one(form, f"sim_{field}")
    }
    if _one(form, "assess_capability"):
        # Select boxes submit text; assess() wants integers and reports anything else as a bad level.
        levels = {domain: _one(form, f"capability_{domain}") for domain in DOMAINS}
        data["capability"] = {k: int(v) if v.isdigit() else v for k, v in levels.items()}
    return data, errors


def field_of(location: tuple[Any, ...]) -> str:
    """The form field of a pydantic error location in the answers (``_form`` when none matches)."""
    parts = [str(p) for p in location]
    if not parts:
        return "_form"
    head = parts[0]
    if head == "simulation" and len(parts) > 1:
        return f"sim_{parts[1]}"
    if head == "quality" and len(parts) > 1:
        return "measures" if parts[1] == "measures" else "quality_notes"
    if head == "apm_type" and len(parts) > 1:
        return "apm_type_target" if parts[1] == "target" else "ptac"
    if head == "scale" and len(parts) > 1:
        return f"scale_{parts[1]}"
    # Top-level answers (name, id, starting_point, terms, capability, cehrt_share, ...) are fields of their own.
    return head


def field_errors(exc: ApmkitError) -> FieldErrors:
    """Messages of a worksheet error, by form field.

    ``parse_answers`` chains the pydantic error, whose locations name the fields; ``draft_contract`` errors are
    about term edits, ``assess`` errors about capability levels.
    """
    errors: FieldErrors = {}
    cause = exc.__cause__
    if isinstance(cause, ValidationError):
        for error in cause.errors():
            field = field_of(tuple(error["loc"]))
            errors.setdefault(field, []).append(error["msg"].removeprefix("Value error, "))
        return errors
    message = str(exc)
    if "terms" in message.split(":")[0]:
        errors["terms"] = [message]
    elif message.startswith("capability"):
        errors["capability"] = [message]
    else:
        errors["_form"] = [message]
    return errors


def long_fields(form: FormValues) -> FieldErrors:
    """Form fields longer than the web layer accepts (``terms`` 64 KiB, any other 10,000 characters)."""
    from apmkit.web.guard import MAX_FIELD_CHARS, MAX_TERMS_CHARS

    errors: FieldErrors = {}
    for name, values in form.items():
        limit = MAX_TERMS_CHARS if name == "terms" else MAX_FIELD_CHARS
        if len(name) > 200 or any(len(value) > limit for value in values):
            errors[name[:200]] = [f"at most {limit:,} characters"]
    return errors


def check_simulation(answers: DesignAnswers) -> FieldErrors:
    """The one simulation setting the worksheet model cannot check alone: the period must be one the starting
    point's contract has or a calendar year 1900-2199 (the rule of :meth:`apmkit.contracts.Contract.period`).
    Seed and amount ranges are bounds of :class:`apmkit.design.worksheet.SimulationAnswer` itself."""
    from apmkit.contracts import load_template
    from apmkit.design.worksheet import STARTING_POINTS

    errors: FieldErrors = {}
    try:
        load_template(STARTING_POINTS[answers.starting_point]).period(answers.simulation.period)
    except KeyError:
        errors["sim_period"] = ["a period of the starting point's contract or a calendar year 1900-2199"]
    return errors


def simulation_defaults() -> dict[str, Any]:
    """The worksheet's default simulation settings, to pre-fill the form."""
    return SimulationAnswer().model_dump()


__all__ = [
    "SIMULATION_FIELDS",
    "FieldErrors",
    "FormValues",
    "answers_from_form",
    "check_simulation",
    "field_errors",
    "field_of",
    "long_fields",
    "simulation_defaults",
]
