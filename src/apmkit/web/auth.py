"""Users, password hashes, roles, scopes and CSRF tokens of the web layer.

Passwords are stored only as scrypt hashes (stdlib :func:`hashlib.scrypt`, a random 16-byte salt per user). The
users live in the app-state database (:mod:`apmkit.web.state`, ``apmkit users ...``); the older YAML users file
that ``apmkit web add-user`` writes is still read and imported into it when ``apmkit serve --users FILE`` starts::

    users:
      alice:
        role: designer
        password_hash: scrypt$16384$8$1$<salt, base64>$<hash, base64>

Roles and their permissions are :data:`ROLE_PERMISSIONS`; a provider also carries a :class:`Scope`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from apmkit.documents import read_yaml
from apmkit.errors import ConfigurationError, InputFileError

if TYPE_CHECKING:
    from apmkit.reports.framework import Scope as GrantedScope

# scrypt cost: N=2**14, r=8, p=1 is the interactive-login setting of the scrypt paper (Percival 2009) and
# costs about 16 MB and tens of milliseconds per check.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_SALT_BYTES = 16
_KEY_BYTES = 32
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD_LENGTH = 8


class Role(StrEnum):
    """What a signed-in user may do."""

    admin = "admin"
    payer_analyst = "payer_analyst"
    provider = "provider"
    auditor = "auditor"
    designer = "designer"
    viewer = "viewer"


ROLE_PERMISSIONS: Mapping[Role, frozenset[str]] = {
    Role.admin: frozenset(
        {"read_designs", "run_designs", "read_runs", "start_runs", "read_members", "read_audit", "read_data"}
    ),
    Role.payer_analyst: frozenset(
        {"read_designs", "run_designs", "read_runs", "start_runs", "read_members", "read_data"}
    ),
    # A provider reads runs and member rows of its own entities/TINs/NPIs only (Scope, applied per query).
    Role.provider: frozenset({"read_runs", "read_members"}),
    Role.auditor: frozenset({"read_designs", "read_runs", "read_members", "read_audit", "read_data"}),
    Role.designer: frozenset({"read_designs", "run_designs"}),
    Role.viewer: frozenset({"read_designs"}),
}


@dataclass(frozen=True)
class Scope:
    """What a provider may see: its entities, TINs and NPIs, as stored with the user. Every read applies it as
    :meth:`grant` - the report framework's scope, whose rule (a row is the provider's when ANY of its identifiers
    is granted) the reports, the pages, the API, the exports and the cached results share."""

    entity_ids: frozenset[str] = frozenset()
    tins: frozenset[str] = frozenset()
    npis: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not (self.entity_ids or self.tins or self.npis)

    def to_dict(self) -> dict[str, list[str]]:
        return {"entity_ids": sorted(self.entity_ids), "tins": sorted(self.tins), "npis": sorted(self.npis)}

    def grant(self) -> GrantedScope:
        """The scope every read applies (:class:`apmkit.reports.framework.Scope`)."""
        from apmkit.reports.framework import Scope as GrantedScope  # ibis: not for the users CLI's start

        return GrantedScope(
            entity_ids=self.entity_ids or None, tins=self.tins or None, npis=self.npis or None
        )


@dataclass(frozen=True)
class User:
    """A user of the dashboard (no password, only its hash).

    ``scope`` is None for roles that see every entity and a :class:`Scope` for a provider.
    """

    name: str
    role: Role
    password_hash: str
    scope: Scope | None = None

    def may(self, permission: str) -> bool:
        """Whether the user's role grants ``permission`` (see :data:`ROLE_PERMISSIONS`)."""
        return permission in ROLE_PERMISSIONS[self.role]

    @property
    def session_fingerprint(self) -> str:
        """A short digest of the password hash: sessions signed before a password change stop matching."""
        return hashlib.sha256(self.password_hash.encode("ascii")).hexdigest()[:16]


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """The scrypt hash of ``password`` with a fresh random salt (or ``salt``), as one self-describing string."""
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    key = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=_KEY_BYTES
    )
    encode = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt).decode()}${encode(key).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches the stored hash (constant-time comparison; False for a malformed hash)."""
    try:
        scheme, n, r, p, salt_text, key_text = stored.split("$")
        if scheme != "scrypt":
            return False
        salt = base64.b64decode(salt_text, validate=True)
        expected = base64.b64decode(key_text, validate=True)
        key = hashlib.scrypt(
            password.encode("utf-8"), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(key, expected)


# Checked against when the user name is unknown, so a failed login takes as long either way.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


class UserStore:
    """The users file, re-read when it changes on disk (edits apply without a restart).

    Parameters
    ----------
    path
        The YAML users file.
    """

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._users: dict[str, User] = {}
        self._reload()

    def _reload(self) -> None:
        try:
            stat = self.path.stat()
        except FileNotFoundError as exc:
            raise InputFileError(
                self.path, "users file not found (create it with `apmkit web add-user`)"
            ) from exc
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            self._users = read_users(self.path)
            self._stamp = stamp

    def get(self, name: str) -> User | None:
        """The user called ``name``, or None."""
        with self._lock:
            self._reload()
            return self._users.get(name)

    def all(self) -> list[User]:
        """Every user of the file."""
        with self._lock:
            self._reload()
            return list(self._users.values())

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when the password matches, else None (same work whether or not the user exists)."""
        user = self.get(name)
        matched = verify_password(password, user.password_hash if user else _DUMMY_HASH)
        return user if user is not None and matched else None


_FILE_ROLES = (
    "role must be admin, payer_analyst, auditor, designer or viewer "
    "(providers, who see only their entities, are added with `apmkit users add`)"
)


def read_users(path: Path) -> dict[str, User]:
    """Read and validate a users file.

    Raises
    ------
    InputFileError
        The file is not valid YAML, or a user has no valid role or password hash (the message names the user
        and field, never a hash).
    """
    data = read_yaml(path, "users file") or {}
    entries = data.get("users") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise InputFileError(path, "expected a mapping `users:` of user name -> role and password_hash")
    users = {}
    for name, entry in entries.items():
        where = f"users.{name}"
        if not isinstance(name, str) or not _USERNAME.match(name):
            raise InputFileError(
                path, "user names are 1-64 letters, digits, '_', '.', '@' or '-'", field=where
            )
        if not isinstance(entry, dict):
            raise InputFileError(path, "expected role and password_hash", field=where)
        try:
            role = Role(str(entry.get("role")))
            if role is Role.provider:
                raise ValueError("a provider needs a scope")
        except ValueError as exc:
            raise InputFileError(path, _FILE_ROLES, field=f"{where}.role") from exc
        password_hash = entry.get("password_hash")
        if not isinstance(password_hash, str) or not password_hash.startswith("scrypt$"):
            raise InputFileError(
                path,
                "password_hash must be an scrypt hash written by `apmkit web add-user`",
                field=f"{where}.password_hash",
            )
        users[name] = User(name=name, role=role, password_hash=password_hash)
    return users


def add_user(path: Path, name: str, role: str, password: str) -> None:
    """Add or replace a user in the users file (creating it), storing only the password's hash.

    Raises
    ------
    ConfigurationError
        Bad user name, unknown role or a password shorter than :data:`MIN_PASSWORD_LENGTH`.
    """
    if not _USERNAME.match(name):
        raise ConfigurationError(f"user name {name!r}: use 1-64 letters, digits, '_', '.', '@' or '-'")
    try:
        checked_role = Role(role)
        if checked_role is Role.provider:
            raise ValueError("a provider needs a scope")
    except ValueError as exc:
        raise ConfigurationError(f"--role: {_FILE_ROLES}") from exc
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ConfigurationError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    entries: dict[str, Any] = {}
    if path.exists():
        entries = {
            u.name: {"role": u.role.value, "password_hash": u.password_hash}
            for u in read_users(path).values()
        }
    entries[name] = {"role": checked_role.value, "password_hash": hash_password(password)}
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump({"users": entries}, sort_keys=True)
    # The file holds hashes only, but keep it private to its owner all the same.
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.chmod(0o600)
    temporary.replace(path)


def new_csrf_token() -> str:
    """A fresh random CSRF token for a session."""
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    """Constant-time check of a submitted CSRF token against the session's."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


__all__ = [
    "MIN_PASSWORD_LENGTH",
    "ROLE_PERMISSIONS",
    "Role",
    "Scope",
    "User",
    "UserStore",
    "add_user",
    "csrf_matches",
    "hash_password",
    "new_csrf_token",
    "read_users",
    "verify_password",
]
