"""Starts the web app on loopback: `flowdeck`, `flowdeck serve`, and flowdeck.open()."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import sys

from flowdeck.engine.workflow import Workflow
from flowdeck.errors import ConfigError, FlowdeckError

log = logging.getLogger("flowdeck.app")

# How often Python hands the GIL between threads (default 5 ms). Model calls run on their own thread; at
# 50 concurrent runs a 5 ms interval let the app's event loop wait ~80 ms at p99, 1 ms keeps it ~35 ms
# (bench/concurrency.py).
SWITCH_INTERVAL = 0.001
# Seconds after start-up before the default model is made ready in the background (litellm's import takes
# a few seconds of CPU; the first page should not wait for it, the first run should not either).
WARM_UP_DELAY = 2.0


def serve(
    *, host: str = "127.0.0.1", port: int = 8765, open_browser: bool = False, workflow: Workflow | None = None
) -> None:
    """Run the app until interrupted. Refuses a non-loopback address: authentication is not built yet."""
    if not _is_loopback(host):
        raise ConfigError(
            f"--host {host} would share flowdeck on the network, and authentication is not built yet; "
            "use 127.0.0.1 (the default)"
        )
    from nicegui import app as nicegui_app
    from nicegui import background_tasks, ui

    from flowdeck.app.editor import register_pages
    from flowdeck.app.runs_page import register_runs_pages
    from flowdeck.services import open_services

    sys.setswitchinterval(SWITCH_INTERVAL)
    services = open_services()
    nicegui_app.on_shutdown(services.runner.close)
    nicegui_app.on_shutdown(services.close)
    register_pages(services, startup_workflow=workflow)
    register_runs_pages(services)

    async def warm_up() -> None:
        await asyncio.sleep(WARM_UP_DELAY)  # after the first page has been served
        try:
            await services.runner.prepare({services.settings.default_model})
        except FlowdeckError as exc:
            log.warning("the default model is not ready: %s", exc)

    nicegui_app.on_startup(lambda: background_tasks.create(warm_up(), name="flowdeck warm-up"))
    ui.run(
        host=host,
        port=port,
        title="flowdeck",
        show=open_browser,
        reload=False,
        show_welcome_message=False,
        favicon="🔀",
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
