"""Who is looking at a page (their role, from the guard) and the header's "Log out" button."""

from __future__ import annotations

from nicegui import Client, app, ui

from flowdeck.auth import Gate, Role, role_of
from flowdeck.auth.login import send_to_login

SESSION_CHECK_SECONDS = 30.0


def current_role() -> Role:
    return role_of(ui.context.client.request.state)


def can_edit(client: Client | None = None) -> bool:
    """Whether the person the page (this one, or `client`'s) was made for may change things: every handler that
    starts, stops or changes something asks again, whatever the page shows them."""
    return role_of((client or ui.context.client).request.state) == "editor"


def account_controls() -> None:
    """The role and a Log out button, when this page was opened through a login (nothing on a local app).

    The page also checks its session every half minute: one ended elsewhere (`flowdeck auth logout-all`, a
    password change, expiry) sends it to the login page and drops it from the server.
    """
    token = getattr(ui.context.client.request.state, "flowdeck_session", None)
    if token is None:
        return
    gate: Gate | None = getattr(app.state, "flowdeck_gate", None)
    if gate is not None:
        client = ui.context.client

        async def recheck() -> None:
            if await gate.session_role(token) is None:
                send_to_login(client)

        ui.timer(SESSION_CHECK_SECONDS, recheck)
    role = current_role()
    ui.label("Viewer · read-only" if role == "viewer" else "Editor").classes("text-xs text-slate-300 ml-2")
    ui.button(
        icon="logout",
        on_click=lambda: ui.run_javascript(
            "fetch('/logout', {method: 'POST'}).finally(() => { window.location.href = '/login'; })"
        ),
    ).props('flat dense color=white aria-label="Log out"').tooltip("Log out")
