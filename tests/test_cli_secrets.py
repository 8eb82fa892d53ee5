"""Saved secrets on the command line (`flowdeck secrets`) and a run that uses one: the tool sends its value, and the
value reaches no event, no side-effect entry and no output; `flowdeck runs artifacts` lists and downloads files."""

from __future__ import annotations

import json
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hooks import Hook, flowdeck, hook_server


@pytest.fixture
def echo() -> Iterator[Hook]:
    with hook_server() as server:
        yield server


def test_secrets_are_set_from_stdin_listed_by_name_and_removed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    value = f"ghp_{uuid.uuid4().hex}"
    saved = flowdeck(home, "secrets", "set", "GITHUB_TOKEN", "--stdin", stdin=value + "\n")
    assert saved.returncode == 0, saved.stderr
    assert "{{secret:GITHUB_TOKEN}}" in saved.stdout and value not in saved.stdout
    assert stat.S_IMODE((home / "secrets.json").stat().st_mode) == 0o600
    listed = flowdeck(home, "secrets", "list")
    assert listed.stdout.split() == ["GITHUB_TOKEN"]
    assert value not in listed.stdout + listed.stderr
    assert flowdeck(home, "secrets", "remove", "GITHUB_TOKEN").stdout.strip() == "secret GITHUB_TOKEN removed"
    assert "no secrets saved" in flowdeck(home, "secrets", "list").stdout


def test_without_a_terminal_or_stdin_set_says_how_in_one_line(tmp_path: Path) -> None:
    done = flowdeck(tmp_path / "home", "secrets", "set", "TOKEN", stdin="")
    assert done.returncode == 2
    assert done.stderr.strip() == "error: no terminal to ask for TOKEN's value on: pipe it in with --stdin"


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("has space", "long enough value", "cannot be a secret's name"),
        ("9LIVES", "long enough value", "cannot be a secret's name"),
        ("A-B", "long enough value", "cannot be a secret's name"),
        ("SHORT", "abc", "3 characters long; give 8 to"),
    ],
)
def test_a_secret_that_cannot_be_used_is_refused_and_nothing_is_saved(
    tmp_path: Path, name: str, value: str, says: str
) -> None:
    home = tmp_path / "home"
    refused = flowdeck(home, "secrets", "set", name, "--stdin", stdin=value)
    assert refused.returncode == 2
    assert says in refused.stderr and "nothing saved" in refused.stderr
    assert value not in refused.stderr
    assert "no secrets saved" in flowdeck(home, "secrets", "list").stdout


def test_a_saved_secret_is_sent_by_the_tool_and_stored_nowhere(tmp_path: Path, echo: Hook) -> None:
    home = tmp_path / "home"
    canary = f"canary-{uuid.uuid4().hex}"
    assert flowdeck(home, "secrets", "set", "HOOK_TOKEN", "--stdin", stdin=canary).returncode == 0
    post = {
        "method": "POST",
        "url": echo.url,
        "headers": {"Authorization": "Bearer {{secret:HOOK_TOKEN}}", "X-Trace": "{{secret:HOOK_TOKEN}}"},
        "body": "hello",
    }
    write = {"path": "notes/done.md", "content": "posted"}
    workflow = {
        "format": 2,
        "name": "hook",
        "allowed_domains": ["127.0.0.1"],
        "inputs": [{"name": "task", "default": "post it"}],
        "nodes": [
            {"id": "poster", "type": "custom", "label": "Poster", "config": {
                "system_prompt": f"CALL http_request {json.dumps(post)}\nCALL write_file {json.dumps(write)}",
                "tools": ["http_request", "write_file"]}},
        ],
        "edges": [],
    }  # fmt: skip
    path = tmp_path / "hook.json"
    path.write_text(json.dumps(workflow))
    ran = flowdeck(home, "run", str(path), "--json")
    assert ran.returncode == 0, ran.stderr
    assert echo.headers_seen[0]["Authorization"] == f"Bearer {canary}"  # the tool sent the value
    run_id = json.loads(ran.stdout.splitlines()[0])["run_id"]

    effects = flowdeck(home, "runs", "effects", run_id, "--json")
    entries = [json.loads(line) for line in effects.stdout.splitlines()]
    assert [(e["tool"], e["status"]) for e in entries] == [("http_request", "ok"), ("write_file", "ok")]
    assert json.loads(entries[0]["arguments"])["headers"]["Authorization"] == "[redacted]"
    outputs = [ran.stdout, ran.stderr, effects.stdout, flowdeck(home, "runs", "show", run_id, "--json").stdout]
    assert not [text for text in outputs if canary in text]
    for stored in (home / "flowdeck.db", home / "flowdeck.db-wal"):
        if stored.exists():
            assert canary.encode() not in stored.read_bytes(), stored

    listed = flowdeck(home, "runs", "artifacts", run_id)
    assert listed.stdout.split()[-1] == "notes/done.md"
    target = tmp_path / "done.md"
    got = flowdeck(home, "runs", "artifacts", run_id, "--get", "notes/done.md", "-o", str(target))
    assert got.returncode == 0, got.stderr
    assert target.read_text() == "posted"
    outside = flowdeck(home, "runs", "artifacts", run_id, "--get", "../flowdeck.db", "-o", str(tmp_path / "x"))
    assert outside.returncode == 2 and "goes up" in outside.stderr
    assert not (tmp_path / "x").exists()
