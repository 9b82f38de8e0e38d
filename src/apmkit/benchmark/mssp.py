"""MSSP historical and updated benchmark, end to end (agreements starting 2024+; 42 CFR 425.652).

:func:`mssp_benchmark` runs the per-member work on the engine (eligible months, enrollment types,
truncated expenditure: :mod:`apmkit.benchmark.expenditure`), pulls the per-year-and-type totals (at most
16 rows) and finishes in exact Decimal with :mod:`apmkit.benchmark.mssp_steps`, recording every step as a
statement line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import ibis.expr.types as ir
import pyarrow as pa

from apmkit.benchmark.expenditure import (
    eligible_member_months,
    mean_risk_by_year_type,
    member_year_expenditure,
    per_capita_by_year_type,
)
from apmkit.benchmark.mssp_steps import (
    ONE,
    ZERO,
    Line,
    base_year_blend,
    cap_risk_ratios,
    combine_adjustments,
    guardrail,
    mix_weighted,
    negative_offset_factor,
    prior_savings_adjustment,
    regional_adjustment,
    update_factors,
)
from apmkit.benchmark.spec import ENROLLMENT_TYPES, EnrollmentType, MsspBenchmarkSpec
from apmkit.errors import ApmkitError
from apmkit.money import round_money
from apmkit.portable import Fetch, Materialize

CENTS = Decimal(100)
TWELVE = Decimal(12)

LINE_SCHEMA = pa.schema(
    [
        ("line", pa.int32()),
        ("step", pa.string()),
        ("label", pa.string()),
        ("entity", pa.string()),
        ("year", pa.int32()),
        ("value", pa.decimal128(28, 8)),
        ("unit", pa.string()),
        ("source", pa.string()),
    ]
)


def lines_to_arrow(lines: list[Line] | tuple[Line, ...]) -> pa.Table:
    """Statement lines as an Arrow table (``line`` numbers the build-up in order)."""
    quantum = Decimal("0.00000001")
    rows = [
        {
            "line": i + 1,
            "step": line.step,
            "label": line.label,
            "entity": line.enrollment_type,
            "year": line.year,
            "value": line.value.quantize(quantum),
            "unit": line.unit,
            "source": line.source,
        }
        for i, line in enumerate(lines)
    ]
    return pa.Table.from_pylist(rows, schema=LINE_SCHEMA)


@dataclass(frozen=True)
class MsspBenchmarkResult:
    """An MSSP benchmark and its build-up.

    Attributes
    ----------
    lines
        Statement lines in build-up order.
    by_type
        Per enrollment type: ``person_years_by3``, ``person_years_py``, ``historical``, ``adjustment``,
        ``risk_ratio``, ``update``, ``updated``, ``updated_two_way`` (per-capita dollars or factors).
    historical_per_capita, updated_per_capita, updated_two_way_per_capita
        Single values (BY3 mix for historical; PY mix for updated).
    performance_year_person_years
        Person-years the total is computed on (PY when PY data are present, else BY3).
    total_benchmark
        ``updated_per_capita x person-years``, to the cent.
    adjustment_applied
        ``regional``, ``prior_savings`` or ``none``.
    performance_year_expenditure
        Truncated, completed PY expenditure total when the data include the performance year.
    settlement_benchmark, guardrail_status
        Benchmark after the guardrail (three-way unless the guardrail applies), as this build-up reads it. A
        settlement does not use it: it takes ``total_benchmark``, ``total_two_way_benchmark`` and
        ``guardrail_applies`` and applies the guardrail with the contract's MLR (so that "no savings, no
        losses" is never read as savings against the two-way benchmark).
    total_two_way_benchmark
        ``updated_two_way_per_capita x person-years``, to the cent: the recalculated updated benchmark of
        42 CFR 425.652(b)(5).
    guardrail_applies
        Whether the spec asks for the guardrail (``minimum_loss_rate`` given).
    member_years
        The per-member truncated expenditure table (engine side).
    """

    lines: tuple[Line, ...]
    by_type: dict[str, dict[str, Decimal]]
    historical_per_capita: Decimal
    updated_per_capita: Decimal
    updated_two_way_per_capita: Decimal
    performance_year_person_years: Decimal
    total_benchmark: Decimal
    adjustment_applied: str
    performance_year_expenditure: Decimal | None
    settlement_benchmark: Decimal
    guardrail_status: str
    member_years: ir.Table = field(repr=False)
    total_two_way_benchmark: Decimal = ZERO
    guardrail_applies: bool = False

    def lines_arrow(self) -> pa.Table:
        return lines_to_arrow(self.lines)

    def by_type_arrow(self) -> pa.Table:
        keys = sorted({key for values in self.by_type.values() for key in values})
        rows = [
            {
                "enrollment_type": kind,
                **{key: values.get(key, ZERO).quantize(Decimal("0.00000001")) for key in keys},
            }
            for kind, values in self.by_type.items()
        ]
        schema = pa.schema([("enrollment_type", pa.string())] + [(key, pa.decimal128(28, 8)) for key in keys])
        return pa.Table.from_pylist(rows, schema=schema)

    def summary_arrow(self) -> pa.Table:
        money = pa.decimal128(18, 2)
        row = {
            "historical_per_capita": round_money(self.historical_per_capita),
            "updated_per_capita": round_money(self.updated_per_capita),
            "updated_two_way_per_capita": round_money(self.updated_two_way_per_capita),
            "person_years": round_money(self.performance_year_person_years),
            "total_benchmark": round_money(self.total_benchmark),
            "adjustment_applied": self.adjustment_applied,
            "performance_year_expenditure": None
            if self.performance_year_expenditure is None
            else round_money(self.performance_year_expenditure),
            "settlement_benchmark": round_money(self.settlement_benchmark),
            "guardrail_status": self.guardrail_status,
            "total_two_way_benchmark": round_money(self.total_two_way_benchmark),
            "guardrail_applies": self.guardrail_applies,
        }
        schema = pa.schema(
            [
                ("historical_per_capita", money),
                ("updated_per_capita", money),
                ("updated_two_way_per_capita", money),
                ("person_years", money),
                ("total_benchmark", money),
                ("adjustment_applied", pa.string()),
                ("performance_year_expenditure", money),
                ("settlement_benchmark", money),
                ("guardrail_status", pa.string()),
                ("total_two_way_benchmark", money),
                ("guardrail_applies", pa.bool_()),
            ]
        )
        return pa.Table.from_pylist([row], schema=schema)


def _dec(value: object) -> Decimal:
    return Decimal(str(value))


def _restrict(member_months: ir.Table, population: ir.Table | None) -> ir.Table:
    if population is None:
        return member_months
    keys = ["member_id", "year"] if "year" in population.columns else ["member_id"]
    chosen = population.select(
        *[population[k].cast("int32").name(k) if k == "year" else population[k] for k in keys]
    ).distinct()
    return member_months.semi_join(chosen, keys)


def regional_inputs(
    member_years: ir.Table,
    members: ir.Table,
    county: ir.Table,
    reference_year: int,
    county_crosswalk: ir.Table | None = None,
) -> tuple[ir.Table, ir.Table, ir.Table]:
    """ACO-weighted regional per capita and risk by year and type (42 CFR 425.654).

    Counties are weighted by the ACO's member-months per county and type in ``reference_year`` (BY3).
    ``members.county_fips`` is matched to the county table's ``county_code`` directly, or through
    ``county_crosswalk`` (``county_fips, county_code``: FIPS -> SSA state+county code of the PUF).

    Returns
    -------
    (by_type, per_county_total, aco)
        ``by_type``: ``year, enrollment_type, weighted_pc, weighted_risk, months`` (sums weighted by ACO
        member-months; divide by ``months``); ``per_county_total``: ``year, county_code, county_py``;
        ``aco``: ``county_code, enrollment_type, aco_months``.
    """
    located_members = members.select("member_id", "county_fips")
    if county_crosswalk is not None:
        crosswalk = county_crosswalk.select(
            county_fips=county_crosswalk.county_fips.cast("string"),
            county_code=county_crosswalk.county_code.cast("string"),
        ).distinct()
        located_members = located_members.join(crosswalk, "county_fips").select("member_id", "county_code")
    else:
        located_members = located_members.select("member_id", county_code="county_fips")
    located = member_years.filter(member_years.year == reference_year).join(located_members, "member_id")
    aco = located.group_by(["county_code", "enrollment_type"]).aggregate(
        aco_months=located.member_months.sum().cast("int64")
    )
    joined = county.join(aco, ["county_code", "enrollment_type"])
    weight = joined.aco_months.cast("decimal(38, 6)")
    per_county_total = county.group_by(["year", "county_code"]).aggregate(county_py=county.person_years.sum())
    by_type = joined.group_by(["year", "enrollment_type"]).aggregate(
        weighted_pc=(joined.per_capita.cast("decimal(38, 6)") * weight).sum(),
        weighted_risk=(joined.risk_score.cast("decimal(38, 6)") * weight).sum(),
        months=weight.sum(),
    )
    return by_type, per_county_total, aco


def _market_share(aco: ir.Table, per_county_total: ir.Table, year: int, fetch: Fetch) -> Decimal | None:
    """ACO share of assignable beneficiaries in its regional service area (425.652(a)(5)(ii)).

    County shares (ACO person-years / county person-years) weighted by the ACO's person-years per county.
    """
    aco_county = aco.group_by("county_code").aggregate(aco_months=aco.aco_months.sum())
    totals = per_county_total.filter(per_county_total.year == year)
    joined = aco_county.join(totals, "county_code")
    rows = fetch(joined.select("aco_months", "county_py"))
    total = sum((Decimal(r["aco_months"]) for r in rows), ZERO)
    if total == 0:
        return None
    share = ZERO
    for r in rows:
        aco_py = Decimal(r["aco_months"]) / TWELVE
        county_py = _dec(r["county_py"])
        if county_py > 0:
            share += (Decimal(r["aco_months"]) / total) * min(ONE, aco_py / county_py)
    return share


def mssp_benchmark(
    tables: Mapping[str, ir.Table],
    spec: MsspBenchmarkSpec,
    *,
    fetch: Fetch,
    materialize: Materialize,
    population: ir.Table | None = None,
    risk_scores: ir.Table | None = None,
    county: ir.Table | None = None,
    county_crosswalk: ir.Table | None = None,
) -> MsspBenchmarkResult:
    """Compute an ACO's MSSP historical benchmark and update it to the performance year.

    Parameters
    ----------
    tables
        Canonical tables (``members``, ``enrollment``, ``medical_claims``).
    spec
        MSSP benchmark parameters.
    fetch
        Returns the rows of the small aggregate tables the per-type steps read (``Engine.rows``).
    materialize
        Computes the per-member truncated expenditure once (``Engine.materialize``): the totals, the risk and
        regional steps and the caller's output all read it.
    population
        Assigned beneficiaries (``member_id`` [, ``year``]); None = everyone in the data.
    risk_scores
        ``member_id, year, score`` (prospective CMS-HCC, renormalized); None = no risk adjustment.
    county
        Regional inputs from :func:`apmkit.benchmark.county_puf.conform_county_puf`; None = no regional
        trend or adjustment (national trend only).
    county_crosswalk
        ``county_fips, county_code``: maps members' FIPS counties to the PUF's SSA county codes; None =
        ``members.county_fips`` already holds the PUF's codes.
    """
    by1, by2, by3 = spec.base_years
    py = spec.performance_year
    years = [by1, by2, by3, py]
    months = _restrict(eligible_member_months(tables["enrollment"], tables["members"], years), population)
    member_years = materialize(
        member_year_expenditure(
            tables["medical_claims"],
            months,
            truncation_percentile=spec.truncation_percentile,
            truncation_thresholds=spec.truncation_thresholds,
        )
    )
    lines: list[Line] = []

    totals: dict[int, dict[str, dict[str, int]]] = {}
    for row in fetch(per_capita_by_year_type(member_years)):
        totals.setdefault(int(row["year"]), {})[row["enrollment_type"]] = row
    missing = [y for y in spec.base_years if y not in totals]
    if missing:
        raise ApmkitError(f"benchmark: no eligible Medicare FFS member-months in base year {missing[0]}")
    types: list[EnrollmentType] = [k for k in ENROLLMENT_TYPES if k in totals[by3]]

    person_years: dict[int, dict[EnrollmentType, Decimal]] = {}
    per_capita: dict[int, dict[EnrollmentType, Decimal]] = {}
    completed_total: dict[int, Decimal] = {}
    for year, by_type in sorted(totals.items()):
        factor = spec.completion_factors.get(year, ONE)
        person_years[year] = {}
        per_capita[year] = {}
        completed_total[year] = ZERO
        for kind in ENROLLMENT_TYPES:
            if kind not in by_type:
                continue
            row = by_type[kind]
            pyears = Decimal(row["member_months"]) / TWELVE
            dollars = Decimal(row["truncated_cents"]) / CENTS * factor
            completed_total[year] += dollars
            person_years[year][kind] = pyears
            per_capita[year][kind] = dollars / pyears if pyears else ZERO
            lines.append(
                Line("person_years", "Person-years", round_money(pyears), "person_years", kind, year)
            )
            lines.append(
                Line(
                    "expenditure_before_truncation",
                    "A+B expenditure before truncation",
                    round_money(Decimal(row["expenditure_cents"]) / CENTS),
                    "usd",
                    kind,
                    year,
                )
            )
            lines.append(
                Line(
                    "expenditure_truncated",
                    "A+B expenditure, truncated at the percentile",
                    round_money(Decimal(row["truncated_cents"]) / CENTS),
                    "usd",
                    kind,
                    year,
                    "42 CFR 425.652(a)(4)",
                )
            )
            if factor != ONE:
                lines.append(
                    Line(
                        "completion_factor",
                        "Completion factor (run-out)",
                        factor,
                        "factor",
                        kind,
                        year,
                        "42 CFR 425.652(a)(1)",
                    )
                )
            lines.append(
                Line(
                    "per_capita",
                    "Per-capita expenditure",
                    round_money(per_capita[year][kind]),
                    "usd_per_capita",
                    kind,
                    year,
                )
            )

    risk: dict[int, dict[EnrollmentType, Decimal]] = {}
    if risk_scores is not None:
        for row in fetch(mean_risk_by_year_type(member_years, risk_scores)):
            if row["months"]:
                mean = _dec(row["weighted_score"]) / Decimal(row["months"])
                risk.setdefault(int(row["year"]), {})[row["enrollment_type"]] = mean
        for year, scores in sorted(risk.items()):
            for kind, score in scores.items():
                lines.append(
                    Line("risk_score", "Mean prospective HCC risk score", score, "factor", kind, year)
                )

    # Restate BY1/BY2 at BY3 risk (425.652(a)(3)) where scores exist for both years.
    def risk_restated(year: int, kind: EnrollmentType) -> Decimal:
        if year in risk and by3 in risk and kind in risk[year] and kind in risk[by3] and risk[year][kind] > 0:
            return risk[by3][kind] / risk[year][kind]
        return ONE

    regional_pc: dict[int, dict[EnrollmentType, Decimal]] = {}
    regional_risk: dict[int, dict[EnrollmentType, Decimal]] = {}
    market_share: Decimal | None = None
    if county is not None:
        by_type_table, per_county_total, aco = regional_inputs(
            member_years, tables["members"], county, by3, county_crosswalk
        )
        for row in fetch(by_type_table):
            weight = _dec(row["months"])
            if weight > 0:
                year = int(row["year"])
                regional_pc.setdefault(year, {})[row["enrollment_type"]] = _dec(row["weighted_pc"]) / weight
                regional_risk.setdefault(year, {})[row["enrollment_type"]] = (
                    _dec(row["weighted_risk"]) / weight
                )
        county_years = sorted(regional_pc)
        if county_years:
            share_year = max([y for y in county_years if y <= by3] or county_years)
            market_share = _market_share(aco, per_county_total, share_year, fetch)
        for year, values in sorted(regional_pc.items()):
            for kind, value in values.items():
                lines.append(
                    Line(
                        "regional_per_capita",
                        "Regional per capita (ACO county mix)",
                        round_money(value),
                        "usd_per_capita",
                        kind,
                        year,
                        "42 CFR 425.654",
                    )
                )

    national_weight = spec.national_weight
    if national_weight is None:
        national_weight = market_share if market_share is not None else ONE
    lines.append(
        Line(
            "national_weight",
            "National weight in the trend/update blend (ACO market share)",
            national_weight,
            "weight",
            source="42 CFR 425.652(a)(5)",
        )
    )

    trend_to_by3: list[dict[EnrollmentType, Decimal]] = []
    for year in spec.base_years:
        factors: dict[EnrollmentType, Decimal] = {}
        for kind in types:
            nat = spec.national_per_capita
            national = (
                nat[by3][kind] / nat[year][kind]
                if year in nat and kind in nat[year] and nat[year][kind] and kind in nat[by3]
                else ONE
            )
            regional = (
                regional_pc[by3][kind] / regional_pc[year][kind]
                if by3 in regional_pc
                and year in regional_pc
                and kind in regional_pc[year]
                and kind in regional_pc[by3]
                and regional_pc[year][kind]
                else None
            )
            trend = national_weight * national + (ONE - national_weight) * regional if regional else national
            factors[kind] = trend * risk_restated(year, kind)
            if year != by3:
                lines.append(
                    Line(
                        "trend_to_by3",
                        "Trend to BY3 (national/regional blend) x risk restatement",
                        factors[kind],
                        "factor",
                        kind,
                        year,
                        "42 CFR 425.652(a)(5)-(6)",
                    )
                )
        trend_to_by3.append(factors)

    historical, blend_lines = base_year_blend(
        [per_capita.get(y, {}) for y in spec.base_years], spec.weights, trend_to_by3
    )
    lines += blend_lines
    historical_single = mix_weighted(historical, person_years[by3])
    lines.append(
        Line(
            "historical_benchmark",
            "Historical benchmark per capita (BY3 mix)",
            round_money(historical_single),
            "usd_per_capita",
            source="42 CFR 425.652(a)",
        )
    )

    regional_by_type: dict[EnrollmentType, Decimal] = {k: ZERO for k in types}
    regional_single = ZERO
    if by3 in regional_pc and all(k in regional_pc[by3] for k in types):
        regional_level = {
            k: regional_pc[by3][k] * (risk[by3][k] / regional_risk[by3][k])
            if by3 in risk and k in risk[by3] and regional_risk[by3].get(k)
            else regional_pc[by3][k]
            for k in types
        }
        offset = spec.regional.negative_offset_factor
        if offset is None and spec.regional.apply_negative:
            offset = (
                ZERO  # 2019-2023 agreements (425.601(a)(8)): no offset factor; it came with 425.656(c)(4)
            )
        if offset is None:
            total_py = sum(person_years[by3].values(), ZERO)
            dual_share = person_years[by3].get("aged_dual", ZERO) / total_py if total_py else ZERO
            # 425.656(c)(4)(ii): each type's BY3 score weighted by BY3 per-capita expenditure x person-years
            weighted_risk = (
                mix_weighted(
                    risk[by3],
                    {k: per_capita.get(by3, {}).get(k, ZERO) * person_years[by3].get(k, ZERO) for k in types},
                )
                if by3 in risk
                else ONE
            )
            offset = negative_offset_factor(dual_share, weighted_risk)
        regional_by_type, regional_single, reg_lines = regional_adjustment(
            historical,
            regional_level,
            spec.national_per_capita[by3],
            person_years[by3],
            spec.regional,
            offset_factor=offset,
        )
        lines += reg_lines
    psa = None
    if spec.prior_savings is not None:
        national_single = mix_weighted(
            {k: v for k, v in spec.national_per_capita[by3].items() if k in types}, person_years[by3]
        )
        psa, psa_lines = prior_savings_adjustment(spec.prior_savings, national_single)
        lines += psa_lines
    adjustments, chosen, adj_lines = combine_adjustments(
        regional_by_type, regional_single, psa, spec.regional
    )
    lines += adj_lines
    adjusted = {k: historical[k] + adjustments[k] for k in types}
    for k in types:
        lines.append(
            Line(
                "adjusted_historical",
                "Adjusted historical benchmark per capita",
                round_money(adjusted[k]),
                "usd_per_capita",
                k,
            )
        )

    py_person_years = person_years.get(py) or person_years[by3]
    ratios = {
        k: risk[py][k] / risk[by3][k]
        if py in risk and by3 in risk and k in risk[py] and risk[by3].get(k)
        else ONE
        for k in types
    }
    ratio_weights = {k: historical[k] * py_person_years.get(k, ZERO) for k in types}
    if py in risk and by3 in risk:
        capped, risk_lines = cap_risk_ratios(ratios, ratio_weights, spec.risk_growth)
        lines += risk_lines
    else:
        capped = ratios
        lines.append(Line("risk_ratio", "No risk scores for BY3 and PY: risk ratio 1", ONE, "factor"))

    regional_growth = None
    if by3 in regional_pc and py in regional_pc:
        regional_growth = {
            k: regional_pc[py][k] / regional_pc[by3][k]
            for k in types
            if k in regional_pc[py] and regional_pc[by3].get(k)
        }
    three, two, update_lines = update_factors(spec.update, national_weight, regional_growth)
    lines += update_lines
    missing_update = [k for k in types if k not in three]
    if missing_update:
        raise ApmkitError(
            f"benchmark.mssp.update.national_growth: no factor for enrollment type {missing_update[0]}"
        )

    updated = {k: adjusted[k] * capped[k] * three[k] for k in types}
    updated_two = {k: adjusted[k] * capped[k] * two[k] for k in types}
    for k in types:
        lines.append(
            Line(
                "updated_benchmark",
                "Updated benchmark per capita (x risk ratio x update)",
                round_money(updated[k]),
                "usd_per_capita",
                k,
                py,
                "42 CFR 425.652(b)",
            )
        )
    updated_single = mix_weighted(updated, py_person_years)
    two_single = mix_weighted(updated_two, py_person_years)
    total_py = sum((py_person_years.get(k, ZERO) for k in types), ZERO)
    total = round_money(updated_single * total_py)
    lines.append(
        Line(
            "updated_benchmark_single",
            "Updated benchmark per capita (PY mix)",
            round_money(updated_single),
            "usd_per_capita",
            year=py,
        )
    )
    lines.append(
        Line("performance_year_person_years", "Person-years", round_money(total_py), "person_years", year=py)
    )
    lines.append(Line("total_benchmark", "Total updated benchmark", total, "usd", year=py))

    py_expenditure = completed_total.get(py)
    total_two_way = round_money(two_single * total_py)
    settlement, status = total, "three_way"
    if py_expenditure is not None:
        lines.append(
            Line(
                "performance_year_expenditure",
                "PY expenditure, truncated and completed",
                round_money(py_expenditure),
                "usd",
                year=py,
            )
        )
        if spec.minimum_loss_rate is not None:
            settlement, status = guardrail(py_expenditure, total, total_two_way, spec.minimum_loss_rate)
            lines.append(
                Line(
                    "guardrail",
                    f"Benchmark for settlement ({status})",
                    settlement,
                    "usd",
                    year=py,
                    source="42 CFR 425.652(b)(5)",
                )
            )

    by_type_out: dict[str, dict[str, Decimal]] = {
        k: {
            "person_years_by3": person_years[by3].get(k, ZERO),
            "person_years_py": py_person_years.get(k, ZERO),
            "historical": historical[k],
            "adjustment": adjustments[k],
            "risk_ratio": capped[k],
            "update": three[k],
            "updated": updated[k],
            "updated_two_way": updated_two[k],
        }
        for k in types
    }
    return MsspBenchmarkResult(
        lines=tuple(lines),
        by_type=by_type_out,
        historical_per_capita=historical_single,
        updated_per_capita=updated_single,
        updated_two_way_per_capita=two_single,
        performance_year_person_years=total_py,
        total_benchmark=total,
        adjustment_applied=chosen,
        performance_year_expenditure=py_expenditure,
        settlement_benchmark=settlement,
        guardrail_status=status,
        member_years=member_years,
        total_two_way_benchmark=total_two_way,
        guardrail_applies=spec.minimum_loss_rate is not None,
    )
