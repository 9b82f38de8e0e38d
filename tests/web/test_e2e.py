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
    from playwright.sync_api import sync_playwright

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
