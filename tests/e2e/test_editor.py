from __future__ import annotations

from playwright.sync_api import Page, expect


def node(page: Page, label: str, title: str) -> object:
    return page.get_by_label(f"{label} ({title})", exact=True)


def canvas(page: Page) -> object:
    return page.get_by_role("application", name="Workflow canvas")


def test_editor_opens_on_the_builtin_template(page: Page) -> None:
    expect(page.get_by_label("Workflow name")).to_have_value("Research, code, review")
    for label in ("Researcher", "Coder", "Reviewer"):
        expect(node(page, label, label)).to_be_visible()
    expect(page.get_by_text("Select an agent on the canvas to configure it.")).to_be_visible()


def test_each_agent_type_can_be_dragged_onto_the_canvas(page: Page) -> None:
    drops = [("Researcher", "Researcher 2", 250), ("Coder", "Coder 2", 350), ("Reviewer", "Reviewer 2", 450)]
    drops.append(("Custom agent", "Custom agent", 550))
    for title, label, y in drops:
        page.get_by_role("button", name=f"Add {title}").drag_to(canvas(page), target_position={"x": 300, "y": y})
        expect(node(page, label, title)).to_be_visible()
    expect(page.get_by_text("Unsaved changes")).to_be_visible()


def settle(page: Page) -> None:
    """Let the canvas finish a view change it scheduled for the next frames (centering a new agent)."""
    page.wait_for_function("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))")


def test_connecting_agents_and_refusing_a_loop(page: Page) -> None:
    page.get_by_role("button", name="Add Reviewer").click()
    expect(node(page, "Reviewer 2", "Reviewer")).to_be_in_viewport()
    settle(page)
    page.get_by_label("output of Coder").drag_to(page.get_by_label("input of Reviewer 2"))
    expect(page.get_by_label("Coder to Reviewer 2")).to_have_count(1)
    page.get_by_label("output of Reviewer", exact=True).drag_to(page.get_by_label("input of Researcher"))
    expect(page.get_by_text("would make a loop")).to_be_visible()
    expect(page.get_by_label("Reviewer to Researcher")).to_have_count(0)


def test_configuration_persists_after_save_and_reload(page: Page) -> None:
    node(page, "Coder", "Coder").click()
    name = page.get_by_label("Name", exact=True)
    name.fill("Senior coder")
    temperature = page.get_by_role("spinbutton", name="Temperature")
    temperature.fill("1.3")
    temperature.press("Tab")
    system = page.get_by_label("System prompt")
    system.fill("You write Rust only.")
    system.press("Tab")
    expect(node(page, "Senior coder", "Coder")).to_be_visible()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved “Research, code, review”")).to_be_visible()
    expect(page.get_by_text("Unsaved changes")).to_be_hidden()

    page.reload()
    node(page, "Senior coder", "Coder").click()
    expect(page.get_by_role("spinbutton", name="Temperature")).to_have_value("1.30")
    expect(page.get_by_label("System prompt")).to_have_value("You write Rust only.")


def test_invalid_value_is_shown_inline_and_not_applied(page: Page) -> None:
    node(page, "Coder", "Coder").click()
    retries = page.get_by_role("spinbutton", name="Retries")
    retries.fill("99")
    retries.press("Tab")
    expect(page.get_by_text("less than or equal to 10")).to_be_visible()
    expect(page.get_by_text("Unsaved changes")).to_be_visible()  # the template itself was never saved


def test_undo_redo_and_delete(page: Page) -> None:
    page.get_by_role("button", name="Add Coder").click()
    added = node(page, "Coder 2", "Coder")
    expect(added).to_be_visible()
    page.keyboard.press("Control+z")
    expect(added).to_have_count(0)
    page.keyboard.press("Control+Shift+z")
    expect(added).to_be_visible()
    added.click()
    page.keyboard.press("Delete")
    expect(added).to_have_count(0)
    page.get_by_role("button", name="Undo").click()
    expect(added).to_be_visible()
