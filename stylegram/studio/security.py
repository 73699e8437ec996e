"""Who may talk to the studio: checked on every request, the event stream and images included.

- Bound to a loopback address without a token: only requests addressed to a loopback name (the
  ``Host`` header), so that a web page elsewhere cannot reach the studio by DNS rebinding.
- Any other address needs a token (``--token``, or one generated and printed once); every request
  carries it as ``Authorization: Bearer T``, ``X-Stylegram-Token: T`` or ``?token=T`` (EventSource
  and ``<img>`` cannot send headers).
- Requests that change something (POST) carry ``X-Requested-With: stylegram``: a browser sends that
  header cross-site only after a CORS preflight, which the studio never grants.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
from typing import Mapping
from urllib.parse import parse_qs

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ALLOWED_METHODS = frozenset({"GET", "HEAD", "POST"})
REQUESTED_WITH = "stylegram"
# on every answer: no MIME sniffing, no framing (clickjacking), no Referer carrying a ?token= elsewhere
HARDENING = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
             (b"referrer-policy", b"no-referrer")]


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_token(host: str, token: str | None) -> tuple[str | None, bool]:
    """The token the studio requires: the one given; none on loopback; else a new one. Also whether it
    was generated (then it is printed once)."""
    if token:
        return token, False
    if is_loopback(host):
        return None, False
    return secrets.token_urlsafe(24), True


def _host_name(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def check_request(token: str | None, method: str, headers: Mapping[str, str], query: str) -> tuple[int, str] | None:
    """None if the request may go on, else (HTTP status, one-line reason). ``headers``: lower-case names."""
    if method not in ALLOWED_METHODS:
        return 405, "method not allowed"
    if token:
        given = headers.get("x-stylegram-token", "")
        auth = headers.get("authorization", "")
        if not given and auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        if not given:
            given = (parse_qs(query).get("token") or [""])[0]
        if not hmac.compare_digest(given.encode(), token.encode()):
            return 401, "this studio needs its token (printed when it started)"
    elif _host_name(headers.get("host", "")) not in LOOPBACK_NAMES:
        return 403, "this studio answers only to localhost, 127.0.0.1 or [::1]"
    if method in CHANGING and headers.get("x-requested-with", "") != REQUESTED_WITH:
        return 403, f"requests that change something need the header X-Requested-With: {REQUESTED_WITH}"
    return None


class Guard:
    """ASGI middleware applying ``check_request`` to every HTTP request."""

    def __init__(self, app, token: str | None):
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        refused = check_request(self.token, scope.get("method", "GET"), headers,
                                scope.get("query_string", b"").decode("latin-1"))
        if refused is None:
            async def send_with_headers(message):
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", []), *HARDENING]}
                await send(message)

            return await self.app(scope, receive, send_with_headers)
        status, reason = refused
        body = json.dumps({"error": reason}).encode()
        extra = [(b"www-authenticate", b"Bearer")] if status == 401 else []
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"cache-control", b"no-store"), *HARDENING, *extra]})
        await send({"type": "http.response.body", "body": body})
