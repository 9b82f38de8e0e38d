"""The server holds under abuse (issue: "Holding under abuse"): each probe that took it down or answered 500 before.

Every test runs the real app (TestClient, or uvicorn over HTTP) on a real SQLite app state; the raw-ASGI tests call
the same app object with a request whose body is never sent, to prove a 413 comes before reading it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from tests.web.conftest import DESIGNER, VIEWER, TestClient, csrf_of

from apmkit.web.app import WebSettings, create_app
from apmkit.web.guard import BODY_LIMITS, MAX_BODY_BYTES, MAX_JSON_DEPTH

HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy")

# "Billion laughs": nine levels of ten aliases each, a few hundred bytes that expand to 10^9 items.
ALIAS_BOMB = "\n".join(
    ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    + ["shared_savings.max_sharing_rate: *a8"]
)


def _has_security_headers(response: httpx.Response) -> bool:
    return (
        all(name in response.headers for name in HEADERS) and response.headers["cache-control"] == "no-store"
    )


def _worksheet_form(csrf: str, **fields: str) -> dict[str, str]:
    return {"csrf_token": csrf, "name": "Abuse ACO", "starting_point": "pioneer", **fields}


def test_yaml_aliases_in_the_worksheet_terms_are_refused(designer: tuple[TestClient, str]) -> None:
    client, csrf = designer
    assert len(ALIAS_BOMB) < 600
    start = time.perf_counter()
    response = client.post("/ui/design", data=_worksheet_form(csrf, terms=ALIAS_BOMB))
    assert response.status_code == 422
    assert "YAML mapping" in response.text  # the error is shown next to the terms field
    assert time.perf_counter() - start < 5


def test_terms_beyond_64_kib_are_refused(designer: tuple[TestClient, str]) -> None:
    client, csrf = designer
    terms = "\n".join(f"shared_savings.note_{i}: {'x' * 60}" for i in range(1200))  # ~90 KB of plain YAML
    response = client.post("/ui/design", data=_worksheet_form(csrf, terms=terms))
    assert response.status_code == 422
    assert "at most 65,536 characters" in response.text
    assert "note_1199" not in response.text  # not echoed back into the page


def test_over_long_answers_are_refused_and_not_stored(designer: tuple[TestClient, str]) -> None:
    client, csrf = designer
    long_text = "y" * 20_000
    page = client.post("/ui/design", data=_worksheet_form(csrf, rationale=long_text))
    assert page.status_code == 422
    assert long_text not in page.text
    api = client.post(
        "/api/v1/design",
        json={"name": "Abuse ACO", "starting_point": "pioneer", "rationale": long_text},
        headers={"X-CSRF-Token": csrf},
    )
    assert api.status_code == 422
    assert client.get("/api/v1/designs").json()["designs"] == []


@pytest.mark.parametrize(
    ("simulation", "field"),
    [
        ('"seed": -1', "sim_seed"),
        ('"seed": 99999999999', "sim_seed"),
        ('"benchmark_per_person_year": 1e308', "sim_benchmark_per_person_year"),
        ('"participant_revenue": 1e308', "sim_participant_revenue"),
        ('"period": "9999"', "sim_period"),
        ('"period": "0000"', "sim_period"),
    ],
)
def test_out_of_range_simulation_settings_are_422(
    designer: tuple[TestClient, str], simulation: str, field: str
) -> None:
    client, csrf = designer
    body = '{"name": "x", "starting_point": "pioneer", "simulation": {' + simulation + "}}"
    response = client.post(
        "/api/v1/design", content=body, headers={"X-CSRF-Token": csrf, "content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]["fields"]


@pytest.mark.parametrize("constant", ["Infinity", "-Infinity", "NaN"])
def test_non_finite_json_numbers_are_refused(designer: tuple[TestClient, str], constant: str) -> None:
    client, csrf = designer
    body = (
        '{"name": "x", "starting_point": "pioneer", "simulation": {"benchmark_per_person_year": '
        + constant
        + "}}"
    )
    response = client.post(
        "/api/v1/design", content=body, headers={"X-CSRF-Token": csrf, "content-type": "application/json"}
    )
    assert response.status_code == 400
    assert constant.lstrip("-") in response.json()["detail"]


def test_out_of_range_seed_on_the_page_is_shown_next_to_the_field(designer: tuple[TestClient, str]) -> None:
    client, csrf = designer
    response = client.post("/ui/design", data=_worksheet_form(csrf, sim_seed="-1", sim_scenarios="10"))
    assert response.status_code == 422
    assert "Input should be greater than or equal to 0" in response.text


def test_out_of_range_settings_in_an_answers_file_are_one_line_errors(tmp_path: Path) -> None:
    """The worksheet model itself bounds the simulation settings, so `apmkit design --answers` refuses them too."""
    import subprocess
    import sys

    import yaml

    for field, value in (("seed", -1), ("benchmark_per_person_year", 1e308), ("participant_revenue", 1e14)):
        answers = tmp_path / f"{field}.yaml"
        answers.write_text(
            yaml.safe_dump({"name": "x", "starting_point": "pioneer", "simulation": {field: value}}),
            encoding="utf-8",
        )
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "apmkit",
                "design",
                "--answers",
                str(answers),
                "--out",
                str(tmp_path / "o"),
            ],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr and f"simulation.{field}" in result.stderr


def test_deep_json_is_400_not_500(designer: tuple[TestClient, str]) -> None:
    client, csrf = designer
    deep = "[" * 100_000 + "]" * 100_000  # 200 KB: under the body limit, far over the depth limit
    for path in ("/api/v1/design", "/api/v1/password"):
        response = client.post(
            path, content=deep, headers={"X-CSRF-Token": csrf, "content-type": "application/json"}
        )
        assert response.status_code == 400, path
        assert f"deeper than {MAX_JSON_DEPTH}" in response.json()["detail"]
        assert _has_security_headers(response)
    # brackets inside strings are text, not nesting
    shallow = '{"name": "' + "[" * 5000 + '", "starting_point": "nowhere"}'
    response = client.post(
        "/api/v1/design", content=shallow, headers={"X-CSRF-Token": csrf, "content-type": "application/json"}
    )
    assert response.status_code == 422


def test_deep_json_sign_in_is_400(client: TestClient) -> None:
    response = client.post(
        "/api/v1/login", content="[" * 2000 + "]" * 2000, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


def _post_routes(app: Any) -> list[str]:
    paths = []
    for route in app.routes:
        if "POST" in getattr(route, "methods", set()):
            paths.append(route.path.replace("{run_id}", "x").replace("{design_id}", "x"))
    return paths


def test_every_post_route_refuses_an_oversized_body_before_sign_in(client: TestClient) -> None:
    routes = _post_routes(client.app)
    assert {"/api/v1/login", "/ui/login", "/api/v1/design", "/ui/design", "/api/v1/runs"} <= set(routes)
    for path in routes:
        limit = BODY_LIMITS.get(path, MAX_BODY_BYTES)
        response = client.post(
            path, content=b"{" + b" " * limit + b"}", headers={"content-type": "application/json"}
        )
        assert response.status_code == 413, path
        assert _has_security_headers(response), path


def _asgi_post(
    app: Any, path: str, headers: list[tuple[bytes, bytes]], chunks: Iterator[bytes]
) -> tuple[int, int]:
    """POST through the ASGI interface; returns (status, body chunks the app read)."""
    read = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        chunk = next(chunks, None)
        return {"type": "http.request", "body": chunk or b"", "more_body": chunk is not None}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    return status, read


def test_a_200_mb_anonymous_sign_in_is_refused_before_its_body_is_read(client: TestClient) -> None:
    status, read = _asgi_post(
        client.app, "/api/v1/login", [(b"content-length", b"200000000")], iter([b"{" * 1000] * 200_000)
    )
    assert (status, read) == (413, 0)


def test_a_body_without_a_length_is_cut_off_at_the_limit(client: TestClient) -> None:
    endless = iter(lambda: b" " * 1024, None)  # never ends by itself
    status, read = _asgi_post(client.app, "/api/v1/login", [], endless)
    assert status == 413
    assert read <= BODY_LIMITS["/api/v1/login"] // 1024 + 2


def test_security_headers_on_404_405_422_and_500(settings: WebSettings) -> None:
    app = create_app(settings)

    @app.get("/ui/boom")
    def boom() -> None:  # a defect in some page: the 500 answer must still carry the headers
        raise RuntimeError("defect")

    with TestClient(app, raise_server_exceptions=False) as client:
        for response, status in (
            (client.get("/nowhere"), 404),
            (client.get("/api/v1/nowhere"), 404),
            (client.get("/ui/nowhere"), 404),
            (client.put("/api/v1/login"), 405),
            (client.get("/ui/boom"), 500),
            (client.get("/static/app.css"), 200),
        ):
            assert response.status_code == status
            assert all(name in response.headers for name in HEADERS), response.request.url
        assert "defect" not in client.get("/ui/boom").text
        assert "<h1>Not found</h1>" in client.get("/ui/nowhere").text


def test_sign_in_is_throttled_per_account(client: TestClient, new_client: Any) -> None:
    for _ in range(5):
        response = client.post("/api/v1/login", json={"username": VIEWER[0], "password": "wrong password"})
        assert response.status_code == 401
    refused = client.post("/api/v1/login", json={"username": VIEWER[0], "password": VIEWER[1]})
    assert refused.status_code == 429  # the right password too, while the account is locked
    assert 1 <= int(refused.headers["retry-after"]) <= 900
    # the page form says the same
    page = client.get("/ui/login")
    form = {"username": VIEWER[0], "password": VIEWER[1], "csrf_token": csrf_of(page.text)}
    assert client.post("/ui/login", data=form).status_code == 429
    # another account is not locked by it
    assert (
        client.post("/api/v1/login", json={"username": DESIGNER[0], "password": DESIGNER[1]}).status_code
        == 200
    )


def test_sign_in_is_throttled_per_address(client: TestClient) -> None:
    for attempt in range(20):
        response = client.post(
            "/api/v1/login", json={"username": f"guess{attempt}", "password": "wrong password"}
        )
        assert response.status_code == 401
    refused = client.post("/api/v1/login", json={"username": DESIGNER[0], "password": DESIGNER[1]})
    assert refused.status_code == 429


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_parallel_wrong_sign_ins_do_not_stall_other_requests(
    settings: WebSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """40 wrong sign-ins at once: every scrypt runs in the hash pool's own threads, never on the event loop's, and
    the health check is answered while they are still being hashed. The proof is where the work ran and in what
    order it finished, not a latency bound (timings on a shared machine prove nothing)."""
    import hashlib

    real_scrypt = hashlib.scrypt
    hashed_on: list[str] = []

    def recording_scrypt(*args: Any, **kwargs: Any) -> bytes:
        hashed_on.append(threading.current_thread().name)
        return real_scrypt(*args, **kwargs)

    # The throttle is opened wide here: all 40 sign-ins reach scrypt, as a distributed attack's would.
    app = create_app(dataclasses.replace(settings, login_per_address=1000, login_per_account=1000))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True, name="event-loop")
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setattr(hashlib, "scrypt", recording_scrypt)
    try:
        statuses: list[int] = []

        def wrong_sign_in(index: int) -> None:
            with httpx.Client(base_url=base, timeout=120) as client:
                answer = client.post(
                    "/api/v1/login", json={"username": DESIGNER[0], "password": f"wrong {index}"}
                )
                statuses.append(answer.status_code)

        with httpx.Client(base_url=base, timeout=120) as probe:
            assert probe.get("/api/v1/health").json() == {"status": "ok"}
            workers = [threading.Thread(target=wrong_sign_in, args=(i,)) for i in range(40)]
            for worker in workers:
                worker.start()
            while not hashed_on:  # the burst has reached scrypt
                time.sleep(0.005)
            hashed_before_health = []
            for _ in range(5):
                assert probe.get("/api/v1/health").status_code == 200
                hashed_before_health.append(len(hashed_on))
            for worker in workers:
                worker.join()
        assert statuses == [401] * 40
        assert len(hashed_on) == 40
        assert all(name.startswith("apmkit-scrypt") for name in hashed_on), set(hashed_on)
        # Health was answered before the burst's hashing was done: it did not queue behind the sign-ins.
        assert max(hashed_before_health) < 40, hashed_before_health
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_health_reveals_nothing_but_liveness(client: TestClient) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert _has_security_headers(response)
