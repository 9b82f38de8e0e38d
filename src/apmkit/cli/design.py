"""``apmkit design``: the APM design worksheet (prompts or an answers YAML) -> contract, classification,
simulation on a population, and a design document (Markdown + HTML)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from apmkit.cli.common import open_engine, progress
from apmkit.design.capability import DOMAINS, RUBRIC
from apmkit.design.pipeline import DESIGN_FILES, assemble_design, measure_population
from apmkit.design.worksheet import (
    PTAC_CRITERIA,
    STARTING_POINTS,
    DesignAnswers,
    draft_contract,
    parse_answers,
)
from apmkit.documents import read_yaml


def _prompt_answers() -> dict[str, Any]:
    """Walk the seven elements with prompts (the interactive worksheet)."""
    typer.echo("APM design worksheet - the seven elements of the CMS APM Design Toolkit.")
    data: dict[str, Any] = {
        "name": typer.prompt("Model name"),
        "payer": typer.prompt("Payer", default=""),
        "starting_point": typer.prompt(
            f"Starting point ({', '.join(STARTING_POINTS)})", default="pioneer", show_default=True
        ),
    }
    target = typer.prompt("1. APM type (advanced_apm, mips_apm, pfpm)", default="advanced_apm")
    ptac = {}
    for name, text in PTAC_CRITERIA:
        answer = typer.prompt(f"   PTAC - {text} (how; blank to skip)", default="", show_default=False)
        if answer.strip():
            ptac[name] = answer
    data["apm_type"] = {"target": target, "ptac": ptac}
    data["clinical_transformation"] = typer.prompt("2. Clinical transformation", default="")
    data["rationale"] = typer.prompt("3. Rationale", default="")
    providers = typer.prompt(
        "4. Scale - eligible providers (blank: from the data)", default="", show_default=False
    )
    beneficiaries = typer.prompt(
        "   Scale - beneficiaries (blank: from the data)", default="", show_default=False
    )
    data["scale"] = {
        "eligible_providers": int(providers) if providers.strip() else None,
        "beneficiaries": int(beneficiaries) if beneficiaries.strip() else None,
    }
    alignment = typer.prompt("5. Alignment with other payers' models (comma-separated)", default="")
    data["alignment"] = [a.strip() for a in alignment.split(",") if a.strip()]
    measures = typer.prompt(
        "6. Quality measures (CMS122, CMS165, CMS2, CMS125, CMS130, ACR, PQI)", default=""
    )
    data["quality"] = {"measures": [m.strip() for m in measures.split(",") if m.strip()]}
    data["operational_feasibility"] = typer.prompt("7. Operational feasibility", default="")
    if typer.confirm("Assess provider capability (data, care management, quality, reserves, experience)?"):
        levels = {}
        for domain in DOMAINS:
            scale = "; ".join(f"{i + 1} {text}" for i, text in enumerate(RUBRIC[domain]))
            levels[domain] = typer.prompt(f"   {domain} ({scale})", type=int, default=1)
        data["capability"] = levels
    return data


def design_command(
    answers: Annotated[
        Path | None, typer.Option(help="Answers YAML (non-interactive); without it the worksheet prompts")
    ] = None,
    from_dir: Annotated[
        Path | None, typer.Option("--from", help="Canonical tables of the population (apmkit synth / ingest)")
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Folder for contract.yaml, design.md, design.html, design.json")
    ] = Path("apm_design"),
    performance_year: Annotated[
        int, typer.Option(help="QP performance period for the Advanced APM test")
    ] = 2025,
    as_json: Annotated[bool, typer.Option("--json", help="Print the design summary as JSON")] = False,
) -> None:
    """Design an APM: seven-element worksheet -> draft contract, classification, simulation, design document."""
    if answers is not None:
        raw = read_yaml(answers)
        parsed = parse_answers(raw, source=str(answers))
    else:
        parsed = parse_answers(_prompt_answers(), source="worksheet")
    summary = run_design(parsed, from_dir, out, performance_year)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
    else:
        typer.echo(
            f"HCP-LAN {summary['lan']['category']}; Advanced APM: {summary['advanced_apm']['advanced_apm']}"
        )
        typer.echo(f"wrote {', '.join(summary['files'])}")


def run_design(
    answers: DesignAnswers, from_dir: Path | None, out: Path, performance_year: int
) -> dict[str, Any]:
    """Draft, classify, simulate and write the design document; return the summary."""
    contract = draft_contract(answers)
    population = None
    if from_dir is not None:
        with open_engine() as engine, progress() as bar:
            task = bar.add_task("simulating on the population", total=2)
            population = measure_population(
                engine.canonical(from_dir),
                contract,
                answers.simulation,
                rows=lambda table: engine.to_arrow(table).to_pylist(),
                advance=lambda: bar.advance(task),
            )
    outcome = assemble_design(answers, contract, performance_year, population)
    out.mkdir(parents=True, exist_ok=True)
    for name in DESIGN_FILES:
        (out / name).write_text(outcome.files[name], encoding="utf-8")
    return {**outcome.summary, "files": [str(out / name) for name in DESIGN_FILES]}


def register(app: typer.Typer) -> None:
    app.command("design")(design_command)
