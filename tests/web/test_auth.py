"""Sign-in, sessions, roles and CSRF of the dashboard, enforced on the server (TestClient, no browser)."""

from __future__ import annotations

import base64
import dataclasses
import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.web.conftest import DESIGNER, VIEWER, TestClient, csrf_of, sign_in
from typer.testing import CliRunner

from apmkit.cli.main import app as cli_app
from apmkit.errors import ConfigurationError, InputFileError
from apmkit.web.app import SESSION_COOKIE, WebSettings, create_app
from apmkit.web.auth import add_user, hash_password, read_users, verify_password

# RFC 7914 section 12, third test vector: scrypt(P="pleaseletmein", S="SodiumChloride", N=16384, r=8, p=1, dkLen=64).
RFC7914_KEY = bytes.fromhex(
    "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
    "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887"
)


def test_password_hash_format_verifies_the_rfc_7914_vector() -> None:
    """A stored hash in our format holding RFC 7914's published key verifies with the RFC's password."""
    stored = "$".join(
        [
            "scrypt",
            "16384",
            "8",
            "1",
            base64.b64encode(b"SodiumChloride").decode(),
            base64.b64encode(RFC7914_KEY).decode(),
        ]
    )
    assert verify_password("pleaseletmein", stored)
    assert not verify_password("pleaseletmeiN", stored)
    assert (
        hash_password("pleaseletmein", salt=b"SodiumChloride").split("$")[-1]
        == base64.b64encode(RFC7914_KEY[:32]).decode()
    )


def test_each_hash_has_its_own_salt_and_malformed_hashes_never_verify() -> None:
    first, second = hash_password("same password"), hash_password("same password")
    assert first != second
    assert verify_password("same password", first) and verify_password("same password", second)
    for broken in ("", "plain", "scrypt$1$2", "bcrypt$16384$8$1$AA==$AA==", "scrypt$16384$8$1$!!$AA=="):
        assert not verify_password("same password", broken)


def test_users_file_holds_hashes_only(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    add_user(path, "ann", "designer", "correct horse")
    add_user(path, "bob", "viewer", "battery staple")
    add_user(path, "ann", "viewer", "new password!")  # replaces ann
    text = path.read_text(encoding="utf-8")
    assert "correct horse" not in text and "battery staple" not in text and "new password!" not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    users = read_users(path)
    assert {u.name: u.role.value for u in users.values()} == {"ann": "viewer", "bob": "viewer"}
    assert verify_password("new password!", users["ann"].password_hash)


@pytest.mark.parametrize(
    ("name", "role", "password", "message"),
    [
        ("ann", "provider", "long enough", "apmkit users add"),
        ("ann", "superuser", "long enough", "designer or viewer"),
        ("ann", "viewer", "short", "at least 8"),
        ("../ann", "viewer", "long enough", "user name"),
    ],
)
def test_add_user_refuses_bad_input(
    tmp_path: Path, name: str, role: str, password: str, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        add_user(tmp_path / "users.yaml", name, role, password)


def test_bad_users_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    path.write_text("users:\n  ann:\n    role: owner\n    password_hash: scrypt$x\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"users\.ann\.role"):
        read_users(path)
    path.write_text("users:\n  ann:\n    role: viewer\n    password_hash: letmein\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"users\.ann\.password_hash") as caught:
        read_users(path)
    assert "letmein" not in str(caught.value)


def test_add_user_command_reads_the_password_from_stdin(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    result = CliRunner().invoke(
        cli_app,
        ["web", "add-user", "--users", str(path), "--name", "cli", "--role", "designer", "--password-stdin"],
        input="from stdin 123\n",
    )
    assert result.exit_code == 0, result.output
    assert "from stdin 123" not in path.read_text(encoding="utf-8")
    assert verify_password("from stdin 123", read_users(path)["cli"].password_hash)


def test_sign_in_sets_a_hardened_session_cookie(client: TestClient) -> None:
    page = client.get("/ui/login")
    response = client.post(
        "/ui/login",
        data={"username": DESIGNER[0], "password": DESIGNER[1], "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/design"
    cookie = response.headers["set-cookie"].lower()
    assert f"{SESSION_COOKIE}=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert DESIGNER[1] not in response.headers["set-cookie"]
    assert client.get("/ui/design").status_code == 200


@pytest.mark.parametrize("username", [DESIGNER[0], "nobody"])
def test_wrong_password_or_unknown_user_gets_the_same_refusal(client: TestClient, username: str) -> None:
    page = client.get("/ui/login")
    response = client.post(
        "/ui/login",
        data={"username": username, "password": "not-the-password", "csrf_token": csrf_of(page.text)},
    )
    assert response.status_code == 401
    assert "Wrong user name or password." in response.text
    assert client.get("/ui/design", follow_redirects=False).status_code == 303


def test_unauthenticated_pages_redirect_and_api_answers_401(client: TestClient) -> None:
    for path in ("/ui/design", "/ui/designs", "/ui/designs/20260101T000000Z-0000abcd"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/ui/login?next={path}"
    assert client.get("/api/v1/designs").status_code == 401
    response = client.post("/api/v1/design", json={"name": "x", "starting_point": "ocm"})
    assert response.status_code == 401
    assert response.json() == {"detail": "sign in first (POST /api/v1/login)"}


def test_htmx_requests_without_a_session_are_sent_to_the_login_page(client: TestClient) -> None:
    response = client.get("/ui/design/starting-point?starting_point=ocm", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/ui/login"


def test_viewer_reads_but_may_not_design(viewer: tuple[TestClient, str]) -> None:
    client, csrf = viewer
    assert client.get("/ui/designs").status_code == 200
    assert client.get("/api/v1/designs").status_code == 200
    assert client.get("/ui/design").status_code == 403
    form = {"csrf_token": csrf, "name": "x", "starting_point": "ocm"}
    assert client.post("/ui/design", data=form).status_code == 403
    assert client.get("/ui/design/starting-point?starting_point=ocm").status_code == 403
    response = client.post(
        "/api/v1/design", json={"name": "x", "starting_point": "ocm"}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "the viewer role may not do this"}
    assert "New design" not in client.get("/ui/designs").text


def test_posts_need_the_session_csrf_token(designer: tuple[TestClient, str]) -> None:
    client, csrf = designer
    form = {"name": "x", "starting_point": "ocm"}
    assert client.post("/ui/design", data=form).status_code == 403
    assert client.post("/ui/design", data={**form, "csrf_token": csrf[::-1]}).status_code == 403
    assert client.post("/ui/design/ptac", data={"ptac_scope": "x"}).status_code == 403
    assert client.post("/api/v1/design", json=form).status_code == 403
    assert client.post("/ui/logout").status_code == 403
    assert client.get("/ui/design").status_code == 200  # still signed in


def test_sign_in_itself_needs_the_login_page_token(client: TestClient) -> None:
    response = client.post("/ui/login", data={"username": DESIGNER[0], "password": DESIGNER[1]})
    assert response.status_code == 403
    assert client.get("/ui/design", follow_redirects=False).status_code == 303


def _payload(cookie: str) -> dict[str, object]:
    data = cookie.split(".")[0]
    return json.loads(base64.b64decode(data + "=" * (-len(data) % 4)))


def test_tampered_or_foreign_session_cookies_are_ignored(
    viewer: tuple[TestClient, str], settings: WebSettings
) -> None:
    client, _ = viewer
    cookie = client.cookies[SESSION_COOKIE]
    payload = _payload(cookie)
    # The cookie carries a random session token and the CSRF token: no user name, no role.
    assert set(payload) == {"sid", "csrf"}
    # Another token under the viewer's signature: the signature no longer matches.
    forged_payload = base64.b64encode(json.dumps({**payload, "sid": "x" * 43}).encode()).decode()
    forged = ".".join([forged_payload, *cookie.split(".")[1:]])
    client.cookies.set(SESSION_COOKIE, forged)
    assert client.get("/ui/designs", follow_redirects=False).status_code == 303
    assert client.get("/api/v1/designs").status_code == 401

    # A cookie signed by another server (another secret) is not accepted either, even on the same database.
    other = create_app(WebSettings(settings.users_file, settings.workdir, secret="another secret"))
    with TestClient(other) as elsewhere:
        sign_in(elsewhere, *DESIGNER)
        foreign = elsewhere.cookies[SESSION_COOKIE]
    client.cookies.set(SESSION_COOKIE, foreign)
    assert client.get("/api/v1/designs").status_code == 401


def test_password_change_ends_existing_sessions(settings: WebSettings, tmp_path: Path) -> None:
    app = create_app(dataclasses.replace(settings, users_file=None))
    state = app.state.app_state
    state.add_user("pat", "designer", "first password")
    with TestClient(app) as client, TestClient(app) as second:
        sign_in(client, "pat", "first password")
        sign_in(second, "pat", "first password")
        assert state.session_count("pat") == 2
        assert client.get("/api/v1/designs").status_code == 200
        # `apmkit users passwd` on the same database (another "process"): both sessions end at once.
        changed = CliRunner().invoke(
            cli_app,
            ["users", "passwd", "pat", "--password-stdin", "--workdir", str(settings.workdir)],
            input="second password\n",
        )
        assert changed.exit_code == 0, changed.output
        assert client.get("/api/v1/designs").status_code == 401
        assert second.get("/ui/designs", follow_redirects=False).status_code == 303
        assert state.session_count("pat") == 0
        sign_in(client, "pat", "second password")


def test_role_change_applies_at_once(settings: WebSettings) -> None:
    app = create_app(dataclasses.replace(settings, users_file=None))
    state = app.state.app_state
    state.add_user("pat", "designer", "first password")
    with TestClient(app) as client:
        sign_in(client, "pat", "first password")
        assert client.get("/ui/design").status_code == 200
        state.add_user("pat", "viewer", "first password")  # replacing a user ends its sessions
        assert client.get("/ui/design", follow_redirects=False).status_code == 303
        sign_in(client, "pat", "first password")
        assert client.get("/ui/design").status_code == 403


def test_sign_in_redirects_only_inside_the_app(client: TestClient) -> None:
    page = client.get("/ui/login?next=https://evil.example/")
    assert 'name="next" value=""' in page.text
    response = client.post(
        "/ui/login",
        data={
            "username": VIEWER[0],
            "password": VIEWER[1],
            "csrf_token": csrf_of(page.text),
            "next": "//evil.example/ui/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/ui/designs"


def test_logout_ends_the_session(designer: tuple[TestClient, str]) -> None:
    client, csrf = designer
    response = client.post("/ui/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.headers["location"] == "/ui/login"
    assert client.get("/api/v1/designs").status_code == 401


def test_api_sign_in_returns_the_csrf_token(client: TestClient) -> None:
    assert client.post("/api/v1/login", data={"username": DESIGNER[0]}).status_code == 415
    bad = client.post("/api/v1/login", json={"username": DESIGNER[0], "password": "nope"})
    assert bad.status_code == 401
    good = client.post("/api/v1/login", json={"username": DESIGNER[0], "password": DESIGNER[1]})
    assert good.status_code == 200
    assert good.json()["role"] == "designer"
    token = good.json()["csrf_token"]
    assert client.post("/api/v1/logout", headers={"X-CSRF-Token": token}).json() == {"signed_out": True}


def test_security_headers(client: TestClient) -> None:
    response = client.get("/ui/login")
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "script-src 'self' 'unsafe-eval'" in response.headers["Content-Security-Policy"]


def test_pages_reference_no_external_script(client: TestClient, new_client: Callable[[], TestClient]) -> None:
    """The vendored assets are served locally: no page loads anything from another host."""
    page = client.get("/ui/login").text
    assert "https://" not in page.replace("https://vega.github.io/schema", "")
    for asset in ("htmx-2.0.11", "vega-6.4.0", "vega-lite-6.4.3", "vega-embed-7.3.0"):
        response = new_client().get(f"/static/vendor/{asset}.min.js")
        assert response.status_code == 200 and len(response.content) > 10_000
