"""The Runner with real storage: durable events, gapless attach, outputs, recovery after a crash."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from flowdeck.config import Settings
from flowdeck.engine.events import Event, NodeFinished, NodeStarted, RunFinished, RunStarted, Usage, event_from_dict
from flowdeck.engine.state import fold
from flowdeck.engine.workflow import Workflow
from flowdeck.runner import recover_interrupted
from flowdeck.services import Services, open_services
from flowdeck.templates import load_template


async def test_every_event_is_stored_before_subscribers_see_it(services: Services, chain: Workflow) -> None:
    run_id = await services.runner.start(chain, model="scripted/delay=0.005")
    seen: list[Event] = []
    async for event in services.runner.subscribe(run_id):
        stored = await asyncio.to_thread(services.runs.events, run_id, event.seq - 1)
        assert stored and stored[0].seq == event.seq
        seen.append(event)
    assert [e.seq for e in seen] == list(range(1, len(seen) + 1))
    summary = await asyncio.to_thread(services.runs.get, run_id)
    assert summary.status == "succeeded" and summary.last_seq == seen[-1].seq
    assert summary.completion_tokens == fold(seen).usage.completion_tokens
    outputs = await asyncio.to_thread(services.runs.outputs, run_id)
    assert outputs == fold(seen).outputs()


async def test_attaching_after_seq_n_mid_run_gives_no_gap_and_no_duplicate(services: Services) -> None:
    workflow = load_template("fan-out-review")
    run_id = await services.runner.start(workflow, model="scripted/delay=0.01")
    first: list[Event] = []
    async for event in services.runner.subscribe(run_id):
        first.append(event)
        if len(first) == 7:
            break  # a browser tab closed mid-run
    rest = [event async for event in services.runner.subscribe(run_id, after_seq=first[-1].seq)]
    seqs = [e.seq for e in first + rest]
    assert seqs == list(range(1, len(seqs) + 1))
    assert rest[-1].type == "run_finished"
    again = [event async for event in services.runner.subscribe(run_id, after_seq=3)]
    assert [e.seq for e in again] == seqs[3:]  # after the run: read back from the database


async def test_closing_every_watcher_does_not_stop_the_run(services: Services, chain: Workflow) -> None:
    run_id = await services.runner.start(chain, model="scripted/delay=0.01")
    async for _ in services.runner.subscribe(run_id):
        break
    state = await services.runner.wait(run_id)
    assert state.status == "succeeded"


async def test_cached_run_reuses_outputs_and_says_so(services: Services, chain: Workflow) -> None:
    first = await services.runner.wait(await services.runner.start(chain, use_cache=True))
    events = [e async for e in services.runner.subscribe(await services.runner.start(chain, use_cache=True))]
    assert all(e.cached for e in events if isinstance(e, NodeFinished))
    assert fold(events).outputs() == first.outputs()
    fresh = [e async for e in services.runner.subscribe(await services.runner.start(chain))]
    assert not any(e.cached for e in fresh if isinstance(e, NodeFinished))


def test_output_cache_refuses_pickled_entries(settings: Settings) -> None:
    import diskcache

    from flowdeck.storage.cache import OutputCache

    raw = diskcache.Cache(str(settings.cache_dir))
    raw.set("k", {"text": "from pickle"})  # what an attacker with write access could plant
    raw.close()
    cache = OutputCache(settings.cache_dir)
    try:
        assert cache.get("k") is None
    finally:
        cache.close()


def test_migrations_are_named_and_recorded(services: Services) -> None:
    with services.engine.connect() as conn:
        names = list(conn.execute(text("SELECT name FROM migrations")).scalars())
    assert names == [
        "0001_initial",
        "0002_sessions",
        "0003_event_batches",
        "0004_run_labels",
        "0005_workflow_identities",
        "0006_event_checksums",
        "0007_side_effects",
        "0008_run_requests",
        "0009_trust",
    ]


def test_killed_process_leaves_an_interrupted_run_with_finished_outputs(home: Path, settings: Settings) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(FLOWDECK_HOME=str(home), LITELLM_LOCAL_MODEL_COST_MAP="True")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flowdeck.cli",
            "run",
            "research-code-review",
            "--json",
            "-m",
            "scripted/latency=0.3",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        if '"node_finished"' in line or time.monotonic() > deadline:
            break
    time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()

    services = open_services(settings)  # start-up recovery
    try:
        [run_id] = services.recovered
        summary = services.runs.get(run_id)
        assert summary.status == "interrupted"
        events = services.runs.events(run_id)
        state = fold(events)
        assert events[-1].type == "run_interrupted"
        assert state.status == "interrupted"
        # The time it ran: from its start to its last event before it was killed, not to the restart.
        assert summary.duration == state.duration == events[-2].ts - events[0].ts
        assert state.nodes["researcher"].status == "succeeded"
        assert services.runs.outputs(run_id)["researcher"] == state.outputs()["researcher"]
        assert recover_interrupted(services.runs) == []  # recovery never touches a run twice
    finally:
        services.close()

    # Resume: only the agents without a committed output run; the researcher's model call is not repeated.
    resumed = subprocess.run(
        [sys.executable, "-m", "flowdeck.cli", "runs", "resume", run_id[:8], "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    new_events = [event_from_dict(json.loads(line)) for line in resumed.stdout.splitlines()]
    again = fold(new_events)
    assert again.status == "succeeded" and again.run_id != run_id
    assert [e.node_id for e in new_events if isinstance(e, NodeStarted)] == ["coder", "reviewer"]
    assert again.outputs()["researcher"] == state.outputs()["researcher"]
    assert again.nodes["researcher"].latest is not None and again.nodes["researcher"].latest.cached
    services = open_services(settings)
    try:
        assert services.runs.get(run_id).status == "interrupted"  # resuming never changes the old run
        assert services.runs.events(run_id) == events
    finally:
        services.close()


async def test_a_run_of_another_process_is_followed_as_it_is_stored(services: Services, chain: Workflow) -> None:
    # Another process (the CLI, say) runs and stores events; this process's runner follows them live.
    from flowdeck.engine.events import Token

    other = f"{socket.gethostname()}:{os.getppid()}:1"  # a process that is alive: our parent
    base = {"run_id": "elsewhere01", "ts": time.time()}
    started = RunStarted(**base, seq=1, workflow_name="w", workflow=chain.to_dict(), inputs={}, node_ids=["r"])
    await asyncio.to_thread(services.runs.append, [started], owner=other)

    seen: list[int] = []

    async def watch() -> None:
        async for event in services.runner.subscribe("elsewhere01"):
            seen.append(event.seq)

    watcher = asyncio.create_task(watch())
    for seq in range(2, 6):
        await asyncio.sleep(0.1)
        token = Token(**base, seq=seq, node_id="r", execution=1, attempt=1, text="x")
        await asyncio.to_thread(services.runs.append, [token], owner=other)
    assert not watcher.done()  # still following: the run goes on elsewhere
    finished = RunFinished(**base, seq=6, status="succeeded", duration=1.0, usage=Usage(), cost=0.0)
    await asyncio.to_thread(services.runs.append, [finished], owner=other)
    await asyncio.wait_for(watcher, 5)
    assert seen == [1, 2, 3, 4, 5, 6]
    summary = await asyncio.to_thread(services.runs.get, "elsewhere01")
    assert not services.runner.live_elsewhere(summary)


async def test_a_run_whose_process_died_is_not_followed_forever(services: Services, chain: Workflow) -> None:
    dead = f"{socket.gethostname()}:999999999:1"
    started = RunStarted(
        run_id="deadrun00001",
        seq=1,
        ts=time.time(),
        workflow_name="w",
        workflow=chain.to_dict(),
        inputs={},
        node_ids=[],
    )
    await asyncio.to_thread(services.runs.append, [started], owner=dead)
    summary = await asyncio.to_thread(services.runs.get, "deadrun00001")
    assert not services.runner.live_elsewhere(summary)
    events = [e async for e in services.runner.subscribe("deadrun00001")]
    assert [e.seq for e in events] == [1]


async def test_a_run_waits_its_turn_while_another_process_writes(
    services: Services, settings: Settings, chain: Workflow
) -> None:
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    other = sqlite3.connect(settings.database_url.removeprefix("sqlite:///"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another flowdeck process is writing
    try:
        run_id = await services.runner.start(chain, model="scripted")
        seen: list[Event] = []

        async def watch() -> None:
            async for event in services.runner.subscribe(run_id):
                seen.append(event)

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0.3)
        assert seen == []  # nothing is shown before it is stored, and nothing could be stored yet
    finally:
        other.execute("COMMIT")
        other.close()
    await asyncio.wait_for(watcher, 10)
    assert fold(seen).status == "succeeded"
    stored = await asyncio.to_thread(services.runs.events, run_id)
    assert [e.seq for e in stored] == [e.seq for e in seen] == list(range(1, len(seen) + 1))


async def test_the_runner_checkpoints_what_it_wrote_on_the_event_loop(
    services: Services, settings: Settings, chain: Workflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite's write-ahead log")
    checkpoints: list[float] = []
    original = services.runs.checkpoint
    monkeypatch.setattr(services.runs, "checkpoint", lambda: (checkpoints.append(time.time()), original())[1])
    monkeypatch.setattr("flowdeck.storage.runs.CHECKPOINT_BYTES", 1)
    await services.runner.wait(await services.runner.start(chain, model="scripted"))
    # Each batch makes a checkpoint due; the one after the last batch may still be on its way.
    for _ in range(200):
        if not services.runs.checkpoint_due():
            break
        await asyncio.sleep(0.01)
    assert checkpoints
    assert not services.runs.checkpoint_due()
