"""How the canvas and the run panel look to a person: cards of one size with text that can be read, edges that
end in arrowheads, agents added by a click placed in view, outputs in data-flow order, the replay's controls and
the import dialog. Where only geometry or colour can tell, the tests measure what the browser drew."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import FloatRect, Locator, Page, expect

# The font size an element's text is drawn at on screen: its CSS size times the canvas's zoom.
DRAWN_PX = "e => parseFloat(getComputedStyle(e).fontSize) * e.getBoundingClientRect().width / e.offsetWidth"
# An edge's colour, and the fill of the arrowhead its path ends in (null: no arrowhead).
ARROW = """e => {
  const path = e.querySelector('.react-flow__edge-path');
  const id = (path.getAttribute('marker-end') || '').match(/url\\(['"]?#([^'")]+)/)?.[1];
  const head = id && document.getElementById(id)?.querySelector('path');
  return head ? {edge: getComputedStyle(path).stroke, head: getComputedStyle(head).fill} : null;
}"""


def node(page: Page, label: str, title: str) -> Locator:
    return page.get_by_label(f"{label} ({title})", exact=True)


def box(locator: Locator) -> FloatRect:
    found = locator.bounding_box()
    assert found is not None
    return found


def overlap(a: FloatRect, b: FloatRect) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def inside(inner: FloatRect, outer: FloatRect) -> bool:
    return (
        inner["x"] >= outer["x"]
        and inner["y"] >= outer["y"]
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"]
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"]
    )


def settle(page: Page) -> None:
    page.wait_for_function("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))")


def set_model(page: Page, label: str, title: str, model: str) -> None:
    node(page, label, title).click()
    field = page.get_by_label("Model")
    field.fill(model)
    field.press("Enter")
    expect(node(page, label, title)).to_contain_text(model)


def run(page: Page) -> None:
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("button", name="Start run").click()


def test_card_text_is_readable_at_the_zoom_the_editor_opens_at(page: Page) -> None:
    for label in ("Researcher", "Coder", "Reviewer"):
        card = node(page, label, label)
        assert card.get_by_text(label, exact=True).evaluate(DRAWN_PX) >= 12
        assert card.get_by_text("scripted", exact=True).evaluate(DRAWN_PX) >= 11


def test_a_card_names_its_type_only_when_its_name_does_not(page: Page) -> None:
    researcher = node(page, "Researcher", "Researcher")
    expect(researcher.get_by_text("Researcher", exact=True)).to_have_count(1)  # the name, not the type again
    expect(researcher.get_by_text("scripted", exact=True)).to_be_visible()  # the model instead
    researcher.click()
    name = page.get_by_label("Name", exact=True)
    name.fill("Scout")
    name.press("Tab")
    expect(node(page, "Scout", "Researcher").get_by_text("Researcher · scripted", exact=True)).to_be_visible()


def test_cards_keep_their_size_while_a_run_changes_their_text(page: Page) -> None:
    set_model(page, "Coder", "Coder", "scripted/fault=auth")
    labels = ("Researcher", "Coder", "Reviewer")
    before = [box(node(page, label, label)) for label in labels]
    run(page)
    expect(page.get_by_text(re.compile(r"^Failed: "))).to_be_visible(timeout=30_000)
    coder = node(page, "Coder", "Coder")
    # The long error is cut on the card and shown in full on hover.
    status = coder.get_by_title(re.compile(r"^failed: scripted\/fault=auth: invalid API key .+ API keys…\)$"))
    expect(status).to_be_visible()
    assert status.evaluate(DRAWN_PX) >= 11
    assert inside(box(status), box(coder))
    settle(page)
    after = [box(node(page, label, label)) for label in labels]
    sizes = {(round(b["width"], 1), round(b["height"], 1)) for b in before + after}
    assert len(sizes) == 1, sizes


def test_outputs_list_agents_in_data_flow_order_and_skipped_ones_last(page: Page) -> None:
    set_model(page, "Coder", "Coder", "scripted/fault=auth")
    run(page)
    expect(page.get_by_text(re.compile(r"^Failed: "))).to_be_visible(timeout=30_000)
    page.reload()  # the run comes back in one piece, as on the runs page or a replay
    outputs = page.get_by_role("region", name=re.compile("^Output of "))
    expect(outputs).to_have_count(3)
    names = [outputs.nth(i).get_attribute("aria-label") for i in range(3)]
    assert names == ["Output of Researcher", "Output of Coder", "Output of Reviewer"], names
    expect(outputs.nth(2)).to_contain_text("skipped")


def test_edges_end_in_arrowheads_of_their_colour_in_both_themes(page: Page) -> None:
    edge = page.get_by_label("Researcher to Coder")
    colours = set()
    for theme in ("light", "dark"):
        arrow = edge.evaluate(ARROW)
        assert arrow is not None, f"no arrowhead on an idle edge ({theme})"
        assert arrow["head"] == arrow["edge"], (theme, arrow)
        colours.add(arrow["edge"])
        page.get_by_role("button", name="Toggle dark theme").click()
        page.wait_for_timeout(200)
    assert len(colours) == 2, colours  # each theme has its own edge colour
    run(page)
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=30_000)
    for theme in ("light", "dark"):
        arrow = edge.evaluate(ARROW)
        assert arrow is not None, f"no arrowhead on a delivered edge ({theme})"
        assert arrow["head"] == arrow["edge"] == "rgb(34, 197, 94)", (theme, arrow)  # delivered: green
        page.get_by_role("button", name="Toggle dark theme").click()
        page.wait_for_timeout(200)


def test_agents_added_by_click_or_key_go_in_view_without_moving_it(page: Page) -> None:
    area = box(page.get_by_role("application", name="Workflow canvas"))
    page.mouse.move(area["x"] + 300, area["y"] + 100)  # pan the view: an empty part of the canvas dragged
    page.mouse.down()
    page.mouse.move(area["x"] + 180, area["y"] + 60, steps=5)
    page.mouse.up()
    template = [node(page, label, label) for label in ("Researcher", "Coder", "Reviewer")]
    shown = [box(card) for card in template]

    page.get_by_role("button", name="Add Coder").click()
    page.get_by_role("button", name="Add Reviewer").press("Enter")
    search = page.get_by_label("Search agents")
    search.fill("custom")
    search.press("Enter")
    added = [
        node(page, "Coder 2", "Coder"),
        node(page, "Reviewer 2", "Reviewer"),
        node(page, "Custom agent", "Custom agent"),
    ]
    for card in added:
        expect(card).to_be_visible()
    settle(page)

    assert [box(card) for card in template] == shown  # the view did not move
    boxes = [box(card) for card in template + added]
    for i, new in enumerate(boxes[3:], start=3):
        assert inside(new, area), (i, new, area)
        assert not any(overlap(new, other) for other in boxes[:i]), (i, boxes)


def test_an_agent_added_by_click_goes_right_of_the_selected_one(page: Page) -> None:
    coder = node(page, "Coder", "Coder")
    coder.click()
    page.get_by_role("button", name="Add Reviewer").click()
    added = node(page, "Reviewer 2", "Reviewer")
    expect(added).to_be_visible()
    settle(page)
    selected, new = box(coder), box(added)
    assert new["x"] > selected["x"] + selected["width"]  # to its right
    assert abs(new["y"] - selected["y"]) < 2 * selected["height"]  # on its row or the next free one
    assert inside(new, box(page.get_by_role("application", name="Workflow canvas")))
    others = [box(node(page, label, label)) for label in ("Researcher", "Coder", "Reviewer")]
    assert not any(overlap(new, other) for other in others)


def test_replay_slider_keeps_clear_of_the_text_beside_it(page: Page) -> None:
    run(page)
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Runs").click()
    page.get_by_role("link", name=re.compile("^Open run ")).first.click()
    slider = page.get_by_role("slider", name="Replay position")
    where = page.get_by_text(re.compile(r"^event \d+ of \d+"))
    expect(where).to_be_visible()
    # The thumb (at the end: the replay opens on the run's last event) is drawn over whatever is in its way.
    right = slider.evaluate(
        "e => Math.max(...[e, ...e.querySelectorAll('*')].map(c => c.getBoundingClientRect().right))"
    )
    assert right <= box(where)["x"], (right, box(where))


def test_import_dialog_shows_no_empty_size_or_progress(page: Page, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": 1, "name": "x", "nodes": [{"id": "a", "type": "wizard"}]}')
    page.get_by_role("button", name="More workflow actions").click()
    page.get_by_text("Import from file…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Drop a .json file here, or choose one with +.")).to_be_visible()
    expect(dialog).not_to_contain_text("0.0B")
    expect(dialog).not_to_contain_text("%")
    with page.expect_file_chooser() as chooser:
        dialog.get_by_role("button", name="Choose a workflow file").click()
    chooser.value.set_files(str(bad))
    expect(dialog.get_by_text("bad.json was not imported:")).to_be_visible()
    expect(dialog).not_to_contain_text("0.0B")
