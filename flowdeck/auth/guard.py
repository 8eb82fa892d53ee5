"""The guard in front of every request (pages, static files, downloads, the API and the websocket).

Deny by default: only /login is public. In order, a request must
- name a Host flowdeck answers to (a web page cannot reach a loopback flowdeck through DNS rebinding);
- come from flowdeck's own origin when it is a websocket or changes something (no cross-site requests:
  NiceGUI's socket.io accepts any origin on its own);
- carry a live session cookie (pages, websocket) or an API token (/api/), when logins are required.
Forwarding headers (X-Forwarded-For, X-Forwarded-Host) are never trusted; uvicorn's are turned off.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from urllib.parse import quote, urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flowdeck.auth.access import Authenticator
from flowdeck.auth.credentials import Role
from flowdeck.storage.sessions import SessionStore

COOKIE = "flowdeck_session"
PUBLIC_PATHS = frozenset({"/login"})
API_PREFIX = "/api/"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


@dataclass(frozen=True, kw_only=True)
class Gate:
    """What the guard checks against; built once when the server starts."""

    authenticator: Authenticator
    sessions: SessionStore
    require_login: bool
    shared: bool  # bound to a non-loopback address
    allowed_hosts: frozenset[str] = frozenset()

    def host_allowed(self, host: str) -> bool:
        name = _host_name(host)
        if name in _LOOPBACK_NAMES or name in self.allowed_hosts:
            return True
        if not self.shared:
            return False
        try:
            ipaddress.ip_address(name)
            return True  # an address literal cannot be a rebinding attacker's name
        except ValueError:
            return name in machine_names()

    async def session_role(self, token: str) -> Role | None:
        role = self.sessions.cached_role(token)
        if role is None:
            role = await asyncio.to_thread(self.sessions.role_of, token)
        return role  # type: ignore[return-value]


class Guard:
    """ASGI middleware enforcing the Gate; puts `flowdeck_role` in the request state."""

    def __init__(self, app: ASGIApp, gate: Gate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        websocket = scope["type"] == "websocket"
        path: str = scope["path"]
        host = headers.get("host", "")
        if not self.gate.host_allowed(host):
            await _refuse(
                scope, receive, send, 421,
                f"this flowdeck does not answer to the host name '{_host_name(host)}'; "
                "open it by its address, or add the name to FLOWDECK_ALLOWED_HOSTS",
            )  # fmt: skip
            return
        if (websocket or scope.get("method") in _UNSAFE) and not _same_origin(headers, host):
            await _refuse(scope, receive, send, 403, "cross-origin requests are refused")
            return
        state = scope.setdefault("state", {})
        if path.startswith(API_PREFIX):
            role = self._bearer(headers)
            if role is None:
                await _refuse(
                    scope, receive, send, 401,
                    "an API token is required: send 'Authorization: Bearer TOKEN'; "
                    "create one with `flowdeck auth token create NAME`",
                    extra=[(b"www-authenticate", b"Bearer")],
                )  # fmt: skip
                return
        elif path in PUBLIC_PATHS or not self.gate.require_login:
            role = "editor" if not self.gate.require_login else None
        else:
            token = _cookie(headers, COOKIE)
            role = await self.gate.session_role(token) if token else None
            if role is None:
                if not websocket and scope.get("method") == "GET" and "text/html" in headers.get("accept", ""):
                    query = scope.get("query_string", b"").decode("latin-1")  # a shared compare link keeps its runs
                    back = path + ("?" + query if query else "")
                    await _redirect(scope, receive, send, "/login?next=" + quote(back, safe="/"))
                else:
                    await _refuse(scope, receive, send, 401, "log in first (at /login)")
                return
            state["flowdeck_session"] = token
        state["flowdeck_role"] = role
        if websocket:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _bearer(self, headers: Headers) -> Role | None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.gate.authenticator.bearer(token.strip())


@cache
def machine_names() -> frozenset[str]:
    """Names this machine goes by on a LAN (its host name, FQDN and mDNS name). Looked up once: getfqdn()
    can ask DNS, and this is on every request's path."""
    host = socket.gethostname().lower()
    return frozenset({host, socket.getfqdn().lower(), f"{host}.local"})


def role_of(state: object) -> Role:
    """The role the guard gave a request (its `request.state`)."""
    return getattr(state, "flowdeck_role", None) or "viewer"


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _same_origin(headers: Headers, host: str) -> bool:
    if headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        return False
    origin = headers.get("origin")
    if origin is None:
        return True  # not sent by a browser (which always sends it on websockets and POSTs)
    return urlsplit(origin).netloc.lower() == host.strip().lower()


def _cookie(headers: Headers, name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, message: str, extra: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
        return
    body = json.dumps({"detail": message}).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": head + _SECURITY_HEADERS})
    await send({"type": "http.response.body", "body": body})


async def _redirect(scope: Scope, receive: Receive, send: Send, location: str) -> None:
    head = [(b"location", location.encode()), (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": 303, "headers": head + _SECURITY_HEADERS})
    await send({"type": "http.response.body", "body": b""})
