from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowdeck.cli import main


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_run_template_shows_progress_then_final_output(home: Path) -> None:
    code, out, err = invoke("run", "research-code-review", "--input", "task=Reverse a list", "--model", "scripted")
    assert code == 0, err
    assert "✓ Researcher" in err and "✓ Coder" in err and "✓ Reviewer" in err
    assert "succeeded" in err
    assert "=== Reviewer ===" in out and "Reverse a list" in out


def test_run_json_prints_the_event_stream(home: Path) -> None:
    code, out, _ = invoke("run", "fan-out-review", "--json", "-m", "scripted")
    events = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_finished"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert sum(e["type"] == "handoff" for e in events) == 4


def test_runs_lists_and_shows_past_runs(home: Path) -> None:
    invoke("run", "research-code-review", "-m", "scripted")
    code, out, _ = invoke("runs")
    assert code == 0 and "Research, code, review" in out and "succeeded" in out
    run_id = out.splitlines()[1].split()[0]
    code, out, _ = invoke("runs", "show", run_id[:6])
    assert code == 0 and "node_finished" in out and "=== reviewer ===" in out


def test_failed_node_exits_nonzero_with_the_reason(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text(
        json.dumps(
            {
                "format": 1,
                "name": "broken",
                "nodes": [{"id": "a", "type": "coder", "config": {"model": "scripted/fault=auth"}}],
            }
        )
    )
    code, _, err = invoke("run", str(path))
    assert code == 1
    assert "API key" in err


def test_invalid_workflow_is_a_clear_error_and_nothing_is_stored(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"format": 1, "name": "x", "nodes": [{"id": "a", "type": "wizard"}], "code": "rm -rf /"}')
    code, _, err = invoke("run", str(path), "-m", "scripted")
    assert code == 2
    assert "code: Extra inputs are not permitted; remove this field" in err
    _, out, _ = invoke("runs")
    assert "no runs yet" in out


def test_validate_and_schema(home: Path) -> None:
    code, out, _ = invoke("validate", "spec-code-tests")
    assert code == 0 and "ok: Spec, code and tests (4 agents, 5 connections)" in out
    code, out, _ = invoke("schema")
    assert json.loads(out)["title"] == "Workflow"


def test_serving_beyond_loopback_is_refused_until_a_password_is_set(home: Path) -> None:
    code, _, err = invoke("serve", "--host", "0.0.0.0")
    assert code == 2
    assert "no password is set" in err and "flowdeck auth set-password" in err


def invoke_with_input(text: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=text, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_auth_commands_set_passwords_and_tokens(home: Path) -> None:
    assert "logins: off" in invoke("auth", "status")[1]
    code, _, err = invoke_with_input("short\n", "auth", "set-password", "--stdin")
    assert code == 2 and "use at least 10" in err
    code, out, _ = invoke_with_input("a fine long password\n", "auth", "set-password", "--viewer", "--stdin")
    assert code == 0 and "viewer password set" in out
    code, token, _ = invoke("auth", "token", "create", "ci")
    assert code == 0 and token.startswith("fdk_")
    assert invoke("auth", "token", "create", "ci")[0] == 2  # names are unique
    listed = invoke("auth", "token", "list")[1]
    assert "ci" in listed and token.strip() not in listed
    status = invoke("auth", "status")[1]
    assert "viewer password: set (auth.json)" in status and "API tokens: 1" in status
    assert invoke("auth", "token", "revoke", "ci")[0] == 0
    assert invoke("auth", "token", "revoke", "ci")[0] == 2


def test_keys_commands_never_print_a_key(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    code, out, _ = invoke_with_input("gsk-canary-7788\n", "keys", "set", "GROQ_API_KEY", "--stdin")
    assert code == 0 and "…7788" in out and "canary" not in out
    listed = invoke("keys", "list")[1]
    assert "GROQ_API_KEY" in listed and "…7788" in listed and "canary" not in listed
    code, _, err = invoke_with_input("x\n", "keys", "set", "NOT_A_KEY", "--stdin")
    assert code == 2 and "not a provider key" in err
    assert "removed" in invoke("keys", "remove", "GROQ_API_KEY")[1]


def test_keys_commands_save_a_servers_address_and_its_own_key(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    code, _, err = invoke_with_input("vllm-canary-5150\n", "keys", "set", "OPENAI_COMPATIBLE_SERVER_KEY", "--stdin")
    assert code == 2 and "address (OPENAI_API_BASE) first" in err
    code, out, _ = invoke_with_input("http://127.0.0.1:8000/v1\n", "keys", "set", "openai_api_base", "--stdin")
    assert code == 0 and "OPENAI_API_BASE saved (http://127.0.0.1:8000/v1)" in out
    code, _, err = invoke_with_input("127.0.0.1:8000\n", "keys", "set", "OLLAMA_API_BASE", "--stdin")
    assert code == 2 and "http:// or https://" in err
    code, out, _ = invoke_with_input("vllm-canary-5150\n", "keys", "set", "OPENAI_COMPATIBLE_SERVER_KEY", "--stdin")
    assert code == 0 and "…5150" in out and "canary" not in out
    listed = invoke("keys", "list")[1]
    assert "http://127.0.0.1:8000/v1  (its key …5150)" in listed and "canary" not in listed
    assert "removed" in invoke("keys", "remove", "OPENAI_API_BASE")[1]
    listed = invoke("keys", "list")[1]
    assert "…5150" not in listed and "127.0.0.1:8000" not in listed  # the address took its key with it


def test_runs_lists_what_each_run_ran(home: Path) -> None:
    invoke("run", "research-code-review", "-m", "scripted/fault=auth")
    failed = invoke("runs")[1].splitlines()[1].split()[0]
    assert invoke("runs", "resume", failed, "-m", "scripted")[0] == 0
    lines = invoke("runs")[1].splitlines()
    assert "WHAT RAN" in lines[0]
    assert f"Resume of {failed}" in lines[1]
    assert "all agents" in lines[2]


def test_runs_show_accounts_for_every_event(home: Path) -> None:
    invoke("run", "research-code-review", "-m", "scripted/chunks=5")
    run_id = invoke("runs")[1].splitlines()[1].split()[0]
    out = invoke("runs", "show", run_id)[1]
    listing = out.split("\n\n")[0].splitlines()[1:-1]  # the events, between the run's line and a note
    shown = [line.split()[0] for line in listing]
    seqs: list[int] = []
    for item in shown:  # "7", or "3-6" for token events summed up on one line
        first, _, last = item.partition("-")
        seqs.extend(range(int(first), int(last or first) + 1))
    assert seqs == list(range(1, len(seqs) + 1)), "no seq left out without a word"
    assert "token event" in out and "--tokens lists each" in out
    everything = invoke("runs", "show", run_id, "--tokens")[1]
    assert "token event" not in everything and " token " in everything


def test_runs_estimates_the_tokens_of_a_run_still_going(home: Path) -> None:
    from flowdeck.engine.events import Message, NodeStarted, RunStarted, Token
    from flowdeck.services import open_services

    base = {"run_id": "going0000001", "ts": 1.0e9}
    node = {**base, "node_id": "a", "execution": 1}
    services = open_services()
    try:
        started = RunStarted(**base, seq=1, workflow_name="w", workflow={}, inputs={}, node_ids=["a"])
        asked = [Message(role="user", content="x" * 400)]
        call = NodeStarted(**node, seq=2, attempt=1, model="scripted", messages=asked, parameters={}, received_from=[])
        # owner "": a process of another machine, never taken for dead
        services.runs.append([started, call, Token(**node, seq=3, attempt=1, text="y" * 40)], owner="")
    finally:
        services.close()
    line = invoke("runs")[1].splitlines()[1]
    assert "running" in line and "~110" in line  # (400 + 40) characters, about 4 a token


def test_runs_workflow_prints_the_workflow_as_it_ran_to_run_again(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    workflow = {"format": 1, "name": "mine", "nodes": [{"id": "a", "type": "coder", "label": "First"}]}
    path.write_text(json.dumps(workflow))
    assert invoke("run", str(path), "-m", "scripted")[0] == 0
    path.write_text(json.dumps({**workflow, "nodes": [{"id": "b", "type": "reviewer"}]}))  # changed since
    run_id = invoke("runs")[1].splitlines()[1].split()[0]
    code, out, _ = invoke("runs", "workflow", run_id[:6])
    assert code == 0
    ran = json.loads(out)
    assert ran["name"] == "mine" and [(n["id"], n["label"]) for n in ran["nodes"]] == [("a", "First")]
    fork = tmp_path / "fork.json"
    fork.write_text(out)
    assert invoke("run", str(fork), "-m", "scripted")[0] == 0  # a workflow file like any other
    code, _, err = invoke("runs", "workflow", "nosuchrun")
    assert code == 2 and "nosuchrun" in err


def test_a_huge_integer_in_a_file_is_named_by_validate_and_run(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    path.write_text(
        '{"format": 1, "name": "w", "nodes": [{"id": "a", "type": "coder", "config": {"retries": ' + "7" * 5000 + "}}]}"
    )
    for command in ("validate", "run"):
        code, _, err = invoke(command, str(path))
        assert code == 2, err
        assert "nodes[0].config.retries: a number of 5,000 digits; give one of at most 30 digits" in err
    assert "no runs yet" in invoke("runs")[1]


def test_nan_and_lone_surrogates_in_a_file_are_listed_by_validate_and_run(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "odd.json"
    path.write_text('{"format": 1, "name": "\\udc80", "nodes": [{"id": "a", "type": "coder", "position": {"x": NaN}}]}')
    for command in ("validate", "run"):
        code, _, err = invoke(command, str(path))
        assert code == 2
        assert "name: holds a lone surrogate (\\udc80)" in err
        assert "nodes[0].position.x: NaN is not a number JSON allows" in err
    assert "no runs yet" in invoke("runs")[1]


def test_text_that_cannot_be_stored_is_refused_before_a_run_starts(home: Path, tmp_path: Path) -> None:
    """Bytes that are not UTF-8 on the command line reach Python as lone surrogates: an input or a model named
    with them is refused, and a file named with them runs, rather than a run that is started and never stored."""
    for args, fragment in (
        (["--input", "task=caf\udce9"], "input task: holds a lone surrogate (\\udce9)"),
        (["--model", "scripted/\udcff"], "model: holds a lone surrogate (\\udcff)"),
    ):
        code, _, err = invoke("run", "research-code-review", *args)
        assert code == 2, err
        assert fragment in err
    assert "no runs yet" in invoke("runs")[1]
    path = tmp_path / "caf\udce9.json"
    path.write_text(json.dumps({"format": 1, "name": "w", "nodes": [{"id": "a", "type": "coder"}]}))
    code, _, err = invoke("run", str(path))
    assert code == 0, err
    assert "succeeded" in invoke("runs")[1]


def test_the_review_loop_template_runs_its_rounds_on_the_scripted_model(home: Path) -> None:
    code, out, err = invoke("run", "review-loop", "--approve", "-m", "scripted/verdicts=revise,approve")
    assert code == 0, err
    # 3 rounds of review within each of the sign-off's 3 rounds: 9 at most
    assert "✓ Coder       round 1/3 · done" in err and "✓ Coder       round 2/3 · done" in err
    assert "Reviewer    round 2/3 · verdict: approve · done" in err
    assert "✓ Sign-off    round 1/3 · approved by cli --approve" in err
    assert "↻ Reviewer chose revise: round 2 of 3, back to 'Coder'" in err
    assert "=== Sign-off ===" in out and out.rstrip().endswith("Verdict: approve")  # the approved code and review


def test_the_review_loop_says_when_it_stopped_after_its_rounds(home: Path) -> None:
    code, _, err = invoke("run", "review-loop", "--approve", "-m", "scripted/verdicts=revise")
    assert code == 0, err
    assert "Coder       round 3/3 · done" in err
    assert "! stopped after 3 rounds: Reviewer still chose revise, and the loop back to 'Coder' allows no more" in err


def test_the_triage_template_routes_and_shows_skips_with_their_reason(home: Path) -> None:
    code, out, err = invoke("run", "triage", "-m", "scripted/verdicts=billing")
    assert code == 0, err
    assert "↷ Technical specialist  skipped: Triage chose billing" in err
    assert "↷ General support       skipped: Triage chose billing" in err
    assert "✓ Billing specialist" in err and "✓ Reply writer" in err
    assert "=== Reply writer ===" in out


def test_validate_and_schema_know_format_2(home: Path, tmp_path: Path) -> None:
    assert invoke("validate", "review-loop")[:2] == (0, "ok: Review loop (4 agents, 6 connections)\n")
    code, out, _ = invoke("schema")
    assert code == 0 and '"max_rounds"' in out and '"otherwise"' in out
    path = tmp_path / "w.json"
    nodes = [{"id": "a", "type": "coder"}, {"id": "b", "type": "reviewer"}]
    edges = [{"id": "ab", "source": "a", "target": "b"}, {"id": "ba", "source": "b", "target": "a"}]
    path.write_text(json.dumps({"format": 2, "name": "w", "nodes": nodes, "edges": edges}))
    code, _, err = invoke("validate", str(path))
    assert code == 2 and "they form a cycle (a -> b -> a) that no loop edge bounds" in err
    edges[1] |= {"condition": {"verdict": "revise"}, "loop": {"max_rounds": 30}}
    path.write_text(json.dumps({"format": 2, "name": "w", "nodes": nodes, "edges": edges}))
    code, _, err = invoke("validate", str(path))
    assert code == 2 and "edges[1].loop.max_rounds: 30 rounds; a loop runs 1 to 20 rounds (the cap)" in err


def test_runs_show_tells_the_rounds_and_verdicts_apart(home: Path) -> None:
    invoke("run", "review-loop", "--approve", "-m", "scripted/verdicts=revise,approve")
    run_id = invoke("runs")[1].splitlines()[1].split()[0]
    code, out, _ = invoke("runs", "show", run_id)
    assert code == 0
    finished = [line for line in out.splitlines() if "node_finished" in line and "reviewer" in line]
    assert len(finished) == 2
    assert "reviewer  " in finished[0] and "verdict: revise" in finished[0]
    assert "reviewer #2" in finished[1] and "verdict: approve" in finished[1]


def test_control_characters_from_a_run_are_shown_not_sent_to_the_terminal(home: Path) -> None:
    # An input (or a model's answer, or a note) carrying OSC 52 would write the reader's clipboard; ESC c resets the
    # terminal (found by the issue 21 attack on `runs show`).
    hostile = "X\x1b]52;c;Y3VybCBldmlsfHNo\x07 \x1bc \x9b31m done"
    code, out, err = invoke("run", "research-code-review", "--input", f"task={hostile}", "--model", "scripted")
    assert code == 0, err
    run_id = invoke("runs")[1].splitlines()[1].split()[0]
    shown = invoke("runs", "show", run_id)[1]
    for text in (out, err, shown):
        assert not any(ch in text for ch in "\x1b\x07\x9b"), repr(text[:300])
    assert "\\x1b]52;c;Y3VybCBldmlsfHNo\\x07" in shown and "\\x9b31m" in shown
