"""The properties panel of the selected agent: labelled controls, invalid values shown inline and not applied."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from nicegui import ui

from flowdeck.engine.agents import PRESETS, resolve
from flowdeck.engine.prompts import check_template
from flowdeck.engine.workflow import Workflow
from flowdeck.errors import EditRefused

OnEdit = Callable[[str, dict[str, Any]], None]


class Edited(Protocol):
    """What the panel reads of the workflow being edited (app.document.Document is one)."""

    workflow: Workflow
    default_model: str


def properties(doc: Edited, node_id: str | None, models: dict[str, str], on_edit: OnEdit) -> None:
    """Controls for one node; `on_edit(node_id, changes)` applies a change (it raises EditRefused if invalid)."""
    # No min/max on the number inputs: out-of-range values must show the model's error, not be clamped.
    ui.label("Properties").classes("text-xs font-semibold uppercase tracking-wide text-gray-500")
    if node_id is None:
        ui.label("Select an agent on the canvas to configure it.").classes("text-sm text-gray-500")
        return
    try:
        node = doc.workflow.node(node_id)
    except KeyError:
        return
    preset = PRESETS[node.type]
    config = node.config
    effective = resolve(node, doc.default_model)

    def apply(control: Any, changes: dict[str, Any]) -> None:
        try:
            on_edit(node_id, changes)
        except EditRefused as exc:
            control.props(f'error error-message="{_attr(str(exc))}"')
            return
        control.props(remove="error error-message")

    with ui.row().classes("items-center gap-2"):
        ui.icon(preset.icon).classes("text-indigo-500")
        ui.label(preset.title).classes("text-sm text-gray-600")

    name = ui.input("Name", value=node.label).props("dense outlined").classes("w-full")
    name.on_value_change(lambda e: apply(name, {"label": e.value or ""}))

    options = dict(models)
    options.setdefault("", f"Default ({doc.default_model})")
    if config.model and config.model not in options:
        options[config.model] = config.model
    model = (
        ui.select(options, label="Model", value=config.model or "", with_input=True, new_value_mode="add-unique")
        .props("dense outlined")
        .classes("w-full")
    )
    model.on_value_change(lambda e: apply(model, {"model": e.value or None}))

    ui.label("Temperature").classes("text-sm")
    with ui.row().classes("w-full items-center no-wrap gap-2"):
        slider = (
            ui.slider(min=0, max=2, step=0.05, value=effective.temperature)
            .props('label aria-label="Temperature slider"')
            .classes("grow")
        )
        number = (
            ui.number(value=effective.temperature, step=0.05, format="%.2f")
            .props('dense outlined aria-label="Temperature"')  # the heading above is its visible label
            .classes("w-24")
        )

    def slid(event: Any) -> None:
        number.set_value(event.args)
        apply(slider, {"temperature": event.args})

    slider.on("change", slid)
    number.on("blur", lambda _: apply(number, {"temperature": number.value}))

    system = (
        ui.textarea("System prompt", value=effective.system_prompt).props("dense outlined autogrow").classes("w-full")
    )
    system.on("blur", lambda _: apply(system, {"system_prompt": system.value}))

    template = (
        ui.textarea(
            "Prompt template",
            value=config.prompt_template or "",
            placeholder="Empty: the task, then each upstream output",
        )
        .props("dense outlined autogrow")
        .classes("w-full font-mono")
    )
    template.on("blur", lambda _: apply(template, {"prompt_template": template.value or None}))
    reads = ui.row().classes("w-full gap-1 items-center")
    reads.props('role=status aria-label="What this prompt reads"')
    template.on_value_change(lambda e: _show_reads(reads, doc, node_id, e.value or ""))
    _show_reads(reads, doc, node_id, template.value or "")
    _reference_buttons(doc, node_id, template, apply)

    with ui.row().classes("w-full no-wrap gap-2"):
        max_tokens = ui.number("Max tokens", value=config.max_tokens, step=1).props("dense outlined")
        timeout = ui.number("Timeout (s)", value=config.timeout).props("dense outlined")
        retries = ui.number("Retries", value=config.retries, step=1).props("dense outlined")
    max_tokens.on("blur", lambda _: apply(max_tokens, {"max_tokens": _int(max_tokens.value)}))
    timeout.on("blur", lambda _: apply(timeout, {"timeout": timeout.value}))
    retries.on("blur", lambda _: apply(retries, {"retries": _int(retries.value)}))


def _reference_buttons(doc: Edited, node_id: str, template: ui.textarea, apply: Callable[..., None]) -> None:
    upstream = [e.source for e in doc.workflow.edges if e.target == node_id]
    refs = [(f"Input: {i.label or i.name}", f"{{{{ inputs.{i.name} }}}}") for i in doc.workflow.inputs]
    refs += [(f"Output of {doc.workflow.node(s).label or s}", f"{{{{ outputs.{s} }}}}") for s in upstream]
    if not refs:
        return
    ui.label("Insert a reference").classes("text-xs text-gray-500")
    with ui.row().classes("gap-1"):
        for title, text in refs:

            def insert(_: Any, text: str = text) -> None:
                value = (template.value or "").rstrip()
                template.set_value(f"{value}\n{text}" if value else text)
                apply(template, {"prompt_template": template.value})

            ui.chip(title, icon="data_object", on_click=insert).props("dense clickable outline color=indigo")


def _show_reads(row: ui.row, doc: Edited, node_id: str, source: str) -> None:
    """The template's references as readable chips (an input's label, an upstream agent's name); one that
    cannot resolve is shown in red with the reason, as the run would refuse it."""
    refs = check_template(source)
    inputs = {i.name: i.label or i.name for i in doc.workflow.inputs}
    upstream = doc.workflow.upstream(node_id)
    row.clear()
    if not (refs.inputs or refs.outputs or refs.problems):
        return
    with row:
        ui.label("Reads").classes("text-xs text-gray-500")
        for name in sorted(refs.inputs):
            if name in inputs:
                ui.chip(f"Input: {inputs[name]}", icon="input").props("dense color=indigo-1 text-color=indigo-9")
            else:
                ui.chip(f"inputs.{name}: no such input", icon="error").props("dense color=red-1 text-color=red-9")
        for source_id in sorted(refs.outputs):
            if source_id in upstream:
                label = doc.workflow.node(source_id).label or source_id
                ui.chip(f"Output of {label}", icon="output").props("dense color=teal-1 text-color=teal-9")
            else:
                ui.chip(f"outputs.{source_id}: not upstream of this agent", icon="error").props(
                    "dense color=red-1 text-color=red-9"
                )
        for problem in refs.problems:
            ui.label(problem).classes("text-xs text-negative")


def _int(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _attr(text: str) -> str:
    return text.replace('"', "'")
