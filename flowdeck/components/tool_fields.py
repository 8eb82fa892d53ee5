"""An agent's Tools section in the properties panel (issue 22): a checkbox per built-in tool, what it does in one
line, a "side effect" badge on those that change the world, and the agent's limit of tool calls. Each applies as it
changes, through the panel's own edit path (undoable); a value refused is explained under it and not applied."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from flowdeck.engine.tools import BUILTIN_TOOLS, MAX_TOOL_CALLS
from flowdeck.engine.workflow import AgentConfig
from flowdeck.errors import EditRefused

Edit = Callable[[dict[str, Any]], None]  # applies changes to the agent; EditRefused (naming the field) if invalid

# What each built-in tool does, in a line, and whether it changes the world (its calls go in the side-effect log).
TOOLS: dict[str, tuple[str, bool]] = {
    "fetch": ("Reads a web page (GET) on the workflow's allowed domains", False),
    "http_request": ("Calls an HTTP API with any method; headers can name saved secrets", True),
    "read_file": ("Reads a file in the run's workspace", False),
    "write_file": ("Writes a file in the run's workspace: the run's artifacts", True),
    "list_files": ("Lists the files in the run's workspace", False),
}
assert tuple(TOOLS) == BUILTIN_TOOLS, "every built-in tool needs its line here"


def tool_fields(config: AgentConfig, edit: Edit) -> None:
    """The Tools section of an agent (not of an approval: a person has no tools)."""
    chosen = list(config.tools)
    ui.label("Tools").classes("text-sm")
    ui.label("What this agent's model may call while it works; each call shows in the Log and the Inspector.").classes(
        "text-xs text-gray-500"
    )
    with ui.column().classes("w-full gap-0").props('role=group aria-label="Tools"'):
        boxes = [
            _tool_row(name, description, changes_world, name in chosen)
            for name, (description, changes_world) in TOOLS.items()
        ]
    refused = ui.label().classes("text-xs text-negative").props("role=alert")
    refused.set_visibility(False)
    for name, box in zip(TOOLS, boxes, strict=True):
        box.on_value_change(lambda e, name=name, box=box: _tick(box, name, bool(e.value), chosen, edit, refused))
    # Not min/max on the box: an out-of-range value is explained, not clamped (as the panel's other numbers).
    limit = ui.number("Max tool calls", value=config.max_tool_calls, step=1, placeholder="10")
    limit.props(f'dense outlined hint="Per round of the agent, 1 to {MAX_TOOL_CALLS}; then it must answer"')
    limit.classes("w-full").without_auto_validation()

    def limit_changed(value: Any) -> None:
        try:
            edit({"max_tool_calls": _whole(value)})
        except EditRefused as exc:
            _invalid(limit, str(exc))
        else:
            _invalid(limit, None)

    limit.on_value_change(lambda e: limit_changed(e.value))


def _tool_row(name: str, description: str, changes_world: bool, ticked: bool) -> ui.checkbox:
    with ui.row().classes("w-full items-center no-wrap gap-1"):
        box = ui.checkbox(name, value=ticked).props(f'dense aria-label="Tool {name}"')
        if changes_world:
            ui.label("side effect").style(_BADGE).tooltip(
                "It changes the world: each call is recorded in the run's side-effect log before and after it runs"
            )
    ui.label(description).classes("text-xs text-gray-600").style("padding-left: 28px")
    return box


def _tick(box: ui.checkbox, name: str, on: bool, chosen: list[str], edit: Edit, refused: ui.label) -> None:
    """Tick or untick one tool. The agent's list keeps the built-ins' order, and keeps the names it lists that are no
    built-in (a later MCP server's) where they were. A refused change is said, and the box set back."""
    if on == (name in chosen):
        return  # the box set back after a refusal: nothing to apply
    wanted = set(chosen) | {name} if on else set(chosen) - {name}
    tools = [tool for tool in TOOLS if tool in wanted] + [tool for tool in chosen if tool not in TOOLS]
    try:
        edit({"tools": tools})
    except EditRefused as exc:
        refused.set_text(str(exc))
        refused.set_visibility(True)
        box.set_value(not on)
        return
    refused.set_visibility(False)
    chosen[:] = tools


def _invalid(control: Any, message: str | None) -> None:
    """Quasar's error line under the control, and aria-invalid, changed only when they change (each change sends the
    control again, with the value the server holds, over what is being typed)."""
    if control.error != message:
        control.error = message
    if message is None and "aria-invalid" in control.props:
        del control.props["aria-invalid"]
        control.update()
    elif message is not None and control.props.get("aria-invalid") != "true":
        control.props["aria-invalid"] = "true"
        control.update()


def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


_BADGE = (
    "padding: 0 6px; border-radius: 9px; background: #fef3c7; color: #92400e; font-size: 11px; line-height: 16px; "
    "font-weight: 600"
)
