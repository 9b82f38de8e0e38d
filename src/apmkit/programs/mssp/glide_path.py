"""BASIC track glide path: the level (A-E) of each performance year of an agreement period (42 CFR 425.600(a)(4)).

The level an ACO settles under in a year decides its terms (``mssp_terms("basic_<level>", year)``): a one-sided
ACO that entered at Level A is automatically advanced one level at the start of each later performance year unless
it made one of the elections the regulation allows. Rules implemented, from the text read (eCFR Markdown mirror
MichalOpoka/ecfr, section-425.600.md @ b7545318d8f5232858041ab18f432f876f49e903, as amended by 88 FR 79547):

- (a)(4)(i)(A): the order A → B → C → D → E; (a)(4)(ii): an ACO ineligible for the glide path is at Level E for
  every year (give ``entry_level="E"``).
- (B) agreements from 1 July 2019 to 31 December 2023: automatic advancement each later performance year (2); no
  advancement at the start of PY2020 for a 1 July 2019 start ((2)(i)); a new low-revenue legal entity may stay at
  Level B one more year, then goes to Level E ((2)(ii)); elections to keep the level for PY2021 or PY2022, after
  which the ACO rejoins the level it would have reached ((2)(iii), (iv)); elections in PY2023 (agreements before
  2023) or PY2024 (agreements from 1 January 2023) to remain at Level A or B for the rest of the agreement
  ((2)(vi), (vii)).
- (C) agreements from 1 January 2024: automatic advancement (2), except an ACO that entered and is at Level A and
  elects to remain there for the rest of the agreement ((3)).
- Both: an election to move to a higher level (425.226(a)(2)(i)); automatic advancement continues from there
  ((B)(4), (C)(6)).

Not modelled: the automatic advancement to Level E of (a)(4)(i)(C)(2)(iii) / paragraph (h)(2)(i) (its conditions
were not read); eligibility itself (whether an ACO may make an election) is the caller's to establish.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from apmkit.errors import ConfigurationError

__all__ = ["LEVELS", "GlidePathElections", "GlidePathYear", "basic_glide_path"]

LEVELS = ("A", "B", "C", "D", "E")
CITATION = "42 CFR 425.600(a)(4)"


@dataclass(frozen=True)
class GlidePathElections:
    """The ACO's elections over the agreement period (each must be one the regulation allows it)."""

    advance_to: Mapping[int, str] = field(default_factory=dict)
    """Performance year (calendar) → a higher level elected for that year (425.226(a)(2)(i))."""
    maintain_years: frozenset[int] = frozenset()
    """2021 and/or 2022: keep the previous year's level for that year only ((B)(2)(iii), (iv))."""
    remain_from: int | None = None
    """Performance year from which the ACO stays at its Level A or B for the rest of the agreement
    ((B)(2)(vi): 2023, (B)(2)(vii): 2024, (C)(3): any year while at Level A)."""
    low_revenue_stay_at_b: bool = False
    """(B)(2)(ii): a new low-revenue legal entity stays at Level B one more year, then moves to Level E."""


@dataclass(frozen=True)
class GlidePathYear:
    """One performance year of the agreement: its number, calendar year, level and why."""

    agreement_year: int
    performance_year: int
    level: str
    reason: str


def basic_glide_path(
    entry_level: str,
    agreement_start: date,
    performance_years: int = 5,
    elections: GlidePathElections | None = None,
) -> tuple[GlidePathYear, ...]:
    """The BASIC level of every performance year of an agreement period.

    Parameters
    ----------
    entry_level
        The level the ACO entered at (``"A"`` … ``"E"``).
    agreement_start
        Start of the agreement period: 1 July 2019 or a 1 January from 2020 on.
    performance_years
        Number of performance years (a 1 July 2019 agreement has six: July-December 2019 and 2020-2024).
    elections
        The ACO's elections (none by default).

    Raises
    ------
    ConfigurationError
        Unknown level, an agreement start the BASIC track does not have, an election the rules do not allow (a
        lower "advance", a PY2021/2022 maintenance in another year, remaining at a level other than A or B).
    """
    chosen = elections or GlidePathElections()
    if entry_level not in LEVELS:
        raise ConfigurationError(f"entry_level must be one of {', '.join(LEVELS)}")
    july_2019 = agreement_start == date(2019, 7, 1)
    if not july_2019 and (
        agreement_start.year < 2020 or (agreement_start.month, agreement_start.day) != (1, 1)
    ):
        raise ConfigurationError(
            "agreement_start: BASIC agreement periods begin on 1 July 2019 or on 1 January of 2020 or later"
        )
    if not chosen.maintain_years <= {2021, 2022}:
        raise ConfigurationError(
            "maintain_years: only performance years 2021 and 2022 allow keeping the level"
        )
    from_2024 = agreement_start >= date(2024, 1, 1)
    level = LEVELS.index(entry_level)
    automatic = level  # where automatic advancement alone (with elected advances) would be
    held_b = False
    remaining = True  # an elected move to a higher level ends an election to remain
    years: list[GlidePathYear] = []
    for number in range(1, performance_years + 1):
        calendar = (
            (2019 if number == 1 else 2018 + number) if july_2019 else agreement_start.year + number - 1
        )
        if number == 1:
            reason = "entry level"
        else:
            previous = level
            if july_2019 and number == 2:
                reason = "(B)(2)(i): no advancement at the start of PY2020 for a 1 July 2019 start"
            else:
                automatic = min(automatic + 1, len(LEVELS) - 1)
                level, reason = automatic, "automatic advancement"
                third = 4 if july_2019 else 3
                if chosen.low_revenue_stay_at_b and not from_2024 and number == third and previous == 1:
                    level, reason, held_b = 1, "(B)(2)(ii): low-revenue new entity stays at Level B", True
                elif held_b and number == third + 1:
                    level = automatic = len(LEVELS) - 1
                    reason = "(B)(2)(ii): automatically advanced to Level E after the extra year at Level B"
                if calendar in chosen.maintain_years and not from_2024:
                    level, reason = previous, f"(B)(2)(iii)/(iv): level kept for PY{calendar}"
                if remaining and chosen.remain_from is not None and calendar >= chosen.remain_from:
                    if previous not in (0, 1) or (from_2024 and (previous != 0 or entry_level != "A")):
                        raise ConfigurationError(
                            "remain_from: only an ACO at Level A (or, before 2024 agreements, Level B) may remain"
                        )
                    level = automatic = previous
                    reason = (
                        "(C)(3): remains at Level A"
                        if from_2024
                        else "(B)(2)(vi)/(vii): remains at its level"
                    )
        elected = chosen.advance_to.get(calendar)
        if elected is not None:
            target = LEVELS.index(elected) if elected in LEVELS else -1
            if target <= level:
                raise ConfigurationError(
                    f"advance_to {calendar}: an elected level must be higher than the level the rules give"
                )
            level = automatic = target
            remaining = False
            reason = "elected a higher level (425.226(a)(2)(i)); automatic advancement continues from it"
        years.append(GlidePathYear(number, calendar, LEVELS[level], f"{CITATION} {reason}"))
    return tuple(years)
