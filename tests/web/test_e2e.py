"""The dashboard in a real browser: Debian's chromium driven by Playwright against the real uvicorn server.

Skipped only when no chromium binary exists (``make test`` installs one with the ``chromium`` target);
``playwright install`` is not used: the browser is the system's.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from tests.web.conftest import DESIGNER, VIEWER

from apmkit.web.app import WebSettings, create_app

CHROMIUM = next(
    (
        p
        for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
        if p and Path(p).exists()
    ),
    None,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium binary (run `make chromium` or apt-get install chromium)"
    ),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(users_file: Path, population: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real server (uvicorn) on a free localhost port, in a thread."""
    settings = WebSettings(
        users_file=users_file, workdir=tmp_path_factory.mktemp("e2e"), data_dir=population, secret="e2e"
    )
    port = _free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import expect, sync_playwright

    # Patience, not a timing check: expect() waits 5 s by default, which a page on a loaded 2-core CI machine
    # can exceed (the every-report test failed so once at load 20); a defect still fails, 30 s later.
    expect.set_options(timeout=30_000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _sign_in(page: object, base: str, username: str, password: str, start: str) -> None:
    page.goto(f"{base}{start}")  # type: ignore[attr-defined]
    assert "/ui/login" in page.url  # type: ignore[attr-defined]
    page.fill("input[name=username]", username)  # type: ignore[attr-defined]
    page.fill("input[name=password]", password)  # type: ignore[attr-defined]
    page.click("form.login button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url(f"{base}{start}")  # type: ignore[attr-defined]


def test_designer_runs_the_worksheet_and_a_viewer_cannot(server: str, browser: object) -> None:
    from playwright.sync_api import expect

    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    _sign_in(page, server, *DESIGNER, start="/ui/design")

    # htmx: picking a starting point swaps in its template summary
    page.check("input[name=starting_point][value=cjr]")
    expect(page.locator("#starting-point-summary")).to_contain_text(
        "Comprehensive Care for Joint Replacement"
    )
    expect(page.locator("#starting-point-summary .lan")).to_have_text("3A")
    page.check("input[name=starting_point][value=pioneer]")
    expect(page.locator("#starting-point-summary")).to_contain_text("Pioneer ACO")
    # htmx: the PTAC checklist follows the answers
    page.fill("#f-ptac_scope", "every primary-care practice in the region")
    expect(page.locator("#ptac-checklist")).to_contain_text("1 of 10")

    page.fill("#f-name", "Browser ACO")
    page.check("input[name=measures][value=CMS165]")
    page.check("input[name=measures][value=ACR]")
    page.click("summary:has-text('Term edits')")
    page.fill("#f-cehrt_share", "0.9")
    page.click("summary:has-text('Simulation settings')")
    page.fill("#f-sim_scenarios", "20")
    page.click("#run-design")

    page.wait_for_url(f"{server}/ui/designs/*")
    expect(page.locator("#lan-category")).to_have_text("3B")
    expect(page.locator("#advanced-verdict")).to_have_text("meets")
    expect(page.locator("#chart-simulation svg")).to_be_visible()
    expect(page.locator("#chart-simulation svg .mark-rect path")).to_have_count(3)
    expect(page.frame_locator("iframe.document").locator("h1")).to_have_text("APM design: Browser ACO")
    design_url = page.url
    context.close()

    viewer = browser.new_context()  # type: ignore[attr-defined]
    page = viewer.new_page()
    _sign_in(page, server, *VIEWER, start="/ui/designs")
    expect(page.locator("#designs")).to_contain_text("Browser ACO")
    page.goto(design_url)
    expect(page.locator("#chart-simulation svg")).to_be_visible()
    refused = page.goto(f"{server}/ui/design")
    assert refused is not None and refused.status == 403
    csrf = json.loads(page.locator("body").get_attribute("hx-headers") or "{}")["X-CSRF-Token"]
    posted = page.request.post(
        f"{server}/ui/design", form={"csrf_token": csrf, "name": "Not allowed", "starting_point": "ocm"}
    )
    assert posted.status == 403
    viewer.close()
    assert problems == []


@pytest.fixture(scope="module")
def run_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A server over a two-year population, with a payer analyst and two providers in its SQLite state."""
    from tests.web.test_runs import CONTRACT, PASSWORD

    from apmkit.synth import generate

    data = tmp_path_factory.mktemp("e2e-run") / "data"
    generate(300, data, years=2, seed=11)
    settings = WebSettings(
        users_file=None, workdir=tmp_path_factory.mktemp("e2e-run-work"), data_dir=data, secret="e2e"
    )
    app = create_app(settings)
    app.state.app_state.add_user("ana", "payer_analyst", PASSWORD)
    port = _free_port()
    instance = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield {"base": f"http://127.0.0.1:{port}", "contract": CONTRACT, "password": PASSWORD, "app": app}  # type: ignore[dict-item]
    instance.should_exit = True
    thread.join(timeout=10)


def _unlabelled_fields(page: object) -> list[str]:
    script = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
        .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label')).map(e => e.name)"""
    return list(page.evaluate(script))  # type: ignore[attr-defined]


def test_a_background_run_its_statement_drill_down_export_and_a_provider_refused(
    run_server: dict[str, Any], browser: object, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    base, password = run_server["base"], run_server["password"]
    context = browser.new_context(accept_downloads=True)  # type: ignore[attr-defined]
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)

    _sign_in(page, base, "ana", password, start="/ui/runs")
    assert _unlabelled_fields(page) == []
    # keyboard only: the template list, the contract text and the period are reachable and usable
    page.focus("#f-contract")
    page.keyboard.insert_text(run_server["contract"])
    page.focus("#f-period")
    page.keyboard.press("Control+a")
    page.keyboard.type("2025")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/ui/runs/*")
    run_url = page.url
    # htmx polls the status until the background run is done, then shows the summary
    expect(page.locator("#status")).to_have_text("done", timeout=120_000)
    rows = page.locator("#summary tbody tr")
    expect(rows).to_have_count(3)
    first_entity = rows.first.locator("td").first.inner_text()
    second_entity = rows.nth(1).locator("td").first.inner_text()

    # drill-down: statement -> benchmark build-up -> members
    rows.first.get_by_role("link", name="statement").click()
    expect(page.locator("h1")).to_have_text(f"Settlement statement: {first_entity}")
    expect(page.locator("#lines tbody tr").first).to_be_visible()
    with page.expect_download() as download_info:
        page.click("#export-lines")
    exported = tmp_path / "lines.csv"
    download_info.value.save_as(exported)
    assert exported.read_text(encoding="utf-8").splitlines()[0].startswith('"contract_id"')
    page.click("#to-benchmark")
    expect(page.locator("#benchmark-lines tbody tr").first).to_be_visible()
    page.click("#to-members")
    expect(page.locator("#members tbody tr").first).to_be_visible()
    assert _unlabelled_fields(page) == []
    # printable: the navigation and the filters are not printed
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    expect(page.locator("#members")).to_be_visible()
    page.emulate_media(media="screen")

    # a report of the catalog: its Vega-Lite chart drawn as SVG, its table, an export
    page.goto(run_url)
    page.click("#to-reports")
    page.get_by_role("link", name="Attribution", exact=True).click()
    expect(page.locator("h1")).to_have_text("Attribution")
    expect(page.locator("#chart-1 svg")).to_be_visible()
    expect(page.locator("#table-members tbody tr").first).to_be_visible()
    assert _unlabelled_fields(page) == []
    with page.expect_download() as report_download:
        page.click("#export-xlsx")
    workbook = tmp_path / "report.xlsx"
    report_download.value.save_as(workbook)
    assert workbook.read_bytes()[:2] == b"PK"
    context.close()

    # a provider of the first entity's TIN: the second entity is refused on the page and in the API
    from apmkit.web.state import AppState

    state: AppState = run_server["app"].state.app_state
    state.add_user("pia", "provider", password, tins=[first_entity])
    provider = browser.new_context()  # type: ignore[attr-defined]
    page = provider.new_page()
    _sign_in(page, base, "pia", password, start=run_url.removeprefix(base))
    expect(page.locator("#summary tbody tr")).to_have_count(1)
    expect(page.locator("#summary")).to_contain_text(first_entity)
    page.goto(f"{run_url}/reports/attribution")
    expect(page.locator("#table-summary tbody tr")).to_have_count(1)
    expect(page.locator("#table-members")).not_to_contain_text(second_entity)
    refused = page.goto(f"{run_url}/statements/{second_entity}")
    assert refused is not None and refused.status == 404
    api = page.request.get(f"{base}/api/v1/runs/{run_url.rsplit('/', 1)[1]}/statements/{second_entity}")
    assert api.status == 404
    provider.close()
    assert problems == []


def test_every_report_page_of_the_catalog(run_server: dict[str, Any], browser: object) -> None:
    """Each report of the catalog opens for the analyst: its charts drawn, its tables shown - or, for a report
    the run cannot feed (no episodes section, too few years for prediction), the reason on the page."""
    from playwright.sync_api import expect

    from apmkit.reports.framework import catalog

    base, password = run_server["base"], run_server["password"]
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    _sign_in(page, base, "ana", password, start="/ui/runs")
    # a run of its own, started through the API from the signed-in page (the session's CSRF token)
    csrf = json.loads(page.locator("body").get_attribute("hx-headers") or "{}")["X-CSRF-Token"]
    started = page.request.post(
        f"{base}/api/v1/runs",
        data=json.dumps({"contract": run_server["contract"], "period": "2025"}),
        headers={"X-CSRF-Token": csrf, "content-type": "application/json"},
    )
    assert started.status == 202
    run_id = started.json()["id"]
    deadline = time.monotonic() + 180
    while page.request.get(f"{base}/api/v1/runs/{run_id}").json()["status"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    page.goto(f"{base}/ui/runs/{run_id}/reports")
    # keyboard: the skip link is the first stop and leads to the content
    page.keyboard.press("Tab")
    expect(page.locator("a.skip")).to_be_focused()
    shown = 0
    for info in catalog():
        response = page.goto(f"{base}/ui/runs/{run_id}/reports/{info.name}", timeout=300_000)
        assert response is not None and response.status in (200, 422), info.name
        if response.status == 422:
            expect(page.locator("p.message")).not_to_be_empty()
            continue
        shown += 1
        expect(page.locator("h1")).to_have_text(info.title)
        charts = page.locator("div.chart")
        for index in range(charts.count()):
            expect(charts.nth(index).locator("svg")).to_be_visible(timeout=30_000)
        assert page.locator("table.report-table").count() >= 1
    assert shown >= len(catalog()) - 2
    context.close()
    assert problems == []
