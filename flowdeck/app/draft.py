"""The local draft: unsaved edits kept in the browser's localStorage, so a refresh or a closed tab loses nothing."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from nicegui import ui

from flowdeck.engine.workflow import Workflow, parse_workflow
from flowdeck.errors import FlowdeckError, WorkflowError
from flowdeck.storage import WorkflowStore

DRAFT_KEY = json.dumps("flowdeck-draft")
OPEN_KEY = json.dumps("flowdeck-open")  # the saved workflow this browser shows, when it has no draft


@dataclass(frozen=True, slots=True)
class Draft:
    workflow: Workflow
    workflow_id: str | None  # the id it is saved, or will be saved, under: its runs' (None in drafts of older versions)
    written_at: float
    edited: bool  # False: a workflow opened (a template, a file) and never saved, but not edited either
    from_run: str | None = None  # a workflow opened from a past run: that run, shown until it has runs of its own


def write_draft(
    workflow: Workflow | None, workflow_id: str | None, *, edited: bool = True, from_run: str | None = None
) -> None:
    """Keep `workflow` as this browser's draft; None removes the draft (nothing unsaved)."""
    if workflow is None:
        ui.run_javascript(f"localStorage.removeItem({DRAFT_KEY})")
        return
    draft = json.dumps(
        {
            "workflow_id": workflow_id,
            "ts": time.time(),
            "edited": edited,
            "from_run": from_run,
            "workflow": workflow.to_dict(),
        }
    )
    ui.run_javascript(f"localStorage.setItem({DRAFT_KEY}, {json.dumps(draft)})")


def remember_open(workflow_id: str) -> None:
    """Which saved workflow this browser shows, so that a reload opens it again (not the one saved last)."""
    ui.run_javascript(f"localStorage.setItem({OPEN_KEY}, {json.dumps(workflow_id)})")


async def read_open() -> str | None:
    """The saved workflow this browser showed last (remember_open), if any."""
    try:
        raw = await ui.run_javascript(f"localStorage.getItem({OPEN_KEY})", timeout=5)
    except TimeoutError:
        return None
    return raw if isinstance(raw, str) and 0 < len(raw) <= 100 else None


async def read_draft() -> Draft | None:
    """The browser's draft, validated like any workflow file; a malformed one is removed."""
    try:
        raw = await ui.run_javascript(f"localStorage.getItem({DRAFT_KEY})", timeout=5)
    except TimeoutError:
        return None
    if not isinstance(raw, str):
        return None
    try:
        data = json.loads(raw)
        workflow = parse_workflow(data["workflow"], source="the saved draft")
        workflow_id = data.get("workflow_id")
        written = float(data.get("ts", 0))
        edited = data.get("edited", True)  # drafts written before this field held edits only
        from_run = data.get("from_run")
        if not all(isinstance(v, str | None) for v in (workflow_id, from_run)) or not isinstance(edited, bool):
            raise TypeError("workflow_id")
    except (ValueError, KeyError, TypeError, WorkflowError):
        write_draft(None, None)
        return None
    return Draft(workflow=workflow, workflow_id=workflow_id, written_at=written, edited=edited, from_run=from_run)


def saved_since(store: WorkflowStore, draft: Draft) -> bool:
    """Whether the draft's workflow was saved after the draft was written (then the saved version wins). Blocking."""
    if draft.workflow_id is None:
        return False
    try:
        saved = store.get(draft.workflow_id)
    except FlowdeckError:
        return False
    return saved.updated_at > draft.written_at
