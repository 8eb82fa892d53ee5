"""/login and /logout: a plain HTML form (no script, no websocket, nothing else public) and server sessions."""

from __future__ import annotations

import asyncio
import html
import logging
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from flowdeck.auth.access import LoginLimiter
from flowdeck.auth.guard import COOKIE, Gate
from flowdeck.storage.sessions import LIFETIME

if TYPE_CHECKING:
    from nicegui import Client

log = logging.getLogger("flowdeck.auth")
CONCURRENT_CHECKS = 2


def register_login(app: FastAPI, gate: Gate, limiter: LoginLimiter | None = None) -> None:
    """Add GET/POST /login and POST /logout to the app."""
    limiter = limiter or LoginLimiter()
    # Each check takes 16 MiB and ~50 ms of a thread from the pool the pages' database reads share (bench/README.md).
    checks = asyncio.Semaphore(CONCURRENT_CHECKS)

    @app.get("/login", include_in_schema=False)
    async def login_form(request: Request, next: str = "/") -> Response:
        if not gate.require_login:
            return RedirectResponse(_safe_next(next), status_code=303)
        return _page(_safe_next(next))

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        client = request.client.host if request.client else "?"
        form = await request.form(max_files=0, max_fields=8)  # its size is capped before (auth/bodies.py)
        password = str(form.get("password") or "")
        target = _safe_next(str(form.get("next") or "/"))
        # Counted before it is checked: guesses sent at once cannot all be checked.
        wait = limiter.attempt(client)
        if wait > 0:
            return _page(target, f"Too many failed attempts. Try again in {wait:.0f} s.", status=429, retry_after=wait)
        role = None
        if password:
            async with checks:
                role = await asyncio.to_thread(gate.authenticator.login, password)
        if role is None:
            log.warning("failed login from %s", client)
            return _page(target, "Wrong password.", status=401)
        limiter.succeeded(client)
        token = await asyncio.to_thread(gate.sessions.create, role)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            token,
            max_age=int(LIFETIME),
            path="/",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        log.info("%s logged in as %s", client, role)
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        token = getattr(request.state, "flowdeck_session", None)
        if token:
            await asyncio.to_thread(gate.sessions.end, token)
            _close_pages_of(token)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
        return response


def _close_pages_of(token: str) -> None:
    """Send the other open tabs of an ended session to the login page and drop them from the server."""
    from nicegui import Client

    for client in list(Client.instances.values()):
        try:
            cookie = client.request.cookies.get(COOKIE)
        except Exception:  # a client without a request (NiceGUI's auto-index page)
            continue
        if cookie == token:
            send_to_login(client)


def send_to_login(client: Client) -> None:
    """Navigate a page to the login form, then drop it from the server (whatever its browser does next)."""
    from nicegui import background_tasks, ui

    with client:
        ui.navigate.to("/login")

    async def drop() -> None:
        await asyncio.sleep(1.0)  # let the navigation message reach the browser first
        client.delete()

    background_tasks.create(drop(), name="drop a logged-out page")


def _safe_next(target: str) -> str:
    """Only a path on this site (never //host or a scheme) may be a redirect target."""
    if not target.startswith("/") or target.startswith(("//", "/\\")) or any(c in target for c in "\r\n\\"):
        return "/"
    return target


def _page(next_path: str, error: str = "", *, status: int = 200, retry_after: float | None = None) -> HTMLResponse:
    message = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in · flowdeck</title>
<style>
 body {{ font-family: system-ui, sans-serif; background: #0f172a; margin: 0; display: grid;
        place-items: center; min-height: 100vh; }}
 main {{ background: white; border-radius: 12px; padding: 2rem; width: min(22rem, 90vw); }}
 h1 {{ margin: 0 0 .25rem; font-size: 1.4rem; }} p {{ color: #475569; margin: 0 0 1rem; font-size: .9rem; }}
 label {{ display: block; font-weight: 600; margin-bottom: .3rem; }}
 input {{ width: 100%; box-sizing: border-box; padding: .6rem; font-size: 1rem; border: 1px solid #94a3b8;
         border-radius: 6px; margin-bottom: 1rem; }}
 button {{ width: 100%; padding: .6rem; font-size: 1rem; background: #2563eb; color: white; border: 0;
          border-radius: 6px; cursor: pointer; }}
 .error {{ color: #b91c1c; font-weight: 600; }}
</style></head>
<body><main>
<h1>flowdeck</h1><p>This flowdeck is shared; log in to continue.</p>{message}
<form method="post" action="/login">
<input type="hidden" name="next" value="{html.escape(next_path, quote=True)}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
</form></main></body></html>"""
    headers = {"Cache-Control": "no-store"}
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, round(retry_after)))
    return HTMLResponse(body, status_code=status, headers=headers)
