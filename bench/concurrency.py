"""Event-loop lag with many runs in one process (the app's process: Runner, SQLite event log, watchers).

    python bench/concurrency.py [--runs 50] [--seconds 6]

Each run is the fan-out template (4 agents) on the scripted model through litellm, streaming 40 chunks
per agent 50 ms apart, with one watcher per run folding every event into a RunState, as an open page
does. Model calls run in a child process (models/process.py), as in the app. A ticker asks to wake every
10 ms and records how late it woke: that lateness is what every page of the app would feel.
Printed side by side: no runs (baseline), 1 run, N runs.
Target (issue 4): p99 lag < 50 ms with 50 concurrent runs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("FLOWDECK_SCRIPTED_VIA_LITELLM", "1")  # litellm's per-chunk work is what loads the loop

from flowdeck.app.server import SWITCH_INTERVAL
from flowdeck.config import load_settings
from flowdeck.engine.state import RunState
from flowdeck.services import Services, open_services
from flowdeck.templates import load_template

MODEL = "scripted/chunks=40,delay=0.05"


async def measure(services: Services, runs: int, seconds: float) -> tuple[list[float], int, float]:
    """Lag samples (ms), events delivered to watchers, and seconds the runs took."""
    lags: list[float] = []
    delivered = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            due = loop.time() + 0.01
            await asyncio.sleep(0.01)
            lags.append((loop.time() - due) * 1000)

    async def watch(run_id: str) -> None:
        nonlocal delivered
        state = RunState()
        async for event in services.runner.subscribe(run_id):
            state.apply(event)
            delivered += 1
        assert state.status == "succeeded", state.status

    workflow = load_template("fan-out-review")
    tick = asyncio.create_task(ticker())
    t0 = time.perf_counter()
    if runs:
        ids = await asyncio.gather(*(services.runner.start(workflow, model=MODEL) for _ in range(runs)))
        await asyncio.gather(*(watch(run_id) for run_id in ids))
    else:
        await asyncio.sleep(seconds)
    took = time.perf_counter() - t0
    stop.set()
    await tick
    return lags, delivered, took


async def main_async(runs: int, seconds: float) -> None:
    os.environ["FLOWDECK_HOME"] = tempfile.mkdtemp(prefix="flowdeck-bench-concurrency-")
    os.environ["FLOWDECK_MODEL"] = "scripted"
    services = await asyncio.to_thread(partial(open_services, load_settings(env_file=None), model_process=True))
    try:
        await measure(services, 1, seconds)  # warm-up: litellm import, first connections
        gc.freeze()  # as the app does once it has started and warmed up (flowdeck/app/server.py)
        print(f"{'runs':>5} {'events':>7} {'events/s':>9} {'lag p50 ms':>11} {'p99 ms':>8} {'max ms':>8}")
        for count in (0, 1, runs):
            lags, delivered, took = await measure(services, count, seconds)
            p50 = statistics.median(lags)
            p99 = statistics.quantiles(lags, n=100)[98]
            print(f"{count:>5} {delivered:>7} {delivered / took:>9.0f} {p50:>11.1f} {p99:>8.1f} {max(lags):>8.1f}")
    finally:
        await services.runner.close()
        if services.models is not None:
            await services.models.close()
        services.close()


def main() -> None:
    sys.setswitchinterval(SWITCH_INTERVAL)  # as the app server does
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of the idle baseline")
    args = parser.parse_args()
    asyncio.run(main_async(args.runs, args.seconds))


if __name__ == "__main__":
    main()
