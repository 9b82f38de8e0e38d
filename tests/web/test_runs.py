"""Runs from the dashboard: a background run through the API, statements with drill-down, attribution, per-entity
access for providers (page and API), the audit log of member-level reads, pagination, exports, OpenAPI.

The app runs on a real SQLite app state and starts a real run (apmkit.workspace) on a synthetic population; the
expected figures are read from the run's own Parquet marts with pandas - what the server must pass through
unchanged and filtered - never typed in.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.web.conftest import SECRET, TestClient
from typer.testing import CliRunner

from apmkit.cli.main import app as cli_app
from apmkit.contracts import parse_contract
from apmkit.errors import ConfigurationError
from apmkit.synth import generate
from apmkit.web.app import WebSettings, create_app
from apmkit.web.state import AppState
from apmkit.workspace.run_marts import run_stages

CONTRACT = """
id: web_run_test
name: web run test
attribution: {method: plurality, name: t, basis: visits, level: tin, lookback_months: 12, minimum_panel: 20}
benchmark:
  method: general
  general:
    base_years: [2024]
    performance_year: 2025
    annual_trend: "0.04"
    regional_weight: "0.25"
    full_credibility_member_months: 12000
definitions:
  cost_basis: allowed_amount
  eligible_months: enrolled
  truncation: {method: amount, amount: 100000}
  runout_months: 3
quality:
  measures: [CMS165, CMS122]
  scoring:
    method: points
    minimum_denominator: 20
    measures:
      - {measure: CMS165, attainment_threshold: 0.60, benchmark: 0.80}
      - {measure: CMS122, attainment_threshold: 0.45, benchmark: 0.15, inverse: true}
components:
  - id: shared_savings
    type: shared_savings
    clause: "test agreement section 5"
    terms:
      sided: one_sided
      minimum_savings_rate: {kind: fixed, rate: 0.02}
      sharing_basis: first_dollar
      max_sharing_rate: 0.50
      savings_cap: {pct_of_benchmark: 0.10}
"""
PASSWORD = "a long password"


@pytest.fixture(scope="module")
def two_years(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("web-run") / "data"
    generate(300, folder, years=2, seed=11)
    return folder


@pytest.fixture(scope="module")
def served(two_years: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The app, a finished run started through the API by a payer analyst, and the run's marts."""
    workdir = tmp_path_factory.mktemp("web-run-work")
    settings = WebSettings(users_file=None, workdir=workdir, data_dir=two_years, secret=SECRET)
    app = create_app(settings)
    state: AppState = app.state.app_state
    for name, role in (("ada", "admin"), ("ana", "payer_analyst"), ("aud", "auditor"), ("vic", "viewer")):
        state.add_user(name, role, PASSWORD)
    with TestClient(app) as client:
        token = _login(client, "ana")
        started = client.post(
            "/api/v1/runs", json={"contract": CONTRACT, "period": "2025"}, headers={"X-CSRF-Token": token}
        )
        assert started.status_code == 202, started.text
        run_id = started.json()["id"]
        job = _wait(client, run_id)
        assert job["status"] == "done", job
        out = workdir / "runs" / run_id
        summary = pd.read_parquet(out / "summary.parquet")
        attribution = pd.read_parquet(out / "attribution.parquet")
        linked = attribution[attribution["attributed"]]
        entities = sorted(summary["entity_id"])
        mine, other = entities[0], entities[1]
        tin_of = linked.groupby("entity_id")["tin"].first()
        state.add_user("pia", "provider", PASSWORD, tins=[tin_of[mine]])
        npi = linked.loc[linked["entity_id"] == other, "npi"].value_counts().index[0]
        state.add_user("nia", "provider", PASSWORD, npis=[npi])
        # a TIN of one entity and an NPI of another: the one scope rule grants rows matching either
        state.add_user("mix", "provider", PASSWORD, tins=[tin_of[mine]], npis=[npi])
        client.cookies.clear()
        yield {
            "app": app,
            "settings": settings,
            "state": state,
            "run_id": run_id,
            "job": job,
            "out": out,
            "mine": mine,
            "other": other,
            "npi": npi,
            "tin": tin_of[mine],
        }


def _login(client: TestClient, name: str) -> str:
    response = client.post("/api/v1/login", json={"username": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])


def _wait(client: TestClient, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while True:
        job = client.get(f"/api/v1/runs/{run_id}").json()
        if job["status"] in ("done", "failed"):
            return dict(job)
        assert time.monotonic() < deadline, job
        time.sleep(0.2)


@pytest.fixture
def as_user(served: dict[str, Any]) -> Iterator[Any]:
    made: list[TestClient] = []

    def sign_in(name: str) -> TestClient:
        client = TestClient(served["app"])
        made.append(client)
        client.headers["X-CSRF-Token"] = _login(client, name)
        return client

    yield sign_in
    for client in made:
        client.close()


def test_a_background_run_reports_its_progress_and_history(served: dict[str, Any], as_user: Any) -> None:
    job = served["job"]
    # the contract's quality section adds a stage: 8 steps (the progress bar said "8 of 7" before)
    assert job["steps_done"] == job["steps"] == len(run_stages(parse_contract(CONTRACT), "2025")) == 8
    assert job["stage"] == "done" and job["user"] == "ana" and job["contract_id"] == "web_run_test"
    assert job["counts"]["entities"] == 3
    analyst = as_user("ana")
    history = analyst.get("/api/v1/runs").json()
    assert [r["id"] for r in history["runs"]] == [served["run_id"]]
    page = analyst.get(f"/ui/runs/{served['run_id']}")
    assert page.status_code == 200 and 'id="status" class="status-done"' in page.text


def test_the_summary_and_statement_pass_the_marts_through(served: dict[str, Any], as_user: Any) -> None:
    admin = as_user("ada")
    run_id, out = served["run_id"], served["out"]
    summary = pd.read_parquet(out / "summary.parquet")
    entities = admin.get(f"/api/v1/runs/{run_id}/summary").json()["entities"]
    assert [e["entity_id"] for e in entities] == sorted(summary["entity_id"])
    for entity in entities:
        row = summary[summary["entity_id"] == entity["entity_id"]].iloc[0]
        assert entity["net_settlement"] == format(
            row["net_settlement"].normalize(), "f"
        )  # exact text, no float
    lines = pd.read_parquet(out / "lines.parquet")
    mine = served["mine"]
    statement = admin.get(f"/api/v1/runs/{run_id}/statements/{mine}").json()
    expected = lines[lines["entity_id"] == mine].sort_values("sequence")
    assert [line["label"] for line in statement["lines"]] == list(expected["label"])
    assert all(line["formula"] and line["source"] is not None for line in statement["lines"])
    # drill-down: payment -> benchmark build-up -> members
    built = admin.get(f"/api/v1/runs/{run_id}/statements/{mine}/benchmark").json()
    benchmark_lines = pd.read_parquet(out / "benchmark_lines.parquet")
    assert len(built["lines"]) == int((benchmark_lines["entity"] == mine).sum()) > 0
    assert built["factors"]["entity_id"] == mine
    page = admin.get(f"/ui/runs/{run_id}/statements/{mine}")
    assert page.status_code == 200 and "test agreement section 5" in page.text
    assert f"/ui/runs/{run_id}/statements/{mine}/benchmark" in page.text
    members = pd.read_parquet(out / "member_detail.parquet")
    listed = admin.get(f"/api/v1/runs/{run_id}/members", params={"entity": mine, "size": 500}).json()
    assert listed["total"] == int((members["entity_id"] == mine).sum())
    assert sorted(r["member_id"] for r in listed["rows"]) == sorted(
        members.loc[members["entity_id"] == mine, "member_id"]
    )


def test_pages_of_members_cover_every_row_once(served: dict[str, Any], as_user: Any) -> None:
    admin = as_user("ada")
    run_id = served["run_id"]
    first = admin.get(f"/api/v1/runs/{run_id}/members", params={"size": 7}).json()
    seen = []
    for number in range(1, first["pages"] + 1):
        seen += [
            r["member_id"]
            for r in admin.get(f"/api/v1/runs/{run_id}/members", params={"size": 7, "page": number}).json()[
                "rows"
            ]
        ]
    members = pd.read_parquet(served["out"] / "member_detail.parquet")
    assert sorted(seen) == sorted(members["member_id"]) and len(seen) == len(set(seen)) == first["total"]
    assert admin.get(f"/api/v1/runs/{run_id}/members", params={"page": "abc"}).status_code == 422
    not_attributed = admin.get(
        f"/api/v1/runs/{run_id}/attribution", params={"attributed": "false", "size": 500}
    ).json()
    attribution = pd.read_parquet(served["out"] / "attribution.parquet")
    assert not_attributed["total"] == int((~attribution["attributed"]).sum())


def test_a_provider_is_refused_another_tins_data_in_the_api(served: dict[str, Any], as_user: Any) -> None:
    provider = as_user("pia")
    run_id, mine, other, out = served["run_id"], served["mine"], served["other"], served["out"]
    entities = provider.get(f"/api/v1/runs/{run_id}/summary").json()["entities"]
    assert [e["entity_id"] for e in entities] == [mine]
    assert provider.get(f"/api/v1/runs/{run_id}/statements/{other}").status_code == 404
    assert provider.get(f"/api/v1/runs/{run_id}/statements/{other}/benchmark").status_code == 404
    members = pd.read_parquet(out / "member_detail.parquet")
    theirs = members.loc[members["entity_id"] == other, "member_id"].iloc[0]
    for path in ("members", "attribution"):
        everything = provider.get(f"/api/v1/runs/{run_id}/{path}", params={"size": 500}).json()
        assert {r["entity_id"] for r in everything["rows"]} == {mine}
        assert provider.get(f"/api/v1/runs/{run_id}/{path}", params={"entity": other}).json()["total"] == 0
        assert provider.get(f"/api/v1/runs/{run_id}/{path}", params={"member": theirs}).json()["total"] == 0
    own = provider.get(f"/api/v1/runs/{run_id}/members", params={"size": 500}).json()
    assert own["total"] == int((members["entity_id"] == mine).sum())
    # the statement files hold every entity: not for a provider
    assert provider.get(f"/ui/runs/{run_id}/files/statement.json").status_code == 403


def test_a_provider_is_refused_another_tins_data_on_the_pages(served: dict[str, Any], as_user: Any) -> None:
    provider = as_user("pia")
    run_id, mine, other, out = served["run_id"], served["mine"], served["other"], served["out"]
    run_page = provider.get(f"/ui/runs/{run_id}")
    assert f"/statements/{mine}" in run_page.text and f"/statements/{other}" not in run_page.text
    assert provider.get(f"/ui/runs/{run_id}/statements/{other}").status_code == 404
    members = pd.read_parquet(out / "member_detail.parquet")
    theirs = set(members.loc[members["entity_id"] == other, "member_id"])
    for path in ("members", "attribution"):
        page = provider.get(f"/ui/runs/{run_id}/{path}", params={"entity": other})
        assert page.status_code == 200
        assert not any(member in page.text for member in theirs)
    export = provider.get(f"/ui/runs/{run_id}/members.csv").text
    assert not any(member in export for member in theirs)
    exported = {row["member_id"] for row in csv.DictReader(io.StringIO(export))}
    assert exported == set(members.loc[members["entity_id"] == mine, "member_id"])


def test_an_npi_provider_sees_its_attributed_members_only(served: dict[str, Any], as_user: Any) -> None:
    provider = as_user("nia")
    run_id, out = served["run_id"], served["out"]
    attribution = pd.read_parquet(out / "attribution.parquet")
    expected = set(
        attribution.loc[attribution["attributed"] & (attribution["npi"] == served["npi"]), "member_id"]
    )
    rows = provider.get(f"/api/v1/runs/{run_id}/attribution", params={"size": 500}).json()["rows"]
    assert {r["member_id"] for r in rows} == expected
    members = provider.get(f"/api/v1/runs/{run_id}/members", params={"size": 500}).json()["rows"]
    assert {r["member_id"] for r in members} == expected
    assert provider.get(f"/api/v1/runs/{run_id}/summary").json()["entities"] == []


def test_member_level_reads_are_audited_and_only_auditors_and_admins_see_the_log(
    served: dict[str, Any], as_user: Any
) -> None:
    provider = as_user("pia")
    run_id, mine = served["run_id"], served["mine"]
    before = served["state"].audit_log(user="pia", limit=1000)[1]
    provider.get(f"/api/v1/runs/{run_id}/members", params={"entity": mine, "page": 2, "size": 10})
    provider.get(f"/ui/runs/{run_id}/attribution")
    provider.get(f"/ui/runs/{run_id}/members.csv")
    provider.get(f"/api/v1/runs/{run_id}/summary")  # entity totals: not member-level, not audited
    auditor = as_user("aud")
    log = auditor.get("/api/v1/audit", params={"who": "pia", "size": 500}).json()
    assert log["total"] == before + 3
    newest = log["entries"][:3]
    assert [e["action"] for e in newest] == ["export_member_detail", "read_attribution", "read_member_detail"]
    assert newest[2]["target"] == f"run {run_id}, entity {mine}, page 2"
    assert newest[2]["rows"] == 10 and newest[2]["at"] and newest[2]["user"] == "pia"
    page = auditor.get("/ui/audit", params={"who": "pia"})
    assert page.status_code == 200 and "read_member_detail" in page.text
    assert provider.get("/api/v1/audit").status_code == 403
    assert provider.get("/ui/audit").status_code == 403
    assert as_user("ana").get("/api/v1/audit").status_code == 403
    assert as_user("ada").get("/api/v1/audit").status_code == 200


def test_roles_and_run_requests_are_checked(served: dict[str, Any], as_user: Any) -> None:
    provider, viewer, auditor, analyst = as_user("pia"), as_user("vic"), as_user("aud"), as_user("ana")
    body = {"template": "commercial_upside_shared_savings", "period": "2025"}
    assert provider.post("/api/v1/runs", json=body).status_code == 403
    assert auditor.post("/api/v1/runs", json=body).status_code == 403
    assert viewer.get("/api/v1/runs").status_code == 403
    assert viewer.get("/ui/runs").status_code == 403
    for bad, field in (
        ({"template": "no_such_template", "period": "2025"}, "template"),
        ({"template": "commercial_upside_shared_savings", "period": "9999"}, "period"),
        (
            {"template": "commercial_upside_shared_savings", "contract": CONTRACT, "period": "2025"},
            "contract",
        ),
        ({"contract": "a: &x [1]\nb: *x\n", "period": "2025"}, "contract"),
        ({"template": "commercial_upside_shared_savings"}, "period"),
    ):
        response = analyst.post("/api/v1/runs", json=bad)
        assert response.status_code == 422, bad
        assert field in response.json()["detail"]["fields"], response.text
    assert analyst.post("/api/v1/runs", json=body, headers={"X-CSRF-Token": "wrong"}).status_code == 403


def test_a_failed_run_says_why(served: dict[str, Any], as_user: Any) -> None:
    analyst = as_user("ana")
    started = analyst.post(
        "/api/v1/runs", json={"contract": CONTRACT.replace("2025", "2030"), "period": "2030"}
    )
    assert started.status_code == 202
    job = _wait(analyst, started.json()["id"])
    assert job["status"] == "failed" and job["error"]
    assert analyst.get(f"/api/v1/runs/{job['id']}/summary").status_code == 404


def test_exports_hold_the_statement_lines(served: dict[str, Any], as_user: Any) -> None:
    admin = as_user("ada")
    run_id, mine = served["run_id"], served["mine"]
    exported = admin.get(f"/ui/runs/{run_id}/statements/{mine}/lines.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    lines = pd.read_parquet(served["out"] / "lines.parquet")
    assert [r["label"] for r in rows] == list(
        lines[lines["entity_id"] == mine].sort_values("sequence")["label"]
    )
    workbook = admin.get(f"/ui/runs/{run_id}/files/statement.xlsx")
    assert workbook.status_code == 200 and workbook.content[:2] == b"PK"


def test_openapi_is_served_to_signed_in_users_only(served: dict[str, Any], as_user: Any) -> None:
    anonymous = TestClient(served["app"])  # no `with`: the app's lifespan belongs to the module fixture
    assert anonymous.get("/api/v1/openapi.json").status_code == 401
    assert anonymous.get("/openapi.json").status_code == 404
    assert anonymous.get("/docs").status_code == 404
    schema = as_user("vic").get("/api/v1/openapi.json").json()
    assert "/api/v1/runs/{run_id}/members" in schema["paths"]
    assert not any(path.startswith("/ui/") for path in schema["paths"])


def test_the_state_database_is_private_to_its_owner(served: dict[str, Any]) -> None:
    database = served["settings"].workdir / "state.db"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    text = database.read_bytes()
    assert PASSWORD.encode() not in text


def test_users_command_manages_providers(tmp_path: Path) -> None:
    runner = CliRunner()
    workdir = ["--workdir", str(tmp_path)]
    added = runner.invoke(
        cli_app,
        [
            "users",
            "add",
            "pia",
            "--role",
            "provider",
            "--tin",
            "111111111",
            "--tin",
            "222222222",
            "--password-stdin",
            *workdir,
        ],
        input="provider password\n",
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(cli_app, ["users", "list", *workdir])
    assert "pia\tprovider  tins 111111111,222222222" in listed.output
    no_scope = runner.invoke(
        cli_app,
        ["users", "add", "pat", "--role", "provider", "--password-stdin", *workdir],
        input="provider password\n",
    )
    # (in-process the error reaches the runner; `apmkit` itself prints its one line and exits 2)
    assert isinstance(no_scope.exception, ConfigurationError)
    assert "at least one --entity, --tin or --npi" in str(no_scope.exception)
    scoped_admin = runner.invoke(
        cli_app,
        ["users", "add", "ada", "--role", "admin", "--tin", "1", "--password-stdin", *workdir],
        input="admin password\n",
    )
    assert isinstance(scoped_admin.exception, ConfigurationError)
    removed = runner.invoke(cli_app, ["users", "remove", "pia", *workdir])
    assert removed.exit_code == 0
    assert isinstance(
        runner.invoke(cli_app, ["users", "remove", "pia", *workdir]).exception, ConfigurationError
    )
    assert "pia" not in runner.invoke(cli_app, ["users", "list", *workdir]).output


def test_report_pages_and_api_over_the_catalog(served: dict[str, Any], as_user: Any) -> None:
    from apmkit.reports.framework import catalog

    admin, provider = as_user("ada"), as_user("pia")
    run_id, mine, out = served["run_id"], served["mine"], served["out"]
    listed = admin.get("/api/v1/reports").json()["reports"]
    assert [r["name"] for r in listed] == [r.name for r in catalog()]
    attribution = pd.read_parquet(out / "attribution.parquet")
    linked = attribution[attribution["attributed"]]
    everyone = admin.get(f"/api/v1/runs/{run_id}/reports/attribution").json()
    assert sorted(r["member_id"] for r in everyone["tables"]["members"]["rows"]) == sorted(
        linked["member_id"]
    )
    # one table, paged: the pages cover its rows once
    first = admin.get(
        f"/api/v1/runs/{run_id}/reports/attribution", params={"table": "members", "size": 100}
    ).json()
    assert list(first["tables"]) == ["members"] and first["tables"]["members"]["total"] == len(linked)
    paged = [
        r["member_id"]
        for number in range(1, first["tables"]["members"]["pages"] + 1)
        for r in admin.get(
            f"/api/v1/runs/{run_id}/reports/attribution",
            params={"table": "members", "size": 100, "page": number},
        ).json()["tables"]["members"]["rows"]
    ]
    assert sorted(paged) == sorted(linked["member_id"])
    assert (
        admin.get(f"/api/v1/runs/{run_id}/reports/attribution", params={"table": "nope"}).status_code == 422
    )
    # the provider's report is built from its own members only (the scope goes into the report's query)
    own = provider.get(f"/api/v1/runs/{run_id}/reports/attribution", params={"by": "tin"}).json()
    assert sorted(r["member_id"] for r in own["tables"]["members"]["rows"]) == sorted(
        linked.loc[linked["entity_id"] == mine, "member_id"]
    )
    assert {r["tin"] for r in own["tables"]["summary"]["rows"]} == set(
        linked.loc[linked["entity_id"] == mine, "tin"]
    )
    page = provider.get(f"/ui/runs/{run_id}/reports/attribution")
    assert page.status_code == 200
    assert 'data-spec="chart-1-spec"' in page.text and "attributed members by month" in page.text
    other_members = set(linked.loc[linked["entity_id"] == served["other"], "member_id"])
    assert not any(member in page.text for member in other_members)
    workbook = provider.get(f"/ui/runs/{run_id}/reports/attribution/export.xlsx")
    assert workbook.status_code == 200 and workbook.content[:2] == b"PK"
    table = provider.get(f"/ui/runs/{run_id}/reports/attribution/export.csv", params={"table": "members"})
    assert len(list(csv.DictReader(io.StringIO(table.text)))) == own["tables"]["members"]["total"]
    log = as_user("aud").get("/api/v1/audit", params={"who": "pia", "size": 5}).json()["entries"]
    assert [e["action"] for e in log[:3]] == ["export_report", "export_report", "read_report"]
    for bad in ({"by": "zip"}, {"suppress_below": "-1"}, {"suppress_below": "x"}):
        assert admin.get(f"/api/v1/runs/{run_id}/reports/attribution", params=bad).status_code == 422, bad
    assert admin.get(f"/api/v1/runs/{run_id}/reports/no_such_report").status_code == 422
    assert as_user("vic").get("/api/v1/reports").status_code == 403


def test_the_data_page_shows_the_feed_and_its_profile(
    served: dict[str, Any], as_user: Any, two_years: Path
) -> None:
    analyst = as_user("ana")
    before = analyst.get("/api/v1/data").json()
    assert before["profile"] is None and before["ingest"] is None  # synth output: no ingest report
    assert {"members", "enrollment", "medical_claims"} <= set(before["tables"])
    profiled = analyst.post("/api/v1/data/profile").json()["profile"]
    assert profiled["members"] == len(pd.read_parquet(two_years / "members.parquet"))
    assert profiled["member_months"] == len(pd.read_parquet(two_years / "enrollment.parquet"))
    page = analyst.get("/ui/data")
    assert page.status_code == 200 and 'id="completeness"' in page.text
    # the whole feed: not for a provider
    assert as_user("pia").get("/ui/data").status_code == 403
    assert as_user("pia").get("/api/v1/data").status_code == 403


def test_the_member_export_holds_every_row_beyond_the_page_cap(
    served: dict[str, Any], as_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import apmkit.workspace.run_marts

    monkeypatch.setattr(apmkit.workspace.run_marts, "MAX_PAGE_SIZE", 50)  # pages are capped; exports are not
    admin = as_user("ada")
    run_id = served["run_id"]
    members = pd.read_parquet(served["out"] / "member_detail.parquet")
    assert len(members) > 50
    page = admin.get(f"/api/v1/runs/{run_id}/members", params={"size": 500}).json()
    assert len(page["rows"]) == 50 and page["total"] == len(members)
    export = admin.get(f"/ui/runs/{run_id}/members.csv").text
    assert sorted(row["member_id"] for row in csv.DictReader(io.StringIO(export))) == sorted(
        members["member_id"]
    )


def test_report_builds_beyond_the_waiting_limit_are_503(served: dict[str, Any]) -> None:
    """Each request waiting for a report build holds a server thread: past the limit (0 here) a new build is
    refused at once with 503 and Retry-After, while pages that need no build are served."""
    app = create_app(dataclasses.replace(served["settings"], report_waiting=0))
    client = TestClient(app)
    client.headers["X-CSRF-Token"] = _login(client, "ada")
    busy = client.get(f"/api/v1/runs/{served['run_id']}/reports/variation")
    assert busy.status_code == 503 and busy.headers["retry-after"] == "5"
    assert "content-security-policy" in busy.headers
    assert client.get(f"/api/v1/runs/{served['run_id']}/summary").status_code == 200


def test_one_scope_rule_for_the_pages_the_api_the_exports_and_the_reports(
    served: dict[str, Any], as_user: Any
) -> None:
    """A provider granted TIN T and NPI N sees the rows whose TIN is T OR whose NPI is N (docs/web.md, "Scope"):
    the same members in the attribution and member APIs, the member export and the attribution report - before
    this, the reports required both (no member) while the pages granted either."""
    run_id, out, tin, npi = served["run_id"], served["out"], served["tin"], served["npi"]
    attribution = pd.read_parquet(out / "attribution.parquet")
    linked = attribution[attribution["attributed"]]
    expected = set(linked.loc[(linked["tin"] == tin) | (linked["npi"] == npi), "member_id"])
    through_tin = set(linked.loc[linked["tin"] == tin, "member_id"])
    assert through_tin < expected  # the NPI adds members of another entity
    mix = as_user("mix")
    rows = mix.get(f"/api/v1/runs/{run_id}/attribution", params={"size": 500}).json()["rows"]
    assert all(r["tin"] == tin or r["npi"] == npi for r in rows)
    assert {r["member_id"] for r in rows if r["attributed"]} == expected
    members = mix.get(f"/api/v1/runs/{run_id}/members", params={"size": 500}).json()
    assert (
        {r["member_id"] for r in members["rows"]}
        == expected
        == set(pd.read_parquet(out / "member_detail.parquet").query("member_id in @expected")["member_id"])
    )
    export = mix.get(f"/ui/runs/{run_id}/members.csv").text
    assert {row["member_id"] for row in csv.DictReader(io.StringIO(export))} == expected
    report = mix.get(f"/api/v1/runs/{run_id}/reports/attribution", params={"table": "members"}).json()
    assert {r["member_id"] for r in report["tables"]["members"]["rows"]} == expected
    # entity-level rows: the entity that is its TIN; the NPI's entity is another provider's statement
    assert [e["entity_id"] for e in mix.get(f"/api/v1/runs/{run_id}/summary").json()["entities"]] == [tin]
    assert mix.get(f"/api/v1/runs/{run_id}/statements/{served['other']}").status_code == 404


def test_a_cached_report_is_never_served_to_another_scope(served: dict[str, Any], as_user: Any) -> None:
    """Report results and page bodies are kept per run and request; the request holds the user's grant, so the
    same URL built for one provider is built again - never reused - for another (the run page's table too)."""
    run_id, out = served["run_id"], served["out"]
    attribution = pd.read_parquet(out / "attribution.parquet")
    linked = attribution[attribution["attributed"]]
    by_tin = set(linked.loc[linked["entity_id"] == served["mine"], "member_id"])
    by_npi = set(linked.loc[linked["npi"] == served["npi"], "member_id"])
    assert by_tin and by_npi and not by_tin & by_npi
    url = f"/ui/runs/{run_id}/reports/attribution?by=tin"
    for name, own, others in (("pia", by_tin, by_npi), ("nia", by_npi, by_tin), ("pia", by_tin, by_npi)):
        page = as_user(name).get(url)
        assert page.status_code == 200
        assert sum(member in page.text for member in own) == min(len(own), 200)  # the first 200 rows shown
        assert not any(member in page.text for member in others), name
        api = as_user(name).get(f"/api/v1/runs/{run_id}/reports/attribution", params={"by": "tin"}).json()
        assert {r["member_id"] for r in api["tables"]["members"]["rows"]} == own
    # the run page's settlement table is kept per run and scope too
    assert f"/statements/{served['mine']}" in as_user("pia").get(f"/ui/runs/{run_id}").text
    assert "Nothing of this run is yours to see" in as_user("nia").get(f"/ui/runs/{run_id}").text
