"""Starts the web app on loopback: `flowdeck`, `flowdeck serve`, and flowdeck.open()."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from flowdeck.engine.workflow import Workflow
from flowdeck.errors import ConfigError, FlowdeckError

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.types import ASGIApp

    from flowdeck.auth import Gate

log = logging.getLogger("flowdeck.app")

# How often Python hands the GIL between threads (default 5 ms): model calls run on their own thread, and a
# shorter interval keeps the app's event loop waiting less (bench/README.md).
SWITCH_INTERVAL = 0.001
# The default model is made ready in the background (the first run should not wait for litellm's import) once
# the first page has loaded and drawn, as warming up would slow it (bench/README.md), or after a while if no
# browser comes.
WARM_UP_AFTER_CONNECT = 3.0
WARM_UP_AT_THE_LATEST = 20.0
_ANY = ("0.0.0.0", "::")
WAITING_SCAN_SECONDS = 30.0  # how often the server looks for runs that wait for approval with a timeout


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    open_browser: bool = False,
    workflow: Workflow | None = None,
    announce: Callable[[str], None] = print,
) -> None:
    """Run the app until interrupted. A non-loopback address needs a password configured (see flowdeck.auth)."""
    # The garbage collector would keep scanning the many objects the imports below make, slowing the start
    # (bench/README.md): it is off until the server is up, then what exists (it lives as long as the process)
    # is frozen, and collection resumes for what follows.
    gc.disable()
    from nicegui import app as nicegui_app
    from nicegui import background_tasks, ui

    from flowdeck.api.protocol import ApiMount
    from flowdeck.api.routes import PREFIX, build_api
    from flowdeck.app.editor import register_pages
    from flowdeck.app.model_options import ollama_models
    from flowdeck.app.run_files import register_file_route
    from flowdeck.app.run_view import add_run_panel_styles
    from flowdeck.app.runs_page import register_runs_pages
    from flowdeck.app.sockets import bind_page_events
    from flowdeck.auth import Authenticator, CredentialStore, Gate, register_login
    from flowdeck.components.css import STATIC, shared_css
    from flowdeck.config import load_settings
    from flowdeck.services import open_services
    from flowdeck.storage.sessions import SessionStore

    settings = load_settings()
    store = CredentialStore(settings.home)
    authenticator = Authenticator(settings, store)
    shared = not _is_loopback(host)
    if shared and not authenticator.configured:
        raise ConfigError(
            f"--host {host} would share flowdeck on the network, and no password is set. Set one first: "
            "`flowdeck auth set-password` (or FLOWDECK_PASSWORD in the environment, at least 10 characters); "
            "a viewer password (read-only) with `flowdeck auth set-password --viewer`"
        )
    sys.setswitchinterval(SWITCH_INTERVAL)
    services = open_services(settings, model_process=True)
    secret = store.storage_secret()
    gate = Gate(
        authenticator=authenticator,
        sessions=SessionStore(services.engine, secret),
        require_login=shared or authenticator.configured,
        shared=shared,
        allowed_hosts=frozenset(settings.allowed_hosts) | ({host.lower()} if shared and host not in _ANY else set()),
    )
    _in_front(nicegui_app, gate)
    bind_page_events()  # a page's events come from its own socket, of its own login
    nicegui_app.state.flowdeck_gate = gate  # pages re-check their session with it
    register_login(nicegui_app, gate)
    nicegui_app.router.routes.append(ApiMount(PREFIX, build_api(services)))
    nicegui_app.on_shutdown(services.runner.close)
    if services.models is not None:
        nicegui_app.on_shutdown(services.models.close)
    nicegui_app.on_shutdown(services.close)
    shared_css(STATIC / "utilities.css")
    add_run_panel_styles()
    register_file_route(nicegui_app, services)
    register_pages(services, startup_workflow=workflow)
    register_runs_pages(services)

    first_page = asyncio.Event()

    async def warm_up() -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(first_page.wait(), WARM_UP_AT_THE_LATEST)
            await asyncio.sleep(WARM_UP_AFTER_CONNECT)
        try:
            await services.runner.prepare({services.settings.default_model})
        except FlowdeckError as exc:
            if not (nicegui_app.is_stopping or nicegui_app.is_stopped):  # stopped mid-way, it has nothing to say
                log.warning("the default model is not ready: %s", exc)
        gc.freeze()  # litellm's modules, imported just now, live as long as the process too

    nicegui_app.on_startup(_collect_garbage_again)
    # Approvals that wait in the log decide by themselves at their timeout, across restarts too.
    nicegui_app.on_startup(
        lambda: background_tasks.create(services.runner.watch_waiting(every=WAITING_SCAN_SECONDS), name="approvals")
    )
    nicegui_app.on_startup(lambda: background_tasks.create(warm_up(), name="flowdeck warm-up"))
    # The first page should find the local Ollama's models known already, not wait up to 0.5 s to learn them.
    nicegui_app.on_startup(lambda: background_tasks.create(ollama_models(settings.ollama_base), name="ollama models"))
    nicegui_app.on_connect(first_page.set)
    # asyncio binds "::" with IPV6_V6ONLY set, so it does not take IPv4 clients: say so, not "every address".
    where = {"0.0.0.0": " (every IPv4 address of this machine)", "::": " (every IPv6 address of this machine; for IPv4 "
             "clients use --host 0.0.0.0)"}.get(host, "")  # fmt: skip
    logins = " · logins required" if gate.require_login else ""
    shown = f"[{host}]" if ":" in host else host  # an IPv6 address in a URL is bracketed
    announce(f"flowdeck on http://{shown}:{port}{where}{logins}  (Ctrl+C stops it)")
    # Quasar's bar over every request is a progressbar; unnamed, screen readers announce a nameless one (axe: serious).
    nicegui_app.config.quasar_config["loadingBar"]["aria-label"] = "Loading"
    ui.run(
        host=host,
        port=port,
        title="flowdeck",
        language="en-US",  # Quasar's default, now also <html lang>: screen readers read the pages as English
        show=open_browser,
        reload=False,
        show_welcome_message=False,
        favicon="🔀",
        storage_secret=secret,
        tailwind=False,  # its in-browser compiler slows every page load (bench/README.md): see utilities.css
        proxy_headers=False,  # X-Forwarded-For is never trusted: the client is whoever connected
        # Compressing websocket messages costs the server's main thread (bench/README.md) and saves nothing on
        # loopback; a LAN dashboard keeps it (fewer bytes over Wi-Fi).
        ws_per_message_deflate=shared,
    )


def _in_front(app: FastAPI, gate: Gate) -> None:
    """Put the cap on request bodies and the guard in front of every other layer of the app (NiceGUI adds its own
    middleware when it starts, each in front of those before it), and behind them the cache of NiceGUI's versioned
    files. A body too large is never read; an unauthorised request goes no further than the guard; a file already
    seen goes no further than the cache. Every answer past the guard carries the pages' Content-Security-Policy
    (policy.py)."""
    from nicegui import __version__ as nicegui_version

    from flowdeck.app.assets import AssetCache
    from flowdeck.app.policy import PagePolicy
    from flowdeck.auth import BodyLimit, Guard
    from flowdeck.engine.workflow import MAX_FILE_BYTES

    build = app.build_middleware_stack
    prefix = f"/_nicegui/{nicegui_version}/"

    def build_guarded() -> ASGIApp:
        guarded = Guard(PagePolicy(AssetCache(build(), prefix, skip=(prefix + "dynamic_resources/",))), gate=gate)
        return BodyLimit(guarded, upload_bytes=MAX_FILE_BYTES)

    app.build_middleware_stack = build_guarded  # type: ignore[method-assign]


def _collect_garbage_again() -> None:
    gc.freeze()
    gc.enable()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
