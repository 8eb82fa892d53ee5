"""Large workflows: far out, agents are plain cards and edges plain lines; zooming in brings back the detail."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.test_editor import canvas, import_file


def test_a_large_workflow_opens_as_an_overview_and_zooming_in_shows_the_agents(page: Page, tmp_path: Path) -> None:
    nodes = [
        {"id": f"n{i}", "type": "coder", "label": f"Agent {i}", "position": {"x": i % 20 * 260, "y": i // 20 * 120}}
        for i in range(240)
    ]
    edges = [{"id": f"e{i}", "source": f"n{i}", "target": f"n{i + 1}"} for i in range(239) if (i + 1) % 20]
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"format": 1, "name": "Grid", "nodes": nodes, "edges": edges}))
    import_file(page, big)
    expect(page.get_by_label("Workflow name")).to_have_value("Grid")

    # Far out (the whole grid fits at a zoom of about 0.15): each agent keeps its name for assistive technology,
    # but no text is drawn, and the edges are one drawing instead of 228 elements.
    agent = page.get_by_label("Agent 21 (Coder)", exact=True)
    expect(agent).to_be_visible()
    expect(canvas(page).get_by_text("Agent 21", exact=True)).to_have_count(0)
    expect(page.get_by_role("group", name="Agent 0 to Agent 1")).to_have_count(0)
    assert page.locator(".fd-far-edge").first.get_attribute("d", timeout=5000)

    # Zoomed in on an agent: its card is drawn in full, with its edges.
    box = agent.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(12):
        page.mouse.wheel(0, -250)
        page.wait_for_timeout(50)
    expect(canvas(page).get_by_text("Agent 21", exact=True)).to_be_visible()
    expect(page.get_by_role("group", name="Agent 21 to Agent 22")).to_be_attached()


def test_far_out_an_agent_shows_its_status_as_its_colour(page: Page, tmp_path: Path) -> None:
    """Far out a card has no text: idle it is coloured by its type, and once the run reaches it, by its status."""
    nodes = [
        {"id": f"n{i}", "type": ("researcher", "coder", "reviewer", "custom")[i % 4], "label": f"Agent {i}",
         "position": {"x": i % 20 * 260, "y": i // 20 * 120}}
        for i in range(120)
    ]  # fmt: skip
    edges = [{"id": f"e{i}", "source": f"n{i}", "target": f"n{i + 1}"} for i in range(119) if (i + 1) % 20]
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"format": 1, "name": "Grid", "nodes": nodes, "edges": edges}))
    import_file(page, grid)
    colour = "e => getComputedStyle(e.querySelector('.fd-node-far')).backgroundColor"
    kinds = ("Researcher", "Coder")
    cards = {kind: page.get_by_label(f"Agent {i} ({kind})", exact=True) for i, kind in enumerate(kinds)}
    expect(cards["Coder"]).to_be_visible()
    assert cards["Researcher"].evaluate(colour) == "rgb(219, 234, 254)"  # idle: its type's colour
    assert cards["Coder"].evaluate(colour) == "rgb(220, 252, 231)"

    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Succeeded: 120/120 agents")).to_be_visible(timeout=60_000)
    for card in cards.values():
        assert card.evaluate(colour) == "rgb(74, 222, 128)"  # succeeded, whatever the type
    page.get_by_role("button", name="Toggle dark theme").click()
    expect(canvas(page).locator(".react-flow.dark")).to_have_count(1)
    for card in cards.values():
        assert card.evaluate(colour) == "rgb(74, 222, 128)"  # and in the dark theme
