"""A run whose process died: its page says where it stopped, and Resume runs the agents it had left."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_editor import node


def interrupt_a_run(home: Path) -> None:
    """A run of the command line killed (SIGKILL) while its second agent, the Coder, streams."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "FLOWDECK_"))}
    env.update(FLOWDECK_HOME=str(home), LITELLM_LOCAL_MODEL_COST_MAP="True", FLOWDECK_SCRIPTED_DIRECT="1")
    command = [sys.executable, "-m", "flowdeck.cli", "run", "research-code-review", "--json"]
    proc = subprocess.Popen(
        [*command, "-m", "scripted/delay=0.1", "--input", "task=reverse a list"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    tokens_of_coder = 0
    for line in proc.stdout:
        tokens_of_coder += '"token"' in line and '"node_id":"coder"' in line
        if tokens_of_coder >= 2:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert tokens_of_coder >= 2, "the run ended before the Coder streamed"


@pytest.fixture
def app_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    interrupt_a_run(home)
    return home  # the app, started on it, marks the run interrupted


def test_resume_on_an_interrupted_runs_page_runs_the_agents_it_had_left(page: Page, app_url: str) -> None:
    page.goto(f"{app_url}/runs?status=interrupted")
    page.get_by_role("link", name=re.compile("^Open run")).click()
    expect(page.get_by_text("Interrupted while Coder was working")).to_be_visible()
    expect(page.get_by_text("Interrupted: 1/3 agents succeeded, 1 interrupted, 1 not started")).to_be_visible()
    stopped = page.url
    stopped_id = stopped.rsplit("/", 1)[1]
    page.get_by_role("button", name="Resume").click()
    expect(page).not_to_have_url(stopped, timeout=20_000)  # the new run's own page (the models may take seconds)
    expect(page.get_by_text(f"Resume of {stopped_id}", exact=True)).to_be_visible()
    expect(page.get_by_text("Succeeded: 2/2 agents · 1 reused")).to_be_visible(timeout=20_000)
    expect(node(page, "Researcher", "Researcher")).to_contain_text("cached")
    expect(node(page, "Reviewer", "Reviewer")).to_contain_text("done")

    page.get_by_role("link", name=f"continues run {stopped_id}").click()
    expect(page).to_have_url(stopped)
    page.get_by_role("link", name="Runs").click()
    rows = page.get_by_role("table").get_by_role("row")
    expect(rows.filter(has_text=f"Resume of {stopped_id}")).to_have_count(1)
