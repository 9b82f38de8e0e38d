"""Output tables of attribution (column names are part of the user contract)."""

from __future__ import annotations

from apmkit.schemas.model import Column, TableSchema, columns

MONEY = "decimal(18, 2)"

ATTRIBUTION = TableSchema(
    name="attribution",
    version="1.0",
    primary_key=("contract_id", "member_id", "episode_id"),
    description=(
        "One row per member and contract (per episode for episode attribution): who the member is "
        "attributed to, by which method and step, the winning and runner-up candidates, the tie-break "
        "that separated them, and why a member is not attributed."
    ),
    columns=columns(
        Column("contract_id", "string", required=True, description="Attribution name (contract / payer)"),
        Column("method", "string", required=True, description="plurality, mssp_stepwise, roster or episode"),
        Column("timing", "string", description="prospective, retrospective or hybrid"),
        Column("as_of_date", "date", required=True, description="Run date"),
        Column("window_start", "date", description="First day of the assignment window"),
        Column("window_end", "date", description="Last day of the assignment window"),
        Column("member_id", "string", required=True, description="Member"),
        Column("attributed", "boolean", required=True, description="Whether the member is attributed"),
        Column("step", "string", description="Rule that decided: step1, step2, step3, plurality, awv, ..."),
        Column("entity_id", "string", description="Entity attributed to"),
        Column("tin", "string", description="TIN attributed to (for entities: its TIN with most services)"),
        Column("npi", "string", description="Clinician attributed to (for entities/TINs: the top NPI)"),
        Column("winner_id", "string", description="Winning candidate (ENTITY:…, TIN:…, TIN_NPI:…)"),
        Column("winner_visits", "int64", description="Winner's primary-care visits (member/NPI/date)"),
        Column("winner_allowed", MONEY, description="Winner's allowed charges for primary-care services"),
        Column("winner_last_visit", "date", description="Winner's most recent qualifying service"),
        Column("runner_up_id", "string", description="Second candidate"),
        Column("runner_up_visits", "int64", description="Runner-up's visits"),
        Column("runner_up_allowed", MONEY, description="Runner-up's allowed charges"),
        Column("tie_break", "string", description="Rule that separated winner and runner-up on a tie"),
        Column("reason", "string", description="Why the member is not attributed"),
        Column("episode_id", "string", description="Episode (episode attribution), else empty"),
        Column("episode_anchor", "string", description="Anchor name of the episode"),
        Column("episode_start", "date", description="Episode start (anchor admission/procedure date)"),
        Column("episode_end", "date", description="Episode end"),
    ),
    provenance_columns=(),
)

CHANGES = TableSchema(
    name="attribution_changes",
    version="1.0",
    description="Month-over-month (run-over-run) adds, drops and transfers, with reasons.",
    columns=columns(
        Column("contract_id", "string", required=True, description="Attribution name"),
        Column("member_id", "string", required=True, description="Member"),
        Column("previous_as_of", "date", description="Earlier run date"),
        Column("current_as_of", "date", description="Later run date"),
        Column("change", "string", required=True, description="added, dropped or transferred"),
        Column("previous_entity_id", "string", description="Entity before"),
        Column("previous_tin", "string", description="TIN before"),
        Column("previous_npi", "string", description="NPI before"),
        Column("current_entity_id", "string", description="Entity now"),
        Column("current_tin", "string", description="TIN now"),
        Column("current_npi", "string", description="NPI now"),
        Column("reason", "string", required=True, description="Why (the new step, or the drop reason)"),
    ),
    provenance_columns=(),
)

MONTHLY_LIST = TableSchema(
    name="attribution_list",
    version="1.0",
    description="Monthly attribution list: attributed members by entity, TIN and NPI.",
    columns=columns(
        Column("month", "date", required=True, description="First day of the month of the run"),
        Column("contract_id", "string", required=True, description="Attribution name"),
        Column("entity_id", "string", description="Entity"),
        Column("tin", "string", description="TIN"),
        Column("npi", "string", description="NPI"),
        Column("member_id", "string", required=True, description="Member"),
        Column("step", "string", description="Rule that attributed the member"),
    ),
    provenance_columns=(),
)

PANEL_SUMMARY = TableSchema(
    name="attribution_panels",
    version="1.0",
    description="Attributed member counts by month, entity, TIN and NPI.",
    columns=columns(
        Column("month", "date", required=True, description="First day of the month of the run"),
        Column("contract_id", "string", required=True, description="Attribution name"),
        Column("entity_id", "string", description="Entity"),
        Column("tin", "string", description="TIN"),
        Column("npi", "string", description="NPI"),
        Column("members", "int64", required=True, description="Attributed members"),
    ),
    provenance_columns=(),
)
