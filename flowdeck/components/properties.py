"""The properties panel of the selected agent: labelled controls, invalid values explained under them and not
applied.

Every control applies its value as it changes (each keystroke), never on blur: a Save, a shortcut or a Run can
reach the server before the browser reports the blur (Quasar emits it a timer later), and would miss the text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from nicegui import ui

from flowdeck.components.approval_fields import approval_fields
from flowdeck.components.model_box import ModelBox
from flowdeck.components.prompt_editor.field import LastRun, prompt_template_field
from flowdeck.components.references import Edited
from flowdeck.components.tool_fields import tool_fields
from flowdeck.components.verdicts_field import verdicts_field
from flowdeck.engine.agents import PRESETS, resolve, verdict_instruction
from flowdeck.engine.workflow import VerdictIs
from flowdeck.errors import EditRefused

OnEdit = Callable[[str, dict[str, Any]], None]
OnKeys = Callable[[str], Any]  # opens the API keys dialog at one provider's key variable


class KeyNeeded(Protocol):
    @property
    def variable(self) -> str: ...  # OPENAI_API_KEY

    @property
    def label(self) -> str: ...  # OpenAI


class ModelChoices(Protocol):
    """What the Model box suggests (model string -> text shown), and which key a model still needs."""

    @property
    def suggestions(self) -> Mapping[str, str]: ...

    def missing_key(self, model: str) -> KeyNeeded | None: ...

    def unknown_provider(self, model: str) -> str | None: ...


def properties(
    doc: Edited,
    node_id: str | None,
    models: ModelChoices,
    on_edit: OnEdit,
    on_keys: OnKeys,
    last_run: LastRun = lambda: None,
) -> Callable[[], None] | None:
    """Controls for one node; `on_edit(node_id, changes)` applies a change (it raises EditRefused if invalid);
    `last_run`: the state of the run shown with the workflow (the prompt's preview uses its values). Returns what
    to call when that run changes."""
    # No min/max on the number inputs: out-of-range values must be explained, not clamped.
    ui.label("Properties").classes("text-xs font-semibold uppercase tracking-wide text-gray-500")
    if node_id is None:
        ui.label("Select an agent on the canvas to configure it.").classes("text-sm text-gray-500")
        return None
    try:
        node = doc.workflow.node(node_id)
    except KeyError:
        return None

    def apply(control: Any, changes: dict[str, Any], error: _ErrorLine | None = None) -> bool:
        try:
            on_edit(node_id, changes)
        except EditRefused as exc:
            _show_error(control, str(exc), error)
            return False
        _show_error(control, None, error)
        return True

    if node.approval is not None:
        approval_fields(node, node.approval, apply)
        return None
    preset = PRESETS[node.type]
    config = node.config
    # as a run resolves it: an agent whose verdict routes a connection gets the prompt written for deciding
    routes = any(e.source == node_id and isinstance(e.condition, VerdictIs) for e in doc.workflow.edges)
    effective = resolve(node, doc.default_model, routes_by_verdict=routes)
    added = f"\n\n{verdict_instruction(effective.verdicts)}" if effective.decides else ""

    with ui.row().classes("items-center gap-2"):
        ui.icon(preset.icon).classes("text-indigo-500")
        ui.label(preset.title).classes("text-sm text-gray-600")

    # Errors are set by apply(); NiceGUI's own validation (none here) would clear them on each value change.
    name = ui.input("Name", value=node.label).props("dense outlined").classes("w-full").without_auto_validation()
    name.on_value_change(lambda e: apply(name, {"label": e.value or ""}))

    suggestions = {"": f"Default ({doc.default_model})", **models.suggestions}
    model = ModelBox("Model", value=config.model or "", suggestions=suggestions, default=suggestions[""])
    model.props("dense outlined").classes("w-full").without_auto_validation()
    key_hint = ui.column().classes("w-full gap-0")

    def model_changed(value: str) -> None:
        chosen = value.strip()
        if apply(model, {"model": chosen or None}):
            _show_key_hint(key_hint, chosen or doc.default_model, models, on_keys)

    model.on_value_change(lambda e: model_changed(e.value or ""))
    _show_key_hint(key_hint, effective.model, models, on_keys)

    ui.label("Temperature").classes("text-sm")
    with ui.row().classes("w-full items-center no-wrap gap-2"):
        slider = (
            ui.slider(min=0, max=2, step=0.05, value=effective.temperature)
            .props('label aria-label="Temperature slider"')
            .classes("grow")
        )
        number = (
            _TypedNumber(value=effective.temperature, step=0.05, format="%.2f", placeholder=f"{preset.temperature:.2f}")
            .props(
                'dense outlined hide-bottom-space no-error-icon aria-label="Temperature"'
            )  # the heading is its visible label
            .classes("w-24")
            .without_auto_validation()
        )
    temperature_error = _ErrorLine()

    def temperature_typed(value: Any) -> None:
        if apply(number, {"temperature": value}, temperature_error) and value is not None:
            slider.set_value(value)

    slider.on("change", lambda e: number.set_value(e.args))  # on release: the number applies it
    number.on_value_change(lambda e: temperature_typed(e.value))

    system = (
        ui.textarea("System prompt", value=effective.system_prompt.removesuffix(added))
        .props("dense outlined autogrow")
        .classes("w-full")
        .without_auto_validation()
    )
    if added:  # sent after the prompt, so that what the panel shows is what the agent is told
        ui.label(f"flowdeck adds: {added.strip()}").classes("text-xs text-gray-600")
    system.on_value_change(lambda e: apply(system, {"system_prompt": e.value or ""}))

    run_changed = prompt_template_field(doc, node_id, on_edit, last_run)

    with ui.row().classes("w-full no-wrap gap-2 items-start"):
        max_tokens = _TypedNumber("Max tokens", value=config.max_tokens, step=1)
        timeout = _TypedNumber("Timeout (s)", value=config.timeout)
        retries = _TypedNumber("Retries", value=config.retries, step=1)
    limits_error = _ErrorLine()
    for box in (max_tokens, timeout, retries):
        box.props("dense outlined hide-bottom-space no-error-icon").without_auto_validation()
    max_tokens.on_value_change(lambda e: apply(max_tokens, {"max_tokens": _int(e.value)}, limits_error))
    timeout.on_value_change(lambda e: apply(timeout, {"timeout": e.value}, limits_error))
    retries.on_value_change(lambda e: apply(retries, {"retries": _int(e.value)}, limits_error))
    # last: a laptop's window shows the settings every agent has without scrolling (test_workspace.py)
    verdicts_field(node, lambda verdicts: on_edit(node_id, {"verdicts": verdicts}))
    tool_fields(config, lambda changes: on_edit(node_id, changes))
    return run_changed


class _ErrorLine:
    """A line under a row of narrow controls, saying what is wrong with any of them (inside a narrow box, the
    message overlapped the controls below)."""

    def __init__(self) -> None:
        self.label = ui.label().classes("text-xs text-negative -mt-1").props("role=alert")
        self.label.set_visibility(False)
        self.errors: dict[int, str] = {}

    def show(self, control: Any, message: str | None) -> None:
        if control.props.get("error", False) != (message is not None):
            control.props["error"] = message is not None
        if message is None:
            self.errors.pop(control.id, None)
        else:
            self.errors[control.id] = message
        self.label.set_text(" · ".join(self.errors.values()))
        self.label.set_visibility(bool(self.errors))


class _TypedNumber(ui.number):
    """A number box that, whenever it is sent to the browser again (its error shown or cleared), keeps the text being
    typed ("0." stays "0.", not "0.00" or "0.0") as long as it means the value the server holds."""

    _typed: Any = None

    def _event_args_to_value(self, e: Any) -> float | None:
        self._typed = e.args
        return super()._event_args_to_value(e)

    def _value_to_model_value(self, value: Any) -> Any:
        typed = self._typed
        if typed not in (None, "") and value is not None:
            try:
                if float(typed) == float(value):
                    return typed
            except (TypeError, ValueError):
                pass
        return super()._value_to_model_value(value)


def _show_error(control: Any, message: str | None, line: _ErrorLine | None) -> None:
    """The message under the control (Quasar's own error line), or on the line under its row.

    The control's props change only when its state does: each change sends the control to the browser again, with
    its value as the server holds it, which overwrote what was being typed ("0." became "0.00")."""
    if message is None and "aria-invalid" in control.props:
        del control.props["aria-invalid"]
    elif message is not None and control.props.get("aria-invalid") != "true":
        control.props["aria-invalid"] = "true"
    if line is None:
        if control.error != message:
            control.error = message
    else:
        line.show(control, message)


def _show_key_hint(column: ui.column, model: str, models: ModelChoices, on_keys: OnKeys) -> None:
    """Under the Model box: what the embedded model is, a provider name nobody knows, or the key a provider's model
    needs and where to add it."""
    column.clear()
    if model == "embedded":
        with column, ui.row().classes("w-full items-start no-wrap gap-1 -mt-1").props("role=status"):
            ui.icon("info").classes("text-gray-500 mt-px")
            ui.label(
                "The embedded model is a small demo model (SmolLM2, 135M) that runs offline: expect rough answers. "
                "For real work pick a provider's model (add its key in ⋮ → API keys…) or an Ollama model."
            ).classes("text-xs text-gray-500")
        return
    unknown = models.unknown_provider(model)
    if unknown is not None:
        with column, ui.row().classes("w-full items-start no-wrap gap-1 -mt-1").props("role=status"):
            ui.icon("help_outline").classes("text-amber-700 mt-px")
            ui.label(unknown).classes("text-xs text-amber-700")
        return
    missing = models.missing_key(model)
    if missing is None:
        return
    with column, ui.row().classes("w-full items-start no-wrap gap-1 -mt-1").props("role=status"):
        ui.icon("key").classes("text-amber-700 mt-px")
        with ui.column().classes("gap-0 items-start"):
            ui.label(
                f"{model} needs {missing.variable}, the {missing.label} API key: add it in ⋮ → API keys…, "
                "or set it in the environment."
            ).classes("text-xs text-amber-700")
            ui.button(f"Add {missing.label} key…", on_click=lambda: on_keys(missing.variable)).props(
                "flat dense no-caps color=indigo padding='2px 6px'"
            )


def _int(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value
