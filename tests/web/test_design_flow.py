"""The worksheet page and the design API end to end on a small synthetic population (TestClient).

Expected figures are computed independently of the page: scale counts and member months straight from the
Parquet files with pyarrow, HCP-LAN categories of the starting points as tests/design and tests/classify
establish them, the break-even settlement (0 when the benchmark is the population's own spending) and a given
benchmark of $12,000 per person-year = $1,000 per member month.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml
from tests.web.conftest import VIEWER, TestClient, sign_in

from apmkit.classify import classify_lan
from apmkit.contracts import contract_from_data
from apmkit.design.worksheet import STARTING_POINTS, parse_answers
from apmkit.web.app import WebSettings, create_app
from apmkit.web.charts import simulation_chart

# Same table as tests/design/test_design.py (reasoning of tests/classify/test_lan.py).
LAN_OF_STARTING_POINT = {
    "ocm": "3A",
    "cpc_plus": "2C",
    "cjr": "3A",
    "bpci": "3B",
    "pioneer": "3B",
    "cec": "3B",
}

FORM: dict[str, Any] = {
    "name": "Primary care ACO",
    "payer": "Example Health Plan",
    "starting_point": "pioneer",
    "apm_type_target": "advanced_apm",
    "ptac_scope": "all primary-care practices",
    "ptac_quality_and_cost": "shared savings gated by quality",
    "clinical_transformation": "care managers for high-risk members",
    "rationale": "avoidable admissions",
    "alignment": "MSSP ENHANCED\nstate Medicaid ACO",
    "measures": ["CMS165", "ACR"],
    "operational_feasibility": "monthly claims feeds",
    "cehrt_share": "0.8",
    "sim_period": "2025",
    "sim_scenarios": "30",
    "assess_capability": "yes",
    "capability_data": "3",
    "capability_care_management": "3",
    "capability_quality": "3",
    "capability_financial_reserves": "3",
    "capability_experience": "3",
}


def direct_counts(population: Path) -> dict[str, int]:
    """Members, providers and member months of 2025, counted with pyarrow (not ibis, not apmkit)."""
    enrollment = pq.read_table(population / "enrollment.parquet", columns=["member_id", "month"])
    providers = pq.read_table(population / "providers.parquet", columns=["npi", "is_primary_care"])
    in_2025 = enrollment.filter(pc.equal(pc.year(enrollment["month"]), 2025))
    primary = providers.filter(pc.fill_null(providers["is_primary_care"], False))
    return {
        "members": len(pc.unique(enrollment["member_id"])),
        "providers": len(pc.unique(providers["npi"])),
        "primary_care_providers": len(pc.unique(primary["npi"])),
        "member_months": in_2025.group_by(["member_id", "month"]).aggregate([]).num_rows,
        "population_2025": len(pc.unique(in_2025["member_id"])),
    }


def submit(client: TestClient, csrf: str, form: dict[str, Any]) -> Any:
    return client.post("/ui/design", data={"csrf_token": csrf, **form}, follow_redirects=False)


def test_worksheet_end_to_end_on_the_population(designer: tuple[TestClient, str], population: Path) -> None:
    client, csrf = designer
    page = client.get("/ui/design")
    assert page.status_code == 200
    for measure in ("CMS122", "CMS165", "CMS2", "CMS125", "CMS130", "CMS529", "ACR", "PQI"):
        assert f'name="measures" value="{measure}"' in page.text
    for start in STARTING_POINTS:
        assert f'name="starting_point" value="{start}"' in page.text

    response = submit(client, csrf, FORM)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    design_id = location.rsplit("/", 1)[1]

    summary = client.get(f"/api/v1/designs/{design_id}").json()
    counts = direct_counts(population)
    assert summary["scale_from_data"] == {
        "members": counts["members"],
        "providers": counts["providers"],
        "primary_care_providers": counts["primary_care_providers"],
    }
    simulation = summary["simulation"]
    assert simulation["member_months"] == counts["member_months"]
    assert simulation["population"] == counts["population_2025"]
    assert Decimal(simulation["person_years"]) == (Decimal(counts["member_months"]) / 12).quantize(
        Decimal("0.01")
    )
    assert Decimal(simulation["net_settlement"]) == 0  # break-even benchmark: no savings, no losses
    assert simulation["benchmark"] == simulation["expenditure"]
    assert simulation["scenarios"] == 30
    assert summary["lan"]["category"] == "3B"
    assert summary["advanced_apm"]["advanced_apm"] is True  # CEHRT 0.8, outcome measure ACR, two-sided risk
    assert summary["capability"]["recommended_step"] == "two-sided"

    result = client.get(location)
    assert result.status_code == 200
    text = result.text
    assert '<span class="lan" id="lan-category">3B</span>' in text
    assert summary["lan"]["rule"].replace("'", "&#39;") in text
    assert '<span id="advanced-verdict">meets</span>' in text
    assert '<td id="net-settlement">$0.00</td>' in text  # exact Decimal text with separators, no float
    assert "2 of 10</strong> PTAC criteria addressed" in text
    chart = re.search(
        r'<script type="application/json" id="chart-simulation-spec">(.*?)</script>', text, re.S
    )
    assert chart is not None
    assert json.loads(chart.group(1)) == simulation_chart(simulation)

    # No member-level data on the page or in the files: no member or NPI identifier of the population appears.
    members = pq.read_table(population / "members.parquet", columns=["member_id"])["member_id"].to_pylist()
    npis = pq.read_table(population / "providers.parquet", columns=["npi"])["npi"].to_pylist()
    files = {
        name: client.get(f"/ui/designs/{design_id}/files/{name}")
        for name in ("contract.yaml", "design.md", "design.html", "design.json", "answers.yaml")
    }
    for body in [text, *(f.text for f in files.values())]:
        assert not any(identifier in body for identifier in [*members[:60], *npis])

    assert files["design.json"].headers["content-disposition"].startswith("attachment")
    assert json.loads(files["design.json"].text)["lan"] == summary["lan"]
    contract = contract_from_data(yaml.safe_load(files["contract.yaml"].text), source="download")
    assert classify_lan(contract).category == "3B"
    answers = parse_answers(yaml.safe_load(files["answers.yaml"].text))
    assert answers.quality.measures == ["CMS165", "ACR"]
    assert answers.alignment == ["MSSP ENHANCED", "state Medicaid ACO"]
    assert "## 7. Operational feasibility" in files["design.md"].text

    listing = client.get("/ui/designs").text
    assert f'href="/ui/designs/{design_id}"' in listing and "Primary care ACO" in listing


def test_a_given_benchmark_per_person_year(designer: tuple[TestClient, str]) -> None:
    client, csrf = designer
    response = submit(client, csrf, {**FORM, "sim_benchmark_per_person_year": "12000"})
    design_id = response.headers["location"].rsplit("/", 1)[1]
    simulation = client.get(f"/api/v1/designs/{design_id}").json()["simulation"]
    # $12,000 per person-year = $1,000 per member month
    assert Decimal(simulation["benchmark"]) == 1000 * simulation["member_months"]


def test_unsupported_measure_is_shown_next_to_the_field(designer: tuple[TestClient, str]) -> None:
    client, csrf = designer
    response = submit(client, csrf, {**FORM, "measures": ["CMS165", "CMS999"]})
    assert response.status_code == 422
    errors = re.findall(r'<p class="error" data-field="([^"]+)" role="alert">([^<]*)</p>', response.text)
    assert [field for field, _ in errors] == ["measures"]
    assert "CMS999" in errors[0][1] and "are not evaluated by apmkit" in errors[0][1]
    # the answers are kept
    assert 'value="Primary care ACO"' in response.text
    assert 'value="CMS165" checked' in response.text
    assert client.get("/api/v1/designs").json() == {"designs": []}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"terms": "nosuch.rate: 1"}, "terms", "name a component of the pioneer starting point"),
        ({"terms": "- not a mapping"}, "terms", "YAML mapping"),
        ({"name": ""}, "name", "at least 1 character"),
        ({"sim_scenarios": "many"}, "sim_scenarios", "valid integer"),
        ({"scale_beneficiaries": "-5"}, "scale_beneficiaries", "greater than or equal to 0"),
        ({"capability_quality": "9"}, "capability", "level must be 1, 2, 3 or 4"),
    ],
)
def test_worksheet_errors_name_their_field(
    designer: tuple[TestClient, str], change: dict[str, str], field: str, message: str
) -> None:
    client, csrf = designer
    response = submit(client, csrf, {**FORM, **change})
    assert response.status_code == 422
    errors = re.findall(r'data-field="([^"]+)" role="alert">([^<]*)<', response.text)
    assert [f for f, _ in errors] == [field]
    assert message in errors[0][1]


def test_design_api(designer: tuple[TestClient, str]) -> None:
    client, csrf = designer
    answers = {
        "name": "API model",
        "starting_point": "cjr",
        "quality": {"measures": ["ACR"]},
        "simulation": {"period": "PY1", "scenarios": 10},
    }
    response = client.post("/api/v1/design", json=answers, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 201
    body = response.json()
    assert body["lan"]["category"] == "3A"
    assert body["starting_point"] == "cjr"
    assert body["files"]["contract.yaml"] == f"/ui/designs/{body['id']}/files/contract.yaml"
    saved = client.get(f"/api/v1/designs/{body['id']}").json()
    assert saved["lan"] == body["lan"] and saved["name"] == "API model"

    bad = client.post(
        "/api/v1/design",
        json={**answers, "quality": {"measures": ["CMS999"]}},
        headers={"X-CSRF-Token": csrf},
    )
    assert bad.status_code == 422
    assert list(bad.json()["detail"]["fields"]) == ["measures"]
    not_json = client.post(
        "/api/v1/design", content=b"{", headers={"X-CSRF-Token": csrf, "content-type": "application/json"}
    )
    assert not_json.status_code == 400


def test_simulation_problems_are_reported_not_a_500(designer: tuple[TestClient, str]) -> None:
    """CJR reconciles episodes, which the population-as-one-entity simulation does not build: the result page
    says so instead of failing."""
    client, csrf = designer
    response = submit(client, csrf, {**FORM, "starting_point": "cjr", "measures": ["ACR"]})
    assert response.status_code == 303
    page = client.get(response.headers["location"]).text
    assert '<p class="error" id="simulation-error">Not simulated: ' in page
    assert "field episodes is required by component &#39;reconciliation&#39;" in page


@pytest.mark.parametrize("start", sorted(STARTING_POINTS))
def test_starting_point_partial_and_category(start: str, users_file: Path, tmp_path: Path) -> None:
    """The live summary of each starting point, and the category of its draft, on a server without a population."""
    app = create_app(WebSettings(users_file, tmp_path, data_dir=None, secret="s"))
    with TestClient(app) as client:
        csrf = sign_in(client, "dana", "designer-password")
        partial = client.get(f"/ui/design/starting-point?starting_point={start}")
        assert f'<strong class="lan">{LAN_OF_STARTING_POINT[start]}</strong>' in partial.text
        assert f"template <code>{STARTING_POINTS[start]}</code>" in partial.text
        body = client.post(
            "/api/v1/design",
            json={"name": f"{start} model", "starting_point": start},
            headers={"X-CSRF-Token": csrf},
        ).json()
        assert body["lan"]["category"] == LAN_OF_STARTING_POINT[start]
        assert body["simulation"] is None and body["scale_from_data"] is None


def test_ptac_checklist_partial(designer: tuple[TestClient, str]) -> None:
    client, csrf = designer
    response = client.post(
        "/ui/design/ptac",
        data={
            "ptac_scope": "all specialties",
            "ptac_patient_safety": "incident reviews",
            "ptac_flexibility": " ",
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 200
    assert "2 of 10</strong> PTAC criteria addressed" in response.text
    assert "high priority: 1 of 3" in response.text


def test_viewer_reads_a_saved_design_and_its_files(
    designer: tuple[TestClient, str], settings: WebSettings
) -> None:
    client, csrf = designer
    design_id = submit(client, csrf, FORM).headers["location"].rsplit("/", 1)[1]
    with TestClient(create_app(settings)) as reader:
        sign_in(reader, "vic", "viewer-password")
        assert reader.get(f"/ui/designs/{design_id}").status_code == 200
        document = reader.get(f"/ui/designs/{design_id}/files/design.html?view=true")
        assert document.status_code == 200 and "content-disposition" not in document.headers
        assert document.headers["content-security-policy"].startswith("default-src 'none'")
        assert reader.get(f"/ui/designs/{design_id}/files/meta.json").status_code == 404
        assert reader.get("/ui/designs/..%2F..%2Fusers/files/design.json").status_code == 404
        assert reader.get("/api/v1/designs/not-a-design").status_code == 404


def test_a_design_simulation_runs_in_the_background(
    designer: tuple[TestClient, str], new_client: Callable[[], TestClient]
) -> None:
    """POST /api/v1/simulations: the same answers as POST /api/v1/design, 202 and a job; the job's result is
    the saved design, whose summary equals what the synchronous call computes for the same answers."""
    import time

    client, csrf = designer
    answers = {
        "name": "Background ACO",
        "starting_point": "pioneer",
        "quality": {"measures": ["CMS165", "ACR"]},
        "simulation": {"period": "2025", "scenarios": 20, "seed": 5},
    }
    queued = client.post("/api/v1/simulations", json=answers, headers={"X-CSRF-Token": csrf})
    assert queued.status_code == 202
    job = queued.json()
    status_url = job["status_url"]
    assert job["kind"] == "design" and job["status"] in ("queued", "running", "done")
    deadline = time.monotonic() + 120
    while job["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
        job = client.get(status_url).json()
    assert job["status"] == "done", job
    saved = client.get(f"/api/v1/designs/{job['result']['design_id']}").json()
    direct = client.post("/api/v1/design", json=answers, headers={"X-CSRF-Token": csrf}).json()
    assert saved["simulation"] == direct["simulation"] and saved["lan"] == direct["lan"]
    # range checks before queuing; a viewer may not start one; design jobs are not runs
    bad = client.post(
        "/api/v1/simulations", json={**answers, "simulation": {"seed": -1}}, headers={"X-CSRF-Token": csrf}
    )
    assert bad.status_code == 422 and "sim_seed" in bad.json()["detail"]["fields"]
    assert client.get(f"/api/v1/runs/{job['id']}").status_code == 403  # a designer reads no runs
    viewer = new_client()
    viewer.headers["X-CSRF-Token"] = viewer.post(
        "/api/v1/login", json={"username": VIEWER[0], "password": VIEWER[1]}
    ).json()["csrf_token"]
    assert viewer.post("/api/v1/simulations", json=answers).status_code == 403
    assert viewer.get(f"/api/v1/jobs/{job['id']}").status_code == 200
