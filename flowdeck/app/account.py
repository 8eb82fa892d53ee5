"""Who is looking at a page (their role, from the guard) and the header's "Log out" button."""

from __future__ import annotations

from nicegui import ui

from flowdeck.auth import Role, role_of


def current_role() -> Role:
    return role_of(ui.context.client.request.state)


def can_edit() -> bool:
    return current_role() == "editor"


def account_controls() -> None:
    """The role and a Log out button, when this page was opened through a login (nothing on a local app)."""
    if getattr(ui.context.client.request.state, "flowdeck_session", None) is None:
        return
    role = current_role()
    ui.label("Viewer · read-only" if role == "viewer" else "Editor").classes("text-xs text-slate-300 ml-2")
    ui.button(
        icon="logout",
        on_click=lambda: ui.run_javascript(
            "fetch('/logout', {method: 'POST'}).finally(() => { window.location.href = '/login'; })"
        ),
    ).props('flat dense color=white aria-label="Log out"').tooltip("Log out")
