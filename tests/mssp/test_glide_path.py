"""BASIC track glide path (42 CFR 425.600(a)(4)): the level of each performance year, worked from the text."""

from __future__ import annotations

from datetime import date

import pytest

from apmkit.errors import ConfigurationError
from apmkit.programs.mssp.glide_path import GlidePathElections, basic_glide_path


def _levels(*args: object, **kwargs: object) -> list[tuple[int, str]]:
    return [(year.performance_year, year.level) for year in basic_glide_path(*args, **kwargs)]  # type: ignore[arg-type]


def test_agreement_from_2024_advances_one_level_a_year() -> None:
    # (C)(2): A in PY1, then automatically B, C, D, E.
    assert _levels("A", date(2024, 1, 1)) == [(2024, "A"), (2025, "B"), (2026, "C"), (2027, "D"), (2028, "E")]
    # (a)(4)(ii): an ACO ineligible for the glide path is at Level E throughout.
    assert {level for _, level in _levels("E", date(2024, 1, 1))} == {"E"}


def test_agreement_from_2024_may_remain_at_level_a() -> None:
    # (C)(3): entered at A and still at A: may remain at A for the rest of the agreement.
    assert _levels("A", date(2024, 1, 1), elections=GlidePathElections(remain_from=2025)) == [
        (2024, "A"),
        (2025, "A"),
        (2026, "A"),
        (2027, "A"),
        (2028, "A"),
    ]
    with pytest.raises(ConfigurationError, match="only an ACO at Level A"):
        basic_glide_path("B", date(2024, 1, 1), elections=GlidePathElections(remain_from=2025))


def test_july_2019_start_does_not_advance_for_2020() -> None:
    # (B)(2)(i): six performance years; no advancement at the start of PY2020, then one level a year.
    assert _levels("A", date(2019, 7, 1), 6) == [
        (2019, "A"),
        (2020, "A"),
        (2021, "B"),
        (2022, "C"),
        (2023, "D"),
        (2024, "E"),
    ]


def test_2021_maintenance_election_then_catch_up() -> None:
    # (B)(2)(iii): level kept for PY2021; for PY2022 the ACO goes to the level it would have reached (C).
    path = _levels("A", date(2019, 7, 1), 6, elections=GlidePathElections(maintain_years=frozenset({2021})))
    assert path == [(2019, "A"), (2020, "A"), (2021, "A"), (2022, "C"), (2023, "D"), (2024, "E")]


def test_low_revenue_new_entity_stays_at_b_then_goes_to_e() -> None:
    # (B)(2)(ii): A in PY1, B in PY2, elects to stay at B in PY3, Level E from PY4.
    path = _levels("A", date(2020, 1, 1), elections=GlidePathElections(low_revenue_stay_at_b=True))
    assert path == [(2020, "A"), (2021, "B"), (2022, "B"), (2023, "E"), (2024, "E")]


def test_2023_election_to_remain_and_elected_advance() -> None:
    # (B)(2)(vi): a 2022 agreement at A may remain at A from PY2023 for the rest of the agreement.
    remain = _levels("A", date(2022, 1, 1), elections=GlidePathElections(remain_from=2023))
    assert [level for _, level in remain] == ["A"] * 5
    # 425.226(a)(2)(i) with (C)(6): elected Level C for PY2025; automatic advancement continues from C.
    advanced = _levels("A", date(2024, 1, 1), elections=GlidePathElections(advance_to={2025: "C"}))
    assert advanced == [(2024, "A"), (2025, "C"), (2026, "D"), (2027, "E"), (2028, "E")]
    with pytest.raises(ConfigurationError, match="must be higher"):
        basic_glide_path("A", date(2024, 1, 1), elections=GlidePathElections(advance_to={2025: "B"}))


def test_rejects_starts_and_elections_the_rules_do_not_have() -> None:
    with pytest.raises(ConfigurationError, match="begin on 1 July 2019 or on 1 January"):
        basic_glide_path("A", date(2019, 1, 1))
    with pytest.raises(ConfigurationError, match="only performance years 2021 and 2022"):
        basic_glide_path(
            "A", date(2020, 1, 1), elections=GlidePathElections(maintain_years=frozenset({2023}))
        )
    with pytest.raises(ConfigurationError, match="entry_level must be one of"):
        basic_glide_path("F", date(2024, 1, 1))
