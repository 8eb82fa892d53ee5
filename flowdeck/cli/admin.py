"""`flowdeck auth ...` (passwords, API tokens, sessions), `flowdeck keys ...` (provider keys), `flowdeck api schema`."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from flowdeck.errors import FlowdeckError

if TYPE_CHECKING:
    from flowdeck.auth import CredentialStore, Role
    from flowdeck.storage.sessions import SessionStore


@click.group("auth")
def auth_command() -> None:
    """Passwords and API tokens for sharing flowdeck on a network (stored hashed in the data dir)."""


@auth_command.command("set-password")
@click.option("--viewer", is_flag=True, help="Set the viewer's (read-only) password instead of the editor's.")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the password from standard input.")
def set_password(viewer: bool, from_stdin: bool) -> None:
    """Set the editor's (or viewer's) password; logs out that role's sessions."""
    role: Role = "viewer" if viewer else "editor"
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt(f"New {role} password", hide_input=True, confirmation_prompt=True)
    store, sessions = _stores()
    try:
        store.check_password(role, password)
        # Sessions end first: if the database cannot be written, the password stays as it was (nothing changed).
        ended = _ending(lambda: sessions.end_all(role))
        store.set_password(role, password)
    except FlowdeckError as exc:
        _fail(exc)
    click.echo(f"{role} password set (stored hashed in {store.path}); {ended} session(s) logged out")


@auth_command.command("remove-password")
@click.option("--viewer", is_flag=True, help="Remove the viewer's password instead of the editor's.")
def remove_password(viewer: bool) -> None:
    """Remove a password set with set-password; logs out that role's sessions."""
    role: Role = "viewer" if viewer else "editor"
    store, sessions = _stores()
    _ending(lambda: sessions.end_all(role))
    removed = store.remove_password(role)
    click.echo(f"{role} password removed" if removed else f"no {role} password was set in {store.path}")


@auth_command.command("status")
def auth_status() -> None:
    """Whether logins are on: which passwords are set (and where) and how many API tokens exist."""
    from flowdeck.config import load_settings

    store = _credentials()  # only read: no database, no storage secret (which a read-only folder could not make)
    settings = load_settings()
    saved = store.password_hashes()
    for role, from_env in (("editor", settings.editor_password), ("viewer", settings.viewer_password)):
        where = "FLOWDECK_PASSWORD" if role == "editor" else "FLOWDECK_VIEWER_PASSWORD"
        source = f"set ({where})" if from_env else "set (auth.json)" if role in saved else "not set"
        click.echo(f"{role} password: {source}")
    tokens = len(store.tokens()) + (1 if settings.api_token else 0)
    click.echo(f"API tokens: {tokens}")
    on = bool(settings.editor_password or settings.viewer_password or saved)
    click.echo("logins: " + ("required on every address" if on else "off (only 127.0.0.1 can be served)"))


@auth_command.command("logout-all")
def logout_all() -> None:
    """End every login session now."""
    _, sessions = _stores()
    click.echo(f"{_ending(sessions.end_all)} session(s) logged out")


@auth_command.group("token")
def token_command() -> None:
    """API tokens for the HTTP API (Authorization: Bearer TOKEN)."""


@token_command.command("create")
@click.argument("name")
@click.option("--viewer", is_flag=True, help="A read-only token (lists and reads runs, cannot start them).")
def token_create(name: str, viewer: bool) -> None:
    """Create a token; it is printed once and only its hash is kept."""
    store = _credentials()
    try:
        token = store.create_token(name, "viewer" if viewer else "editor")
    except FlowdeckError as exc:
        _fail(exc)
    click.echo(token)
    click.echo(f"(token '{name}' created; this is the only time it is shown)", err=True)


@token_command.command("list")
def token_list() -> None:
    """List tokens by name and role (never the tokens themselves)."""
    store = _credentials()
    tokens = store.tokens()
    if not tokens:
        click.echo("no tokens; create one with `flowdeck auth token create NAME`")
    for t in tokens:
        click.echo(f"{t.name:<30} {t.role:<7} created {time.strftime('%Y-%m-%d %H:%M', time.localtime(t.created_at))}")


@token_command.command("revoke")
@click.argument("name")
def token_revoke(name: str) -> None:
    """Revoke a token by name; it stops working at once."""
    store = _credentials()
    if not store.revoke_token(name):
        _fail(FlowdeckError(f"no token named '{name}'; see `flowdeck auth token list`"))
    click.echo(f"token '{name}' revoked")


@click.group("api")
def api_command() -> None:
    """The HTTP API (served at /api/v1 by `flowdeck serve`)."""


@api_command.command("schema")
def api_schema() -> None:
    """Print the API's OpenAPI schema."""
    from flowdeck.api.routes import build_api

    click.echo(json.dumps(build_api(None).openapi(), indent=2))  # type: ignore[arg-type]


@click.group("keys")
def keys_command() -> None:
    """Provider API keys saved in the app (environment variables win over them)."""


@keys_command.command("set")
@click.argument("variable")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the value from standard input.")
def keys_set(variable: str, from_stdin: bool) -> None:
    """Save a provider key (OPENAI_API_KEY; asked for, not echoed), a server's address (OPENAI_API_BASE,
    OLLAMA_API_BASE) or a server's own key (OPENAI_COMPATIBLE_SERVER_KEY: sent to that address alone)."""
    from flowdeck.models.keys import ProviderKeys
    from flowdeck.models.providers import BASE_URLS

    variable = variable.upper()
    address = next((b for b in BASE_URLS if b.variable == variable), None)
    server = next((b for b in BASE_URLS if b.key_variable == variable), None)
    secret = address is None
    value = sys.stdin.readline().strip() if from_stdin else click.prompt(variable, hide_input=secret)
    keys = ProviderKeys(_home())
    try:
        if address is not None:
            keys.set_base(variable, value)
        elif server is not None:
            keys.set_server_key(server.variable, value)
        else:
            keys.set(variable, value)
    except FlowdeckError as exc:
        _fail(exc)
    if address is not None:
        click.echo(f"{variable} saved ({keys.bases()[variable]})")
    elif server is not None:
        click.echo(f"{variable} saved ({keys.masked_server_keys()[server.variable]}), sent only to {server.variable}")
    else:
        click.echo(f"{variable} saved ({keys.masked()[variable]})")


@keys_command.command("list")
def keys_list() -> None:
    """The providers flowdeck knows and which keys are saved (the last 4 characters only), then the servers."""
    import os

    from flowdeck.models.keys import ProviderKeys
    from flowdeck.models.providers import BASE_URLS, PROVIDERS

    store = ProviderKeys(_home())
    saved, bases, server_keys = store.masked(), store.bases(), store.masked_server_keys()
    for item in PROVIDERS:
        where = "environment" if os.environ.get(item.variable) else saved.get(item.variable, "not set")
        click.echo(f"{item.variable:<22} {item.label:<14} {where}")
    for server in BASE_URLS:
        where = "environment" if os.environ.get(server.variable) else bases.get(server.variable, "not set")
        key = f"  (its key {server_keys[server.variable]})" if server.variable in server_keys else ""
        click.echo(f"{server.variable:<22} {server.label:<14} {where}{key}")


@keys_command.command("remove")
@click.argument("variable")
def keys_remove(variable: str) -> None:
    """Forget a saved provider key, server address (with its key) or server key."""
    from flowdeck.models.keys import ProviderKeys

    removed = ProviderKeys(_home()).remove(variable.upper())
    click.echo(f"{variable.upper()} removed" if removed else f"no saved {variable.upper()}")


def _home() -> Path:
    from flowdeck.config import ensure_home, load_settings

    try:
        return ensure_home(load_settings())
    except FlowdeckError as exc:
        _fail(exc)


def _credentials() -> CredentialStore:
    from flowdeck.auth import CredentialStore

    return CredentialStore(_home())


def _stores() -> tuple[CredentialStore, SessionStore]:
    from flowdeck.auth import CredentialStore
    from flowdeck.config import ensure_home, load_settings
    from flowdeck.storage import open_database
    from flowdeck.storage.sessions import SessionStore

    try:
        settings = load_settings()
        ensure_home(settings)
        store = CredentialStore(settings.home)
        return store, SessionStore(
            open_database(settings.database_url, busy_timeout=settings.busy_timeout), store.storage_secret()
        )
    except FlowdeckError as exc:
        _fail(exc)


def _ending(end: Callable[[], int]) -> int:
    """Sessions ended by `end`, or one line saying why the database refused (locked, read-only) and what to do."""
    from sqlalchemy.exc import SQLAlchemyError

    from flowdeck.config import load_settings
    from flowdeck.storage.faults import storage_error

    try:
        return end()
    except SQLAlchemyError as exc:
        url = load_settings().database_url
        _fail(storage_error(exc, url, doing="ending the login sessions; nothing was changed"))


def _fail(exc: Exception) -> NoReturn:
    click.echo(f"error: {exc}", err=True)
    sys.exit(2)
