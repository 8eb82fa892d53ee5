"""Canary keys: provider keys in the environment never reach the database, cache, events, logs or output."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path


def test_canary_keys_appear_nowhere(tmp_path: Path) -> None:
    canary = f"sk-canary-{uuid.uuid4().hex}"
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        FLOWDECK_HOME=str(home),
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        OPENAI_API_KEY=canary,
        ANTHROPIC_API_KEY=canary + "-a",
        GROQ_API_KEY=canary + "-g",
    )
    cli = [sys.executable, "-m", "flowdeck.cli"]
    seen: list[str] = []
    for args in (
        ["run", "research-code-review", "-m", "scripted", "--json"],
        ["run", "fan-out-review", "-m", "scripted/fault=auth", "--json"],
        ["run", "research-code-review", "-m", "scripted", "--cache"],
        ["runs"],
        ["templates"],
    ):
        done = subprocess.run([*cli, *args], env=env, capture_output=True, text=True, timeout=120)
        seen += [done.stdout, done.stderr]
    run_ids = [line.split()[0] for line in seen[6].splitlines()[1:]]
    for run_id in run_ids:
        done = subprocess.run([*cli, "runs", "show", run_id, "--json"], env=env, capture_output=True, text=True)
        seen += [done.stdout, done.stderr]
    assert len(run_ids) == 3
    hits = [text for text in seen if canary in text]
    files = [p for p in home.rglob("*") if p.is_file()]
    assert files, "the runs wrote their database and cache"
    hits += [str(p) for p in files if canary.encode() in p.read_bytes()]
    assert hits == []
