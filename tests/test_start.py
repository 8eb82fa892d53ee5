"""`flowdeck` with no arguments: the app starts on 127.0.0.1 and the user's browser is opened on the editor."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.appserver import wait_for_port

DEFAULT_PORT = 8765


def test_flowdeck_without_arguments_opens_the_browser_on_the_editor(tmp_path: Path) -> None:
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser"  # stands in for the user's browser: Python's webbrowser honours $BROWSER
    browser.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    browser.chmod(browser.stat().st_mode | stat.S_IXUSR)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "FLOWDECK_"))}
    env.update(
        FLOWDECK_HOME=str(tmp_path / "home"),
        FLOWDECK_MODEL="scripted",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        BROWSER=str(browser),
    )
    with (tmp_path / "app.log").open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "flowdeck.cli"], env=env, stdout=log, stderr=log)
        try:
            wait_for_port(DEFAULT_PORT, proc)
            deadline = time.monotonic() + 20
            while not opened.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            url = opened.read_text().strip()
            assert url.startswith(f"http://127.0.0.1:{DEFAULT_PORT}"), url
            page = httpx.get(url, timeout=10)
            assert page.status_code == 200 and "flowdeck" in page.text
        finally:
            proc.terminate()
            proc.wait(10)
    assert "flowdeck on http://127.0.0.1:8765" in (tmp_path / "app.log").read_text()
