"""The Log tab: 100,000 lines stay virtualized and searchable; filters by agent, level and text; following new
lines pauses while the user reads further up, and "Jump to latest" resumes it."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from flowdeck.engine.events import (
    Event,
    Handoff,
    Message,
    NodeFinished,
    NodeStarted,
    RunFinished,
    RunStarted,
    Token,
    Usage,
)
from flowdeck.storage import RunLog, open_database

TOKENS_PER_AGENT = 50_000
RUN_ID = "bigrun000001"


def _events() -> list[Event]:
    t0 = time.time() - 60
    base = {"run_id": RUN_ID}
    workflow = {
        "format": 1,
        "name": "Long log",
        "inputs": [{"name": "task", "default": "t"}],
        "nodes": [{"id": "a", "type": "researcher", "label": "Alpha"}, {"id": "b", "type": "coder", "label": "Beta"}],
        "edges": [{"id": "e1", "source": "a", "target": "b"}],
    }
    events: list[Event] = [
        RunStarted(
            **base, seq=1, ts=t0, workflow_name="Long log", workflow=workflow, inputs={"task": "t"}, node_ids=["a", "b"]
        )
    ]

    def add_agent(node: str, needle: str) -> None:
        seq = events[-1].seq
        messages = [Message(role="system", content="s"), Message(role="user", content="t")]
        params = {"temperature": 0.7, "max_tokens": 512, "timeout": 120.0}
        events.append(
            NodeStarted(
                **base,
                seq=seq + 1,
                ts=t0,
                node_id=node,
                execution=1,
                attempt=1,
                model="scripted",
                messages=messages,
                parameters=params,
                received_from=[],
            )
        )
        for i in range(TOKENS_PER_AGENT):
            text = needle if i == TOKENS_PER_AGENT // 2 else f"chunk {i} "
            events.append(
                Token(**base, seq=seq + 2 + i, ts=t0 + i / 1000, node_id=node, execution=1, attempt=1, text=text)
            )
        seq = events[-1].seq
        events.append(
            NodeFinished(
                **base,
                seq=seq + 1,
                ts=t0 + 50,
                node_id=node,
                execution=1,
                output="done",
                usage=Usage(prompt_tokens=2, completion_tokens=TOKENS_PER_AGENT),
                cost=0.0,
                duration=50.0,
                cached=False,
                attempts=1,
            )
        )

    add_agent("a", "needle-in-alpha ")
    events.append(
        Handoff(
            **base,
            seq=events[-1].seq + 1,
            ts=t0 + 50,
            node_id="a",
            execution=1,
            target="b",
            edge_id="e1",
            message="done",
        )
    )
    add_agent("b", "needle-in-beta ")
    events.append(
        RunFinished(
            **base, seq=events[-1].seq + 1, ts=t0 + 60, status="succeeded", duration=60.0, usage=Usage(), cost=0.0
        )
    )
    return events


@pytest.fixture
def long_run(app_home: Path) -> int:
    """A stored run of two agents with 100,000 token events (the app opens the same database)."""
    app_home.mkdir(parents=True, exist_ok=True)
    log = RunLog(open_database(f"sqlite:///{app_home / 'flowdeck.db'}"))
    events = _events()
    for start in range(0, len(events), 10_000):
        log.append(events[start : start + 10_000], owner="test")
    log.close()
    return len(events)


def test_a_log_of_100000_lines_stays_virtualized_and_every_filter_works(
    long_run: int, page: Page, app_url: str
) -> None:
    page.goto(f"{app_url}/runs/{RUN_ID}")
    page.get_by_role("tab", name="Log").click()
    log = page.get_by_role("log", name="Run log")
    expect(log).to_be_visible()
    page.get_by_label("Level").click()
    page.get_by_role("option", name="Everything (with tokens)").click()
    expect(page.get_by_text(f"{long_run} of {long_run} lines")).to_be_visible(timeout=20_000)
    rows = log.locator(".fd-log-line")
    assert rows.count() < 200, f"{rows.count()} rows in the page: the log is not virtualized"
    expect(rows.last).to_contain_text("run succeeded")  # it opens at the end

    search = page.get_by_label("Search the log")
    search.fill("needle-in")
    expect(page.get_by_text(f"2 of {long_run} lines")).to_be_visible()
    page.get_by_label("Agent").click()
    page.get_by_role("option", name="Beta", exact=True).click()
    expect(page.get_by_text(f"1 of {long_run} lines")).to_be_visible()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("needle-in-beta")
    search.fill("")
    expect(page.get_by_text(f"{TOKENS_PER_AGENT + 2} of {long_run} lines")).to_be_visible()  # tokens, start, end

    page.get_by_label("Level").click()
    page.get_by_role("option", name="Info and above").click()
    expect(page.get_by_text(f"2 of {long_run} lines")).to_be_visible()  # Beta's start and finish

    page.get_by_label("Agent").click()
    page.get_by_role("option", name="All agents").click()
    page.get_by_label("Level").click()
    page.get_by_role("option", name="Everything (with tokens)").click()
    expect(page.get_by_text(f"{long_run} of {long_run} lines")).to_be_visible()
    # Reading from the top: the scroll position holds, and "Jump to latest" goes back to the end.
    log.evaluate("el => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); }")
    expect(log.locator(".fd-log-line").first).to_contain_text("run started")
    jump = page.get_by_role("button", name="Jump to latest")
    expect(jump).to_be_visible()
    jump.click()
    expect(log.locator(".fd-log-line").last).to_contain_text("run succeeded")
    expect(jump).to_be_hidden()


@pytest.fixture
def app_model() -> str:
    return "scripted/delay=0.05"


def test_following_new_lines_pauses_while_reading_further_up(page: Page) -> None:
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("button", name="Start run").click()
    page.get_by_role("tab", name="Log").click()
    page.get_by_label("Level").click()
    page.get_by_role("option", name="Everything (with tokens)").click()
    log = page.get_by_role("log", name="Run log")
    expect(log.get_by_text("tokens:").first).to_be_visible(timeout=20_000)
    expect(page.get_by_role("button", name="Jump to latest")).to_be_hidden()  # following the run

    page.wait_for_function("document.querySelector('[aria-label=\"Run log\"]').scrollHeight > 600")
    log.evaluate("el => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); }")
    jump = page.get_by_role("button", name="Jump to latest")
    expect(jump).to_be_visible()
    count = page.get_by_text(re.compile(r"^\d+ of \d+ lines$"))
    seen = count.inner_text()
    expect(count).not_to_have_text(seen, timeout=10_000)  # lines keep arriving...
    assert log.evaluate("el => el.scrollTop") == 0  # ...and the reader stays where they are
    jump.click()
    expect(jump).to_be_hidden()
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=30_000)
    expect(log.locator(".fd-log-line").last).to_contain_text("run succeeded")  # following again, to the end
