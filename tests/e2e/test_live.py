"""Live runs in the browser: statuses, streamed text, log, handoffs, inspector, reload, cancel, re-runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_editor import import_file, node


@pytest.fixture
def app_model() -> str:
    # Twelve chunks 0.12 s apart: each agent streams for about 1.5 s, long enough to watch it work.
    return "scripted/delay=0.12"


def start_run(page: Page) -> None:
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("button", name="Start run").click()


def open_template(page: Page, title: str) -> None:
    page.get_by_role("button", name="Templates").click()
    page.get_by_role("button", name=f"Use {title}").click()
    expect(page.get_by_label("Workflow name")).to_have_value(title)


def set_model(page: Page, label: str, title: str, model: str) -> None:
    node(page, label, title).click()
    expect(page.get_by_label("Name", exact=True)).to_have_value(label)  # the panel is this agent's, not the last one's
    field = page.get_by_label("Model")
    field.fill(model)
    field.press("Enter")
    expect(node(page, label, title)).to_contain_text(model)


def panel(page: Page) -> object:
    return page.get_by_role("region", name="Run panel")


def log_lines(page: Page, tmp_path: Path) -> list[list[str]]:
    """The log as the page shows it, through its Download button."""
    page.get_by_role("tab", name="Log").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download log").click()
    path = tmp_path / "run.log"
    download.value.save_as(path)
    return [line.split("\t") for line in path.read_text().splitlines()]


def runs_listed(home: Path) -> list[str]:
    env = {**os.environ, "FLOWDECK_HOME": str(home), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    out = subprocess.run(
        [sys.executable, "-m", "flowdeck.cli", "runs"], env=env, capture_output=True, text=True, check=True
    ).stdout
    return out.splitlines()[1:]


def test_fan_out_run_shows_every_agent_queued_running_succeeded(page: Page) -> None:
    open_template(page, "Fan-out: two coders, one reviewer")
    start_run(page)
    reviewer = node(page, "Reviewer", "Reviewer")
    expect(node(page, "Researcher", "Researcher")).to_contain_text("running", timeout=20_000)
    expect(reviewer).to_contain_text("queued")
    expect(page.get_by_text(re.compile(r"^Running: 0/4 agents"))).to_be_visible()
    expect(page.get_by_role("progressbar", name="Run progress")).to_have_attribute("aria-valuenow", "0")
    # Streamed text shows in the Output tab while the agent is still running.
    expect(panel(page).get_by_text("Research notes on")).to_be_visible()
    expect(node(page, "Researcher", "Researcher")).to_contain_text("running")
    expect(node(page, "Coder: simple", "Coder")).to_contain_text("running")
    expect(node(page, "Coder: fast", "Coder")).to_contain_text("running")
    expect(reviewer).to_contain_text("running")
    # Providers report usage when a call ends: while agents stream, the tokens are estimated from their text.
    expect(page.get_by_text(re.compile(r"^Running: \d/4 agents done · [\d.]+ s · ~[1-9]\d* tokens$"))).to_be_visible()
    expect(page.get_by_text("Succeeded: 4/4 agents")).to_be_visible(timeout=20_000)
    expect(page.get_by_role("progressbar", name="Run progress")).to_have_attribute("aria-valuenow", "1")
    expect(page.get_by_text(re.compile(r"Succeeded: 4/4 agents · [\d.]+ s · [1-9]\d* tokens"))).to_be_visible()
    for label, title in (("Researcher", "Researcher"), ("Coder: simple", "Coder"), ("Coder: fast", "Coder")):
        expect(node(page, label, title)).to_contain_text("done")
    expect(reviewer).to_contain_text("done")
    expect(page.locator('.fd-edge[data-handoff="delivered"]')).to_have_count(4)

    page.get_by_role("tab", name="Handoffs").click()
    arrows = page.get_by_role("list", name="Handoffs in time order").get_by_role("button")
    expect(arrows).to_have_count(4)
    names = [arrows.nth(i).get_attribute("aria-label") or "" for i in range(4)]
    assert [n.split(" at ")[0] for n in names[:2]] == [
        "Researcher handed its output to Coder: simple",
        "Researcher handed its output to Coder: fast",
    ]
    assert {n.split(" at ")[0] for n in names[2:]} == {
        "Coder: simple handed its output to Reviewer",
        "Coder: fast handed its output to Reviewer",
    }
    times = [float(re.search(r"\+([\d.]+) s", n).group(1)) for n in names]  # type: ignore[union-attr]
    assert times == sorted(times)

    # Clicking an arrow shows the receiving agent in the inspector, with the prompt it was sent.
    arrows.nth(2).click()
    inspector = panel(page).get_by_role("tabpanel").filter(has_text="Messages sent")
    expect(inspector.get_by_text("Received the output of:")).to_be_visible()
    # The reviewer's own template, rendered with both coders' outputs.
    expect(
        inspector.get_by_text(re.compile(r"Two implementations were written\.\s+## Simple\s+Implementation for"))
    ).to_be_visible()

    page.get_by_role("tab", name="Timeline").click()
    expect(page.get_by_role("img", name=re.compile(r"^Coder: simple: succeeded from"))).to_be_visible()


def test_reloading_mid_run_keeps_every_log_line_exactly_once(page: Page, tmp_path: Path) -> None:
    set_model(page, "Coder", "Coder", "scripted/delay=0.4")  # about 5 s of streaming: a reload lands mid-run
    start_run(page)
    expect(node(page, "Coder", "Coder")).to_contain_text("running", timeout=20_000)
    page.reload()
    expect(node(page, "Coder", "Coder")).to_contain_text("running")
    expect(page.get_by_role("button", name="Cancel run")).to_be_visible()
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=20_000)

    lines = log_lines(page, tmp_path)
    seqs = [int(line[0]) for line in lines]
    assert seqs == list(range(1, len(seqs) + 1)), "every event once, in order, no gap"
    assert lines[-1][-1].startswith("run succeeded")
    assert any(line[3] == "debug" and line[4].startswith("tokens:") for line in lines)
    page.get_by_label("Level").click()
    page.get_by_role("option", name="Everything (with tokens)").click()
    expect(page.get_by_text(f"{len(seqs)} of {len(seqs)} lines")).to_be_visible()


def test_the_output_tab_streams_text_and_shows_it_again_after_a_reload_mid_run(page: Page) -> None:
    set_model(page, "Coder", "Coder", "scripted/delay=0.3")  # about 4 s of streaming
    start_run(page)
    coder = panel(page).get_by_role("region", name="Output of Coder", exact=True)
    expect(coder).to_contain_text("running", timeout=20_000)
    expect(coder).to_contain_text("Implementation for")  # streamed text, while the agent still runs
    expect(panel(page).get_by_role("region", name="Output of Researcher", exact=True)).to_contain_text("done in")
    page.reload()
    coder = panel(page).get_by_role("region", name="Output of Coder", exact=True)
    expect(coder).to_contain_text("running")
    expect(coder).to_contain_text("Implementation for")  # what had streamed before the reload is back
    expect(coder).to_contain_text("done in", timeout=20_000)
    expect(coder.locator("pre code").first).to_contain_text("def solve")  # now markdown
    names = (
        panel(page)
        .get_by_role("region", name=re.compile("^Output of "))
        .evaluate_all("cards => cards.map(card => card.getAttribute('aria-label'))")
    )
    assert names == ["Output of Researcher", "Output of Coder", "Output of Reviewer"]  # in the order they started


def test_a_finished_run_is_shown_again_after_a_reload_and_each_workflow_shows_its_own(page: Page) -> None:
    start_run(page)
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=20_000)
    page.reload()
    # The last run of this workflow, as it ended: statuses on the canvas, outputs, and when it ended.
    expect(panel(page).get_by_text(re.compile(r"^Succeeded: 3/3 agents · .* · ended \d\d:\d\d$"))).to_be_visible()
    for label in ("Researcher", "Coder", "Reviewer"):
        expect(node(page, label, label)).to_contain_text("done")
    expect(panel(page).get_by_text("Research notes on")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel run")).to_be_hidden()
    expect(page.locator('.fd-edge[data-handoff="delivered"]')).to_have_count(2)

    page.get_by_role("button", name="Save").click()  # the workflow that ran, saved with its run

    open_template(page, "Fan-out: two coders, one reviewer")  # never run: no run shown, no statuses
    expect(panel(page).get_by_text("Succeeded: 3/3 agents")).to_be_hidden()
    expect(node(page, "Researcher", "Researcher")).not_to_contain_text("done")
    expect(page.locator('.fd-edge[data-handoff="delivered"]')).to_have_count(0)
    open_template(page, "Research, code, review")  # a new workflow from the template: it has not run
    expect(node(page, "Coder", "Coder")).not_to_contain_text("done")
    page.get_by_role("button", name="Open", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Open Research, code, review").click()
    expect(panel(page).get_by_text("Succeeded: 3/3 agents")).to_be_visible()  # the one that ran: its run comes back
    expect(node(page, "Coder", "Coder")).to_contain_text("done")


def test_double_clicking_start_starts_one_run(page: Page, app_home: Path) -> None:
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("button", name="Start run").dblclick()
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=20_000)
    page.keyboard.press("Control+Enter")
    expect(page.get_by_role("button", name="Start run")).to_be_visible()
    assert len(runs_listed(app_home)) == 1


def test_cancelling_a_run(page: Page) -> None:
    start_run(page)
    expect(node(page, "Researcher", "Researcher")).to_contain_text("running", timeout=20_000)
    page.get_by_role("button", name="Cancel run").click()
    expect(page.get_by_text("Cancelled: 0/3 agents succeeded, 1 cancelled, 2 skipped")).to_be_visible()
    expect(node(page, "Researcher", "Researcher")).to_contain_text("cancelled")
    expect(node(page, "Reviewer", "Reviewer")).to_contain_text("skipped")
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_enabled()


def test_failed_agent_skips_downstream_and_retry_succeeds(page: Page, tmp_path: Path) -> None:
    set_model(page, "Coder", "Coder", "scripted/fault=auth,times=1")
    start_run(page)
    expect(page.get_by_text("Failed: 1/3 agents succeeded, 1 failed, 1 skipped")).to_be_visible(timeout=20_000)
    expect(node(page, "Coder", "Coder")).to_contain_text("failed")
    expect(node(page, "Reviewer", "Reviewer")).to_contain_text("skipped")

    node(page, "Coder", "Coder").click()
    page.get_by_role("tab", name="Inspector").click()
    page.get_by_role("button", name="Retry").click()
    expect(page.get_by_text("Succeeded: 2/2 agents · 1 reused")).to_be_visible(timeout=20_000)  # the retry ran two
    expect(panel(page).get_by_text("Retry of Coder", exact=True)).to_be_visible()
    expect(node(page, "Researcher", "Researcher")).to_contain_text("cached")
    expect(node(page, "Coder", "Coder")).to_contain_text("done")
    texts = [(line[2], line[4]) for line in log_lines(page, tmp_path)]
    assert ("Researcher", "reused its recorded output (cached; the model was not called)") in texts
    assert not any(agent == "Researcher" and text.startswith("started") for agent, text in texts)


def test_run_from_here_and_run_this_node_only(page: Page, tmp_path: Path) -> None:
    start_run(page)
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=20_000)

    node(page, "Coder", "Coder").click()
    page.get_by_role("tab", name="Inspector").click()
    page.get_by_role("button", name="Run from here").click()
    expect(node(page, "Researcher", "Researcher")).to_contain_text("cached", timeout=20_000)
    expect(page.get_by_text("Succeeded: 2/2 agents · 1 reused")).to_be_visible(timeout=20_000)
    expect(panel(page).get_by_text("Run from Coder", exact=True)).to_be_visible()
    expect(node(page, "Coder", "Coder")).not_to_contain_text("cached")
    started = [line[2] for line in log_lines(page, tmp_path) if line[4].startswith("started")]
    assert started == ["Coder", "Reviewer"]

    # Edit the reviewer's prompt, then re-run only the reviewer with the inputs it had.
    node(page, "Reviewer", "Reviewer").click()
    expect(page.get_by_label("Name", exact=True)).to_have_value("Reviewer")
    system = page.get_by_label("System prompt")
    system.fill("Review only the naming.")
    system.press("Tab")
    page.get_by_role("tab", name="Inspector").click()
    page.get_by_role("button", name="Run this node only").click()
    expect(node(page, "Coder", "Coder")).to_contain_text("cached", timeout=20_000)
    expect(page.get_by_text("Succeeded: 1/1 agent · 2 reused")).to_be_visible(timeout=20_000)  # one ran, not three
    expect(panel(page).get_by_text("Only Reviewer", exact=True)).to_be_visible()
    started = [line[2] for line in log_lines(page, tmp_path) if line[4].startswith("started")]
    assert started == ["Reviewer"]
    page.get_by_role("tab", name="Inspector").click()
    expect(panel(page).get_by_text("Review only the naming.")).to_be_visible()

    # The Runs list says what each run ran.
    page.get_by_role("button", name="Runs").click()
    rows = page.get_by_role("table").get_by_role("row")
    expect(rows.filter(has_text="Only Reviewer")).to_have_count(1)
    expect(rows.filter(has_text="Run from Coder")).to_have_count(1)
    expect(rows.filter(has_text="All agents")).to_have_count(1)


def test_output_cards_render_markdown_and_copy_the_text(page: Page) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    start_run(page)
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=30_000)
    coder = panel(page).get_by_role("region", name="Output of Coder")
    expect(coder).to_contain_text("done in")
    expect(coder.locator("pre code").first).to_contain_text("def solve")  # fenced code, as markdown
    coder.get_by_role("button", name="Copy the output of Coder").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("Implementation for:") and "```" in copied  # the text itself, not the HTML


def test_the_live_screen_follows_a_run_started_from_the_command_line(page: Page, app_url: str, app_home: Path) -> None:
    page.goto(app_url + "/live")
    expect(page.get_by_text("No runs yet. The next run will appear here by itself.")).to_be_visible()
    env = {**os.environ, "FLOWDECK_HOME": str(app_home), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    command = ["run", "research-code-review", "--model", "scripted/delay=0.15", "--input", "task=Count the vowels"]
    cli = subprocess.Popen(
        [sys.executable, "-m", "flowdeck.cli", *command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        expect(page.get_by_text("started by another process")).to_be_visible(timeout=20_000)
        expect(page.get_by_role("main").get_by_text("Live", exact=True)).to_be_visible()
        expect(page.get_by_text(re.compile(r"^Running: "))).to_be_visible()  # followed while it goes
        expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Finished", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="Cancel run")).to_be_hidden()  # nothing left to cancel
    finally:
        _, err = cli.communicate(timeout=60)
    assert cli.returncode == 0, err.decode()


def test_a_run_of_the_command_line_is_cancelled_from_the_page(page: Page, app_url: str, app_home: Path) -> None:
    page.goto(app_url + "/live")
    env = {**os.environ, "FLOWDECK_HOME": str(app_home), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    command = ["run", "research-code-review", "--model", "scripted/delay=0.5", "--input", "task=Count the vowels"]
    cli = subprocess.Popen(
        [sys.executable, "-m", "flowdeck.cli", *command], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        expect(page.get_by_text("started by another process")).to_be_visible(timeout=20_000)
        expect(page.get_by_text(re.compile(r"^Running: "))).to_be_visible()
        page.get_by_role("button", name="Cancel run").click()
        expect(page.get_by_text("Cancelling the run in the process that runs it…")).to_be_visible()
        expect(page.get_by_text(re.compile(r"^Cancelled"))).to_be_visible(timeout=30_000)
    finally:
        _, err = cli.communicate(timeout=60)
    assert cli.returncode != 0 and "cancelled" in err.decode().lower(), err.decode()


def test_spinners_stop_while_many_agents_run_at_once(page: Page, tmp_path: Path) -> None:
    many = tmp_path / "many.json"
    nodes = [
        {"id": f"a{i}", "type": "custom", "label": f"Agent {i}", "position": {"x": i % 6 * 260, "y": i // 6 * 120}}
        for i in range(24)
    ]
    many.write_text(json.dumps({"format": 1, "name": "Many", "nodes": nodes, "edges": []}))
    import_file(page, many)
    expect(page.get_by_label("Workflow name")).to_have_value("Many")
    canvas = page.get_by_role("application", name="Workflow canvas")
    start_run(page)
    expect(page.get_by_text(re.compile(r"^Running: "))).to_be_visible(timeout=20_000)
    expect(canvas).to_have_attribute("data-spinners", "off")  # 24 running: the rings stay, they do not spin
    expect(page.get_by_text("Succeeded: 24/24 agents")).to_be_visible(timeout=30_000)
    expect(canvas).to_have_attribute("data-spinners", "on")
    # Cards off screen draw their markdown when scrolled to (only cards near the screen are drawn as they finish).
    last = panel(page).get_by_role("region", name="Output of Agent 23", exact=True)
    expect(last).to_contain_text("done in")
    last.scroll_into_view_if_needed()
    expect(last.locator(".fd-output")).not_to_be_empty()


def test_a_page_open_while_another_runs_shows_its_own_run_styled(page: Page, app_url: str) -> None:
    # The run panel is built when a run is first shown, after its page has loaded; its style sheets must
    # reach every page, not only the first to show a run.
    other = page.context.new_page()
    other.goto(app_url)
    start_run(other)
    expect(other.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=30_000)
    other.close()
    start_run(page)
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=30_000)
    expect(panel(page).get_by_role("region", name="Output of Coder")).to_have_css("border-top-style", "solid")


def test_retry_run_from_here_and_run_this_node_only_can_be_cancelled(page: Page, tmp_path: Path) -> None:
    set_model(page, "Coder", "Coder", "scripted/delay=0.3")  # about 4 s of streaming: time to cancel it
    start_run(page)
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=20_000)
    cancel = page.get_by_role("button", name="Cancel run")
    run = page.get_by_role("button", name="Run", exact=True)
    for agent, action in (("Coder", "Run this node only"), ("Coder", "Retry"), ("Researcher", "Run from here")):
        node(page, agent, agent).click()
        page.get_by_role("tab", name="Inspector").click()
        page.get_by_role("button", name=action).click()
        expect(node(page, agent, agent)).to_contain_text("running", timeout=20_000)
        expect(run).to_be_disabled()
        cancel.click()
        expect(page.get_by_text(re.compile(r"^Cancelled: "))).to_be_visible()
        expect(node(page, agent, agent)).to_contain_text("cancelled")
        expect(cancel).to_be_hidden()
        expect(run).to_be_enabled()
    log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in log, log


def test_the_elapsed_time_goes_on_while_an_agent_thinks(page: Page) -> None:
    set_model(page, "Researcher", "Researcher", "scripted/latency=4")  # 4 s before its first word: no event at all
    start_run(page)
    progress = panel(page).get_by_text(re.compile(r"^Running: 0/3 agents done · "))
    expect(progress).to_be_visible(timeout=20_000)
    expect(progress).to_contain_text(re.compile(r" · [2-9]\.\d s · "), timeout=10_000)


def test_a_cancelled_agents_streamed_text_counts_in_the_tokens(page: Page) -> None:
    set_model(page, "Coder", "Coder", "scripted/delay=0.3")  # about 4 s of streaming: time to cancel it
    start_run(page)
    expect(node(page, "Coder", "Coder")).to_contain_text("running", timeout=20_000)
    page.wait_for_timeout(1000)  # some of its text streamed
    page.get_by_role("button", name="Cancel run").click()
    ended = panel(page).get_by_text(re.compile(r"^Cancelled: "))
    expect(ended).to_be_visible()
    expect(ended).to_contain_text(re.compile(r" · ~\d+ tokens"))  # estimated, as while it streamed
    expect(page.get_by_text("Cancelling the run…")).to_be_hidden(timeout=3000)  # gone with the run, not 5 s on
    bar = page.get_by_role("progressbar", name="Run progress")
    assert float(bar.get_attribute("aria-valuenow") or 0) < float(bar.get_attribute("aria-valuemax") or 1)


def test_agents_outside_a_partial_run_say_so_from_its_start(page: Page) -> None:
    set_model(page, "Coder", "Coder", "scripted/delay=0.8")  # about 10 s of streaming
    start_run(page)
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=20_000)
    node(page, "Coder", "Coder").click()
    page.get_by_role("tab", name="Inspector").click()
    page.get_by_role("button", name="Run this node only").click()
    expect(node(page, "Coder", "Coder")).to_contain_text("running", timeout=20_000)
    # While the Coder still writes, not once the run ends (it said "queued" until then).
    expect(node(page, "Reviewer", "Reviewer")).to_contain_text("not part of this partial run", timeout=2000)
    expect(node(page, "Coder", "Coder")).to_contain_text("running")
    expect(page.get_by_text("Succeeded: 1/1 agent · 1 reused")).to_be_visible(timeout=30_000)


def test_the_live_screen_says_the_latest_run_waits_for_approval(page: Page, app_url: str, app_home: Path) -> None:
    env = {**os.environ, "FLOWDECK_HOME": str(app_home), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    command = ["run", "review-loop", "--model", "scripted/verdicts=approve", "--no-input"]
    done = subprocess.run([sys.executable, "-m", "flowdeck.cli", *command], env=env, capture_output=True, timeout=120)
    assert done.returncode == 3, done.stderr.decode()  # it waits for the sign-off
    page.goto(app_url + "/live")
    expect(page.get_by_text("Showing the latest run: it waits for a person's approval")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("No run is going")).to_have_count(0)
