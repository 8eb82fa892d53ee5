"""The properties of an approval node: its name, the question the person is asked, and an optional timeout with
what it decides then. Each applies as it changes; an invalid value is explained under it and not applied."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from flowdeck.engine.workflow import ApprovalConfig, Node

Apply = Callable[[Any, dict[str, Any]], bool]
ON_TIMEOUT = {"reject": "Reject", "approve": "Approve"}


def approval_fields(node: Node, config: ApprovalConfig, apply: Apply) -> None:
    """Controls for an approval node; `apply(control, changes)` applies a change or shows why it is refused."""
    with ui.row().classes("items-center gap-2"):
        ui.icon("person").classes("text-indigo-500")
        ui.label("Approval · a person decides, no model").classes("text-sm text-gray-600")
    name = ui.input("Name", value=node.label).props("dense outlined").classes("w-full").without_auto_validation()
    name.on_value_change(lambda e: apply(name, {"label": e.value or ""}))
    question = ui.input("Question", value=config.label, placeholder="Approve this?")
    question.props("dense outlined").classes("w-full").without_auto_validation()
    question.on_value_change(lambda e: apply(question, {"question": e.value or ""}))
    timeout = ui.number("Timeout (s)", value=config.timeout, placeholder="none: it waits until someone decides")
    timeout.props("dense outlined clearable").classes("w-full").without_auto_validation()
    timeout.on_value_change(lambda e: apply(timeout, {"timeout": e.value}))
    on_timeout = ui.select(ON_TIMEOUT, value=config.on_timeout, label="On timeout")
    on_timeout.props("dense outlined").classes("w-full")
    on_timeout.on_value_change(lambda e: apply(on_timeout, {"on_timeout": e.value}))
    ui.label("Outgoing edges route on its verdict: approved or rejected (a rejection hands on the note).").classes(
        "text-xs text-gray-500"
    )
