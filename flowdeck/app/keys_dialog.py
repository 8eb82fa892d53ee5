"""⋮ → API keys…: save or remove provider keys, and the addresses of servers one runs (Ollama, an OpenAI-compatible
server). Write-only: a saved key never goes back to the page, only its last 4 characters."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from nicegui import ui

from flowdeck.app.dialogs import confirm
from flowdeck.app.transient import transient_dialog
from flowdeck.config import environment_has
from flowdeck.errors import FlowdeckError
from flowdeck.models.keys import ProviderKeys
from flowdeck.models.providers import BASE_URLS, PROVIDERS, BaseUrl

OnChange = Callable[[], Awaitable[None]]


async def keys_dialog(keys: ProviderKeys, on_change: OnChange | None = None, focus: str | None = None) -> None:
    """The dialog; `on_change` is awaited after a key is saved or removed (the editor's model list follows),
    `focus` is the key variable whose field gets the cursor (from a "needs OPENAI_API_KEY" hint)."""
    with transient_dialog() as dialog, ui.card().classes("w-[40rem] max-w-full"):
        ui.label("API keys").classes("text-lg font-semibold")
        ui.label(
            "Keys are kept in the data directory, readable only by you, and sent only to their own provider. "
            "A key set in the environment wins over a saved one."
        ).classes("text-sm text-gray-500")
        rows = ui.column().classes("w-full gap-1")
        ui.label("Servers you run").classes("text-base font-semibold pt-2")
        ui.label(
            "Where models of these providers are sent instead of the provider's own service. Your saved keys are "
            "never sent to an address saved here. An address set in the environment wins over a saved one."
        ).classes("text-sm text-gray-500")
        servers = ui.column().classes("w-full gap-1")

        async def refresh(changed: bool = True) -> None:
            saved = await asyncio.to_thread(keys.masked)
            addresses = await asyncio.to_thread(keys.bases)
            server_keys = await asyncio.to_thread(keys.masked_server_keys)
            rows.clear()
            with rows:
                for item in PROVIDERS:
                    _row(item.variable, item.label, saved.get(item.variable), keys, refresh, item.variable == focus)
            servers.clear()
            with servers:
                for server in BASE_URLS:
                    _server_row(server, addresses.get(server.variable), server_keys.get(server.variable), keys, refresh)
            if changed and on_change is not None:
                await on_change()

        await refresh(changed=False)
        with ui.row().classes("w-full justify-end"):
            ui.button("Close", on_click=dialog.close).props("flat")
    dialog.open()


def _row(
    variable: str,
    label: str,
    masked: str | None,
    keys: ProviderKeys,
    refresh: Callable[[], Awaitable[None]],
    focus: bool,
) -> None:
    in_env = environment_has(variable)
    state = "set in the environment" if in_env else (f"saved · {masked}" if masked else "not set")
    with ui.row().classes("w-full items-center gap-2 no-wrap"):
        ui.label(label).classes("w-28 font-medium")
        ui.label(state).classes("w-44 text-sm text-gray-600")
        field = (
            ui.input(f"New {label} key", password=True)
            .props(f'dense outlined autocomplete=off aria-label="New {label} key ({variable})"')
            .classes("grow")
        )
        if focus:
            field.props("autofocus")

        async def save() -> None:
            try:
                await asyncio.to_thread(keys.set, variable, field.value or "")
            except FlowdeckError as exc:
                ui.notify(str(exc), type="negative")  # the typed value stays in the field to correct it
                return
            field.value = ""
            ui.notify(f"{variable} saved")
            await refresh()

        field.on("keydown.enter", save)
        ui.button("Save", on_click=save).props(f'dense no-caps aria-label="Save {label} key"')
        if masked:
            question = f"Remove the saved {label} key ({masked})? Models of {label} will not run until a key is set."
            _remove_button(f"{label} key", question, variable, f"{variable} removed", keys, refresh)


def _server_row(
    server: BaseUrl, saved: str | None, key: str | None, keys: ProviderKeys, refresh: Callable[[], Awaitable[None]]
) -> None:
    variable = server.variable
    in_env = environment_has(variable)
    state = (
        "set in the environment"
        if in_env
        else ("saved" if saved else "default" if variable.startswith("OLLAMA") else "not set")
    )
    with ui.row().classes("w-full items-center gap-2 no-wrap"):
        ui.label(server.label).classes("w-28 font-medium")
        ui.label(state).classes("w-44 text-sm text-gray-600")
        field = (
            ui.input(f"{server.label} address", value=saved or "", placeholder=server.example)
            .props(f'dense outlined stack-label autocomplete=off aria-label="{server.label} address ({variable})"')
            .classes("grow")
        )

        async def save() -> None:
            try:
                await asyncio.to_thread(keys.set_base, variable, field.value or "")
            except FlowdeckError as exc:
                ui.notify(str(exc), type="negative")
                return
            ui.notify(f"{variable} saved")
            await refresh()

        field.on("keydown.enter", save)
        ui.button("Save", on_click=save).props(f'dense no-caps aria-label="Save {server.label} address"')
        if saved:
            # Models of these providers go back to the provider's own service (with its key, if one is saved).
            also = " and its key" if key else ""
            question = f"Remove the saved {server.label} address ({saved}){also}? Its models go to the provider again."
            _remove_button(f"{server.label} address", question, variable, f"{variable} removed", keys, refresh)
    if server.key_variable is not None and saved:
        _server_key_row(server, key, keys, refresh)


def _server_key_row(
    server: BaseUrl, masked: str | None, keys: ProviderKeys, refresh: Callable[[], Awaitable[None]]
) -> None:
    """The key a server of one's own asks for (vLLM's --api-key), sent to its saved address and nowhere else."""
    with ui.row().classes("w-full items-center gap-2 no-wrap"):
        ui.label("").classes("w-28")
        ui.label(f"key saved · {masked}" if masked else "no key (most need none)").classes("w-44 text-sm text-gray-600")
        field = (
            ui.input(f"{server.label} key", password=True)
            .props(f'dense outlined autocomplete=off aria-label="{server.label} key"')
            .classes("grow")
        )

        async def save() -> None:
            try:
                await asyncio.to_thread(keys.set_server_key, server.variable, field.value or "")
            except FlowdeckError as exc:
                ui.notify(str(exc), type="negative")
                return
            field.value = ""
            ui.notify(f"{server.label} key saved")
            await refresh()

        field.on("keydown.enter", save)
        ui.button("Save", on_click=save).props(f'dense no-caps aria-label="Save {server.label} key"')
        if masked:
            question = f"Remove the saved {server.label} key ({masked})?"
            removed = f"{server.label} key removed"
            _remove_button(f"{server.label} key", question, str(server.key_variable), removed, keys, refresh)


def _remove_button(
    what: str, question: str, variable: str, removed: str, keys: ProviderKeys, refresh: Callable[[], Awaitable[None]]
) -> None:
    """A button that forgets a saved key or address, after asking `question` (it cannot be undone)."""

    async def remove() -> None:
        if not await confirm(question, action="Remove"):
            return
        await asyncio.to_thread(keys.remove, variable)
        ui.notify(removed)
        await refresh()

    ui.button(icon="delete", on_click=remove).props(f'dense flat aria-label="Remove the saved {what}"')
