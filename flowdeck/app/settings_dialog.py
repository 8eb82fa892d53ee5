"""Workflow settings (the button beside the workflow's name, or ⋮ → Workflow settings…): name, description,
default model, inputs and the domains its tools may reach, applied together as one undo step. Each field's problem
is said under it as it is typed; Apply goes ahead only when there is none."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from nicegui import ui

from flowdeck.app.transient import transient_dialog
from flowdeck.app.workflow_settings import DOMAIN_RULE, InputDraft, SettingsDraft, problems, readers
from flowdeck.components.model_box import ModelBox
from flowdeck.engine.workflow import Workflow

if TYPE_CHECKING:
    from flowdeck.app.editor import Editor


def workflow_settings(editor: Editor) -> None:
    """Open the dialog on the editor's workflow; what it applies is one undo step, and the editor shows it."""

    def applied(draft: SettingsDraft) -> None:
        before = editor.doc.workflow
        done = editor.doc.apply_settings(draft)
        editor.changed_since(before)
        for old, agents in done.dangling.items():
            ui.notify(f"Removed input {old}: still read by the prompt template of {_names(agents)}", type="warning")
        if done.rewritten:
            ui.notify(f"Prompt templates follow the renamed inputs: {_names(done.rewritten)}", type="info")

    with editor.host:
        settings_dialog(editor.doc.workflow, editor.doc.app_model, editor.models.suggestions, applied)


def settings_dialog(
    workflow: Workflow, app_model: str, models: Mapping[str, str], on_apply: Callable[[SettingsDraft], None]
) -> None:
    """The dialog on the workflow's settings as they are; `models`: the Model box's suggestions."""
    form = _Form(workflow, SettingsDraft.of(workflow))
    with transient_dialog() as dialog, ui.card().classes("w-[44rem] max-w-full gap-2"):
        dialog.props('aria-label="Workflow settings"')
        ui.label("Workflow settings").classes("text-lg font-semibold")
        name = form.field(ui.input("Name", value=form.draft.name), "name", lambda d, v: replace(d, name=v))
        form.field(
            ui.textarea("Description", value=form.draft.description).props("autogrow"),
            "description",
            lambda d, v: replace(d, description=v),
        )
        ui.label("Shown in the templates gallery when the workflow is saved as a template.").classes(
            "text-xs text-gray-500 -mt-1"
        )
        default = f"App default ({app_model})"
        model = ModelBox(
            "Default model", value=form.draft.default_model, suggestions={"": default, **models}, default=default
        )
        form.field(model, "default_model", lambda d, v: replace(d, default_model=v))
        ui.label("For agents that name no model of their own. A run can still put every agent on one model.").classes(
            "text-xs text-gray-500 -mt-1"
        )
        with ui.row().classes("w-full items-center gap-2 pt-2"):
            ui.label("Inputs").classes("text-base font-semibold")
            ui.label("asked for by Run; prompt templates read them as inputs.<name>").classes("text-xs text-gray-500")
            ui.space()
            ui.button("Add input", icon="add", on_click=form.add).props("flat dense no-caps color=indigo")
        form.rows = ui.column().classes("w-full gap-2")
        form.notes = ui.column().classes("w-full gap-0").props('role=status aria-label="What applying will do"')
        with ui.row().classes("w-full items-center gap-2 pt-2"):
            ui.label("Allowed domains").classes("text-base font-semibold")
            ui.label("where the agents' tools may connect").classes("text-xs text-gray-500")
            ui.space()
            ui.button("Add domain", icon="add", on_click=form.add_domain).props("flat dense no-caps color=indigo")
        ui.label(f"{DOMAIN_RULE}. An address such as 127.0.0.1, or localhost, only when listed.").classes(
            "text-xs text-gray-500 -mt-1"
        )
        form.domains = ui.column().classes("w-full gap-1").props('role=list aria-label="Allowed domains"')
        form.show_rows()
        form.show_domains()

        def apply() -> None:
            if form.check(everything=True):
                on_apply(form.draft)
                dialog.close()

        form.submit = apply

        with ui.row().classes("w-full justify-end gap-1"):
            ui.button("Cancel", on_click=dialog.close).props("flat")
            ui.button("Apply", on_click=apply).props("color=primary")
    dialog.open()
    name.run_method("focus")


class _Form:
    """The draft being edited and the controls showing it; problems are shown under a field once it was changed
    (or Apply was pressed), never on a field the person has not reached yet."""

    def __init__(self, workflow: Workflow, draft: SettingsDraft) -> None:
        self.workflow = workflow
        self.draft = draft
        self.controls: dict[str, Any] = {}
        self.row_errors: dict[str, ui.label] = {}  # "inputs.2" -> the line saying what is wrong in that row
        self.touched: set[str] = set()
        self.submit: Callable[[], None] = lambda: None  # Apply
        self.rows: ui.column
        self.notes: ui.column
        self.domains: ui.column

    def field(self, control: Any, key: str, update: Callable[[SettingsDraft, str], SettingsDraft]) -> Any:
        control.props("dense outlined").without_auto_validation()
        if key.startswith(("inputs.", "allowed_domains.")):
            control.props("hide-bottom-space no-error-icon")
        else:
            control.classes("w-full")
        self.controls[key] = control

        def changed(value: Any) -> None:
            self.draft = update(self.draft, str(value or ""))
            self.touched.add(key)
            self.check()

        control.on_value_change(lambda e: changed(e.value))
        if type(control) is ui.input:  # one line of text: Enter applies, as in a form (not the Model box's Enter)
            control.on("keydown.enter", lambda: self.submit())
        return control

    def check(self, *, everything: bool = False) -> bool:
        """Show the problems (those of changed fields, or all); True if there are none."""
        found = problems(self.draft)
        if everything:
            self.touched |= set(found)
        row_messages: dict[str, list[str]] = {}
        for key, control in self.controls.items():
            message = found.get(key) if key in self.touched else None
            row = key.rpartition(".")[0]
            if row in self.row_errors:  # said on the row's own line: under a narrow field it overlapped the next
                control.props["error"] = message is not None
                if message is not None:
                    row_messages.setdefault(row, []).append(message)
            else:
                control.error = message
            if message is None:
                control.props.pop("aria-invalid", None)
            else:
                control.props["aria-invalid"] = "true"
            control.update()
        for row, line in self.row_errors.items():
            line.set_text(" · ".join(row_messages.get(row, [])))
            line.set_visibility(row in row_messages)
        if everything and found:
            first = self.controls.get(next(iter(found)))
            if first is not None:
                first.run_method("focus")
        self._show_notes()
        return not found

    # -- the inputs ------------------------------------------------------------------------------------------

    def show_rows(self, focus: str | None = None) -> None:
        """Draw the list of inputs (after one is added, removed or moved); `focus`: the control to focus then."""
        self.controls = {k: c for k, c in self.controls.items() if not k.startswith("inputs.")}
        self.row_errors.clear()
        self.rows.clear()
        with self.rows:
            if not self.draft.inputs:
                ui.label("No inputs: agents receive only what the agents before them hand over.").classes(
                    "text-sm text-gray-500"
                )
            for index, item in enumerate(self.draft.inputs):
                self._row(index, item, len(self.draft.inputs))
        self.check()
        if focus is not None and focus in self.controls:
            self.controls[focus].run_method("focus")

    def add(self) -> None:
        self.draft = replace(self.draft, inputs=(*self.draft.inputs, InputDraft(name="")))
        self.show_rows(focus=f"inputs.{len(self.draft.inputs) - 1}.name")

    def _row(self, index: int, item: InputDraft, count: int) -> None:
        with ui.card().props(f'flat bordered role=group aria-label="Input {index + 1}"').classes("w-full gap-1 p-2"):
            with ui.row().classes("w-full items-start no-wrap gap-2"):
                name = self._input_field(ui.input("Input name", value=item.name), index, "name").classes("w-48")
                label = self._input_field(ui.input("Label", value=item.label), index, "label").classes("grow")
                up = ui.button(icon="arrow_upward", on_click=lambda: self._move(index, -1))
                down = ui.button(icon="arrow_downward", on_click=lambda: self._move(index, 1))
                remove = ui.button(icon="delete", on_click=lambda: self._remove(index)).props("color=negative")
                up.set_enabled(index > 0)
                down.set_enabled(index < count - 1)
            error = ui.label().classes("text-xs text-negative").props("role=alert")
            error.set_visibility(False)
            self.row_errors[f"inputs.{index}"] = error
            default = self._input_field(ui.textarea("Default value", value=item.default), index, "default")
            default.props('autogrow placeholder="Empty: Run asks for it; the command line and API need it"')
            description = self._input_field(ui.input("Input description", value=item.description), index, "description")
            description.props('placeholder="Shown under the field when Run asks for it"')
            for control in (default, description):
                control.classes("w-full")

        for button in (up, down, remove):
            button.props("flat dense round")

        def named(value: str) -> None:
            """The buttons say which input they act on, by the name as typed (set as values: never parsed)."""
            label.props["placeholder"] = value
            label.update()
            for button, text in ((up, "Move input {} up"), (down, "Move input {} down"), (remove, "Remove input {}")):
                button.props["aria-label"] = text.format(value or "new input")
                button.update()

        named(item.name)
        name.on_value_change(lambda e: named(e.value or ""))

    def _input_field(self, control: Any, index: int, attribute: str) -> Any:
        key = f"inputs.{index}.{attribute}"

        def update(draft: SettingsDraft, value: str) -> SettingsDraft:
            inputs = list(draft.inputs)
            changes: dict[str, Any] = {attribute: value}
            inputs[index] = replace(inputs[index], **changes)
            return replace(draft, inputs=tuple(inputs))

        return self.field(control, key, update)

    def _move(self, index: int, step: int) -> None:
        inputs = list(self.draft.inputs)
        inputs[index], inputs[index + step] = inputs[index + step], inputs[index]
        self.draft = replace(self.draft, inputs=tuple(inputs))
        self.touched = {_moved(key, index, step) for key in self.touched}
        self.show_rows(focus=f"inputs.{index + step}.name")

    def _remove(self, index: int) -> None:
        inputs = list(self.draft.inputs)
        del inputs[index]
        self.draft = replace(self.draft, inputs=tuple(inputs))
        self.touched = {_removed(key, index) for key in self.touched if not key.startswith(f"inputs.{index}.")}
        self.show_rows()

    # -- the allowed domains ---------------------------------------------------------------------------------

    def show_domains(self, focus: str | None = None) -> None:
        """Draw the list of allowed domains (after one is added or removed); `focus`: the control to focus then."""
        self.controls = {k: c for k, c in self.controls.items() if not k.startswith("allowed_domains.")}
        self.domains.clear()
        self.domains.props["role"] = "list" if self.draft.allowed_domains else "none"  # no list of no items (ARIA)
        self.domains.update()
        with self.domains:
            if not self.draft.allowed_domains:
                ui.label("No network: tools that fetch cannot reach anything.").classes("text-sm text-gray-500")
            for index, entry in enumerate(self.draft.allowed_domains):
                with ui.row().classes("w-full items-start no-wrap gap-2").props("role=listitem"):
                    box = self.field(
                        ui.input("Allowed domain", value=entry), f"allowed_domains.{index}", _domain(index)
                    )
                    box.classes("grow").props('placeholder="example.org"')
                    remove = ui.button(icon="delete", on_click=lambda index=index: self._remove_domain(index))
                    remove.props("flat dense round color=negative")
                    _name_remove(remove, entry)
                    box.on_value_change(lambda e, remove=remove: _name_remove(remove, str(e.value or "")))
        self.check()
        if focus is not None and focus in self.controls:
            self.controls[focus].run_method("focus")

    def add_domain(self) -> None:
        self.draft = replace(self.draft, allowed_domains=(*self.draft.allowed_domains, ""))
        self.show_domains(focus=f"allowed_domains.{len(self.draft.allowed_domains) - 1}")

    def _remove_domain(self, index: int) -> None:
        domains = list(self.draft.allowed_domains)
        del domains[index]
        self.draft = replace(self.draft, allowed_domains=tuple(domains))
        self.touched = {
            _removed(key, index, "allowed_domains") for key in self.touched if key != f"allowed_domains.{index}"
        }
        self.show_domains(focus=f"allowed_domains.{min(index, len(domains) - 1)}" if domains else None)

    def _show_notes(self) -> None:
        """What applying will do to prompt templates: renamed references, and removed inputs still read."""
        self.notes.clear()
        names = {item.name for item in self.draft.inputs}
        kept = {item.was for item in self.draft.inputs}
        renamed = {
            item.was: item.name for item in self.draft.inputs if item.was and item.name and item.was != item.name
        }
        removed = {item.name for item in self.workflow.inputs} - kept - names
        with self.notes:
            for old, agents in readers(self.workflow, set(renamed)).items():
                ui.label(
                    f"Renaming {old} to {renamed[old]} renames it in the prompt templates of {_names(agents)} too."
                ).classes("text-sm text-gray-600")
            for old, agents in readers(self.workflow, removed).items():
                ui.label(
                    f"Removing {old}: the prompt templates of {_names(agents)} read it, and will not run until they "
                    "are changed."
                ).classes("text-sm text-amber-700")


def _moved(key: str, index: int, step: int) -> str:
    parts = key.split(".")
    if parts[0] == "inputs" and len(parts) == 3:
        at = int(parts[1])
        parts[1] = str(index + step if at == index else index if at == index + step else at)
    return ".".join(parts)


def _removed(key: str, index: int, what: str = "inputs") -> str:
    parts = key.split(".")
    if parts[0] == what and len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) > index:
        parts[1] = str(int(parts[1]) - 1)
    return ".".join(parts)


def _name_remove(button: ui.button, entry: str) -> None:
    """The button says which domain it removes, as typed (set as a value: never parsed)."""
    button.props["aria-label"] = f"Remove domain {entry.strip() or 'new domain'}"
    button.update()


def _domain(index: int) -> Callable[[SettingsDraft, str], SettingsDraft]:
    def update(draft: SettingsDraft, value: str) -> SettingsDraft:
        domains = list(draft.allowed_domains)
        domains[index] = value
        return replace(draft, allowed_domains=tuple(domains))

    return update


def _names(agents: tuple[str, ...]) -> str:
    return agents[0] if len(agents) == 1 else ", ".join(agents[:-1]) + " and " + agents[-1]
