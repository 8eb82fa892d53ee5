"""Loops and conditions on the canvas (issue 21), as a person uses them: connect back to make a loop (a dialog
asks how it repeats), see it drawn and labelled, edit a connection's condition with the mouse or the keyboard, edit
an agent's verdicts, run a loop and see its rounds, and a card waiting for a person's approval."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from flowdeck.components.canvas.payload import canvas_node
from flowdeck.engine.workflow import Node
from tests.e2e.test_accessibility import violations
from tests.e2e.test_approvals import approve_sign_off
from tests.e2e.test_editor import discard_changes, import_file, node, settle


@pytest.fixture
def app_model() -> str:
    return "scripted/verdicts=revise,approve"  # a reviewer that sends the work back once, then approves


def verdict_items(*verdicts: str) -> list[re.Pattern[str]]:
    """The verdict chips as listed (each holds its remove button, whose icon is the text "close")."""
    return [re.compile(f"^{verdict}(close)?$") for verdict in verdicts]


def connect_back(page: Page) -> None:
    settle(page)  # the cards' handles are measured
    page.get_by_label("output of Reviewer", exact=True).drag_to(page.get_by_label("input of Coder", exact=True))
    expect(page.get_by_role("dialog")).to_contain_text("This makes a loop")


def dialog_gone(page: Page) -> None:
    """The dialog closed and its closing transition over: until then its backdrop takes the mouse's drags."""
    expect(page.get_by_role("dialog")).to_be_hidden()
    page.wait_for_function("() => !document.getAnimations().some((a) => a instanceof CSSTransition)")


def loop_edge(page: Page) -> object:
    return page.get_by_label("Reviewer to Coder (loop: revise · ≤ 3)", exact=True)


def test_connecting_back_asks_how_the_loop_repeats_and_draws_it(page: Page) -> None:
    connect_back(page)
    dialog = page.get_by_role("dialog")
    # axe, with the dialog open once its opening transition is over (half-faded text has too little contrast)
    page.wait_for_function("() => !document.getAnimations().some((a) => a instanceof CSSTransition)")
    assert violations(page) == []
    expect(dialog.get_by_role("combobox", name="Repeat while")).to_have_value("verdict is")
    expect(dialog.get_by_role("combobox", name="Verdict", exact=True)).to_have_value("revise")  # the Reviewer's
    expect(dialog.get_by_label("Max rounds")).to_have_value("3")
    expect(dialog.get_by_role("combobox", name="When rounds run out")).to_have_value("go on")
    # Over the cap: refused in the engine's words, naming the cap; the dialog stays, nothing is added.
    dialog.get_by_label("Max rounds").fill("21")
    dialog.get_by_role("button", name="Add loop").click()
    expect(dialog.get_by_role("alert")).to_contain_text("a loop runs 1 to 20 rounds (the cap)")
    expect(dialog.get_by_label("Max rounds")).to_have_attribute("aria-invalid", "true")
    dialog.get_by_label("Max rounds").fill("3")
    dialog.get_by_role("button", name="Add loop").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(loop_edge(page)).to_have_count(1)
    label = page.locator(".fd-edge-label", has_text="revise · ≤ 3")
    expect(label).to_be_visible()
    edge = page.locator('.fd-edge[data-loop="true"] .react-flow__edge-path')
    assert edge.evaluate("e => getComputedStyle(e).strokeDasharray") not in ("", "none")
    # It goes around the cards, not through them: its lowest point is under both cards.
    lowest = edge.evaluate("e => e.getBoundingClientRect().bottom")
    for name in ("Coder", "Reviewer"):
        assert lowest > node(page, name, name).bounding_box()["y"] + node(page, name, name).bounding_box()["height"]
    expect(page.get_by_text("Unsaved changes")).to_be_visible()
    dialog_gone(page)

    # Cancel adds nothing.
    page.get_by_label("output of Reviewer", exact=True).drag_to(page.get_by_label("input of Researcher"))
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.get_by_label(re.compile("^Reviewer to Researcher"))).to_have_count(0)


def test_a_loop_that_would_overlap_another_is_refused_in_the_dialog(page: Page) -> None:
    connect_back(page)
    page.get_by_role("dialog").get_by_role("button", name="Add loop").click()
    expect(loop_edge(page)).to_have_count(1)
    dialog_gone(page)
    page.get_by_label("output of Coder", exact=True).drag_to(page.get_by_label("input of Researcher"))
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("This makes a loop")
    dialog.get_by_role("button", name="Add loop").click()
    expect(dialog.get_by_role("alert")).to_contain_text("share agents without one holding the other")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_label(re.compile("^Coder to Researcher"))).to_have_count(0)


def test_a_connections_condition_is_edited_from_the_keyboard(page: Page) -> None:
    edge = page.get_by_label("Coder to Reviewer", exact=True)
    edge.focus()
    page.keyboard.press("Enter")  # selects the connection: the panel edits it
    panel = page.get_by_role("complementary", name="Properties")
    expect(panel.get_by_text("Connection: Coder to Reviewer")).to_be_visible()
    condition = panel.get_by_role("combobox", name="Condition", exact=True)
    condition.focus()
    page.keyboard.press("Enter")
    page.get_by_role("option", name="output contains").click()
    expect(panel.get_by_role("alert")).to_contain_text("Type the text: the contains condition needs one")
    text = panel.get_by_label("Output contains")
    text.focus()
    page.keyboard.type("def ")
    expect(panel.get_by_role("alert")).to_be_hidden()
    expect(page.locator(".fd-edge-label", has_text="contains: def")).to_be_visible()
    expect(page.get_by_label("Coder to Reviewer (contains: def )", exact=True)).to_have_count(1)
    # A verdict the Coder does not give is refused naming it, and not applied.
    condition.click()
    page.get_by_role("option", name="verdict is").click()
    expect(panel.get_by_role("alert")).to_contain_text("Coder gives no verdicts; add some in its properties")
    expect(page.locator(".fd-edge-label", has_text="contains: def")).to_be_visible()
    condition.click()
    page.get_by_role("option", name="always").click()
    expect(page.locator(".fd-edge-label")).to_have_count(0)
    page.get_by_role("button", name="Undo").click()  # back to "contains: def " (the typing was one step)
    expect(page.locator(".fd-edge-label", has_text="contains: def")).to_be_visible()


def test_a_loop_edge_is_edited_in_the_panel(page: Page) -> None:
    connect_back(page)
    page.get_by_role("dialog").get_by_role("button", name="Add loop").click()
    dialog_gone(page)
    page.locator(".fd-edge-label", has_text="revise · ≤ 3").click()  # clicking its label selects it
    panel = page.get_by_role("complementary", name="Properties")
    expect(panel.get_by_text("Loop back: Reviewer to Coder")).to_be_visible()
    panel.get_by_label("Max rounds").fill("25")
    expect(panel.get_by_role("alert")).to_contain_text("1 to 20 rounds (the cap)")
    panel.get_by_label("Max rounds").fill("5")
    expect(page.locator(".fd-edge-label", has_text="revise · ≤ 5")).to_be_visible()
    panel.get_by_role("combobox", name="When rounds run out").click()
    page.get_by_role("option", name="fail the run").click()
    expect(page.locator(".fd-edge-label", has_text="revise · ≤ 5")).to_be_visible()


def test_verdicts_are_edited_in_the_properties_panel_and_kept_by_export_and_import(page: Page, tmp_path: Path) -> None:
    node(page, "Reviewer", "Reviewer").click()
    verdicts = page.get_by_role("list", name="Verdicts")
    expect(verdicts.get_by_role("listitem")).to_have_text(verdict_items("approve", "revise"))  # the Reviewer preset's
    page.get_by_role("button", name="Remove verdict approve").click()
    expect(verdicts.get_by_role("listitem")).to_have_text(verdict_items("revise"))
    page.get_by_label("New verdict").fill("two words")
    page.get_by_role("button", name="Add verdict").click()
    expect(page.get_by_role("alert").filter(has_text="Verdicts must be words")).to_be_visible()
    page.get_by_label("New verdict").fill("ship")
    page.get_by_label("New verdict").press("Enter")
    expect(verdicts.get_by_role("listitem")).to_have_text(verdict_items("revise", "ship"))
    page.get_by_label("New verdict").fill("Ship")
    page.get_by_role("button", name="Add verdict").click()
    expect(page.get_by_role("alert").filter(has_text="listed twice")).to_be_visible()
    connect_back(page)
    page.get_by_role("dialog").get_by_role("button", name="Add loop").click()
    dialog_gone(page)
    expect(page.locator(".fd-edge-label", has_text="revise · ≤ 3")).to_be_visible()

    page.get_by_role("button", name="More workflow actions").click()
    with page.expect_download() as download:
        page.get_by_role("menuitem", name="Export to file").click()
    exported = tmp_path / "exported.json"
    download.value.save_as(exported)
    data = json.loads(exported.read_text())
    assert data["format"] == 2
    assert next(n for n in data["nodes"] if n["id"] == "reviewer")["config"]["verdicts"] == ["revise", "ship"]
    assert next(e for e in data["edges"] if e["id"] == "reviewer->coder") == {
        "id": "reviewer->coder",
        "source": "reviewer",
        "target": "coder",
        "condition": {"verdict": "revise"},
        "loop": {"max_rounds": 3},
    }
    page.get_by_role("button", name="Templates").click()
    page.get_by_role("button", name="Use Fan-out: two coders, one reviewer").click()
    discard_changes(page)
    expect(loop_edge(page)).to_have_count(0)
    import_file(page, exported)
    expect(loop_edge(page)).to_have_count(1)
    node(page, "Reviewer", "Reviewer").click()
    expect(page.get_by_role("list", name="Verdicts").get_by_role("listitem")).to_have_text(
        verdict_items("revise", "ship")
    )


def test_a_format_1_file_opens_and_saves_as_format_2(page: Page, tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    old.write_text(
        json.dumps(
            {
                "format": 1,
                "name": "Old pair",
                "nodes": [{"id": "a", "type": "coder", "label": "Writer"}, {"id": "b", "type": "reviewer"}],
                "edges": [{"id": "a->b", "source": "a", "target": "b"}],
            }
        )
    )
    import_file(page, old)
    expect(node(page, "Writer", "Coder")).to_be_visible()
    page.get_by_role("button", name="More workflow actions").click()
    with page.expect_download() as download:
        page.get_by_role("menuitem", name="Export to file").click()
    saved = tmp_path / "saved.json"
    download.value.save_as(saved)
    assert json.loads(saved.read_text())["format"] == 2


def test_a_loop_run_shows_round_2_on_the_agents_and_the_loop_edge(page: Page) -> None:
    page.get_by_role("button", name="Templates").click()
    page.get_by_role("button", name="Use Review loop").click()
    expect(loop_edge(page)).to_have_count(1)
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("button", name="Start run").click()
    approve_sign_off(page)
    expect(page.get_by_text(re.compile(r"^Succeeded"))).to_be_visible(timeout=30_000)
    for name in ("Coder", "Reviewer"):  # the review loop's round, of its own 3 (not 3 x the sign-off's 3)
        expect(node(page, name, name)).to_contain_text("round 2/3")
    expect(node(page, "Researcher", "Researcher")).not_to_contain_text("round")
    expect(page.locator(".fd-edge-label", has_text="revise · ≤ 3 · round 2/3")).to_be_visible()
    page.reload()  # a page coming back to the run shows the rounds as well
    page.get_by_role("application", name="Workflow canvas").wait_for()
    expect(node(page, "Coder", "Coder")).to_contain_text("round 2/3")
    expect(page.locator(".fd-edge-label", has_text="round 2/3")).to_be_visible()


def test_fast_clicks_on_the_dialog_add_one_loop(page: Page) -> None:
    connect_back(page)
    page.get_by_role("dialog").get_by_role("button", name="Add loop").click(click_count=3)
    dialog_gone(page)
    expect(loop_edge(page)).to_have_count(1)
    settle(page)
    # Dragged again: the loop is there already; nothing is asked, nothing more is added.
    page.get_by_label("output of Reviewer", exact=True).drag_to(page.get_by_label("input of Coder", exact=True))
    expect(page.get_by_text("Connection refused: these agents are already connected")).to_be_visible()
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(loop_edge(page)).to_have_count(1)


def mount_test_canvas(page: Page, *, readonly: bool) -> None:
    """A second canvas on the page, mounted from the bundle's own entry point (as canvas.js does), that records the
    intents it emits: a card waiting for approval, as the approval engineer's status patches will make it."""
    card = canvas_node(Node(id="sign_off", type="approval", label="Sign-off"), "scripted")
    waiting = {"op": "status", "updates": {"sign_off": {"state": "waiting", "text": ""}}, "since": None}
    page.evaluate(
        """async ({card, waiting, readonly}) => {
          const { mount } = await import("flowdeck-canvas");
          document.querySelector(".fd-test-canvas")?.remove();
          const element = document.createElement("div");
          element.className = "fd-test-canvas";
          element.style.cssText = "position:fixed;inset:0;z-index:99999;background:white";
          element.setAttribute("role", "application");
          element.setAttribute("aria-label", "Test canvas");
          document.body.appendChild(element);
          window.__intents = [];
          mount(element, {nodes: [card], edges: [], readonly, patches: [waiting]},
                (name, payload) => window.__intents.push([name, payload]));
        }""",
        {"card": card, "waiting": waiting, "readonly": readonly},
    )


def test_a_card_waiting_for_approval_offers_review_where_the_page_may_decide(page: Page) -> None:
    mount_test_canvas(page, readonly=False)
    test_canvas = page.get_by_role("application", name="Test canvas")
    card = test_canvas.get_by_label("Sign-off (Approval)", exact=True)
    expect(card).to_contain_text("Waiting for approval")
    expect(card).to_contain_text("person")  # the person icon
    expect(card.locator(".fd-node-sub")).to_have_text("Approval")  # no model line
    expect(card.locator(".fd-node")).to_have_attribute("data-status", "waiting")
    test_canvas.get_by_role("button", name="Review Sign-off").click()
    page.wait_for_function("() => window.__intents.some(([name]) => name === 'approval_review')")
    intents = page.evaluate("() => window.__intents.filter(([name]) => name !== 'selection_change')")
    assert intents == [["approval_review", {"id": "sign_off"}]]
    mount_test_canvas(page, readonly=True)  # a viewer's page: shown waiting, no button
    expect(test_canvas.get_by_label("Sign-off (Approval)", exact=True)).to_contain_text("Waiting for approval")
    expect(test_canvas.get_by_role("button", name="Review Sign-off")).to_have_count(0)


def test_a_saved_loop_and_condition_come_back_when_the_workflow_is_opened(page: Page) -> None:
    connect_back(page)
    page.get_by_role("dialog").get_by_role("button", name="Add loop").click()
    dialog_gone(page)  # and the focus is back where it was before the dialog
    page.get_by_label("Researcher to Coder", exact=True).focus()
    page.keyboard.press("Enter")
    panel = page.get_by_role("complementary", name="Properties")
    panel.get_by_role("combobox", name="Condition", exact=True).click()
    page.get_by_role("option", name="expression").click()
    panel.get_by_label("Expression").fill("round > 1 or 'x' in output")
    expect(page.locator(".fd-edge-label", has_text="if round > 1 or 'x' in out…")).to_be_visible()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved “Research, code, review”")).to_be_visible()
    page.get_by_role("button", name="Templates").click()
    page.get_by_role("button", name="Use Spec, code and tests").click()
    expect(loop_edge(page)).to_have_count(0)
    page.get_by_role("button", name="Open", exact=True).click()
    page.get_by_role("dialog").get_by_text("Research, code, review", exact=True).click()
    expect(loop_edge(page)).to_have_count(1)
    expect(page.locator(".fd-edge-label", has_text="if round > 1 or 'x' in out…")).to_be_visible()
    expect(page.get_by_text("All changes saved")).to_be_visible()  # opened as saved, in format 2: nothing to lose


def test_deleting_the_selected_connection_empties_the_panel(page: Page) -> None:
    page.get_by_label("Coder to Reviewer", exact=True).focus()
    page.keyboard.press("Enter")
    panel = page.get_by_role("complementary", name="Properties")
    expect(panel.get_by_text("Connection: Coder to Reviewer")).to_be_visible()
    page.get_by_label("Coder to Reviewer", exact=True).press("Delete")
    expect(page.get_by_label("Coder to Reviewer", exact=True)).to_have_count(0)
    expect(panel.get_by_text("Select an agent on the canvas to configure it.")).to_be_visible()


def test_a_loop_is_made_and_added_from_the_keyboard(page: Page) -> None:
    page.get_by_role("button", name="output of Reviewer").press("Enter")
    page.get_by_role("button", name="input of Coder").press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("This makes a loop")
    dialog.get_by_label("Max rounds").focus()
    page.keyboard.press("Control+a")
    page.keyboard.type("2")
    dialog.get_by_role("button", name="Add loop").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.get_by_label("Reviewer to Coder (loop: revise · ≤ 2)", exact=True)).to_have_count(1)


def test_a_verdict_a_loop_routes_on_cannot_be_removed(page: Page) -> None:
    connect_back(page)
    page.get_by_role("dialog").get_by_role("button", name="Add loop").click()
    dialog_gone(page)
    node(page, "Reviewer", "Reviewer").click()
    verdicts = page.get_by_role("list", name="Verdicts")
    page.get_by_role("button", name="Remove verdict revise").click()
    expect(page.get_by_role("alert").filter(has_text="revise is used by the loop Reviewer → Coder")).to_contain_text(
        "change or remove that connection first"
    )
    expect(verdicts.get_by_role("listitem")).to_have_text(verdict_items("approve", "revise"))  # nothing removed
    page.locator(".fd-edge-label", has_text="revise · ≤ 3").click()
    panel = page.get_by_role("complementary", name="Properties")
    expect(panel.get_by_role("combobox", name="Verdict", exact=True)).to_have_value("revise")


def test_a_refused_condition_is_kept_with_its_error_when_the_connection_is_selected_again(page: Page) -> None:
    page.get_by_label("Coder to Reviewer", exact=True).focus()
    page.keyboard.press("Enter")
    panel = page.get_by_role("complementary", name="Properties")
    panel.get_by_role("combobox", name="Condition", exact=True).click()
    page.get_by_role("option", name="expression").click()
    panel.get_by_label("Expression").fill("verdict == ")
    expect(panel.get_by_role("alert")).to_contain_text("The expression ends too early")
    panel.get_by_label("Expression").fill("output ===")
    expect(panel.get_by_role("alert")).to_contain_text("does not parse")
    page.get_by_role("application", name="Workflow canvas").click(position={"x": 40, "y": 40})
    expect(panel.get_by_text("Connection: Coder to Reviewer")).to_be_hidden()
    page.get_by_label("Coder to Reviewer", exact=True).focus()
    page.keyboard.press("Enter")
    expect(panel.get_by_role("combobox", name="Condition", exact=True)).to_have_value("expression")
    expect(panel.get_by_label("Expression")).to_have_value("output ===")  # what was typed, not lost
    expect(panel.get_by_role("alert")).to_contain_text("does not parse")
    expect(panel.get_by_text("Not applied")).to_be_visible()
    panel.get_by_label("Expression").fill("output == 'ok'")  # fixed: applied, and the draft forgotten
    expect(page.locator(".fd-edge-label", has_text="if output == 'ok'")).to_be_visible()
    expect(panel.get_by_role("alert")).to_be_hidden()


def test_the_loop_dialog_is_named_keeps_the_focus_and_adds_on_enter(page: Page) -> None:
    connect_back(page)
    dialog = page.get_by_role("dialog", name="This makes a loop")  # named by its title
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("combobox", name="Repeat while")).to_be_focused()  # its first field
    rounds = dialog.get_by_label("Max rounds")
    expect(rounds).to_have_attribute("min", "1")
    expect(rounds).to_have_attribute("max", "20")
    # Tab stays inside the dialog, forwards and backwards.
    for key in ["Tab"] * 8 + ["Shift+Tab"] * 10:
        page.keyboard.press(key)
        assert dialog.evaluate("d => d.contains(document.activeElement)"), f"the focus left the dialog on {key}"
    rounds.fill("21")
    rounds.press("Enter")  # as Add loop: refused, the error linked to the field
    alert = dialog.get_by_role("alert")
    expect(alert).to_contain_text("1 to 20 rounds (the cap)")
    expect(rounds).to_have_attribute("aria-invalid", "true")
    described = rounds.get_attribute("aria-describedby") or ""
    assert alert.get_attribute("id") in described.split()
    label = dialog.locator(".q-field__label", has_text="Max rounds")
    assert label.evaluate("e => e.scrollWidth <= e.clientWidth"), "the Max rounds label is cut"
    rounds.fill("2")
    rounds.press("Enter")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.get_by_label("Reviewer to Coder (loop: revise · ≤ 2)", exact=True)).to_have_count(1)


def test_edge_labels_are_whole_and_loops_out_of_one_agent_have_paths_of_their_own(page: Page) -> None:
    connect_back(page)
    page.get_by_role("dialog").get_by_role("button", name="Add loop").click()
    dialog_gone(page)
    # A loop that fails the run when its rounds run out says so on its label and in its name.
    page.locator(".fd-edge-label", has_text="revise · ≤ 3").click()
    panel = page.get_by_role("complementary", name="Properties")
    panel.get_by_role("combobox", name="When rounds run out").click()
    page.get_by_role("option", name="fail the run").click()
    expect(page.locator(".fd-edge-label", has_text="revise · ≤ 3 · then fail")).to_be_visible()
    expect(page.get_by_label("Reviewer to Coder (loop: revise · ≤ 3 · then fail)", exact=True)).to_have_count(1)
    # A second loop out of the Reviewer, further back: drawn on a path of its own, not over the first.
    settle(page)
    page.get_by_label("output of Reviewer", exact=True).drag_to(page.get_by_label("input of Researcher"))
    page.get_by_role("dialog").get_by_role("combobox", name="Verdict", exact=True).click()
    page.get_by_role("option", name="approve").click()  # a loop on a verdict of its own (the same one is refused)
    page.get_by_role("dialog").get_by_role("button", name="Add loop").click()
    dialog_gone(page)
    paths = page.locator('.fd-edge[data-loop="true"] .react-flow__edge-path')
    expect(paths).to_have_count(2)
    bottoms = paths.evaluate_all("ps => ps.map((p) => Math.round(p.getBoundingClientRect().bottom))")
    assert bottoms[0] != bottoms[1], bottoms
    # A long condition between two agents: its label is not hidden under the cards, its whole text is its title.
    page.get_by_label("Coder to Reviewer", exact=True).focus()
    page.keyboard.press("Enter")
    panel.get_by_role("combobox", name="Condition", exact=True).click()
    page.get_by_role("option", name="expression").click()
    whole = "'def' in output and 'class' in output"
    panel.get_by_label("Expression").fill(whole)
    label = page.locator(".fd-edge-label", has_text="if 'def' in output")
    expect(label).to_have_attribute("title", f"if {whole}")
    expect(page.get_by_label(f"Coder to Reviewer (if {whole})", exact=True)).to_have_count(1)
    box = label.bounding_box()
    for x in (box["x"] + 3, box["x"] + box["width"] / 2, box["x"] + box["width"] - 3):
        on_top = page.evaluate(
            "([x, y]) => document.elementFromPoint(x, y)?.closest('.fd-edge-label') !== null",
            [x, box["y"] + box["height"] / 2],
        )
        assert on_top, f"the label is covered at x={x}"


def test_a_routers_labels_each_sit_on_their_own_edge(page: Page) -> None:
    page.get_by_role("button", name="Templates").click()
    page.get_by_role("button", name="Use Triage").click()
    expect(page.get_by_label("Workflow name")).to_have_value("Triage")
    settle(page)
    targets = {"billing": "Billing specialist", "technical": "Technical specialist", "otherwise": "General support"}
    cards = {name: page.get_by_label(re.compile(f"^{name} \\(")).bounding_box() for name in targets.values()}
    for caption, target in targets.items():
        label = page.locator(".fd-edge-label").filter(has_text=re.compile(f"^{caption}$")).bounding_box()
        middle = label["y"] + label["height"] / 2
        # beside its own agent's input, where its edge turns into it, level with no other specialist
        for name, card in cards.items():
            inside = card["y"] <= middle <= card["y"] + card["height"]
            assert inside == (name == target), f"the {caption} label is level with {name}"
