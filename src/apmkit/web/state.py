"""The dashboard's own state: users, sessions, the audit log and background jobs, in one SQL database.

SQLAlchemy Core over SQLite by default (``<workdir>/state.db``, created owner-only), PostgreSQL or any other
SQLAlchemy URL with ``--state-url``. Nothing of the population is stored here: users (with scrypt hashes only
and, for providers, the entities/TINs/NPIs they may see), server-side sessions (the token's SHA-256, never the
token), the audit log (who read which member-level data when) and the jobs (runs started from the dashboard).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from apmkit.errors import ConfigurationError
from apmkit.web.auth import (
    _DUMMY_HASH,
    _USERNAME,
    MIN_PASSWORD_LENGTH,
    Role,
    Scope,
    User,
    hash_password,
    verify_password,
)

STATE_FILE = "state.db"
"""The default SQLite file of the app state, in the server's work folder."""

MAX_SCOPE_ITEMS = 1000
_SCOPE_ITEM = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"

metadata = sa.MetaData()

users_table = sa.Table(
    "users",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("entity_ids", sa.Text, nullable=False, default="[]"),
    sa.Column("tins", sa.Text, nullable=False, default="[]"),
    sa.Column("npis", sa.Text, nullable=False, default="[]"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

sessions_table = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_sha256", sa.String(64), primary_key=True),
    sa.Column("user_name", sa.String(64), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)

audit_table = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("user_name", sa.String(64), nullable=False, index=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(255), nullable=False),
    sa.Column("rows", sa.Integer, nullable=True),
    sa.Column("address", sa.String(64), nullable=False, default=""),
)

jobs_table = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("user_name", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("stage", sa.String(128), nullable=False, default=""),
    sa.Column("steps_done", sa.Integer, nullable=False, default=0),
    sa.Column("steps", sa.Integer, nullable=False, default=1, server_default="1"),
    sa.Column("contract_id", sa.String(128), nullable=False, default=""),
    sa.Column("period", sa.String(32), nullable=False, default=""),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("counts", sa.Text, nullable=False, default="{}"),
    sa.Column("result", sa.Text, nullable=False, default="{}"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
)


@dataclass(frozen=True)
class AuditEntry:
    """One audit log row."""

    id: int
    at: str
    user: str
    action: str
    target: str
    rows: int | None
    address: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "user": self.user,
            "action": self.action,
            "target": self.target,
            "rows": self.rows,
            "address": self.address,
        }


@dataclass(frozen=True)
class Job:
    """A background job: a run (``kind`` run) or a design simulated on the population (``kind`` design, whose
    ``result`` names the saved design)."""

    id: str
    kind: str
    user: str
    status: str
    stage: str
    steps_done: int
    contract_id: str
    period: str
    error: str | None
    counts: dict[str, int] = field(default_factory=dict)
    result: dict[str, str] = field(default_factory=dict)
    created_at: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    steps: int = 1
    """Progress steps the job reports in all (a run: the stages of its contract, ``run_stages``)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "user": self.user,
            "status": self.status,
            "stage": self.stage,
            "steps_done": self.steps_done,
            "contract_id": self.contract_id,
            "period": self.period,
            "error": self.error,
            "counts": self.counts,
            "result": self.result,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


def default_state_url(workdir: Path) -> str:
    """The SQLite URL of ``<workdir>/state.db``."""
    return f"sqlite:///{(workdir / STATE_FILE).resolve()}"


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes of what was stored in UTC
        value = value.replace(tzinfo=UTC)
    return value.isoformat(timespec="seconds")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_scope_items(kind: str, items: Iterable[str]) -> tuple[str, ...]:
    """Validated scope identifiers (entity ids, TINs, NPIs): short plain identifiers, at most 1000."""
    import re

    checked = tuple(dict.fromkeys(str(i).strip() for i in items))
    if len(checked) > MAX_SCOPE_ITEMS:
        raise ConfigurationError(f"--{kind}: at most {MAX_SCOPE_ITEMS} values")
    for item in checked:
        if not re.match(_SCOPE_ITEM, item):
            raise ConfigurationError(f"--{kind}: use 1-64 letters, digits, '_', '.', ':' or '-'")
    return checked


class AppState:
    """The state database.

    Parameters
    ----------
    url
        A SQLAlchemy URL (``sqlite:///path``, ``postgresql+psycopg://...``). A SQLite file is created with
        owner-only permissions (0600) before SQLAlchemy opens it.
    session_max_age
        Seconds a session lasts after sign-in.
    """

    def __init__(self, url: str, *, session_max_age: int = 8 * 3600):
        self.url = url
        self.session_max_age = session_max_age
        parsed = sa.engine.make_url(url)
        options: dict[str, Any] = {"future": True}
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database
            if database and database != ":memory:":
                path = Path(database)
                path.parent.mkdir(parents=True, exist_ok=True)
                # Owner-only from the first byte (the journal and WAL files copy the database file's mode).
                descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
                os.close(descriptor)
                path.chmod(0o600)
            options["connect_args"] = {"check_same_thread": False, "timeout": 30}
        self.engine: Engine = sa.create_engine(url, **options)
        if parsed.get_backend_name() == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._write_lock = threading.Lock()
        metadata.create_all(self.engine)
        _add_missing_columns(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        # SQLite allows one writer; serializing writes here avoids 'database is locked' under load.
        with self._write_lock, self.engine.begin() as connection:
            yield connection

    # ---- users ------------------------------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        role: str,
        password: str,
        *,
        entity_ids: Sequence[str] = (),
        tins: Sequence[str] = (),
        npis: Sequence[str] = (),
        password_hash: str | None = None,
    ) -> User:
        """Add or replace a user (a replaced user's sessions end).

        Raises
        ------
        ConfigurationError
            Bad name, unknown role, short password, a provider without any entity/TIN/NPI, or a scope given
            for a role that sees everything.
        """
        if not _USERNAME.match(name):
            raise ConfigurationError(f"user name {name!r}: use 1-64 letters, digits, '_', '.', '@' or '-'")
        try:
            checked_role = Role(role)
        except ValueError:
            raise ConfigurationError(f"--role must be one of {', '.join(r.value for r in Role)}") from None
        scope = Scope(
            entity_ids=frozenset(check_scope_items("entity", entity_ids)),
            tins=frozenset(check_scope_items("tin", tins)),
            npis=frozenset(check_scope_items("npi", npis)),
        )
        if checked_role is Role.provider and scope.empty:
            raise ConfigurationError("a provider needs at least one --entity, --tin or --npi it may see")
        if checked_role is not Role.provider and not scope.empty:
            raise ConfigurationError("--entity, --tin and --npi apply to the provider role only")
        if password_hash is None:
            if len(password) < MIN_PASSWORD_LENGTH:
                raise ConfigurationError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
            password_hash = hash_password(password)
        now = _now()
        row = {
            "role": checked_role.value,
            "password_hash": password_hash,
            "entity_ids": json.dumps(sorted(scope.entity_ids)),
            "tins": json.dumps(sorted(scope.tins)),
            "npis": json.dumps(sorted(scope.npis)),
            "updated_at": now,
        }
        with self._write() as connection:
            exists = connection.execute(
                sa.select(users_table.c.name).where(users_table.c.name == name)
            ).first()
            if exists:
                connection.execute(sa.update(users_table).where(users_table.c.name == name).values(**row))
                connection.execute(sa.delete(sessions_table).where(sessions_table.c.user_name == name))
            else:
                connection.execute(sa.insert(users_table).values(name=name, created_at=now, **row))
        return User(name=name, role=checked_role, password_hash=password_hash, scope=_scope_or_none(scope))

    def get_user(self, name: str) -> User | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(users_table).where(users_table.c.name == name)).first()
        return None if row is None else _user(row._mapping)

    def list_users(self) -> list[User]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(users_table).order_by(users_table.c.name)).all()
        return [_user(row._mapping) for row in rows]

    def remove_user(self, name: str) -> bool:
        """Remove a user and end its sessions; False when there was none by that name."""
        with self._write() as connection:
            removed = connection.execute(sa.delete(users_table).where(users_table.c.name == name)).rowcount
            connection.execute(sa.delete(sessions_table).where(sessions_table.c.user_name == name))
        return bool(removed)

    def set_password(self, name: str, password: str) -> None:
        """Change a password; every session of the user ends."""
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ConfigurationError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
        hashed = hash_password(password)
        with self._write() as connection:
            changed = connection.execute(
                sa.update(users_table)
                .where(users_table.c.name == name)
                .values(password_hash=hashed, updated_at=_now())
            ).rowcount
            if not changed:
                raise ConfigurationError(f"no user {name!r}")
            connection.execute(sa.delete(sessions_table).where(sessions_table.c.user_name == name))

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when the password matches, else None (the same scrypt work whether or not it exists).

        Blocking (tens of milliseconds of scrypt): the server calls it from a worker thread.
        """
        user = self.get_user(name) if _USERNAME.match(name) else None
        matched = verify_password(password, user.password_hash if user else _DUMMY_HASH)
        return user if user is not None and matched else None

    # ---- sessions ---------------------------------------------------------------------------------------

    def create_session(self, user: User) -> str:
        """A new session of ``user``: returns the token for the cookie (only its digest is stored)."""
        token = secrets.token_urlsafe(32)
        now = _now()
        with self._write() as connection:
            # Expired sessions are swept as new ones are made.
            connection.execute(sa.delete(sessions_table).where(sessions_table.c.expires_at < now))
            connection.execute(
                sa.insert(sessions_table).values(
                    token_sha256=_token_digest(token),
                    user_name=user.name,
                    created_at=now,
                    expires_at=now + timedelta(seconds=self.session_max_age),
                )
            )
        return token

    def session_user(self, token: str) -> User | None:
        """The user of a live session, or None (unknown, revoked or expired token; removed user)."""
        query = (
            sa.select(users_table, sessions_table.c.expires_at)
            .join(sessions_table, sessions_table.c.user_name == users_table.c.name)
            .where(sessions_table.c.token_sha256 == _token_digest(token))
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None or _aware(row._mapping["expires_at"]) <= _now():
            return None
        return _user(row._mapping)

    def revoke_session(self, token: str) -> None:
        with self._write() as connection:
            connection.execute(
                sa.delete(sessions_table).where(sessions_table.c.token_sha256 == _token_digest(token))
            )

    def session_count(self, name: str) -> int:
        with self.engine.connect() as connection:
            return int(
                connection.execute(
                    sa.select(sa.func.count())
                    .select_from(sessions_table)
                    .where(sessions_table.c.user_name == name)
                ).scalar_one()
            )

    # ---- audit ------------------------------------------------------------------------------------------

    def audit(
        self, user: str, action: str, target: str, *, rows: int | None = None, address: str = ""
    ) -> None:
        """Record one access (who, what, when); never data values."""
        with self._write() as connection:
            connection.execute(
                sa.insert(audit_table).values(
                    at=_now(),
                    user_name=user,
                    action=action,
                    target=target[:255],
                    rows=rows,
                    address=address[:64],
                )
            )

    def audit_log(
        self, *, user: str | None = None, action: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[AuditEntry], int]:
        """Audit rows, newest first, and how many match in all."""
        where = []
        if user:
            where.append(audit_table.c.user_name == user)
        if action:
            where.append(audit_table.c.action == action)
        query = sa.select(audit_table).where(*where).order_by(audit_table.c.id.desc())
        with self.engine.connect() as connection:
            total = connection.execute(
                sa.select(sa.func.count()).select_from(audit_table).where(*where)
            ).scalar_one()
            rows = connection.execute(query.limit(limit).offset(offset)).all()
        entries = [
            AuditEntry(
                id=r.id,
                at=_iso(r.at) or "",
                user=r.user_name,
                action=r.action,
                target=r.target,
                rows=r.rows,
                address=r.address,
            )
            for r in rows
        ]
        return entries, int(total)

    # ---- jobs -------------------------------------------------------------------------------------------

    def create_job(self, kind: str, user: str, contract_id: str, period: str, steps: int = 1) -> Job:
        """A queued job; ``steps`` is how many progress steps it will report (the progress bar's length)."""
        job_id = f"{_now():%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
        with self._write() as connection:
            connection.execute(
                sa.insert(jobs_table).values(
                    id=job_id,
                    kind=kind,
                    user_name=user,
                    status="queued",
                    stage="queued",
                    steps_done=0,
                    steps=max(1, steps),
                    contract_id=contract_id[:128],
                    period=period[:32],
                    counts="{}",
                    result="{}",
                    created_at=_now(),
                )
            )
        job = self.get_job(job_id)
        assert job is not None
        return job

    def update_job(self, job_id: str, **values: Any) -> None:
        for name in ("counts", "result"):
            if name in values:
                values[name] = json.dumps(values[name])
        with self._write() as connection:
            connection.execute(sa.update(jobs_table).where(jobs_table.c.id == job_id).values(**values))

    def job_step(self, job_id: str, stage: str) -> None:
        with self._write() as connection:
            connection.execute(
                sa.update(jobs_table)
                .where(jobs_table.c.id == job_id)
                .values(stage=stage[:128], steps_done=jobs_table.c.steps_done + 1)
            )

    def get_job(self, job_id: str) -> Job | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(jobs_table).where(jobs_table.c.id == job_id)).first()
        return None if row is None else _job(row._mapping)

    def list_jobs(
        self, *, limit: int = 50, offset: int = 0, status: str | None = None, kind: str | None = None
    ) -> tuple[list[Job], int]:
        where = [jobs_table.c.status == status] if status else []
        if kind:
            where.append(jobs_table.c.kind == kind)
        with self.engine.connect() as connection:
            total = connection.execute(
                sa.select(sa.func.count()).select_from(jobs_table).where(*where)
            ).scalar_one()
            rows = connection.execute(
                sa.select(jobs_table)
                .where(*where)
                .order_by(jobs_table.c.created_at.desc(), jobs_table.c.id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
        return [_job(r._mapping) for r in rows], int(total)

    def fail_unfinished_jobs(self) -> int:
        """Mark jobs a previous server process left queued or running as failed (called at start)."""
        with self._write() as connection:
            return int(
                connection.execute(
                    sa.update(jobs_table)
                    .where(jobs_table.c.status.in_(("queued", "running")))
                    .values(
                        status="failed",
                        error="the server stopped before the job finished",
                        finished_at=_now(),
                    )
                ).rowcount
            )


def _sqlite_pragmas(connection: Any, record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL with synchronous=NORMAL (SQLite's advice for WAL): a commit - an audit row per member-level read - no
    # longer waits for an fsync of its own; a power cut may lose the last commits, never corrupt the file.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _scope_or_none(scope: Scope) -> Scope | None:
    return None if scope.empty else scope


def _user(row: Any) -> User:
    scope = Scope(
        entity_ids=frozenset(json.loads(row["entity_ids"])),
        tins=frozenset(json.loads(row["tins"])),
        npis=frozenset(json.loads(row["npis"])),
    )
    role = Role(row["role"])
    # A provider always carries its scope (an empty one sees nothing); other roles see every entity.
    return User(
        name=row["name"],
        role=role,
        password_hash=row["password_hash"],
        scope=scope if role is Role.provider else None,
    )


def _add_missing_columns(engine: Engine) -> None:
    """Columns added to a table after a state database was first made (``ALTER TABLE ... ADD COLUMN``)."""
    present = {c["name"] for c in sa.inspect(engine).get_columns("jobs")}
    if "steps" not in present:
        with engine.begin() as connection:
            connection.execute(sa.text("ALTER TABLE jobs ADD COLUMN steps INTEGER NOT NULL DEFAULT 1"))


def _job(row: Any) -> Job:
    return Job(
        id=row["id"],
        kind=row["kind"],
        user=row["user_name"],
        status=row["status"],
        stage=row["stage"],
        steps_done=row["steps_done"],
        steps=row["steps"],
        contract_id=row["contract_id"],
        period=row["period"],
        error=row["error"],
        counts=json.loads(row["counts"] or "{}"),
        result=json.loads(row["result"] or "{}"),
        created_at=_iso(row["created_at"]) or "",
        started_at=_iso(row["started_at"]),
        finished_at=_iso(row["finished_at"]),
    )


__all__ = ["STATE_FILE", "AppState", "AuditEntry", "Job", "check_scope_items", "default_state_url"]
