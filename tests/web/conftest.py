"""Shared fixtures of the web tests: a users file, a small synthetic population, a real SQLite app state per test
and signed-in clients."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apmkit.cli.main import app as cli_app
from apmkit.web.app import WebSettings, create_app
from apmkit.web.auth import add_user

with warnings.catch_warnings():
    # starlette's TestClient warns that it wants httpx2; the httpx it has works for these tests.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

DESIGNER = ("dana", "designer-password")
VIEWER = ("vic", "viewer-password")
SECRET = "test-secret-not-for-production"

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of a page's forms."""
    found = CSRF_FIELD.search(html)
    assert found, "page has no CSRF field"
    return found.group(1)


@pytest.fixture(scope="session")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("users") / "users.yaml"
    add_user(path, DESIGNER[0], "designer", DESIGNER[1])
    add_user(path, VIEWER[0], "viewer", VIEWER[1])
    return path


@pytest.fixture(scope="session")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 synthetic members over 2025 (the same size as tests/design's population)."""
    out = tmp_path_factory.mktemp("population")
    result = CliRunner().invoke(
        cli_app, ["--quiet", "synth", "--members", "60", "--years", "1", "--seed", "11", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def settings(users_file: Path, population: Path, tmp_path: Path) -> WebSettings:
    return WebSettings(users_file=users_file, workdir=tmp_path / "work", data_dir=population, secret=SECRET)


@pytest.fixture
def client(settings: WebSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def sign_in(client: TestClient, username: str, password: str) -> str:
    """Sign in through the form; returns the session's CSRF token."""
    page = client.get("/ui/login")
    response = client.post(
        "/ui/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    landing = client.get(response.headers["location"])
    return csrf_of(landing.text)


@pytest.fixture
def designer(client: TestClient) -> tuple[TestClient, str]:
    return client, sign_in(client, *DESIGNER)


@pytest.fixture
def viewer(client: TestClient) -> tuple[TestClient, str]:
    return client, sign_in(client, *VIEWER)


@pytest.fixture
def new_client(settings: WebSettings) -> Iterator[Callable[[], TestClient]]:
    """A second, independent browser on the same app (e.g. a viewer beside a designer)."""
    app = create_app(settings)
    made: list[TestClient] = []

    def make() -> TestClient:
        made.append(TestClient(app))
        return made[-1]

    yield make
    for test_client in made:
        test_client.close()
