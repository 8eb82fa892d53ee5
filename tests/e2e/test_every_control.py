"""Every button, menu item, tab and shortcut the app offers has a test that uses it: this test walks the pages and
dialogs as a person would, lists each control by its accessible name, and fails for one that no test names. A
control nobody clicked in a test is where bugs hide."""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.test_approvals import approve_sign_off
from tests.e2e.test_editor import import_file

TESTS = Path(__file__).resolve().parents[1]

# What the page lists: the accessible name of every visible control (an icon's ligature is not part of it).
_CONTROLS = """() => [...document.querySelectorAll('button, [role=button], [role=menuitem], [role=tab]')]
  .filter((e) => e.getClientRects().length && !e.closest('[aria-hidden=true]'))
  .map((e) => {
    let name = e.getAttribute('aria-label');
    if (!name) {
      const copy = e.cloneNode(true);
      copy.querySelectorAll('.material-icons, .q-icon, [aria-hidden=true]').forEach((i) => i.remove());
      name = copy.textContent;
    }
    return (e.getAttribute('role') || 'button') + '|' + (name || '').trim().replace(/\\s+/g, ' ');
  })"""

# Controls made one per agent, workflow or run: a test of one of them covers the family (the part quoted here).
_FAMILIES = [
    re.compile(r"^Add .+"),
    re.compile(r"^(input|output) of .+"),
    re.compile(r"^(Use|Duplicate|Delete|Open run|Select run|Open) .+"),
    re.compile(r"^(Output of|Copy the output of|Insert) .+"),
    re.compile(r"^Save .+ (key|address)$"),
    re.compile(r"^.+ handed its output to .+"),
    re.compile(r"^.+ sent the work back to .+"),
    re.compile(r"^Move input .+ up$"),
    re.compile(r"^Move input .+ down$"),
    re.compile(r"^Remove input .+"),
    re.compile(r"^Remove verdict .+"),
    re.compile(r"^Remove domain .+"),  # Workflow settings' Allowed domains
    re.compile(r"^Review .+"),  # on a card waiting for approval
]
# React Flow's own controls, tested as a group by the canvas tests' zoom and fit checks; Quasar's expansion toggles.
_LIBRARY = {"Zoom In", "Zoom Out", "Fit View", "Toggle Interactivity"}
_LIBRARY_NAMES = re.compile(r'^(Collapse|Expand) "')
# The shortcuts of components/shortcuts.js, as Playwright names the keys.
SHORTCUTS = [
    "Control+s",
    "Control+Enter",
    "Control+z",
    "Control+Shift+z",
    "Control+y",
    "Control+c",
    "Control+v",
    "Delete",
]


def _with_a_handler(folder: Path) -> Path:
    """A writer with a side effect and a compensation handler from elsewhere (manual steps: no network)."""
    data = {
        "format": 2,
        "name": "with a handler",
        "inputs": [{"name": "task", "default": "write"}],
        "handlers": [{"id": "tell", "match": {"tool": "write_file"}, "action": {"kind": "manual", "steps": "Undo"}}],
        "nodes": [{"id": "w", "type": "custom", "label": "Writer", "config": {
            "system_prompt": 'CALL write_file {"path": "a.md", "content": "x"}', "tools": ["write_file"]}}],
        "edges": [],
    }  # fmt: skip
    path = folder / "handler.json"
    path.write_text(json.dumps(data))
    return path


def test_every_control_and_shortcut_is_used_by_a_test(page: Page, app_url: str, tmp_path: Path) -> None:
    found: set[str] = set()

    def look() -> None:
        found.update(page.evaluate(_CONTROLS))

    look()
    page.get_by_role("button", name="More workflow actions").click()
    look()
    page.keyboard.press("Escape")
    for opener in ("Templates", "Open", "Run", "Workflow settings", "Keyboard shortcuts"):
        page.get_by_role("button", name=opener, exact=True).click()
        expect(page.get_by_role("dialog")).to_be_visible()
        look()
        page.keyboard.press("Escape")
        expect(page.get_by_role("dialog")).to_be_hidden()
    for item in ("API keys…", "Import from file…"):
        page.get_by_role("button", name="More workflow actions").click()
        page.get_by_role("menuitem", name=item).click()
        expect(page.get_by_role("dialog")).to_be_visible()
        look()
        page.keyboard.press("Escape")
        expect(page.get_by_role("dialog")).to_be_hidden()

    # An agent's verdicts (the properties panel), and the dialog a connection back to an earlier agent opens.
    page.get_by_label("Reviewer (Reviewer)", exact=True).click()
    look()
    page.get_by_label("output of Reviewer", exact=True).drag_to(page.get_by_label("input of Coder", exact=True))
    expect(page.get_by_role("dialog")).to_contain_text("This makes a loop")
    look()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_be_hidden()

    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=30_000)
    page.get_by_label("Coder (Coder)", exact=True).click()
    for tab in ("Output", "Log", "Handoffs", "Timeline", "Inspector", "Artifacts", "Side effects"):
        page.get_by_role("tab", name=tab).click()
        look()
    # A run with rounds (a loop) has controls of its own: its handoffs, the inspector's, and (below) its replay's.
    page.get_by_role("button", name="Templates").click()
    page.get_by_role("button", name="Use Review loop").click()
    page.get_by_role("button", name="Run", exact=True).click()
    model = page.get_by_label("Model for every agent")
    model.fill("scripted/verdicts=revise,approve")
    model.press("Tab")
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Waiting for approval").first).to_be_visible(timeout=30_000)
    look()  # the sign-off's Review buttons, on its card and in the run panel
    approve_sign_off(page)
    expect(page.get_by_text("Succeeded: 4/4 agents")).to_be_visible(timeout=30_000)
    page.get_by_label("Reviewer (Reviewer)", exact=True).click()
    for tab in ("Handoffs", "Inspector"):
        page.get_by_role("tab", name=tab).click()
        look()
    page.get_by_role("button", name="Runs", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Runs")
    look()
    page.get_by_role("link", name=re.compile("^Open run ")).first.click()
    page.get_by_role("application", name="Workflow canvas").wait_for()
    look()
    page.get_by_role("link", name="Live").click()
    look()
    # A workflow with a handler from elsewhere (the trust dialog), and its run's Compensate and confirmation.
    page.goto(app_url + "/")
    page.get_by_role("application", name="Workflow canvas").wait_for()
    import_file(page, _with_a_handler(tmp_path))
    expect(page.get_by_role("dialog")).to_contain_text("compensation handlers from elsewhere")
    look()
    page.get_by_role("dialog").get_by_role("button", name="Not now").click()
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Succeeded: 1/1 agent ")).to_be_visible(timeout=30_000)
    page.get_by_role("tab", name="Side effects").click()
    look()
    page.get_by_role("button", name="Compensate").click()
    expect(page.get_by_role("dialog")).to_contain_text("Compensate this run?")
    look()
    page.keyboard.press("Escape")

    text = "\n".join(path.read_text() for path in TESTS.rglob("test_*.py") if path.name != Path(__file__).name)
    # What tests name controls by: their string literals, with an f-string's {placeholders} as any text.
    literals = {
        re.sub(r"\{[^}]*\}", "x", s) for s in re.findall(r'"([^"\n]+)"', text) + re.findall(r"'([^'\n]+)'", text)
    }
    untested = []
    for entry in sorted(found):
        role, _, name = entry.partition("|")
        if not name or name in _LIBRARY or _LIBRARY_NAMES.match(name) or name in literals:
            continue
        family = next((pattern for pattern in _FAMILIES if pattern.match(name)), None)
        # A family is covered by a test of any of its members, or by a test that matches names by a pattern.
        if family is not None and any(family.match(s.lstrip("^")) for s in literals):
            continue
        untested.append(f"{role} {name!r}")
    missing_keys = [key for key in SHORTCUTS if f'"{key}"' not in text]
    assert not untested, f"controls no test uses (by their accessible name): {untested}"
    assert not missing_keys, f"shortcuts no test presses: {missing_keys}"
    assert len(found) > 40, "the walk found too few controls; is it still reading the pages?"
