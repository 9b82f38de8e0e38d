"""MSSP settlement rules by performance year and track, turned into :class:`SharedSavingsTerms`.

The rules themselves are data (``data/rules.yaml``, each entry with its citation); this module reads them and
builds the terms one ACO-year needs. Sources and the evidence for the data-derived rules: docs/mssp.md.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

from apmkit.errors import ConfigurationError
from apmkit.money import to_decimal
from apmkit.settlement.shared_savings import (
    BelowMinimumSharing,
    CapTerms,
    LossBenchmarkGuardrail,
    LossRateTerms,
    MinimumRateBand,
    MinimumRateTerms,
    QualityTerms,
    SharedSavingsTerms,
    TerminationTerms,
    variable_rate,
)

__all__ = [
    "MSR_ELECTIONS",
    "TRACKS",
    "MsrElection",
    "mssp_terms",
    "one_sided_msr",
    "one_sided_msr_table",
    "sequestration_rate",
    "track_label",
    "track_years",
]

MsrElection = Decimal | Literal["variable"]
"""A two-sided ACO's MSR/MLR election: a fixed symmetric rate or the variable table."""

TRACKS = (
    "track_1",
    "track_2",
    "track_3",
    "track_1_plus",
    "basic_a",
    "basic_b",
    "basic_c",
    "basic_d",
    "basic_e",
    "enhanced",
)


@cache
def _rules() -> dict[str, Any]:
    text = resources.files("apmkit.programs.mssp").joinpath("data/rules.yaml").read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def _dec(value: Any) -> Decimal:
    return to_decimal(value)


@cache
def one_sided_msr_table() -> MinimumRateTerms:
    """The variable MSR/MLR table (one-sided tracks, and two-sided ACOs that elected the variable option)."""
    table = _rules()["one_sided_msr_table"]
    bands = tuple(
        MinimumRateBand(
            min_population=band["min_population"],
            max_population=band.get("max_population"),
            rate_at_min=_dec(band["rate_at_min"]),
            rate_at_max=_dec(band["rate_at_max"]) if band.get("rate_at_max") is not None else None,
        )
        for band in table["bands"]
    )
    return MinimumRateTerms(kind="variable", bands=bands, citation=" ".join(table["citation"].split()))


MSR_ELECTIONS: tuple[Decimal, ...] = tuple(_dec(rate) for rate in _rules()["two_sided_msr_elections"])


def one_sided_msr(assigned_population: int) -> Decimal:
    """The variable MSR for an assigned population (exact; raises ValueError below 500)."""
    return variable_rate(one_sided_msr_table().bands, assigned_population)


def sequestration_rate(performance_year: int) -> tuple[Decimal, str]:
    """The reduction applied to shared-savings payments of a performance year, with its citation."""
    for entry in _rules()["sequestration"]:
        first, last = entry["years"]
        if first <= performance_year <= last:
            return _dec(entry["rate"]), " ".join(entry["citation"].split())
    raise ConfigurationError(
        f"performance year {performance_year}: no sequestration rule (2013-2025 covered)"
    )


def track_label(track: str) -> str:
    """Human name of a track key (``track_1`` → ``Track 1 (one-sided)``)."""
    return str(_track(track)["label"])


def track_years(track: str) -> list[int]:
    """Performance years for which the rules define ``track``."""
    years: list[int] = []
    for period in _track(track)["periods"]:
        years.extend(range(period["years"][0], period["years"][1] + 1))
    return years


def _track(track: str) -> dict[str, Any]:
    tracks: dict[str, Any] = _rules()["tracks"]
    if track not in tracks:
        raise ConfigurationError(f"track {track!r} is not an MSSP track; use one of {', '.join(TRACKS)}")
    return dict(tracks[track])


def _period(track: str, performance_year: int) -> dict[str, Any]:
    for period in _track(track)["periods"]:
        first, last = period["years"]
        if first <= performance_year <= last:
            return dict(period)
    raise ConfigurationError(
        f"track {track!r} has no rules for performance year {performance_year} "
        f"(defined for {', '.join(str(y) for y in track_years(track))})"
    )


@cache
def mssp_terms(
    track: str,
    performance_year: int,
    *,
    msr_election: MsrElection | None = None,
    agreement_year: int | None = None,
    revenue_loss_limit: bool | None = None,
) -> SharedSavingsTerms:
    """The shared savings terms of an MSSP track in a performance year.

    Parameters
    ----------
    track
        One of :data:`TRACKS`.
    performance_year
        Calendar performance year (2013 onward).
    msr_election
        For two-sided tracks that elect their MSR/MLR (2016 onward): a fixed symmetric rate from
        :data:`MSR_ELECTIONS` (any fraction is accepted, e.g. a rate read from a PUF) or ``"variable"``. Required
        for those tracks; ignored by tracks whose MSR the regulation sets.
    agreement_year
        Year of the agreement in Track 2 (1, 2, 3+), which sets its loss cap at 5 / 7.5 / 10 % of the benchmark;
        None uses 10 %.
    revenue_loss_limit
        Whether the revenue-based loss limit applies (Track 1+, BASIC C-E): None or True includes it (the cap is
        the lower of the revenue and benchmark parts), False leaves only the benchmark part (an ACO whose
        revenue-based amount exceeds the benchmark-based one).

    Raises
    ------
    ConfigurationError
        Unknown track, a year the track does not cover, or a missing MSR election.

    Notes
    -----
    Results are cached: the terms are frozen, and a PUF asks for the same few combinations hundreds of times.
    """
    period = _period(track, performance_year)
    sequestration, sequestration_citation = sequestration_rate(performance_year)
    msr_rule = str(period["msr"])
    if msr_rule == "variable":
        msr = one_sided_msr_table()
    elif msr_rule.startswith("fixed:"):
        msr = MinimumRateTerms(
            kind="fixed", rate=_dec(msr_rule.removeprefix("fixed:")), citation=period["citation"]
        )
    else:
        if msr_election is None:
            raise ConfigurationError(
                f"track {track!r}, performance year {performance_year}: the MSR/MLR is elected by the ACO; "
                f"give msr_election (one of {', '.join(str(r) for r in MSR_ELECTIONS)} or 'variable')"
            )
        if msr_election == "variable":
            msr = one_sided_msr_table()
        else:
            msr = MinimumRateTerms(
                kind="fixed",
                rate=_dec(msr_election),
                citation="MSR/MLR elected by the ACO (42 CFR 425.606(b))",
            )

    loss_rate = None
    loss_cap = CapTerms()
    if period["sided"] == "two_sided":
        loss_rate = LossRateTerms.model_validate(
            {**period["loss_rate"], "citation": " ".join(period["citation"].split())}
        )
        pct_of_benchmark: Decimal | None
        if "loss_cap_by_agreement_year" in period:
            by_year = [_dec(v) for v in period["loss_cap_by_agreement_year"]]
            index = (
                len(by_year) - 1 if agreement_year is None else min(max(agreement_year, 1), len(by_year)) - 1
            )
            pct_of_benchmark = by_year[index]
        else:
            pct_of_benchmark = _dec(period["loss_cap"])
        revenue_part = period.get("loss_cap_revenue")
        loss_cap = CapTerms(
            pct_of_benchmark=pct_of_benchmark,
            pct_of_revenue=_dec(revenue_part)
            if revenue_part is not None and revenue_loss_limit is not False
            else None,
            citation=" ".join(period["citation"].split()),
        )

    citation = " ".join(period["citation"].split())
    below = period.get("below_msr_sharing")
    guard = period.get("loss_benchmark_guardrail")
    ending = _rules()["termination"]
    return SharedSavingsTerms(
        sided=period["sided"],
        minimum_savings_rate=msr,
        minimum_loss_rate=None,
        sharing_basis="first_dollar",
        max_sharing_rate=_dec(period["max_sharing_rate"]),
        quality=QualityTerms(method=period["quality"], citation=citation),
        loss_rate=loss_rate,
        savings_cap=CapTerms(pct_of_benchmark=_dec(period["savings_cap"]), citation=citation),
        loss_cap=loss_cap,
        sequestration_rate=sequestration,
        sequestration_before_cap=True,
        below_msr_sharing=BelowMinimumSharing(
            rate_factor=_dec(below["rate_factor"]),
            min_population=below["min_population"],
            eligible=below.get("eligible"),
            citation=" ".join(below["citation"].split()),
        )
        if below
        else None,
        loss_benchmark_guardrail=LossBenchmarkGuardrail(
            applies=guard.get("applies"), citation=" ".join(guard["citation"].split())
        )
        if guard
        else None,
        termination=TerminationTerms(
            savings_forfeited=ending["savings_forfeited"],
            losses=ending["losses"],
            citation=" ".join(ending["citation"].split()),
        ),
        citation=f"{citation}; sequestration: {sequestration_citation}",
    )
