"""⋮ → API keys…: save or remove provider keys, and the addresses of servers one runs (Ollama, an OpenAI-compatible
server). Write-only: a saved key never goes back to the page, only its last 4 characters."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

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
        with rows:
            key_slots = {item.variable: _Slot() for item in PROVIDERS}
        with servers:
            server_slots = {server.variable: _Slot() for server in BASE_URLS}

        async def refresh(changed: bool = True) -> None:
            # Only the rows whose saved state changed are drawn again: what is typed in the others stays.
            saved = await asyncio.to_thread(keys.masked)
            addresses = await asyncio.to_thread(keys.bases)
            server_keys = await asyncio.to_thread(keys.masked_server_keys)
            for item in PROVIDERS:
                var = item.variable
                with key_slots[var].draw((saved.get(var),)) as due:
                    if due:
                        _row(
                            var, item.label, saved.get(var), keys, refresh, var == focus and not changed, key_slots[var]
                        )
            for server in BASE_URLS:
                var = server.variable
                with server_slots[var].draw((addresses.get(var), server_keys.get(var))) as due:
                    if due:
                        _server_row(server, addresses.get(var), server_keys.get(var), keys, refresh, server_slots[var])
            if changed and on_change is not None:
                await on_change()

        await refresh(changed=False)
        with ui.row().classes("w-full justify-end"):
            ui.button("Close", on_click=dialog.close).props("flat")
    dialog.open()


class _Slot:
    """Where one row is drawn, the saved state it was last drawn with, and its fields (by what they hold)."""

    def __init__(self) -> None:
        self.box = ui.column().classes("w-full gap-1")
        self.shown: tuple[object, ...] | None = None
        self.fields: dict[str, ui.input] = {}
        self.typed: dict[str, str] = {}

    @contextmanager
    def draw(self, state: tuple[object, ...]) -> Iterator[bool]:
        """Yields False when the row shows `state` already (nothing to draw); else clears it and yields True inside
        its box, with `typed` holding what its fields had that was not saved: the row drawn again keeps it. A field
        whose own saved value changed shows that instead (a key saved is blank, an address removed is empty)."""
        if state == self.shown:
            yield False
            return
        before, self.shown = self.shown, state
        self.typed = {name: str(field.value or "") for name, field in self.fields.items()}
        if before is not None:
            for name, was, now in zip(_SAVED, before, state, strict=False):
                if was != now:
                    self.typed.pop(name, None)
        self.fields = {}
        self.box.clear()
        with self.box:
            yield True


# A row's fields, in the order of its saved state: a provider's (its key,), a server's (its address, its key).
_SAVED = ("value", "key")


def _row(
    variable: str,
    label: str,
    masked: str | None,
    keys: ProviderKeys,
    refresh: Callable[[], Awaitable[None]],
    focus: bool,
    slot: _Slot,
) -> None:
    in_env = environment_has(variable)
    state = "set in the environment" if in_env else (f"saved · {masked}" if masked else "not set")
    with ui.row().classes("w-full items-center gap-2 no-wrap"):
        ui.label(label).classes("w-28 font-medium")
        ui.label(state).classes("w-44 text-sm text-gray-600")
        field = (
            ui.input(f"New {label} key", password=True, value=slot.typed.get("value", ""))
            .props(f'dense outlined autocomplete=off aria-label="New {label} key ({variable})"')
            .classes("grow")
        )
        slot.fields["value"] = field
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
    server: BaseUrl,
    saved: str | None,
    key: str | None,
    keys: ProviderKeys,
    refresh: Callable[[], Awaitable[None]],
    slot: _Slot,
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
            ui.input(f"{server.label} address", value=slot.typed.get("value", saved or ""), placeholder=server.example)
            .props(f'dense outlined stack-label autocomplete=off aria-label="{server.label} address ({variable})"')
            .classes("grow")
        )
        slot.fields["value"] = field

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
        _server_key_row(server, key, keys, refresh, slot)


def _server_key_row(
    server: BaseUrl,
    masked: str | None,
    keys: ProviderKeys,
    refresh: Callable[[], Awaitable[None]],
    slot: _Slot,
) -> None:
    """The key a server of one's own asks for (vLLM's --api-key), sent to its saved address and nowhere else."""
    with ui.row().classes("w-full items-center gap-2 no-wrap"):
        ui.label("").classes("w-28")
        ui.label(f"key saved · {masked}" if masked else "no key (most need none)").classes("w-44 text-sm text-gray-600")
        field = (
            ui.input(f"{server.label} key", password=True, value=slot.typed.get("key", ""))
            .props(f'dense outlined autocomplete=off aria-label="{server.label} key"')
            .classes("grow")
        )
        slot.fields["key"] = field

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
