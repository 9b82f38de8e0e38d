"""Attribution spec options (issue 15 acceptance findings), each on hand-built members.

Every expected value is counted by hand from the rule's words (docs/attribution.md; 42 CFR 425.400-425.402
for the MSSP cases), never read back from apmkit's output.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from tests.attribution.conftest import (
    Scenario,
    assignment,
    claim,
    enrolled,
    member,
    months,
    participant,
    provider,
)

from apmkit.attribution.spec import MsspStepwiseSpec, PluralitySpec, parse_attribution_spec
from apmkit.errors import ConfigurationError

T1, T2, T3 = "610000001", "610000002", "610000003"
P1 = ("6100000001", T1, "08")
P2 = ("6100000002", T1, "11")
P3 = ("6100000003", T2, "08")
P4 = ("6100000004", T3, "08")
AS_OF = dt.date(2025, 12, 31)


def v(
    member_id: str, who: tuple[str, str, str], day: str, allowed: str = "50.00", **kw: Any
) -> dict[str, Any]:
    code = kw.pop("code", "99213")
    return claim(member_id, who[0], who[1], who[2], code, day, allowed, **kw)


def run_plurality(
    engine: Any,
    spec: PluralitySpec,
    claims: list[dict[str, Any]],
    *,
    providers: list[dict[str, Any]] | None = None,
    states: dict[str, str] | None = None,
    **extra: Any,
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    scenario = Scenario(engine)
    members = sorted({c["member_id"] for c in claims} | set(states or {}))
    inputs = scenario.inputs(
        claims=claims,
        enrollment=[row for m in members for row in enrolled(m, months(2024) + months(2025))],
        members=[member(m, state=(states or {}).get(m, "OH")) for m in members],
        providers=providers
        if providers is not None
        else [provider(n, t, s, True) for n, t, s in (P1, P2, P3, P4)],
        **extra,
    )
    return scenario.run(inputs, spec, AS_OF)


# ---- code lists with place-of-service conditions ------------------------------------------------------
CODE_SPEC = {
    "method": "plurality",
    "name": "pos",
    "performance_year": 2025,
    "primary_care_codes": {
        "source": "explicit",
        "by_year": {
            2025: [
                "99202-99215",
                {"codes": ["99304-99318"], "exclude_pos": ["31"]},
                {"codes": ["99341-99350"], "pos": ["12"], "exclude_codes": ["99345"]},
            ]
        },
    },
}


def test_code_rules_parse_ranges_and_reject_bad_ones() -> None:
    spec = parse_attribution_spec(CODE_SPEC)
    assert isinstance(spec, PluralitySpec)
    rule = spec.primary_care_codes.codes_for()[2025][1]
    assert not isinstance(rule, str)
    # 99304..99318 is 15 codes; 99341..99350 without 99345 is 9.
    assert len(rule.expanded()) == 15
    with pytest.raises(ConfigurationError, match="primary_care_codes"):
        parse_attribution_spec({**CODE_SPEC, "primary_care_codes": {"extra_codes": ["99318-99304"]}})
    with pytest.raises(ConfigurationError, match="primary_care_codes"):
        parse_attribution_spec(
            {**CODE_SPEC, "primary_care_codes": {"extra_codes": [{"codes": ["99304"], "pos": ["3"]}]}}
        )


def test_code_list_place_of_service_conditions(engine: Any) -> None:
    spec = parse_attribution_spec(CODE_SPEC)
    claims = [
        # 99309 twice in a SNF (POS 31) does not count: P3's single office visit wins.
        v("snf", P1, "2025-03-01", code="99309", place_of_service="31"),
        v("snf", P1, "2025-03-08", code="99309", place_of_service="31"),
        v("snf", P3, "2025-02-01"),
        # ... in a nursing facility (POS 32) it counts: P1 has two visits.
        v("nf", P1, "2025-03-01", code="99309", place_of_service="32"),
        v("nf", P1, "2025-03-08", code="99309", place_of_service="32"),
        v("nf", P3, "2025-02-01"),
        # Home visits count only at POS 12, and 99345 was taken out of the range.
        v("home", P1, "2025-03-01", code="99342", place_of_service="11"),
        v("home", P1, "2025-03-02", code="99345", place_of_service="12"),
        v("home", P1, "2025-03-03", code="99347", place_of_service="12"),
        v("home", P3, "2025-02-01"),
        v("home", P3, "2025-02-02"),
    ]
    rows, _ = run_plurality(engine, spec, claims)
    assert (rows["snf"]["winner_id"], rows["snf"]["winner_visits"]) == (f"TIN_NPI:{T2}|{P3[0]}", 1)
    assert rows["snf"]["runner_up_id"] is None
    assert (rows["nf"]["winner_id"], rows["nf"]["winner_visits"]) == (f"TIN_NPI:{T1}|{P1[0]}", 2)
    # home: P1 has one counted visit (99347 at POS 12), P3 two.
    assert (rows["home"]["winner_id"], rows["home"]["winner_visits"]) == (f"TIN_NPI:{T2}|{P3[0]}", 2)
    assert rows["home"]["runner_up_visits"] == 1


# ---- ties -----------------------------------------------------------------------------------------------
def test_tie_breaks_are_used_as_written(engine: Any) -> None:
    claims = [
        # Same visits, same day, same charges: only lowest_id separates them.
        v("tie", P1, "2025-03-01", "80.00"),
        v("tie", P3, "2025-03-01", "80.00"),
        # most_recent_visit separates these.
        v("recent", P1, "2025-03-01"),
        v("recent", P3, "2025-04-01"),
    ]
    no_one = PluralitySpec(
        name="t", performance_year=2025, tie_breaks=("most_recent_visit", "highest_allowed")
    )
    rows, _ = run_plurality(engine, no_one, claims)
    assert (rows["tie"]["attributed"], rows["tie"]["reason"], rows["tie"]["tie_break"]) == (
        False,
        "tie_unresolved",
        "unresolved",
    )
    assert rows["tie"]["entity_id"] is None
    assert (rows["recent"]["attributed"], rows["recent"]["tie_break"]) == (True, "most_recent_visit")
    assert rows["recent"]["npi"] == P3[0]
    # An empty chain: every tie assigns no one.
    empty = PluralitySpec(name="t", performance_year=2025, tie_breaks=())
    rows, _ = run_plurality(engine, empty, claims)
    assert rows["recent"]["reason"] == "tie_unresolved"
    # lowest_id as the last rule separates the first pair: 6100000001 < 6100000003.
    lowest = PluralitySpec(name="t", performance_year=2025, tie_breaks=("most_recent_visit", "lowest_id"))
    rows, _ = run_plurality(engine, lowest, claims)
    assert (rows["tie"]["attributed"], rows["tie"]["npi"], rows["tie"]["tie_break"]) == (
        True,
        P1[0],
        "lowest_id",
    )


def test_lowest_id_can_only_end_the_chain() -> None:
    with pytest.raises(ConfigurationError, match="tie_breaks"):
        parse_attribution_spec({"method": "plurality", "tie_breaks": ["lowest_id", "most_visits"]})


# ---- visit unit ---------------------------------------------------------------------------------------
def test_visit_unit_npi_or_tin_per_date(engine: Any) -> None:
    claims = [
        # TIN T1: P1 and P2 on March 1, P1 on March 2 -> 3 NPI-days, 2 TIN-days.
        v("unit", P1, "2025-03-01"),
        v("unit", P2, "2025-03-01"),
        v("unit", P1, "2025-03-02"),
        # TIN T2: P3 on April 1 and 2 -> 2 either way, and the more recent.
        v("unit", P3, "2025-04-01"),
        v("unit", P3, "2025-04-02"),
    ]
    by_npi = PluralitySpec(name="u", performance_year=2025, level="tin")
    rows, _ = run_plurality(engine, by_npi, claims)
    assert (rows["unit"]["winner_id"], rows["unit"]["winner_visits"], rows["unit"]["runner_up_visits"]) == (
        f"TIN:{T1}",
        3,
        2,
    )
    by_tin = PluralitySpec(name="u", performance_year=2025, level="tin", visit_unit="tin_date")
    rows, _ = run_plurality(engine, by_tin, claims)
    # 2 = 2: the most recent visit (April 2, T2) decides.
    assert (rows["unit"]["winner_id"], rows["unit"]["winner_visits"], rows["unit"]["tie_break"]) == (
        f"TIN:{T2}",
        2,
        "most_recent_visit",
    )


# ---- assignment window as dates -------------------------------------------------------------------------
def test_window_given_as_dates(engine: Any) -> None:
    spec = PluralitySpec(
        name="w", performance_year=2025, window_start=dt.date(2024, 7, 1), window_end=dt.date(2025, 6, 30)
    )
    claims = [
        v("window", P1, "2024-08-01"),
        v("window", P3, "2025-09-01"),
        v("window", P3, "2025-10-01"),
    ]
    rows, _ = run_plurality(engine, spec, claims)
    row = rows["window"]
    assert (row["window_start"], row["window_end"]) == (dt.date(2024, 7, 1), dt.date(2025, 6, 30))
    # P3's visits fall after the window: P1's single visit wins.
    assert (row["npi"], row["winner_visits"], row["runner_up_id"]) == (P1[0], 1, None)
    with pytest.raises(ConfigurationError, match="window_start"):
        parse_attribution_spec({"method": "plurality", "window_start": "2025-01-01"})


# ---- reasons and $0 candidates ------------------------------------------------------------------------
def test_reason_names_providers_the_spec_does_not_count(engine: Any) -> None:
    providers = [provider(P1[0], T1, "08", True), provider(P4[0], T3, "06", False)]
    claims = [v("specialist_only", P4, "2025-03-01"), v("zero", P1, "2025-03-01", "0.00")]
    rows, _ = run_plurality(
        engine, PluralitySpec(name="r", performance_year=2025), claims, providers=providers
    )
    assert rows["specialist_only"]["reason"] == "no_qualifying_service_by_primary_care_provider"
    by_allowed = PluralitySpec(name="r", performance_year=2025, basis="allowed")
    rows, _ = run_plurality(engine, by_allowed, claims, providers=providers)
    # Only a $0.00 service: no plurality of charges.
    assert (rows["zero"]["attributed"], rows["zero"]["reason"], rows["zero"]["winner_id"]) == (
        False,
        "no_allowed_charges",
        None,
    )


# ---- providers with several TINs per NPI ------------------------------------------------------------------
def test_providers_table_with_several_tins_per_npi(engine: Any) -> None:
    # P1 reassigns billing to T1 and T2: two provider rows.
    providers = [
        provider(P1[0], T1, "08", True),
        provider(P1[0], T2, "08", True),
        provider(P4[0], T3, "08", True),
    ]
    claims = [
        # Billed through T2: one line, $100 (not twice).
        claim("reassigned", P1[0], T2, None, "99213", "2025-03-01", "100.00"),
        claim("reassigned", P4[0], T3, None, "99213", "2025-04-01", "150.00"),
        # No billing TIN and two TINs on file: the line cannot be placed.
        claim("ambiguous", P1[0], None, None, "99213", "2025-03-01", "100.00", claim_id="AMB1"),
    ]
    spec = PluralitySpec(name="m", performance_year=2025, basis="allowed", level="tin")
    rows, rejects = run_plurality(engine, spec, claims, providers=providers)
    row = rows["reassigned"]
    assert (row["winner_id"], row["winner_allowed"]) == (f"TIN:{T3}", Decimal("150.00"))
    assert (row["runner_up_id"], row["runner_up_allowed"]) == (f"TIN:{T2}", Decimal("100.00"))
    by_record = {r["record_id"]: r for r in rejects}
    assert by_record["AMB1:1"]["field"] == "billing_tin"
    assert "several TINs" in by_record["AMB1:1"]["reason"]


def test_providers_schema_keys_npi_and_tin() -> None:
    from apmkit.schemas.canonical import PROVIDERS

    assert PROVIDERS.primary_key == ("npi", "tin")


# ---- residence outside the US -----------------------------------------------------------------------------
def test_documented_codes_for_residence_outside_the_us(engine: Any) -> None:
    spec = MsspStepwiseSpec(performance_year=2025, timing="retrospective")
    claims = [v(m, P1, "2025-03-01") for m in ("ssa_europe", "ssa_ohio", "foreign", "usps")]
    scenario = Scenario(engine)
    states = {"ssa_europe": "58", "ssa_ohio": "36", "foreign": "FC", "usps": "OH"}
    inputs = scenario.inputs(
        claims=claims,
        enrollment=[row for m in states for row in enrolled(m, months(2025))],
        members=[member(m, state=s) for m, s in states.items()],
        providers=[provider(P1[0], T1, "08", True)],
        participants=[participant("A", T1)],
    )
    rows, _ = scenario.run(inputs, spec, AS_OF)
    assert rows["ssa_europe"]["reason"] == "not_eligible:non_us_residence"
    assert rows["foreign"]["reason"] == "not_eligible:non_us_residence"
    assert rows["ssa_ohio"]["attributed"] is True
    assert rows["usps"]["attributed"] is True


# ---- MSSP: voluntary alignment by NPI only, aco_id, $0 candidates, the step-3 window --------------------
A_TIN, B_TIN, X_TIN = "620000001", "620000002", "620000003"
A_PCP = ("6200000001", A_TIN, "08")
A_NP = ("6200000002", A_TIN, "50")
B_PCP = ("6200000003", B_TIN, "08")
X_PCP = ("6200000004", X_TIN, "11")
MOVER = ("6200000005", A_TIN, "08")  # bills under A's TIN and X's TIN
LISTED_ONLY = "6200000006"  # on the participant list (ACO A), not in the providers table
UNKNOWN = "6200000007"


def run_mssp(engine: Any, spec: MsspStepwiseSpec) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    claims = [
        # Voluntary alignment rows carry only an NPI; the claims alone would go to X.
        *[v(m, X_PCP, "2025-04-01", "100.00") for m in ("va_npi", "va_outside", "va_mover", "va_listed")],
        v("va_unknown", X_PCP, "2025-04-01", "100.00"),
        # ACO A bills $0.00 (pre-step identifies the member), X bills $100: X wins, A is no runner-up.
        v("zero_aco", A_PCP, "2025-03-01", "0.00"),
        v("zero_aco", X_PCP, "2025-04-01", "100.00"),
        # Step 1: B $150 beats A $120.
        v("other_aco", A_PCP, "2025-03-01", "120.00"),
        v("other_aco", B_PCP, "2025-04-01", "150.00"),
        v("mine", A_PCP, "2025-03-01", "120.00"),
        # Step 3: ACO NP in 2025, ACO PCP in 2024.
        v("step3", A_NP, "2025-02-01", "100.00"),
        v("step3", A_PCP, "2024-06-01", "80.00"),
    ]
    members = sorted({c["member_id"] for c in claims})
    alignment = [
        assignment("va_npi", npi=A_PCP[0], start="2025-01-01", line=2, source="va.csv"),
        assignment("va_outside", npi=X_PCP[0], start="2025-01-01", line=3, source="va.csv"),
        assignment("va_mover", npi=MOVER[0], start="2025-01-01", line=4, source="va.csv"),
        assignment("va_listed", npi=LISTED_ONLY, start="2025-01-01", line=5, source="va.csv"),
        assignment("va_unknown", npi=UNKNOWN, start="2025-01-01", line=6, source="va.csv"),
    ]
    scenario = Scenario(engine)
    providers = [provider(n, t, s, True) for n, t, s in (A_PCP, A_NP, B_PCP, X_PCP, MOVER)]
    providers.append(provider(MOVER[0], X_TIN, "08", True))
    inputs = scenario.inputs(
        claims=claims,
        enrollment=[row for m in members for row in enrolled(m, months(2024) + months(2025))],
        members=[member(m) for m in members],
        providers=providers,
        participants=[
            participant("A", A_TIN, line=2),
            participant("B", B_TIN, line=3),
            participant("A", A_TIN, npi=LISTED_ONLY, line=4),
        ],
        voluntary_alignment=alignment,
    )
    return scenario.run(inputs, spec, AS_OF)


MSSP = MsspStepwiseSpec(performance_year=2025, timing="retrospective", overrides=("voluntary_alignment",))


@pytest.fixture(scope="module")
def mssp_rows(engine: Any) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    return run_mssp(engine, MSSP)


def test_voluntary_alignment_npi_only_resolves_or_is_rejected(mssp_rows: Any) -> None:
    rows, rejects = mssp_rows
    # The NPI's one TIN (providers table) is ACO A's: aligned to A.
    assert (rows["va_npi"]["attributed"], rows["va_npi"]["step"], rows["va_npi"]["entity_id"]) == (
        True,
        "voluntary_alignment",
        "A",
    )
    assert rows["va_npi"]["tin"] == A_TIN
    # The NPI's one TIN is outside every ACO: a designation outside the contract (425.402(e)(2)(ii)(C)).
    assert (rows["va_outside"]["attributed"], rows["va_outside"]["reason"]) == (
        False,
        "designated_outside_contract",
    )
    # Listed on the participant list under ACO A only (not in providers): aligned to A.
    assert (rows["va_listed"]["attributed"], rows["va_listed"]["entity_id"]) == (True, "A")
    by_line = {r["source_line"]: r for r in rejects if r["input"] == "voluntary_alignment"}
    # Two TINs in the providers table, or an NPI known nowhere: rejected with the reason, claims decide.
    assert "several TINs" in by_line[4]["reason"]
    assert "neither the providers table nor the participant list" in by_line[6]["reason"]
    assert {by_line[4]["record_id"], by_line[6]["record_id"]} == {"va_mover", "va_unknown"}
    # ... here only X billed, so no ACO physician service identifies the member (425.402(b)(1)).
    assert (rows["va_mover"]["step"], rows["va_mover"]["reason"]) == (
        None,
        "no_primary_care_service_with_aco_professional",
    )


def test_an_aco_with_no_charges_is_not_a_runner_up(mssp_rows: Any) -> None:
    row = mssp_rows[0]["zero_aco"]
    assert (row["attributed"], row["winner_id"], row["winner_allowed"]) == (
        False,
        f"TIN:{X_TIN}",
        Decimal("100.00"),
    )
    assert (row["runner_up_id"], row["runner_up_allowed"]) == (None, None)


def test_step3_rows_report_the_expanded_window(mssp_rows: Any) -> None:
    rows, _ = mssp_rows
    # The 24-month expanded window ending 2025-12-31 starts 2024-01-01; step-1 rows keep the 12 months.
    assert (rows["step3"]["step"], rows["step3"]["winner_allowed"]) == ("step3", Decimal("180.00"))
    assert (rows["step3"]["window_start"], rows["step3"]["window_end"]) == (dt.date(2024, 1, 1), AS_OF)
    assert rows["mine"]["window_start"] == dt.date(2025, 1, 1)


def test_aco_id_restricts_the_run_to_one_aco(engine: Any, mssp_rows: Any) -> None:
    # Without aco_id every ACO of the participant list keeps its members.
    assert (mssp_rows[0]["other_aco"]["attributed"], mssp_rows[0]["other_aco"]["entity_id"]) == (True, "B")
    rows, _ = run_mssp(engine, MSSP.model_copy(update={"aco_id": "A"}))
    assert (rows["other_aco"]["attributed"], rows["other_aco"]["reason"]) == (False, "assigned_to_other_aco")
    assert rows["other_aco"]["entity_id"] is None
    assert (rows["mine"]["attributed"], rows["mine"]["entity_id"]) == (True, "A")


def test_ingest_keeps_one_provider_row_per_npi_and_tin(engine: Any, tmp_path: Any) -> None:
    from apmkit.ingest import ingest

    src = tmp_path / "in"
    src.mkdir()
    # 1234567893 reassigns billing to two TINs (two rows kept); the repeated (NPI, TIN) row is a duplicate.
    (src / "providers.csv").write_text(
        "npi,tin,specialty_code\n1234567893,710000001,08\n1234567893,710000002,08\n1234567893,710000001,08\n"
    )
    report = ingest(engine, "csv", src, tmp_path / "out")
    assert (report.tables["providers"].loaded, len(report.quarantine)) == (2, 1)
    assert report.quarantine[0]["source_line"] == 4
    assert report.quarantine[0]["reason"].startswith("duplicate key (npi, tin)")
    # A providers file without a tin column still loads (the key is then the NPI alone).
    (src / "providers.csv").write_text("npi,name\n1234567893,Jane Smith\n")
    report = ingest(engine, "csv", src, tmp_path / "out2")
    assert report.tables["providers"].loaded == 1


def test_mssp_window_dates_place_the_expanded_window() -> None:
    from apmkit.attribution.windows import assignment_window

    spec = MsspStepwiseSpec(
        performance_year=2025, window_start=dt.date(2024, 7, 1), window_end=dt.date(2025, 6, 30)
    )
    window = assignment_window(spec, AS_OF)
    # The 24-month expanded window ends with the given window: July 2023 - June 2025.
    assert (window.start, window.end, window.expanded_start) == (
        dt.date(2024, 7, 1),
        dt.date(2025, 6, 30),
        dt.date(2023, 7, 1),
    )
    # The as-of date does not move a window given as dates.
    assert assignment_window(spec, dt.date(2025, 3, 31)).end == dt.date(2025, 6, 30)
