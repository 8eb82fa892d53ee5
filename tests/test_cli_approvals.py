"""Approvals on the command line: a run that waits says how to decide it, and `flowdeck runs approve` decides and
continues it from its log, in another process than the one that started it."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from flowdeck.cli.main import main
from flowdeck.engine.events import event_from_dict
from flowdeck.engine.state import fold

SCRIPT = "scripted/verdicts=approve"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def waiting_run() -> str:
    code, out, err = invoke("run", "review-loop", "--no-input", "--json", "-m", SCRIPT)
    assert code == 3, err
    events = [event_from_dict(json.loads(line)) for line in out.splitlines()]
    assert events[-1].type == "run_waiting"
    return events[0].run_id


def test_no_input_stops_at_the_approval_naming_the_node_and_the_command(home: Path) -> None:
    code, _, err = invoke("run", "review-loop", "--no-input", "-m", SCRIPT)
    assert code == 3
    run_id = invoke("runs")[1].splitlines()[1].split()[0]
    assert f"error: run {run_id} waits for approval at 'Sign-off' (node approval)" in err
    assert f"flowdeck runs approve {run_id} --node approval" in err
    assert "… Sign-off    round 1/3 · Waiting for approval" in err
    assert "waiting" in invoke("runs")[1].splitlines()[1]


def test_runs_approve_finishes_the_run_without_running_any_agent_again(home: Path) -> None:
    run_id = waiting_run()
    code, out, err = invoke("runs", "approve", run_id, "--json")
    assert code == 0, err
    new = [event_from_dict(json.loads(line)) for line in out.splitlines()]
    assert [e.type for e in new] == ["approval_decided", "node_finished", "run_finished"]
    assert not [e for e in new if e.type == "node_started"]
    code, out, _ = invoke("runs", "show", run_id)
    assert code == 0 and f"run {run_id}  Review loop  succeeded" in out
    assert "approval_decided" in out and "approved by cli" in out


def test_a_rejection_with_a_note_sends_the_work_back_and_the_run_waits_again(home: Path) -> None:
    run_id = waiting_run()
    code, out, err = invoke("runs", "approve", run_id, "--reject", "--note", "name it is_palindrome", "--json")
    assert code == 3, err
    assert "waits for approval at 'Sign-off'" in err
    new = [event_from_dict(json.loads(line)) for line in out.splitlines()]
    coder = next(e for e in new if e.type == "node_started" and e.node_id == "coder")
    assert coder.execution == 2 and "name it is_palindrome" in coder.messages[-1].content  # type: ignore[union-attr]
    code, _, err = invoke("runs", "approve", run_id, "--node", "approval", "--text", "def is_palindrome(s): ...")
    assert code == 0, err
    code, out, _ = invoke("runs", "show", run_id, "--json")
    state = fold(event_from_dict(json.loads(line)) for line in out.splitlines())
    assert state.status == "succeeded" and state.gaps == 0
    assert state.outputs()["approval"] == "def is_palindrome(s): ..."


def test_a_rejection_with_no_path_for_it_ends_the_run_rejected(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "sign.json"
    nodes = [{"id": "w", "type": "coder"}, {"id": "ok", "type": "approval"}]
    path.write_text(
        json.dumps({"format": 2, "name": "sign", "nodes": nodes, "edges": [{"id": "e", "source": "w", "target": "ok"}]})
    )
    assert invoke("run", str(path), "--no-input", "-m", "scripted")[0] == 3
    run_id = invoke("runs")[1].splitlines()[1].split()[0]
    code, _, err = invoke("runs", "approve", run_id, "--reject", "--note", "not now")
    assert code == 1 and f"run {run_id} rejected" in err
    assert "rejected by cli: not now" in err


def test_deciding_a_run_that_does_not_wait_is_refused_clearly(home: Path) -> None:
    run_id = waiting_run()
    assert invoke("runs", "approve", run_id)[0] == 0
    code, _, err = invoke("runs", "approve", run_id)
    assert code == 2 and f"error: run {run_id} is succeeded, not waiting for approval" in err
    code, _, err = invoke("runs", "approve", "nope")
    assert code == 2 and "no run with id 'nope'" in err


def test_a_decision_with_a_bad_field_names_it(home: Path) -> None:
    run_id = waiting_run()
    code, _, err = invoke("runs", "approve", run_id, "--reject", "--text", "x")
    assert code == 2 and "text: an edited text goes with approve; to reject, give a note instead" in err
    assert "waiting" in invoke("runs")[1].splitlines()[1]  # nothing was decided


def test_run_asks_on_a_terminal_and_a_rejection_note_reaches_the_coder(home: Path) -> None:
    """`flowdeck run` on a terminal (a pseudo-terminal here): it shows the text, asks, and goes on with the answer."""
    import os
    import pty
    import subprocess
    import sys
    import time

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["FLOWDECK_SCRIPTED_DIRECT"] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowdeck.cli", "run", "review-loop", "-m", SCRIPT],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    os.close(slave)
    try:
        time.sleep(0.5)
        # Typed ahead: the prompts read them in turn (reject, its note; then approve the second round).
        os.write(master, b"reject\nname it is_palindrome\napprove\n")
        out, err = proc.communicate(timeout=120)
    finally:
        os.close(master)
    assert proc.returncode == 0, err
    assert "── Sign-off: Ship this code? ──" in err and "def solve(value: str) -> bool:" in err
    assert "Approve, reject or edit then approve?" in err
    assert "Sign-off    round 2/3 · approved by cli" in err
    run_id = invoke("runs")[1].splitlines()[1].split()[0]
    code, shown, _ = invoke("runs", "show", run_id, "--json")
    assert code == 0
    events = [event_from_dict(json.loads(line)) for line in shown.splitlines()]
    coder = [e for e in events if e.type == "node_started" and e.node_id == "coder"]
    assert coder[-1].execution == 2 and "name it is_palindrome" in coder[-1].messages[-1].content  # type: ignore[union-attr]
    assert "=== Sign-off ===" in out
