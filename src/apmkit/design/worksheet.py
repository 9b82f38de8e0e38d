"""The APM design worksheet: the seven elements of the CMS APM Design Toolkit, a drafted contract, and the
design document.

The seven elements (CMS QPP "APM Design Toolkit"): (1) APM type - Advanced APM, MIPS APM or Physician-Focused
Payment Model, checked against PTAC's ten criteria (42 CFR 414.1465(b)); (2) clinical transformation; (3)
rationale; (4) scale - eligible providers and beneficiaries; (5) alignment with other payers' models; (6) quality
measurement; (7) operational feasibility. The answers are a frozen pydantic model read from YAML (the
non-interactive mode) or gathered by the ``apmkit design`` prompts.

A draft contract starts from a shipped template (the toolkit's examples: OCM, CPC+, CJR, BPCI Advanced) or from
a Pioneer-like or CEC-like two-sided ACO starting point, then applies the answers' term changes (dotted paths, as
in a contract's glide path) and the chosen quality measures.
"""

from __future__ import annotations

import html
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from apmkit.contracts import Contract, contract_from_data, load_template
from apmkit.errors import ConfigurationError

PTAC_CRITERIA: tuple[tuple[str, str], ...] = (
    ("value_over_volume", "Value over volume: incentives to deliver high-quality health care"),
    ("flexibility", "Flexibility to deliver high-quality care"),
    (
        "quality_and_cost",
        "Quality and cost: improve quality at no additional cost or maintain quality at lower cost",
    ),
    ("payment_methodology", "Payment methodology: pays APM entities in ways current methods cannot"),
    ("scope", "Scope: broadens APM participation or includes specialties with limited opportunities"),
    ("ability_to_be_evaluated", "Evaluable goals for quality and cost"),
    (
        "integration_and_care_coordination",
        "Integration and care coordination across practitioners and settings",
    ),
    ("patient_choice", "Patient choice: supports individual preferences"),
    ("patient_safety", "Patient safety: maintains or improves standards"),
    ("health_information_technology", "Health information technology: encourages its use"),
)
"""PTAC's ten criteria for physician-focused payment models (42 CFR 414.1465(b)); scope, quality and cost and
payment methodology are PTAC's high-priority criteria."""

HIGH_PRIORITY = ("scope", "quality_and_cost", "payment_methodology")

STARTING_POINTS: dict[str, str] = {
    "ocm": "oncology_care_model",
    "cpc_plus": "cpc_plus_track2",
    "cjr": "cjr",
    "bpci": "bpci_advanced",
    "pioneer": "mssp_track2",
    "cec": "mssp_track2",
}
"""Toolkit examples -> shipped templates. Pioneer ACO and the Comprehensive ESRD Care model have no template of
their own: both start from the two-sided MSSP Track 2 terms (shared savings and losses scaled by quality), which
the answers then edit; their own sharing and loss rates are not encoded."""

STARTING_NOTES: dict[str, str] = {
    "pioneer": "Pioneer-like: two-sided shared savings/losses starting from MSSP Track 2 terms; set Pioneer's rates",
    "cec": "CEC-like: two-sided ESRD-population shared savings/losses starting from MSSP Track 2 terms; set CEC's rates",
}

SUPPORTED_MEASURES: tuple[str, ...] = ("CMS122", "CMS165", "CMS2", "CMS125", "CMS130", "CMS529", "ACR", "PQI")
"""Measures the quality engine evaluates (apmkit.quality.spec.MeasureId)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ApmTypeAnswer(_Frozen):
    target: Literal["advanced_apm", "mips_apm", "pfpm"] = "advanced_apm"
    ptac: dict[str, str] = Field(
        default_factory=dict, description="PTAC criterion -> how the model meets it (empty = not addressed)"
    )

    @field_validator("ptac")
    @classmethod
    def _known(cls, value: dict[str, str]) -> dict[str, str]:
        names = {name for name, _ in PTAC_CRITERIA}
        unknown = set(value) - names
        if unknown:
            raise ValueError(f"unknown PTAC criteria {sorted(unknown)}; use {sorted(names)}")
        return value


class ScaleAnswer(_Frozen):
    eligible_providers: int | None = Field(default=None, ge=0)
    beneficiaries: int | None = Field(default=None, ge=0)
    geography: str = ""


class QualityAnswer(_Frozen):
    measures: list[str] = Field(default_factory=list)
    notes: str = ""

    @field_validator("measures")
    @classmethod
    def _supported(cls, value: list[str]) -> list[str]:
        bad = [m for m in value if m not in SUPPORTED_MEASURES]
        if bad:
            raise ValueError(
                f"measures {bad} are not evaluated by apmkit; choose from {list(SUPPORTED_MEASURES)}"
            )
        return value


SEED_RANGE = (0, 2**32 - 1)
"""numpy's seed range."""
MAX_PER_PERSON_YEAR = 10_000_000
"""The largest benchmark per person-year the worksheet accepts ($)."""
MAX_REVENUE = 10**13
"""The largest participant revenue the worksheet accepts ($)."""


class SimulationAnswer(_Frozen):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    period: str = "2025"
    benchmark_per_person_year: float | None = Field(default=None, gt=0, le=MAX_PER_PERSON_YEAR)
    quality_score: float = Field(default=0.9, ge=0, le=1)
    participant_revenue: float | None = Field(
        default=None,
        gt=0,
        le=MAX_REVENUE,
        description="Participants' revenue ($), for revenue-based loss limits",
    )
    expenditure_sd: float = Field(default=0.05, gt=0, le=1)
    scenarios: int = Field(default=200, ge=10, le=5000)
    seed: int = Field(default=7, ge=SEED_RANGE[0], le=SEED_RANGE[1])


class DesignAnswers(_Frozen):
    """Answers to the worksheet (the answers YAML of ``apmkit design --answers``)."""

    name: str = Field(min_length=1)
    id: str = Field(default="draft_apm", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    payer: str = ""
    starting_point: Literal["ocm", "cpc_plus", "cjr", "bpci", "pioneer", "cec"]
    apm_type: ApmTypeAnswer = ApmTypeAnswer()
    clinical_transformation: str = ""
    rationale: str = ""
    scale: ScaleAnswer = ScaleAnswer()
    alignment: list[str] = Field(default_factory=list, description="Other payers' models this aligns with")
    quality: QualityAnswer = QualityAnswer()
    operational_feasibility: str = ""
    terms: dict[str, Any] = Field(
        default_factory=dict,
        description="component_id.field (dotted) -> value, applied to the starting point",
    )
    capability: dict[str, int] | None = None
    cehrt_share: float | None = Field(default=None, ge=0, le=1)
    simulation: SimulationAnswer = SimulationAnswer()


def parse_answers(data: Any, source: str = "<answers>") -> DesignAnswers:
    """Validate worksheet answers; errors name the source and field."""
    from pydantic import ValidationError

    if not isinstance(data, dict):
        raise ConfigurationError(f"{source}: the answers must be a mapping of fields")
    try:
        return DesignAnswers.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise ConfigurationError(f"{source}: {problems}") from exc


def draft_contract(answers: DesignAnswers) -> Contract:
    """The contract the answers describe: the starting point's terms, edited, with the chosen measures."""
    base = load_template(STARTING_POINTS[answers.starting_point])
    data = base.model_dump(mode="python", exclude_none=True)
    components = {c["id"]: c for c in data["components"]}
    for key, value in answers.terms.items():
        component_id, _, dotted = key.partition(".")
        if component_id not in components or not dotted:
            raise ConfigurationError(
                f"answers terms {key!r}: name a component of the {answers.starting_point} starting point "
                f"({', '.join(components)}) and a field"
            )
        node = components[component_id]
        parts = dotted.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ConfigurationError(f"answers terms {key!r}: {part!r} is not a section")
            node = node[part]
        node[parts[-1]] = value
    data.update(id=answers.id, name=answers.name, version="draft")
    data["payer"] = answers.payer or data.get("payer", "")
    data.pop("hcp_lan_category", None)
    # A draft is a new contract: the years the starting template's program rules cover do not bind it.
    data.pop("performance_years", None)
    if answers.quality.measures:
        data["quality"] = {"measures": list(answers.quality.measures)}
    note = STARTING_NOTES.get(answers.starting_point)
    data["unverified"] = [*data.get("unverified", []), *([note] if note else [])]
    data["sources"] = [
        *data.get("sources", []),
        f"apmkit design worksheet ({answers.starting_point} starting point)",
    ]
    return contract_from_data(data, source=f"draft from answers ({answers.starting_point})")


def ptac_review(answers: DesignAnswers) -> list[dict[str, Any]]:
    """Each PTAC criterion, whether the answers address it, and whether PTAC ranks it high priority."""
    return [
        {
            "criterion": name,
            "description": text,
            "high_priority": name in HIGH_PRIORITY,
            "addressed": bool(answers.apm_type.ptac.get(name, "").strip()),
            "answer": answers.apm_type.ptac.get(name, ""),
        }
        for name, text in PTAC_CRITERIA
    ]


def design_markdown(
    answers: DesignAnswers,
    contract_yaml: str,
    lan: dict[str, Any],
    advanced: dict[str, Any],
    capability: dict[str, Any] | None,
    simulation: dict[str, Any] | None,
    scale_from_data: dict[str, Any] | None,
) -> str:
    """The design document (Markdown)."""
    ptac = ptac_review(answers)
    lines = [
        f"# APM design: {answers.name}",
        "",
        f"Starting point: **{answers.starting_point}** (template `{STARTING_POINTS[answers.starting_point]}`). "
        f"Target: **{answers.apm_type.target.replace('_', ' ')}**.",
        "",
        "## 1. APM type",
        "",
        f"HCP-LAN category: **{lan['category']}** - {lan['name']}. Rule: {lan['rule']}",
        "",
        f"Advanced APM test (42 CFR 414.1415): **{'meets' if advanced['advanced_apm'] else 'does not meet'}** "
        f"({advanced['apm_type']}).",
        "",
        "| criterion | met |",
        "|---|---|",
        *[f"| {name} | {'yes' if c['met'] else 'no'} |" for name, c in advanced["criteria"].items()],
        "",
        "PTAC criteria (42 CFR 414.1465(b)):",
        "",
        "| criterion | high priority | addressed |",
        "|---|---|---|",
        *[
            f"| {p['description']} | {'yes' if p['high_priority'] else ''} | {'yes' if p['addressed'] else 'no'} |"
            for p in ptac
        ],
        "",
        "## 2. Clinical transformation",
        "",
        answers.clinical_transformation or "_not answered_",
        "",
        "## 3. Rationale",
        "",
        answers.rationale or "_not answered_",
        "",
        "## 4. Scale",
        "",
        f"- Eligible providers: {answers.scale.eligible_providers if answers.scale.eligible_providers is not None else 'not given'}",
        f"- Beneficiaries: {answers.scale.beneficiaries if answers.scale.beneficiaries is not None else 'not given'}",
    ]
    if answers.scale.geography:
        lines.append(f"- Geography: {answers.scale.geography}")
    if scale_from_data:
        lines.append(
            f"- From the data: {scale_from_data['members']} members, {scale_from_data['providers']} providers "
            f"({scale_from_data['primary_care_providers']} primary care)"
        )
    lines += [
        "",
        "## 5. Alignment with other payers",
        "",
        *([f"- {item}" for item in answers.alignment] or ["_none listed_"]),
        "",
        "## 6. Quality measurement",
        "",
        *([f"- {m}" for m in answers.quality.measures] or ["_no measures chosen_"]),
    ]
    if answers.quality.notes:
        lines += ["", answers.quality.notes]
    lines += [
        "",
        "## 7. Operational feasibility",
        "",
        answers.operational_feasibility or "_not answered_",
        "",
    ]
    if capability is not None:
        lines += [
            "## Provider capability and glide path",
            "",
            "| domain | level | meaning |",
            "|---|---|---|",
            *[f"| {k} | {v['level']} | {v['meaning']} |" for k, v in capability["levels"].items()],
            "",
            f"Recommended first step: **{capability['recommended_step']}** (HCP-LAN {capability['recommended_category']}); "
            f"glide path: {' -> '.join(capability['glide_path'])}.",
            *[f"- gap, {k}: {v}" for k, v in capability["gaps_to_next_step"].items()],
            "",
        ]
    lines += ["## Simulation on the population", ""]
    if simulation is None:
        lines.append("_No population given (`--from DIR`)._")
    elif "error" in simulation:
        lines.append(f"Not simulated: {simulation['error']}")
    else:
        lines += [
            f"- Period {simulation['period']}: {simulation['population']} members, {simulation['person_years']} person-years",
            f"- Benchmark: ${simulation['benchmark']} ({simulation['benchmark_source']})",
            f"- Measured expenditure: ${simulation['expenditure']}",
            f"- Settlement at the measured expenditure: ${simulation['net_settlement']}",
            f"- Over {simulation['scenarios']} scenarios: expected net ${simulation['expected_net']}, "
            f"95th-percentile loss ${simulation['p95_loss']}",
        ]
    lines += ["", "## Draft contract", "", "```yaml", contract_yaml.rstrip(), "```", ""]
    lines += [
        "_Written by the apmkit design worksheet (`apmkit design` or the dashboard page `/ui/design`)._",
        "",
    ]
    return "\n".join(lines)


def markdown_to_html(markdown: str, title: str) -> str:
    """A self-contained HTML page of the design document (headings, lists, tables, code, paragraphs)."""
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #bbb;padding:.25rem .5rem}pre{background:#f4f4f4;padding:1rem;overflow:auto}</style>",
        "</head><body>",
    ]
    in_code = in_list = in_table = False
    for raw in markdown.splitlines():
        if raw.startswith("```"):
            out.append("</pre>" if in_code else "<pre>")
            in_code = not in_code
            continue
        if in_code:
            out.append(html.escape(raw))
            continue
        if in_list and not raw.startswith("- "):
            out.append("</ul>")
            in_list = False
        if in_table and not raw.startswith("|"):
            out.append("</table>")
            in_table = False
        if raw.startswith("#"):
            level = len(raw) - len(raw.lstrip("#"))
            out.append(f"<h{level}>{_inline(raw[level:].strip())}</h{level}>")
        elif raw.startswith("- "):
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{_inline(raw[2:])}</li>")
        elif raw.startswith("|"):
            cells = [c.strip() for c in raw.strip("|").split("|")]
            if all(set(c) <= {"-"} for c in cells):
                continue
            tag = "th" if not in_table else "td"
            if not in_table:
                out.append("<table>")
                in_table = True
            out.append("<tr>" + "".join(f"<{tag}>{_inline(c)}</{tag}>" for c in cells) + "</tr>")
        elif raw.strip():
            out.append(f"<p>{_inline(raw)}</p>")
    if in_list:
        out.append("</ul>")
    if in_table:
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _inline(text: str) -> str:
    escaped = html.escape(text)
    escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
    escaped = re.sub(r"`(.+?)`", r"<code>\1</code>", escaped)
    return re.sub(r"(?<!\w)_(.+?)_(?!\w)", r"<em>\1</em>", escaped)
