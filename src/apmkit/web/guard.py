"""What keeps the server up under abuse: body limits, strict JSON, headers on every response, sign-in throttling.

- :class:`Hardened` wraps the whole ASGI app (outside Starlette's error middleware), so every response - 404s,
  413s and the 500 page too - carries the security headers, and a request whose ``Content-Length`` exceeds the
  route's limit is answered 413 before a byte of its body is read; a body sent without a length (chunked) is
  counted as it arrives and cut off with 413 at the limit.
- :func:`parse_json` refuses ``NaN``/``Infinity``, nesting deeper than :data:`MAX_JSON_DEPTH`, strings longer
  than :data:`MAX_FIELD_CHARS` and more than :data:`MAX_JSON_ITEMS` values (400/422, never 500).
- :class:`LoginThrottle` limits failed sign-ins per account and per client address.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from fastapi import HTTPException

MAX_BODY_BYTES = 256 * 1024
"""Largest request body of any route but the ones in :data:`BODY_LIMITS` (worksheet form, design JSON)."""

BODY_LIMITS: dict[str, int] = {"/api/v1/login": 4 * 1024, "/ui/login": 4 * 1024}
"""Smaller limits: the anonymous sign-in bodies."""

MAX_JSON_DEPTH = 32
MAX_JSON_ITEMS = 20_000
MAX_FIELD_CHARS = 10_000
"""Longest text of one field (form or JSON) - a worksheet answer is a paragraph, not a book."""
MAX_TERMS_CHARS = 64 * 1024
"""The worksheet's ``terms`` field (YAML, parsed with aliases refused and this size bound)."""

# Vega compiles its expressions with Function(), hence 'unsafe-eval'; no inline script is ever served.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'self'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"referrer-policy", b"same-origin"),
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Hardened:
    """The outermost ASGI layer: security headers on every response and request body limits.

    Parameters
    ----------
    app
        The full app (FastAPI's middleware stack, error middleware included).
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                if not path.startswith("/static/"):
                    # Pages show population figures: keep them out of shared caches and the back-forward cache.
                    headers = [h for h in headers if h[0].lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        limit = BODY_LIMITS.get(path, MAX_BODY_BYTES)
        declared = _content_length(scope)
        if declared == -1 or (declared is not None and declared > limit):
            # Answered before the body is read; the connection is closed so the client stops sending.
            status = 400 if declared == -1 else 413
            await _plain(
                send_with_headers, status, "bad Content-Length" if status == 400 else "request body too large"
            )
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, "request body too large")
            return message

        await self.app(scope, counted, send_with_headers)


def _content_length(scope: Scope) -> int | None:
    """The declared body length; None when absent, -1 when malformed."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() and len(text) < 19 else -1
    return None


async def _plain(send: Send, status: int, text: str) -> None:
    body = json.dumps({"detail": text}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BadJson(ValueError):
    """A JSON body refused: ``status`` is 400 (not JSON) or 422 (JSON beyond the limits)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _refuse_constant(name: str) -> Any:
    raise BadJson(400, f"{name} is not a JSON number")


def parse_json(body: bytes) -> Any:
    """Parse a request body strictly (see the module docstring)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadJson(400, "the request body is not UTF-8") from None
    _check_nesting(text)
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except BadJson:
        raise
    except (ValueError, RecursionError):
        raise BadJson(400, "the request body is not valid JSON") from None
    check_values(value)
    return value


def _check_nesting(text: str) -> None:
    # Counted before json.loads so a 100k-deep document never reaches the recursive decoder. Brackets inside
    # strings do not count; escapes are skipped. str.translate keeps this out of a per-character Python loop
    # for the common case of shallow documents.
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise BadJson(400, f"the request body nests deeper than {MAX_JSON_DEPTH} levels")
        elif char in "]}":
            depth -= 1


def check_values(value: Any) -> None:
    """Refuse over-long strings, non-finite or absurd numbers and too many values in a parsed document."""
    stack = [value]
    count = 0
    while stack:
        item = stack.pop()
        count += 1
        if count > MAX_JSON_ITEMS:
            raise BadJson(422, f"more than {MAX_JSON_ITEMS:,} values in the request body")
        if isinstance(item, dict):
            for key, child in item.items():
                if len(key) > 200:
                    raise BadJson(422, "a field name is longer than 200 characters")
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if len(item) > MAX_FIELD_CHARS:
                raise BadJson(422, f"a text field is longer than {MAX_FIELD_CHARS:,} characters")
        elif isinstance(item, float) and not math.isfinite(item):
            raise BadJson(422, "a number is not finite")


class LoginThrottle:
    """Failed sign-ins per account and per client address, in a sliding window (one process's memory).

    After ``per_account`` failures for one user name, or ``per_address`` from one address, within ``window``
    seconds, further sign-ins for it are refused with 429 - even with the right password - until the oldest
    failure leaves the window. A successful sign-in clears the account's failures.
    """

    def __init__(
        self, per_account: int = 5, per_address: int = 20, window: float = 900.0, max_keys: int = 100_000
    ):
        self.per_account = per_account
        self.per_address = per_address
        self.window = window
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, account: str, address: str) -> int | None:
        """Seconds to wait before the next attempt for this account/address, or None when allowed."""
        now = time.monotonic()
        with self._lock:
            waits = [
                self._wait(f"a:{account}", self.per_account, now),
                self._wait(f"ip:{address}", self.per_address, now),
            ]
        worst = max((w for w in waits if w is not None), default=None)
        return None if worst is None else max(1, math.ceil(worst))

    def _wait(self, key: str, limit: int, now: float) -> float | None:
        failures = self._failures.get(key)
        if not failures:
            return None
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if len(failures) < limit:
            return None
        return failures[0] + self.window - now

    def failed(self, account: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failures) >= self.max_keys:
                # Bounded memory: forget the windows that have ended, then the oldest keys.
                for key in [k for k, v in self._failures.items() if not v or v[-1] <= now - self.window]:
                    del self._failures[key]
                while len(self._failures) >= self.max_keys:
                    del self._failures[next(iter(self._failures))]
            for key in (f"a:{account}", f"ip:{address}"):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, account: str) -> None:
        with self._lock:
            self._failures.pop(f"a:{account}", None)


T = TypeVar("T")


class HashPool:
    """A small thread pool of its own for scrypt: sign-ins never block the event loop, and a burst of them
    cannot take the threads that other requests run on."""

    def __init__(self, workers: int = 2):
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="apmkit-scrypt")

    async def run(self, function: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, function)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


__all__ = [
    "BODY_LIMITS",
    "CONTENT_SECURITY_POLICY",
    "MAX_BODY_BYTES",
    "MAX_FIELD_CHARS",
    "MAX_JSON_DEPTH",
    "MAX_TERMS_CHARS",
    "BadJson",
    "Hardened",
    "HashPool",
    "LoginThrottle",
    "check_values",
    "parse_json",
]
