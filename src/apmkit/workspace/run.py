"""One contract, one run: canonical tables to a settlement statement under the contract's own rules.

:class:`Workspace` owns the engine and the data folder; :meth:`Workspace.run` executes the stages in order —
checks → eligibility and spending (the contract's ``definitions:``, one measurement shared by the benchmark
and the actuals) → attribution (``attribution:``) → risk scores (``risk_adjustment:``) → benchmark
(``benchmark:``) → performance-period expenditure → quality (``quality:``) → every payment component → the
statement — and writes each stage's result (the marts) to a staging folder that replaces the output folder
only when the whole run succeeded. The CLI, the web layer and design/simulation call this object; none of
them orchestrates stages itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from apmkit.benchmark.general import general_benchmark
from apmkit.contracts import Contract, parse_contract
from apmkit.documents import read_text
from apmkit.engines import Engine, check_output, staged_output
from apmkit.errors import ApmkitError, ConfigurationError, InputFileError
from apmkit.money import from_cents, round_money
from apmkit.quality.scoring import EntityRates, baselines_from_rates, rates_from_rows
from apmkit.quality.spec import QualitySpec
from apmkit.settlement import claims as claims_path
from apmkit.settlement import quality_link
from apmkit.settlement.engine import check_performance_year, settle
from apmkit.settlement.inputs import EntityInputs, apply_benchmarks, read_entity_rows
from apmkit.settlement.render import (
    lines_table,
    settlement_to_excel,
    settlement_to_html,
    settlement_to_json,
    summary_table,
)
from apmkit.settlement.statement import Settlement, StatementLine
from apmkit.spending import Spending, measure_spending
from apmkit.workspace.episodes import episode_entities, prepare_episode_contract, settles_episodes

FORMATS = ("json", "parquet", "html", "xlsx")

MART_TABLES: dict[str, str] = {
    "attribution": "one row per member and the contract's attribution: attributed or not, entity, step, reason",
    "member_months": "eligible member-months (member_id, year, month) of every measured year",
    "expenditure": "spending by member x month x service category (cents), eligible months, every measured year",
    "member_years": "spending by member x year: member months, cost and truncated cost (cents), claim lines",
    "risk_scores": "each member's payment risk score under the contract's risk_adjustment section",
    "benchmark_lines": "the benchmark's build-up, one line per step per entity (base-year PMPMs, trend, ...)",
    "benchmark_entities": "each entity's benchmark PMPM and key factors",
    "member_detail": "the performance period's member rows behind each entity's figures",
    "episodes": "episodes built with the contract's episodes section: trigger, window, status, spending",
    "episode_performance": "the period's reconciled episodes per initiator: price group, region, capped payment",
    "episode_prices": "each episode initiator's benchmark prices per price group (hospital, regional) and episodes",
    "quality_populations": "each entity's measure populations (initial population, denominator, numerator)",
    "summary": "one row per settled entity: benchmark, expenditure, savings, each component, net settlement",
    "lines": "every statement line with its formula, inputs, source and clause",
    "utilization": "utilization events (admissions, readmissions, ED, observation, SNF days, imaging) per member",
}
"""The marts a run writes (Parquet in OUT and tables of OUT/run.duckdb)."""

Progress = Callable[[str], None]


def read_contract(contract: Contract | str | Path) -> Contract:
    """A contract given as a model, or a YAML file path."""
    if isinstance(contract, Contract):
        return contract
    path = Path(contract)
    return parse_contract(read_text(path, "contract file"), source=str(path))


def read_inputs(path: Path) -> tuple[dict[str, EntityInputs], dict[str, int], list[dict[str, str]]]:
    """Per-entity values claims cannot hold (participant revenue, CAHPS, ...), one CSV row per entity."""
    from apmkit.documents import read_csv_rows

    _, rows = read_csv_rows(path, required=("entity_id",))
    entities, report = read_entity_rows(rows, path.name)
    counts = {
        "inputs_read": report.read,
        "inputs_loaded": report.loaded,
        "inputs_rejected": len(report.rejected),
    }
    return {e.entity_id: e for e in entities}, counts, list(report.rejected)


@dataclass(frozen=True)
class Overrides:
    """Stage results given as Parquet files instead of computed from the contract's sections."""

    attribution: Path | None = None
    """``member_id, entity_id[, cell]`` (e.g. ``apmkit attribute`` output)."""
    risk_scores: Path | None = None
    """``member_id, score[, year]`` (e.g. ``apmkit risk score`` output)."""
    benchmark: Path | None = None
    """``apmkit benchmark`` output: ``entity_id, benchmark_pmpm`` / ``benchmark``, or the MSSP summary."""
    quality_rates: Path | None = None
    """CSV of supplied measure rates: ``entity_id, measure, rate`` (or ``eligible, numerator``)
    ``[, baseline_rate]``, for the quality section's measures apmkit does not compute."""
    county_puf: tuple[Path, ...] = ()
    """CMS county FFS benchmark PUF CSVs (one per year): regional per capita and risk for the MSSP benchmark."""
    county_crosswalk: Path | None = None
    """``county_fips, county_code``: members' FIPS county to the PUF's SSA county code."""


@dataclass
class RunResult:
    """What a run produced: the settlement, the marts written (name -> path) and the stage counts."""

    settlement: Settlement
    out: Path | None
    files: dict[str, Path] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    entities: tuple[EntityInputs, ...] = ()
    """The per-entity inputs that were settled (simulation scales its scenarios from them)."""

    @property
    def total_net(self) -> Decimal:
        return self.settlement.total_net


@dataclass
class _Stages:
    """Tables produced while a run goes; written to the marts at the end."""

    marts: dict[str, ir.Table] = field(default_factory=dict)
    arrow: dict[str, pa.Table] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    assumptions: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


class Workspace:
    """A folder of canonical tables and the engine that reads them.

    Parameters
    ----------
    data
        Folder written by ``apmkit ingest`` (or ``apmkit synth``).
    engine
        An open engine; None = DuckDB embedded, opened on first use and closed by :meth:`close`.
    """

    def __init__(self, data: str | Path, *, engine: Engine | None = None) -> None:
        self.data = Path(data)
        if not self.data.is_dir():
            raise InputFileError(self.data, "no such data folder")
        self._engine = engine
        self._owns_engine = engine is None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = Engine.duckdb()
        return self._engine

    def close(self) -> None:
        if self._owns_engine and self._engine is not None:
            self._engine.close()
            self._engine = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the run -------------------------------------------------------------------------------------
    def run(
        self,
        contract: Contract | str | Path,
        period: str,
        *,
        out: str | Path | None = None,
        inputs: str | Path | None = None,
        formats: tuple[str, ...] = FORMATS,
        progress: Progress | None = None,
        overrides: Overrides | None = None,
    ) -> RunResult:
        """Run ``contract`` for ``period`` on this workspace's data.

        Parameters
        ----------
        contract
            A :class:`~apmkit.contracts.Contract` or a contract YAML path.
        period
            A period named in the contract or a 4-digit year.
        out
            Output folder for the marts and statements (replaced whole on success); None = nothing written.
        inputs
            CSV of per-entity values claims cannot hold (``entity_id`` plus e.g. ``participant_revenue``,
            ``quality_score``); a value here overrides what the run measured.
        formats
            Statement formats written to ``out``.
        overrides
            Stage results supplied as files instead of computed from the contract's sections (``apmkit settle``'s
            ``--attribution``, ``--risk-scores`` and ``--benchmark``); each is named on the statement.

        Raises
        ------
        ApmkitError
            A required table, input or parameter is missing, the period is empty or outside the contract, or no
            entity could be settled; the message names what is missing. Nothing is written then.
        """
        say = progress or (lambda _message: None)
        document = read_contract(contract)
        unknown = sorted(set(formats) - set(FORMATS))
        if unknown:
            raise ConfigurationError(
                f"unknown statement format {', '.join(unknown)} (choose from {', '.join(FORMATS)})"
            )
        if out is not None:
            check_output(Path(out), accept_existing=earlier_statement)
        try:
            resolved, _ = document.for_period(period)
        except KeyError:
            raise ConfigurationError(
                f"period {period!r} is neither a period of contract {document.id} "
                f"({', '.join(document.periods) or 'none named'}) nor a calendar year (1900-2199)"
            ) from None
        check_performance_year(document, period, document.period(period))  # before any stage runs
        resolved = _benchmark_for_period(resolved, period)
        resolved = prepare_episode_contract(  # oncology trigger list read; REQUIRED named
            resolved, None if isinstance(contract, Contract) else Path(contract).parent
        )
        given: dict[str, EntityInputs] = {}
        stages = _Stages()
        rejected: list[dict[str, str]] = []
        if inputs is not None:
            given, input_counts, rejected = read_inputs(Path(inputs))
            stages.counts.update(input_counts)

        engine = self.engine
        tables = engine.canonical(self.data)
        _check_tables(resolved, tables.present(), self.data)
        spec = claims_path.ClaimsMeasureSpec.from_contract(resolved, period)

        say("eligibility and spending")
        base_years = _base_years(resolved)
        spending = measure_spending(
            tables, resolved.definitions, spec.measurement_years(base_years), materialize=engine.materialize
        )
        _check_period_data(engine, spending, spec, period)
        stages.marts.update(
            member_months=spending.months,
            expenditure=spending.monthly.mutate(amount=from_cents(spending.monthly.cents)),
            member_years=spending.member_years,
        )
        _record_for_reports(stages, tables, document, resolved, period, spec, base_years, self.data)

        given_files = overrides or Overrides()
        say("attribution")
        if given_files.attribution is not None:
            links = self._read_attribution(given_files.attribution, stages)
        else:
            links = self._attribution(resolved, tables, spec, stages)

        if resolved.episodes is not None:
            say("episodes")
            from apmkit.episodes.build import build_episodes

            built = build_episodes(
                tables, resolved.episodes.build, fetch=engine.rows, materialize=engine.materialize
            )
            stages.marts["episodes"] = engine.materialize(built.episodes)
            stages.counts["episodes_kept"] = engine.count(
                stages.marts["episodes"].filter(stages.marts["episodes"].status == "kept")
            )

        say("risk scores")
        if given_files.risk_scores is not None:
            scores = self._read_scores(given_files.risk_scores, stages)
        else:
            scores = self._risk_scores(resolved, tables, stages)

        say("performance-period expenditure")
        members = engine.materialize(
            claims_path.member_measures(tables, links, spec, risk_scores=scores, spending=spending)
        )
        measures, cells = claims_path.measure(tables, links, spec, members=members)
        measured = engine.to_arrow(measures).to_pylist()
        cell_rows = engine.to_arrow(cells).to_pylist()
        stages.marts["member_detail"] = claims_path.member_detail(members)
        if not measured:
            raise ApmkitError(
                f"period {period}: no attributed member has an eligible month "
                "(check the attribution section and the enrollment table)"
            )
        entities = claims_path.entity_inputs(
            measured,
            cell_rows,
            spec,
            resolved,
            given,
            source=f"claims in {self.data.name} (member rows: member_detail.parquet)",
        )
        if settles_episodes(resolved):
            say("episode initiators")
            entities = self._episode_entities(resolved, period, given, stages)
        stages.counts.update(
            claim_lines_counted=sum(int(r["claim_lines"]) for r in measured),
            members=sum(int(r["population"]) for r in measured),
            entities=len(entities),
        )

        say("benchmark")
        if given_files.benchmark is not None:
            rows = self.engine.to_arrow(self._read_parquet(given_files.benchmark, "benchmark")).to_pylist()
            entities = apply_benchmarks(entities, rows, given_files.benchmark.name)
            stages.assumptions.append(
                f"benchmark taken from {given_files.benchmark.name}, not built from the contract"
            )
        else:
            entities = self._benchmark(
                resolved, tables, spending, links, entities, given, stages, given_files
            )

        extra_lines: dict[str, tuple[StatementLine, ...]] = {}
        if resolved.quality is not None:
            say("quality")
            entities, extra_lines = self._quality(
                resolved, tables, spec, members, entities, given, stages, given_files.quality_rates
            )

        say("settlement")
        stages.info["entity_inputs"] = [entity.model_dump(mode="json") for entity in entities]  # issue 16
        definitions_note = f"definitions (benchmark and actuals): {resolved.definitions.describe()}"
        settlement = settle(
            document,
            period,
            entities,
            rejected=rejected,
            counts=stages.counts,
            extra_lines=extra_lines,
        )
        settlement = settlement.model_copy(
            update={"warnings": (*settlement.warnings, definitions_note, *stages.assumptions)}
        )
        if not settlement.statements:
            raise ApmkitError(_nothing_settled(period, settlement))

        files: dict[str, Path] = {}
        if out is not None:
            say("writing the marts")
            files = self._write(Path(out), settlement, stages, formats)
        return RunResult(
            settlement=settlement,
            out=None if out is None else Path(out),
            files=files,
            counts=stages.counts,
            entities=tuple(entities),
        )

    # ---- stages ----------------------------------------------------------------------------------------
    def _episode_entities(
        self, contract: Contract, period: str, given: Mapping[str, EntityInputs], stages: _Stages
    ) -> list[EntityInputs]:
        """Episode initiators as the entities (``workspace.episodes``), from the run's episodes mart."""
        stage = episode_entities(
            self.engine,
            contract,
            period,
            stages.marts["episodes"],
            given,
            source=f"claims in {self.data.name}",
        )
        stages.marts.update(stage.marts)
        stages.arrow.update(stage.arrow)
        stages.counts.update(stage.counts, entities=len(stage.entities))
        stages.assumptions.extend(stage.assumptions)
        return stage.entities

    def _read_parquet(self, path: Path, what: str, required: tuple[str, ...] = ()) -> ir.Table:
        if not path.exists():
            raise InputFileError(path, f"no such {what} file")
        table = self.engine.read_parquet(path)
        missing = sorted(set(required) - set(table.columns))
        if missing:
            raise InputFileError(path, "missing required columns", field=", ".join(missing))
        return table

    def _read_attribution(self, path: Path, stages: _Stages) -> ir.Table:
        table = self._read_parquet(path, "attribution", ("member_id", "entity_id"))
        stages.marts["attribution"] = table
        stages.assumptions.append(f"attribution taken from {path.name}, not from the contract's section")
        links = self.engine.materialize(claims_path.attributed_links(table))
        stages.counts["members_attributed"] = self.engine.count(links)
        return links

    def _read_scores(self, path: Path, stages: _Stages) -> ir.Table:
        table = self._read_parquet(path, "risk scores", ("member_id", "score"))
        stages.marts["risk_scores"] = table
        stages.assumptions.append(f"risk scores taken from {path.name}")
        return table

    def _attribution(
        self,
        contract: Contract,
        tables: Mapping[str, ir.Table],
        spec: claims_path.ClaimsMeasureSpec,
        stages: _Stages,
    ) -> ir.Table | None:
        if contract.attribution is None:
            if settles_episodes(contract):
                return None  # the entities are the episode initiators, not a population
            stages.assumptions.append(
                "assumption: the contract has no attribution section; every eligible member belongs to "
                f"entity {contract.default_entity_id} (default_entity_id)"
            )
            return None
        from apmkit.attribution.assign import AttributionInputs, attribute_many

        result = attribute_many(
            AttributionInputs.from_tables(tables),
            [contract.attribution],
            spec.period.end,
            materialize=self.engine.materialize,
        )
        attribution = self.engine.materialize(result.attribution)
        stages.marts["attribution"] = attribution
        links = self.engine.materialize(claims_path.attributed_links(attribution))
        stages.counts["members_attributed"] = self.engine.count(links)
        return links

    def _persons(self, tables: Mapping[str, ir.Table], payment_year: int, stages: _Stages | None) -> ir.Table:
        """Persons for risk scoring, with CMS's new-enrollee rule when the enrollment covers the data year;
        the rule applied is stated on the statement."""
        from apmkit.risk.claims import data_year_months, new_enrollee_rule, persons_from_members

        months = int(self.engine.execute(data_year_months(tables["enrollment"], payment_year=payment_year)))
        if stages is not None:
            stages.assumptions.append(f"risk scores: {new_enrollee_rule(months, payment_year=payment_year)}")
        return persons_from_members(
            tables["members"], tables["enrollment"], payment_year=payment_year, covers_data_year=months >= 12
        )

    def _risk_scores(
        self, contract: Contract, tables: Mapping[str, ir.Table], stages: _Stages
    ) -> ir.Table | None:
        risk = contract.risk_adjustment
        if risk is None:
            return None
        from apmkit.risk.claims import diagnoses_from_claims
        from apmkit.risk.scoring import payment_scores

        persons = self._persons(tables, risk.payment_year, stages)
        diagnoses = diagnoses_from_claims(
            tables["medical_claims"], payment_year=risk.payment_year, materialize=self.engine.materialize
        )
        scored = payment_scores(persons, diagnoses, risk, materialize=self.engine.materialize)
        scores = self.engine.materialize(
            scored.select(
                "member_id",
                "segment",
                score=scored.payment_score,
                payment_year=ibis.literal(risk.payment_year),
            )
        )
        stages.marts["risk_scores"] = scores
        stages.counts["members_scored"] = self.engine.count(scores)
        return scores

    def _benchmark(
        self,
        contract: Contract,
        tables: Mapping[str, ir.Table],
        spending: Spending,
        links: ir.Table | None,
        entities: list[EntityInputs],
        given: Mapping[str, EntityInputs],
        stages: _Stages,
        files: Overrides | None = None,
    ) -> list[EntityInputs]:
        benchmark = contract.benchmark
        if benchmark is None:
            if contract.target.benchmark_per_person_year is not None:
                stages.assumptions.append(
                    "benchmark: target.benchmark_per_person_year x person-years (the contract's fixed target)"
                )
            return entities
        if benchmark.method == "general":
            return self._general_benchmark(contract, tables, spending, links, entities, given, stages)
        if benchmark.mssp_spec is None:
            return _mssp_benchmark_given(entities, given, stages)
        return self._mssp_benchmark(contract, tables, links, entities, stages, files or Overrides())

    def _general_benchmark(
        self,
        contract: Contract,
        tables: Mapping[str, ir.Table],
        spending: Spending,
        links: ir.Table | None,
        entities: list[EntityInputs],
        given: Mapping[str, EntityInputs],
        stages: _Stages,
    ) -> list[EntityInputs]:
        assert contract.benchmark is not None and contract.benchmark.general is not None
        spec = contract.benchmark.general
        base_years, performance_year = spec.years
        years = [*base_years, performance_year]
        if links is None:
            links = spending.member_years.select(
                "member_id", entity_id=ibis.literal(contract.default_entity_id)
            ).distinct()
        risk = None
        if spec.risk_adjust:
            if contract.risk_adjustment is None:
                raise ConfigurationError(
                    "benchmark.general.risk_adjust needs a risk_adjustment section (scores for every year)"
                )
            risk = self._scores_by_year(contract, tables, years)
        result = general_benchmark(
            spending.member_years,
            spec,
            fetch=self.engine.rows,
            links=links,
            risk_scores=risk,
            completion_factor=contract.definitions.completion_factor,
        )
        stages.arrow["benchmark_lines"] = result.lines_arrow()
        stages.arrow["benchmark_entities"] = result.entities_arrow()
        pmpm = {e.entity_id: e.benchmark_pmpm for e in result.entities}
        updated = []
        for entity in entities:
            key = result.panel_of.get(entity.entity_id, entity.entity_id)
            if given.get(entity.entity_id) is not None and given[entity.entity_id].benchmark is not None:
                stages.assumptions.append(
                    f"entity {entity.entity_id}: benchmark taken from --inputs, not built"
                )
                updated.append(entity)
                continue
            if key not in pmpm or not entity.member_months:
                updated.append(entity)  # settlement refuses it, naming the missing benchmark
                continue
            total = round_money(pmpm[key] * entity.member_months)
            updated.append(
                entity.model_copy(
                    update={
                        "benchmark": total,
                        "detail": {
                            **entity.detail,
                            "benchmark_source": f"benchmark_lines.parquet entity {key}: benchmark PMPM "
                            f"{round_money(pmpm[key])} x {entity.member_months} member months",
                            "benchmark_pmpm": str(round_money(pmpm[key])),
                        },
                    }
                )
            )
        return updated

    def _scores_by_year(
        self, contract: Contract, tables: Mapping[str, ir.Table], years: list[int]
    ) -> ir.Table:
        """Scores for every benchmark year: the contract's model scored with each year as payment year."""
        assert contract.risk_adjustment is not None
        from apmkit.risk.claims import diagnoses_from_claims
        from apmkit.risk.scoring import payment_scores

        parts = []
        for year in years:
            spec = contract.risk_adjustment.model_copy(update={"payment_year": year})
            try:
                persons = self._persons(tables, year, None)
                dx = diagnoses_from_claims(
                    tables["medical_claims"], payment_year=year, materialize=self.engine.materialize
                )
                scored = payment_scores(persons, dx, spec, materialize=self.engine.materialize)
            except ApmkitError as exc:
                raise ConfigurationError(f"benchmark.general.risk_adjust: year {year}: {exc}") from None
            parts.append(
                scored.select("member_id", year=ibis.literal(year).cast("int32"), score=scored.payment_score)
            )
        return self.engine.materialize(parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0])

    def _mssp_benchmark(
        self,
        contract: Contract,
        tables: Mapping[str, ir.Table],
        links: ir.Table | None,
        entities: list[EntityInputs],
        stages: _Stages,
        files: Overrides,
    ) -> list[EntityInputs]:
        assert contract.benchmark is not None and contract.benchmark.mssp_spec is not None
        from apmkit.benchmark.mssp import mssp_benchmark
        from apmkit.workspace.benchmark import county_rates, read_string_table

        spec = contract.benchmark.mssp_spec
        if not files.county_puf:
            raise ConfigurationError(
                "benchmark.mssp: the regional per capita and the regional adjustment (42 CFR 425.654, 425.656) need "
                "CMS's county rates: give the county FFS benchmark PUF with --county-puf (one file per year)"
            )
        county = county_rates(self.engine, files.county_puf)
        stages.counts.update(county_rows_read=county.rows_read, county_cells_rejected=county.rows_rejected)
        crosswalk = (
            read_string_table(self.engine, files.county_crosswalk)
            if files.county_crosswalk is not None
            else None
        )
        risk = None
        if contract.risk_adjustment is not None:
            # the MSSP risk ratio needs a score per benchmark year and the performance year
            risk = self._scores_by_year(contract, tables, [*spec.base_years, spec.performance_year])
        updated = []
        parts: list[pa.Table] = []
        for entity in entities:
            population = None
            if links is not None:
                population = links.filter(links.entity_id == entity.entity_id).select("member_id")
            result = mssp_benchmark(
                tables,
                spec,
                fetch=self.engine.rows,
                materialize=self.engine.materialize,
                population=population,
                risk_scores=risk,
                county=county.regional,
                county_crosswalk=crosswalk,
            )
            built = result.lines_arrow()
            parts.append(
                built.append_column("entity_id", pa.array([entity.entity_id] * built.num_rows, pa.string()))
            )
            expenditure = result.performance_year_expenditure
            if expenditure is None:
                raise ApmkitError(
                    f"benchmark: entity {entity.entity_id}: the data hold no eligible months in performance year "
                    f"{spec.performance_year}"
                )
            # The MSSP rules measure the performance year per enrollment type (truncation by type): the
            # benchmark and the actual expenditure both come from that one measurement.
            updated.append(
                entity.model_copy(
                    update={
                        # three-way total; the settlement applies the guardrail (42 CFR 425.652(b)(5))
                        "benchmark": round_money(result.total_benchmark),
                        "recalculated_benchmark": result.total_two_way_benchmark or None,
                        "guardrail_applies": entity.guardrail_applies
                        if entity.guardrail_applies is not None
                        else (result.guardrail_applies or None),
                        "expenditure": round_money(expenditure),
                        "person_years": result.performance_year_person_years,
                        "detail": {
                            **entity.detail,
                            "benchmark_source": "benchmark_lines.parquet (MSSP build-up)",
                            "guardrail_status": result.guardrail_status,
                            "expenditure_source": "MSSP per-type truncated, completed performance-year expenditure",
                        },
                    }
                )
            )
        if parts:
            stages.arrow["benchmark_lines"] = pa.concat_tables(parts)
        return updated

    def _quality(
        self,
        contract: Contract,
        tables: Mapping[str, ir.Table],
        spec: claims_path.ClaimsMeasureSpec,
        members: ir.Table,
        entities: list[EntityInputs],
        given: Mapping[str, EntityInputs],
        stages: _Stages,
        quality_rates: Path | None = None,
    ) -> tuple[list[EntityInputs], dict[str, tuple[StatementLine, ...]]]:
        quality = quality_link.quality_spec(contract)
        assert quality is not None
        supplied = self._supplied_rates(quality, quality_rates)
        population = members.select("entity_id", "member_id")
        start, end = quality_link.measurement_window(quality, spec.period.start, spec.period.end)
        rows: list[dict[str, Any]] = []
        if quality_link.computed_measures(quality):
            rates = self.engine.materialize(
                quality_link.entity_measure_rates(
                    tables, population, quality, start, end, materialize=self.engine.materialize
                )
            )
            stages.marts["quality_populations"] = rates
            rows = self.engine.rows(rates)
        baselines: dict[str, dict[str, Decimal]] = {}
        if quality.baseline_period is not None and quality_link.computed_measures(quality):
            # the same attributed members, measured over the baseline period the contract names
            before = quality_link.entity_measure_rates(
                tables,
                population,
                quality,
                quality.baseline_period.start,
                quality.baseline_period.end,
                materialize=self.engine.materialize,
            )
            baselines = baselines_from_rates(self.engine.rows(before))
        for entity_id, given_rates in supplied.items():
            baselines.setdefault(entity_id, {}).update(given_rates.baselines)
        computed = quality_link.score_entities(
            quality,
            rows,
            [e.entity_id for e in entities],
            source="quality measures on the attributed members",
            supplied=supplied,
            baselines=baselines,
        )
        entities, lines = quality_link.apply_quality(entities, computed, given)
        stages.counts["quality_entities_scored"] = len(computed)
        return entities, lines

    def _supplied_rates(self, quality: QualitySpec, path: Path | None) -> dict[str, EntityRates]:
        """Rates of the measures apmkit does not compute (CAHPS, CMS claims measures), from ``--quality-rates``."""
        needed = quality_link.supplied_measures(quality)
        if path is None:
            if needed:
                raise ConfigurationError(
                    f"quality.measures {', '.join(needed)} are not computed from the data: give their rates per "
                    "entity with --quality-rates (entity_id, measure, rate or eligible and numerator)"
                )
            return {}
        from apmkit.documents import read_csv_rows

        _, rows = read_csv_rows(path, required=("entity_id", "measure"))
        return rates_from_rows(rows, source=str(path))

    # ---- output ----------------------------------------------------------------------------------------
    def _write(
        self, out: Path, settlement: Settlement, stages: _Stages, formats: tuple[str, ...]
    ) -> dict[str, Path]:
        engine = self.engine
        files: dict[str, Path] = {}
        with staged_output(out, accept_existing=earlier_statement) as staging:
            tables = dict(stages.marts)
            tables.update({name: engine.from_arrow(arrow) for name, arrow in stages.arrow.items()})
            tables.update(_statement_tables(engine, settlement))
            if engine.name == "duckdb":
                from apmkit.workspace.mart_store import write_marts_duckdb

                # each mart computed once into run.duckdb, then copied to Parquet from there
                files.update(write_marts_duckdb(engine, staging, tables))
            else:
                for name, table in tables.items():
                    files[name] = engine.write_parquet(table, staging / f"{name}.parquet")
                _write_database(staging / "run.duckdb", files)
            files.update(_write_documents(staging, settlement, formats))
            if stages.info:
                files["run.json"] = _write_text(staging / "run.json", json.dumps(stages.info, indent=2))
        return {name: out / path.name for name, path in files.items()} | {"run.duckdb": out / "run.duckdb"}


def write_statements(
    engine: Engine, folder: Path, settlement: Settlement, formats: tuple[str, ...]
) -> dict[str, Path]:
    """The statement files: summary and lines as Parquet always, JSON/HTML/Excel as chosen, rejected rows."""
    files: dict[str, Path] = {}
    for name, table in _statement_tables(engine, settlement).items():
        files[name] = engine.write_parquet(table, folder / f"{name}.parquet")
    files.update(_write_documents(folder, settlement, formats))
    return files


def _statement_tables(engine: Engine, settlement: Settlement) -> dict[str, ir.Table]:
    """The statement's ``summary`` and ``lines`` tables."""
    return {
        "summary": engine.from_arrow(summary_table(settlement)),
        "lines": engine.from_arrow(lines_table(settlement)),
    }


def _write_documents(folder: Path, settlement: Settlement, formats: tuple[str, ...]) -> dict[str, Path]:
    """The statement in the chosen ``formats`` (JSON, HTML, Excel) and the rejected rows."""
    files: dict[str, Path] = {}
    if "json" in formats:
        files["statement.json"] = _write_text(folder / "statement.json", settlement_to_json(settlement))
    if "html" in formats:
        files["statement.html"] = _write_text(folder / "statement.html", settlement_to_html(settlement))
    if "xlsx" in formats:
        target = folder / "statement.xlsx"
        target.write_bytes(settlement_to_excel(settlement))
        files["statement.xlsx"] = target
    if settlement.rejected:
        files["rejected.csv"] = _write_rejected(folder / "rejected.csv", settlement.rejected)
    return files


def settle_aggregate(
    contract: Contract | str | Path,
    period: str,
    inputs: Path,
    *,
    out: Path | None = None,
    formats: tuple[str, ...] = FORMATS,
    engine: Engine | None = None,
) -> Settlement:
    """Settle from a CSV of per-entity aggregate inputs (benchmark, expenditure, person-years, ...), without
    claims: how a provider checks a payer's reconciliation report. Errors as :meth:`Workspace.run`."""
    document = read_contract(contract)
    try:
        document.for_period(period)
    except KeyError:
        raise ConfigurationError(
            f"period {period!r} is neither a period of contract {document.id} "
            f"({', '.join(document.periods) or 'none named'}) nor a calendar year (1900-2199)"
        ) from None
    if out is not None:
        check_output(out, accept_existing=earlier_statement)
    given, read, rejected = read_inputs(inputs)
    counts = {
        "rows_read": read["inputs_read"],
        "rows_loaded": read["inputs_loaded"],
        "rows_rejected": read["inputs_rejected"],
    }
    settlement = settle(document, period, list(given.values()), rejected=rejected, counts=counts)
    if not settlement.statements:
        raise ApmkitError(_nothing_settled(period, settlement))
    if out is not None:
        active = engine or Engine.duckdb()
        try:
            with staged_output(out, accept_existing=earlier_statement) as staging:
                write_statements(active, staging, settlement, formats)
        finally:
            if engine is None:
                active.close()
    return settlement


def _nothing_settled(period: str, settlement: Settlement) -> str:
    """One line: how many entities were refused and each distinct reason once (without the source prefix)."""
    reasons: list[str] = []
    for row in settlement.rejected:
        reason = row["reason"]
        at = reason.find("field ")
        text = reason[at:] if at > 0 else reason
        if text not in reasons:
            reasons.append(text)
    shown = "; ".join(reasons[:4]) + (f"; and {len(reasons) - 4} more" if len(reasons) > 4 else "")
    return f"no entity was settled for period {period} ({len(settlement.rejected)} refused): {shown}"


def earlier_statement(folder: Path) -> bool:
    """An output folder an earlier statement was written to (before outputs carried apmkit's marker)."""
    return (folder / "summary.parquet").exists() or (folder / "statement.json").exists()


def _write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _write_rejected(path: Path, rejected: tuple[dict[str, str], ...]) -> Path:
    import csv

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["source_file", "source_line", "reason"])
        writer.writeheader()
        writer.writerows(rejected)
    return path


def _write_database(path: Path, parquet: Mapping[str, Path]) -> None:
    """One DuckDB database holding every mart, so reports and the dashboard open one file."""
    with Engine.connect("duckdb", database=path) as database:
        for name, file in parquet.items():
            database.save_table(database.read_parquet(file), name)


def _record_for_reports(
    stages: _Stages,
    tables: Mapping[str, ir.Table],
    document: Contract,
    resolved: Contract,
    period: str,
    spec: claims_path.ClaimsMeasureSpec,
    base_years: tuple[int, ...],
    data: Path,
) -> None:
    """What the performance reports need (issue 16): ``run.json`` and the ``utilization`` events mart."""
    from apmkit.reports.events import utilization_events

    first = min([spec.period.start, *(date(y, 1, 1) for y in base_years)])
    cost_basis = resolved.definitions.cost_basis
    stages.marts["utilization"] = utilization_events(
        tables["medical_claims"], first, spec.period.end, cost_basis=cost_basis
    )
    from apmkit.contracts.document import contract_to_yaml

    stages.info = {
        "contract_yaml": contract_to_yaml(document),
        "contract_id": document.id,
        "period": period,
        "start": spec.period.start.isoformat(),
        "end": spec.period.end.isoformat(),
        "base_years": list(base_years),
        "cost_basis": cost_basis,
        "include_pharmacy": resolved.definitions.include_pharmacy,
        "data": str(data.resolve()),
    }


def _mssp_benchmark_given(
    entities: list[EntityInputs], given: Mapping[str, EntityInputs], stages: _Stages
) -> list[EntityInputs]:
    """``benchmark.mssp: REQUIRED`` (a template not yet filled): each ACO's benchmark must come from ``--inputs``
    (CMS's figure); an ACO without one is refused by the settlement, naming the field.

    Raises
    ------
    ConfigurationError
        No entity has a benchmark given: the section itself is what is missing.
    """
    if not any(g.benchmark is not None for g in given.values()):
        raise ConfigurationError(
            "benchmark.mssp is REQUIRED: fill it with CMS's figures (base_years, performance_year, "
            "national_per_capita, update.national_growth, update.acpt; docs/benchmark.md) to build the benchmark "
            "from claims, or give each ACO's benchmark in --inputs"
        )
    stages.assumptions.append(
        "benchmark: each ACO's benchmark taken from --inputs (benchmark.mssp is not filled in the contract)"
    )
    return entities


def _base_years(contract: Contract) -> tuple[int, ...]:
    benchmark = contract.benchmark
    if benchmark is None:
        return ()
    if benchmark.method == "general" and benchmark.general is not None:
        return benchmark.general.years[0]
    return ()


def _benchmark_for_period(contract: Contract, period: str) -> Contract:
    """The contract with its benchmark built for the period being settled (relative base years resolved).

    Raises
    ------
    ConfigurationError
        The benchmark names another performance year.
    """
    year = contract.period(period).start.year
    benchmark = contract.benchmark
    if benchmark is None:
        return contract
    spec: Any = benchmark.general if benchmark.method == "general" else benchmark.mssp_spec
    if spec is not None and spec.performance_year not in (None, year):
        raise ConfigurationError(
            f"period {period} starts in {year} but benchmark.{benchmark.method}.performance_year is "
            f"{spec.performance_year}: the benchmark must be built for the settled period"
        )
    if benchmark.general is not None:
        general = benchmark.general.for_year(year)
        return contract.model_copy(update={"benchmark": benchmark.model_copy(update={"general": general})})
    return contract


def _check_tables(contract: Contract, present: list[str], folder: Path) -> None:
    """Every table the contract's sections read must exist: a missing table is never zero spending."""
    needed: dict[str, str] = {
        "enrollment": "eligible member-months",
        "medical_claims": "spending",
    }
    if contract.definitions.include_pharmacy:
        needed["pharmacy_claims"] = "definitions.include_pharmacy"
    if contract.attribution is not None:
        needed.update(members="the attribution section", providers="the attribution section")
    if contract.risk_adjustment is not None:
        needed["members"] = "the risk_adjustment section"
    if contract.benchmark is not None and contract.benchmark.method == "mssp":
        needed["members"] = "the MSSP benchmark (enrollment types)"
    if contract.quality is not None:
        needed["clinical"] = "the quality section"
    missing = [f"{name} (needed for {why})" for name, why in needed.items() if name not in present]
    if missing:
        raise InputFileError(folder, f"missing required table {'; '.join(missing)}")


def _check_period_data(
    engine: Engine, spending: Spending, spec: claims_path.ClaimsMeasureSpec, period: str
) -> None:
    """An empty period is an error, not a zero: no eligible months or no claim lines at all in it."""
    # From the member-years (one row per member and year, already computed): their member months are the
    # period's eligible member-months and their claim lines the monthly mart's (kept to eligible months).
    years = spending.member_years.filter(spending.member_years.year == spec.year)
    totals = engine.rows(
        years.aggregate(
            months=years.member_months.sum().fill_null(0), lines=years.claim_lines.sum().fill_null(0)
        )
    )[0]
    if not totals["months"]:
        raise ApmkitError(f"period {period}: the enrollment table has no eligible member-month in the period")
    if not totals["lines"]:
        raise ApmkitError(
            f"period {period}: no claim line in the period within the run-out "
            f"(through {spec.runout_end.isoformat()}); the claims table does not cover it"
        )


__all__ = [
    "FORMATS",
    "MART_TABLES",
    "Overrides",
    "RunResult",
    "Workspace",
    "read_contract",
    "settle_aggregate",
    "write_statements",
]
