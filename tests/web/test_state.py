"""The app state through SQLAlchemy: users, sessions, audit and jobs on SQLite (always) and PostgreSQL (when
``APMKIT_TEST_POSTGRES_URL`` names a database, e.g. ``postgresql+psycopg://apmkit@/apmkit_state?host=/tmp``;
its tables are dropped and created by the test)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.web.conftest import SECRET, TestClient

from apmkit.errors import ConfigurationError
from apmkit.web.app import WebSettings, create_app
from apmkit.web.auth import Role
from apmkit.web.state import AppState, metadata, sessions_table

POSTGRES = os.environ.get("APMKIT_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    if not POSTGRES:
        pytest.skip("APMKIT_TEST_POSTGRES_URL is not set (a PostgreSQL database the test may reset)")
    engine = sa.create_engine(POSTGRES)
    metadata.drop_all(engine)
    engine.dispose()
    yield POSTGRES


def test_users_sessions_and_revocation(state_url: str) -> None:
    state = AppState(state_url, session_max_age=3600)
    try:
        state.add_user("ada", "admin", "admin password")
        state.add_user(
            "pia", "provider", "provider password", tins=["111111111", "111111111"], npis=["1234567893"]
        )
        with pytest.raises(ConfigurationError, match="at least one"):
            state.add_user("pat", "provider", "provider password")
        pia = state.get_user("pia")
        assert pia is not None and pia.role is Role.provider
        assert pia.scope is not None and pia.scope.tins == {"111111111"} and pia.scope.npis == {"1234567893"}
        assert state.authenticate("pia", "provider password") == pia
        assert state.authenticate("pia", "wrong password") is None
        assert state.authenticate("nobody", "provider password") is None
        first, second = state.create_session(pia), state.create_session(pia)
        assert state.session_user(first) == pia and state.session_count("pia") == 2
        state.revoke_session(first)
        assert state.session_user(first) is None and state.session_user(second) == pia
        state.set_password("pia", "a new password")
        assert state.session_user(second) is None and state.session_count("pia") == 0
        # an expired session is refused even though its row is still there
        third = state.create_session(pia)
        with state.engine.begin() as connection:
            connection.execute(
                sa.update(sessions_table).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        assert state.session_user(third) is None
        assert state.remove_user("pia") and not state.remove_user("pia")
        assert [u.name for u in state.list_users()] == ["ada"]
    finally:
        state.close()


def test_audit_and_jobs(state_url: str) -> None:
    state = AppState(state_url)
    try:
        for page in range(1, 4):
            state.audit("aud", "read_member_detail", f"run r, page {page}", rows=50, address="127.0.0.1")
        state.audit("ada", "sign_in", "session")
        entries, total = state.audit_log(user="aud", limit=2)
        assert total == 3 and [e.target for e in entries] == ["run r, page 3", "run r, page 2"]
        assert entries[0].at.endswith("+00:00") and entries[0].rows == 50
        job = state.create_job("run", "ana", "contract", "2025")
        state.update_job(job.id, status="running")
        state.job_step(job.id, "attribution")
        state.job_step(job.id, "benchmark")
        state.update_job(job.id, status="done", counts={"entities": 3})
        done = state.get_job(job.id)
        assert done is not None and (done.status, done.steps_done, done.stage, done.counts) == (
            "done",
            2,
            "benchmark",
            {"entities": 3},
        )
        other = state.create_job("run", "ana", "contract", "2026")
        assert state.fail_unfinished_jobs() == 1
        failed = state.get_job(other.id)
        assert failed is not None and failed.status == "failed"
        assert state.list_jobs(limit=10)[1] == 2
    finally:
        state.close()


def test_the_app_runs_on_the_state_url(state_url: str, tmp_path: Path, population: Path) -> None:
    settings = WebSettings(
        users_file=None, workdir=tmp_path / "work", data_dir=population, secret=SECRET, state_url=state_url
    )
    app = create_app(settings)
    app.state.app_state.add_user("dana", "designer", "designer password")
    with TestClient(app) as client:
        signed = client.post("/api/v1/login", json={"username": "dana", "password": "designer password"})
        assert signed.status_code == 200
        assert client.get("/api/v1/designs").status_code == 200
        client.post("/api/v1/logout", headers={"X-CSRF-Token": signed.json()["csrf_token"]})
        assert client.get("/api/v1/designs").status_code == 401
    if state_url.startswith("sqlite"):
        assert not (tmp_path / "work" / "state.db").exists()  # the URL's file, not the default
