"""``apmkit serve`` as users start it (a real process), its errors, and what the server writes to its log."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.web.conftest import DESIGNER, SECRET, TestClient, sign_in
from typer.testing import CliRunner

from apmkit.cli.main import app as cli_app
from apmkit.errors import InputFileError

APMKIT = [sys.executable, "-m", "apmkit.cli.main"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_starts_the_dashboard(users_file: Path, population: Path, tmp_path: Path) -> None:
    port = _free_port()
    secret = "serve-test-secret-value"
    process = subprocess.Popen(
        [
            *APMKIT,
            "serve",
            "--data",
            str(population),
            "--users",
            str(users_file),
            "--port",
            str(port),
            "--workdir",
            str(tmp_path / "work"),
        ],
        env={**os.environ, "APMKIT_WEB_SECRET": secret},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/ui/design", follow_redirects=False)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert response.status_code == 303
        assert response.headers["location"] == "/ui/login?next=/ui/design"
        signed = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/login", json={"username": DESIGNER[0], "password": DESIGNER[1]}
        )
        assert signed.json()["role"] == "designer"
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0]
    assert f"serving http://127.0.0.1:{port}/ui " in output
    for private in (secret, DESIGNER[1]):
        assert private not in output


def test_serve_refuses_a_missing_data_folder_or_users_file(users_file: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli_app, ["serve", "--users", str(users_file), "--data", str(tmp_path / "nope")])
    assert isinstance(result.exception, InputFileError)
    assert "not a folder of canonical tables" in str(result.exception)
    result = runner.invoke(cli_app, ["serve", "--users", str(tmp_path / "users.yaml")])
    assert isinstance(result.exception, InputFileError)
    assert "apmkit web add-user" in str(result.exception)


def test_log_has_no_answers_passwords_or_secret(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="apmkit.web")
    page = client.get("/ui/login")
    client.post(
        "/ui/login",
        data={
            "username": DESIGNER[0],
            "password": "wrong-guess-123",
            "csrf_token": page.text.split('name="csrf_token" value="')[1].split('"')[0],
        },
    )
    csrf = sign_in(client, *DESIGNER)
    answer = "Confidential rationale text 8841"
    response = client.post(
        "/ui/design",
        data={
            "csrf_token": csrf,
            "name": "Logged model",
            "starting_point": "pioneer",
            "rationale": answer,
            "sim_scenarios": "10",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "signed in" in text and "saved by dana" in text and "failed sign-in" in text
    for private in (DESIGNER[1], "wrong-guess-123", SECRET, answer, "Logged model", csrf):
        assert private not in text


def test_serve_refuses_to_start_without_users(tmp_path: Path) -> None:
    """Fail closed: no users file, no state database with users - no server, one line, exit 2, nothing created."""
    process = subprocess.run(
        [*APMKIT, "serve", "--workdir", str(tmp_path / "work"), "--port", str(_free_port())],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 2
    assert "no dashboard users" in process.stderr and "Traceback" not in process.stderr
    assert not (tmp_path / "work").exists()
