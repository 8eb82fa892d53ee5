"""The Run dialog: the workflow's inputs, a model for every agent of this run, and what would refuse the run said
before Start, not after it."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from nicegui import ui

from flowdeck.app.transient import transient_dialog
from flowdeck.components.model_box import ModelBox
from flowdeck.engine.workflow import Workflow

if TYPE_CHECKING:
    from flowdeck.app.live import LiveRun

KEEP_MODELS = "Keep each agent's model"
_ASKING: weakref.WeakSet[LiveRun] = weakref.WeakSet()  # the pages' runs whose Run dialog is open


def run_dialog(
    live: LiveRun,
    workflow: Workflow,
    models: Mapping[str, str] | None = None,
    *,
    agents: Sequence[tuple[str, str]] = (),
    problem: Callable[[str], str | None] = lambda _: None,
) -> None:
    """The inputs form, and a model for every agent of this run (`models`: what to suggest); Start launches exactly
    one run, however often it is clicked. `agents`: (name, model) of each agent; `problem`: why a model would be
    refused (a key missing)."""
    if not live.editable:
        return
    if live.running:
        ui.notify("A run is already going; cancel it first", type="warning")
        return
    if live in _ASKING:  # a double click on Run: one dialog, not two stacked (the second would start a second run)
        return
    identity = live.identity()
    _ASKING.add(live)
    with transient_dialog() as dialog, ui.card().classes("w-[36rem] max-w-full") as card:
        dialog.on("hide", lambda: _ASKING.discard(live))
        ui.label(f"Run “{workflow.name}”").classes("text-lg font-semibold")
        fields: dict[str, ui.textarea] = {}
        for index, item in enumerate(workflow.inputs):
            fields[item.name] = (
                ui.textarea(item.label or item.name, value=item.default or "")
                .props("outlined autogrow" + (" autofocus" if index == 0 else ""))
                .classes("w-full")
            )
            if item.description:
                ui.label(item.description).classes("text-xs text-gray-500")
        if not workflow.inputs:
            ui.label("This workflow takes no inputs.").classes("text-sm text-gray-500")
        model = ModelBox(
            "Model for every agent",
            value=live.model,
            suggestions={"": KEEP_MODELS, **(models or {})},
            default=KEEP_MODELS,
        )
        model.props("outlined").classes("w-full pt-2").without_auto_validation()
        model.on_value_change(lambda: setattr(model, "error", None))
        ui.label("For this run only: every agent runs on it, whatever model it names.").classes("text-xs text-gray-500")
        warnings = ui.column().classes("w-full gap-1")

        def warn() -> None:
            chosen = (model.value or "").strip()
            users: dict[str, list[str]] = {}
            for name, own in agents:
                users.setdefault(chosen or own, []).append(name)
            warnings.clear()
            with warnings:
                for used, names in users.items():
                    if (why := problem(used)) is not None:
                        with ui.row().classes("w-full items-start no-wrap gap-1").props("role=status"):
                            ui.icon("warning").classes("text-amber-700 mt-px")
                            ui.label(f"{', '.join(names)}: {why}").classes("text-xs text-amber-700")

        warn()
        model.on_value_change(warn)

        async def start() -> None:
            if live.running or not live.editable:
                return
            chosen = (model.value or "").strip()
            if any(ch.isspace() for ch in chosen):
                model.error = f"“{chosen}” is not a model name: model names have no spaces"
                return
            missing = False
            for item in workflow.inputs:  # an input with no default is the run's to give (README): asked for
                field = fields[item.name]
                empty = item.default is None and not (field.value or "").strip()
                field.props["error"] = empty
                field.props["error-message"] = f"{item.label or item.name} is required: type it" if empty else ""
                field.update()
                missing = missing or empty
            if missing:
                return
            live.model = chosen
            button.disable()
            dialog.close()
            inputs = {n: f.value or "" for n, f in fields.items()}
            await live.launch(live.runner.start(workflow, inputs, model=chosen or None, workflow_id=identity))

        with ui.row().classes("items-center"):
            button = ui.button("Start run", icon="play_arrow", on_click=start).props("color=positive")
            ui.button("Cancel", on_click=dialog.close).props("flat")
            ui.label("or Ctrl+Enter").classes("text-xs text-gray-500")
        # As in the editor: Ctrl+Enter (⌘+Enter on a Mac) runs, from any field of the form.
        card.on("keydown.ctrl.enter", start)
        card.on("keydown.meta.enter", start)
    dialog.open()
