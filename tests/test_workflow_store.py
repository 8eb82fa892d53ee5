"""Saved workflows found by id or name without reading every saved workflow."""

from __future__ import annotations

import time
from pathlib import Path

from flowdeck.storage import open_database
from flowdeck.storage.workflows import WorkflowStore
from tests.conftest import make_workflow


def test_find_by_id_or_name_prefers_workflows_then_the_newest(tmp_path: Path) -> None:
    store = WorkflowStore(open_database(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    workflow = make_workflow([("a", "custom")], [])
    template = store.save(workflow.model_copy(update={"name": "Shared name"}), is_template=True)
    older = store.save(workflow.model_copy(update={"name": "Shared name"}))
    time.sleep(0.01)
    newer = store.save(workflow.model_copy(update={"name": "Shared name"}))
    other = store.save(workflow.model_copy(update={"name": "Other"}))

    found = store.find("Shared name")
    assert found is not None and found.id == newer and found.id not in (older, template)
    by_id = store.find(template)
    assert by_id is not None and by_id.is_template
    assert store.find(other) is not None and store.find("Other").id == other  # type: ignore[union-attr]
    assert store.find("nobody") is None
    assert store.names() == ("Other", "Shared name")
