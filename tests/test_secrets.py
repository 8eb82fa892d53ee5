"""Canary keys: provider keys, in the environment or saved in the app, never reach the database, cache,
events, logs or output (the saved-keys file itself excepted)."""

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
    saved = canary + "-saved"
    env.pop("GEMINI_API_KEY", None)
    env.pop("GOOGLE_API_KEY", None)
    subprocess.run([*cli, "keys", "set", "GEMINI_API_KEY", "--stdin"], env=env, input=saved, text=True, check=True)
    seen: list[str] = []
    for args in (
        ["run", "research-code-review", "-m", "scripted", "--json"],
        ["run", "fan-out-review", "-m", "scripted/fault=auth", "--json"],
        ["run", "research-code-review", "-m", "scripted", "--cache"],
        ["runs"],
        ["templates"],
        ["keys", "list"],
        # Gemini takes its key in the URL: the failed call's error must not carry it into events or output.
        ["run", "research-code-review", "-m", "gemini/gemini-2.0-flash", "--json"],
    ):
        done = subprocess.run([*cli, *args], env=env, capture_output=True, text=True, timeout=120)
        seen += [done.stdout, done.stderr]
    run_ids = [line.split()[0] for line in seen[6].splitlines()[1:]]
    for run_id in run_ids:
        done = subprocess.run([*cli, "runs", "show", run_id, "--json"], env=env, capture_output=True, text=True)
        seen += [done.stdout, done.stderr]
    assert len(run_ids) == 3
    assert '"type":"node_failed"' in seen[12]  # the Gemini run really failed, with its errors in the events
    hits = [text for text in seen if canary in text]
    files = [p for p in home.rglob("*") if p.is_file() and p.name != "provider_keys.json"]
    assert files, "the runs wrote their database and cache"
    hits += [str(p) for p in files if canary.encode() in p.read_bytes()]
    assert hits == []
