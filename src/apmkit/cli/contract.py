"""``apmkit contract``: validate contracts, print the JSON Schema, list and copy the shipped templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from apmkit.contracts import contract_json_schema, parse_contract, template_names, template_text
from apmkit.errors import InputFileError
from apmkit.settlement.mechanisms import missing_terms

contract_app = typer.Typer(help="Contracts as code: validate, schema, templates.", no_args_is_help=True)


def read_contract_text(path: Path) -> str:
    """The text of a contract file (a missing or unreadable file is a user error naming it)."""
    if not path.is_file():
        raise InputFileError(path, "no such contract file")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"cannot read the contract ({exc.__class__.__name__})") from exc


@contract_app.command("validate")
def validate(
    files: Annotated[list[Path], typer.Argument(help="Contract YAML files to check.")],
    period: Annotated[
        str | None, typer.Option("--period", help="Also apply the glide path for this period.")
    ] = None,
) -> None:
    """Check contract files; print each problem with its field and the rule broken (exit 2 on any)."""
    for path in files:
        contract = parse_contract(read_contract_text(path), source=str(path))
        applied = ""
        if period is not None:
            resolved, steps = contract.for_period(period)
            contract = resolved
            applied = f", glide path steps applied for {period}: {len(steps)}"
        typer.echo(
            f"{path}: valid contract {contract.id} v{contract.version} "
            f"({len(contract.components)} components: {', '.join(c.id for c in contract.components)}){applied}"
        )
        for item in contract.unverified:
            typer.echo(f"  ⚠ unverified: {item}")
        for term in missing_terms(contract):
            typer.echo(f"  ✗ REQUIRED before settling: {term}")


@contract_app.command("schema")
def schema(
    out: Annotated[Path | None, typer.Option("--out", help="Write the schema to this file.")] = None,
) -> None:
    """Print (or write) the JSON Schema of contract documents, for editors."""
    text = json.dumps(contract_json_schema(), indent=2, default=str)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        typer.echo(f"wrote {out}")


@contract_app.command("templates")
def templates() -> None:
    """List the contract templates shipped with apmkit."""
    for name in template_names():
        typer.echo(name)


@contract_app.command("template")
def template(
    name: Annotated[str, typer.Argument(help="Template name (see `apmkit contract templates`).")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the template to this file.")] = None,
) -> None:
    """Print (or copy to a file) a shipped template to start a contract from."""
    text = template_text(name)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(contract_app, name="contract")
