"""Ctrl+C at any moment of a command (issue 20): while Python is still importing flowdeck, sqlalchemy and pydantic,
while the command works, or after it printed its output. Each ends with "Stopped." and exit code 130, or with the
command's own clean exit; never with a traceback or a silent death by the signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

COMMANDS = {"validate": ["validate", "spec-code-tests"], "doctor": ["doctor"], "runs-show": ["runs", "show", "nope"]}
FRACTIONS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1)  # of the command's own time


@pytest.mark.parametrize("command", list(COMMANDS), ids=list(COMMANDS))
def test_ctrl_c_at_any_early_moment_says_stopped_without_a_traceback(command: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "FLOWDECK_"))}
    env.update(FLOWDECK_HOME=str(tmp_path / "home"), FLOWDECK_MODEL="scripted", LITELLM_LOCAL_MODEL_COST_MAP="True")
    args = [sys.executable, "-m", "flowdeck.cli", *COMMANDS[command]]
    # Python's own start-up (site, .pth files, finding the package) is before any flowdeck code can catch anything.
    python = max(_took([sys.executable, "-c", "pass"], env) for _ in range(3))
    start = time.monotonic()
    first = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    whole = time.monotonic() - start - python
    assert "Traceback" not in first.stderr, first.stderr
    outcomes = []
    for fraction in FRACTIONS:
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(python + whole * fraction)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        outcomes.append((fraction, proc.returncode, out, err))
    for fraction, code, out, err in outcomes:
        seen = f"at {fraction:.0%} of {whole:.2f} s: exit {code}\n{err}"
        assert "Traceback" not in err, seen
        if code == 130:
            assert err.strip().splitlines()[-1] == "Stopped.", seen
        elif code == -signal.SIGINT:  # only before Python itself could run any code: nothing said at all
            assert not out and not err, seen
        else:
            assert code == first.returncode and out == first.stdout, seen  # it had finished: its own clean exit


def _took(args: list[str], env: dict[str, str]) -> float:
    start = time.monotonic()
    subprocess.run(args, env=env, capture_output=True, timeout=60, check=True)
    return time.monotonic() - start
