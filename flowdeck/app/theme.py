"""The light or dark theme: the one this browser chose last, on every page, drawn in it from the first paint.

The choice is a cookie rather than localStorage so that the server reads it with the page's request and renders
the page dark from the start (no light flash before a script could switch it)."""

from __future__ import annotations

import json

from nicegui import context, ui

THEME_COOKIE = "flowdeck-theme"
_ONE_YEAR = 365 * 24 * 3600


def chosen_dark() -> bool:
    """Whether this browser chose the dark theme (read from the request of the page being built)."""
    return context.client.request.cookies.get(THEME_COOKIE) == "dark"


def page_theme() -> ui.dark_mode:
    """The page's theme switch, set to this browser's choice."""
    return ui.dark_mode(chosen_dark())


def remember(dark: bool) -> None:
    """Keep the choice in this browser, for its next pages."""
    cookie = f"{THEME_COOKIE}={'dark' if dark else 'light'}; path=/; max-age={_ONE_YEAR}; SameSite=Lax"
    ui.run_javascript(f"document.cookie = {json.dumps(cookie)}")
