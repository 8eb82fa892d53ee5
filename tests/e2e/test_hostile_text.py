"""Hostile text in a workflow and in model output stays text: nothing runs, in any part of the page."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.test_editor import import_file

NAME = '<img src=x onerror="window.__xss=1">Flow'
LABEL = "<script>window.__xss=2</script>Planner"
TASK = "<img src=x onerror=window.__xss=3> and [a link](javascript:window.__xss=4) <svg onload=window.__xss=5>"


def test_script_in_names_prompts_and_outputs_is_inert(page: Page, tmp_path: Path) -> None:
    path = tmp_path / "hostile.json"
    workflow = {
        "format": 1,
        "name": NAME,
        "inputs": [{"name": "task", "label": "Task", "default": TASK}],
        "nodes": [
            # Ids that are special words in JavaScript objects must behave like any other id.
            {"id": "__proto__", "type": "researcher", "label": LABEL, "position": {"x": 0, "y": 0}},
            {"id": "constructor", "type": "coder", "label": "Coder", "position": {"x": 320, "y": 0}},
        ],
        "edges": [{"id": "__proto__->constructor", "source": "__proto__", "target": "constructor"}],
    }
    path.write_text(json.dumps(workflow))
    import_file(page, path)
    expect(page.get_by_label("Workflow name")).to_have_value(NAME)
    expect(page.get_by_text(LABEL).first).to_be_visible()  # the label is shown as the text it is

    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Succeeded: 2/2 agents")).to_be_visible(timeout=30_000)
    for tab in ("Output", "Log", "Handoffs", "Timeline", "Inspector"):
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(300)
    page.get_by_text(LABEL).first.click()
    page.get_by_role("tab", name="Inspector").click()
    expect(page.get_by_role("region", name="Run panel").get_by_text(TASK, exact=False).first).to_be_visible()
    page.get_by_role("tab", name="Handoffs").click()
    expect(page.get_by_role("button", name=f"{LABEL} handed its output to Coder", exact=False)).to_be_visible()

    assert page.evaluate("window.__xss") is None
    assert page.locator("[onerror], [onload]").count() == 0
    assert page.locator("a[href^='javascript:' i]").count() == 0
    assert page.locator(".nicegui-content script").count() == 0
