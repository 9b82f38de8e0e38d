"""``apmkit episodes build|price``: construct episodes from claims, then price and reconcile them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, TaskID

from apmkit.benchmark.spec import parse_spec_section
from apmkit.cli.common import open_engine, progress, state
from apmkit.documents import read_yaml
from apmkit.engines import Engine
from apmkit.episodes.build import build_episodes
from apmkit.episodes.definitions import cjr_definition
from apmkit.episodes.price import episode_amounts, price_episodes
from apmkit.episodes.spec import EpisodeBuildSpec, EpisodesSpec
from apmkit.errors import ConfigurationError

episodes_app = typer.Typer(
    help="Episodes (bundled payments): build from claims, price and reconcile.", no_args_is_help=True
)


def build_spec(definitions: str | None) -> EpisodeBuildSpec:
    """Build rules from ``--definitions``: ``bpcia`` (default), ``cjr``, or a YAML file.

    The YAML may be a contract (its ``episodes:`` section), an episodes spec (``build:`` / ``pricing:``)
    or a plain list of episode definitions.
    """
    if definitions in (None, "bpcia"):
        return EpisodeBuildSpec()
    if definitions == "cjr":
        return EpisodeBuildSpec(definitions=(cjr_definition(),))
    path = Path(definitions)
    document = read_yaml(path)
    if isinstance(document, list):
        document = {"episodes": {"build": {"definitions": document}}}
    section = parse_spec_section(document, path.name, "episodes", EpisodesSpec)
    from apmkit.workspace.episodes import resolve_oncology_build

    definitions = document.get("definitions") if isinstance(document, dict) else None
    pharmacy = definitions.get("include_pharmacy") if isinstance(definitions, dict) else None
    # an oncology trigger CSV is read beside the YAML; a contract's definitions say whether Part D counts
    return resolve_oncology_build(
        section.build, path.parent, include_pharmacy=None if pharmacy is None else bool(pharmacy)
    )


def _build_and_write(
    engine: Engine, data: Path, out: Path, spec: EpisodeBuildSpec, bar: Progress, task: TaskID
) -> tuple[Path, dict[str, int], int]:
    tables = engine.canonical(data)
    built = build_episodes(tables, spec, fetch=engine.rows, materialize=engine.materialize)
    bar.advance(task)
    path = engine.write_parquet(built.episodes, out / "episodes.parquet")
    bar.advance(task)
    written = engine.read_parquet(path)
    by_status = written.group_by("status").aggregate(n=written.count())
    counts = {r["status"]: r["n"] for r in engine.to_arrow(by_status).to_pylist()}
    return path, counts, engine.count(tables["medical_claims"])


@episodes_app.command("build")
def build_command(
    data: Annotated[Path, typer.Option("--from", help="Folder of canonical tables.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder; writes episodes.parquet.")],
    definitions: Annotated[
        str | None,
        typer.Option(help="bpcia (default: the 34 BPCI Advanced-style categories), cjr, or a YAML file."),
    ] = None,
) -> None:
    """Build episodes (anchor + post-anchor window) from canonical claims and enrollment."""
    spec = build_spec(definitions)
    console = state.console
    with open_engine() as engine, progress() as bar:
        task = bar.add_task("episodes", total=2)
        path, counts, lines_read = _build_and_write(engine, data, out, spec, bar, task)
    console.print(
        f"claim lines read {lines_read:,}; episodes triggered {sum(counts.values()):,}: "
        f"kept {counts.get('kept', 0):,}, ineligible {counts.get('ineligible', 0):,}, "
        f"overlap dropped {counts.get('overlap_dropped', 0):,}"
        + (f", not attributed {counts['not_attributed']:,}" if "not_attributed" in counts else "")
        + f" -> {path}"
    )


@episodes_app.command("price")
def price_command(
    contract: Annotated[
        Path, typer.Option("--contract", help="YAML with episodes.pricing (a TargetPriceSpec).")
    ],
    baseline: Annotated[Path, typer.Option(help="episodes.parquet of the baseline period.")],
    performance: Annotated[Path, typer.Option(help="episodes.parquet of the performance period.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    performance_years: Annotated[
        list[int] | None,
        typer.Option("--performance-year", help="Keep performance episodes anchored in these years."),
    ] = None,
    quality: Annotated[
        Path | None, typer.Option(help="Parquet of facility_ccn, quality_score (CQS).")
    ] = None,
    regions: Annotated[Path | None, typer.Option(help="Parquet of facility_ccn, region.")] = None,
    episode_risk: Annotated[
        Path | None, typer.Option("--episode-risk", help="Parquet of episode_key, risk_score.")
    ] = None,
) -> None:
    """Set target prices and reconcile: target_prices, hospital_reconciliation, episode_amounts (Parquet)."""
    section = parse_spec_section(read_yaml(contract), contract.name, "episodes", EpisodesSpec)
    if section.pricing is None:
        raise ConfigurationError(
            f"{contract.name}, field episodes.pricing: required for `apmkit episodes price`"
        )
    console = state.console
    with open_engine() as engine, progress() as bar:
        task = bar.add_task("pricing", total=2)
        base = engine.read_parquet(baseline)
        perf = engine.read_parquet(performance)
        if performance_years:
            perf = perf.filter(perf.anchor_start.year().isin(performance_years))
        result = price_episodes(
            base,
            perf,
            section.pricing,
            fetch=engine.rows,
            quality=engine.read_parquet(quality) if quality else None,
            hospital_regions=engine.read_parquet(regions) if regions else None,
            episode_risk=engine.read_parquet(episode_risk) if episode_risk else None,
        )
        bar.advance(task)
        out.mkdir(parents=True, exist_ok=True)
        prices = engine.from_arrow(result.target_prices)
        engine.write_parquet(prices, out / "target_prices.parquet")
        engine.write_parquet(
            engine.from_arrow(result.hospital_reconciliation), out / "hospital_reconciliation.parquet"
        )
        engine.write_parquet(episode_amounts(result.episodes, prices), out / "episode_amounts.parquet")
        bar.advance(task)
    total = sum(r["reconciliation_amount"] for r in result.hospital_reconciliation.to_pylist())
    console.print(
        f"{result.target_prices.num_rows} target prices, {result.hospital_reconciliation.num_rows} hospitals "
        f"reconciled, net reconciliation {total:,.2f} -> {out}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(episodes_app, name="episodes")
