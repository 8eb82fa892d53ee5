"""What the side-effect log costs a tool call (storage/effects.py), beside the same call without it.

    python bench/effects.py [--calls N] [--postgres URL]

Prints, for SQLite (a file in a temporary folder, as the app opens it: WAL, synchronous=NORMAL) and for PostgreSQL
when a URL is given (or FLOWDECK_TEST_POSTGRES_URL is set):
- the journal alone: microseconds of one intent and of one outcome (each its own committed transaction), median and
  fastest over N calls;
- a whole run: one agent on the scripted model makes N write_file calls through the real toolbox (which syncs each
  file to disk), with the journal and without it (the engine given none); milliseconds per call of each (fastest of
  6 runs), and the difference: what the log adds to a side-effecting call.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=40, help="tool calls per measurement (at most 50 per agent)")
    parser.add_argument("--postgres", default=os.environ.get("FLOWDECK_TEST_POSTGRES_URL", ""))
    args = parser.parse_args()
    calls = max(1, min(args.calls, 50))
    with tempfile.TemporaryDirectory() as tmp:
        databases = [("sqlite", f"sqlite:///{Path(tmp) / 'flowdeck.db'}", None)]
        if args.postgres:
            databases.append(("postgresql", *_fresh_postgres(args.postgres)))
        print(f"{'database':<12}{'intent µs (med/min)':>22}{'outcome µs (med/min)':>23}", end="")
        print(f"{'with log ms/call':>19}{'without ms/call':>18}{'log adds ms':>14}")
        for name, url, drop in databases:
            try:
                intent, outcome = _journal(url, calls * 10)
                written, listed = asyncio.run(_runs(url, Path(tmp) / name, calls))
            finally:
                if drop is not None:
                    drop()
            print(
                f"{name:<12}{statistics.median(intent):>13.0f} / {min(intent):<6.0f}"
                f"{statistics.median(outcome):>14.0f} / {min(outcome):<6.0f}"
                f"{written:>19.2f}{listed:>18.2f}{written - listed:>14.2f}"
            )


def _journal(url: str, count: int) -> tuple[list[float], list[float]]:
    from flowdeck.engine.events import ToolCall
    from flowdeck.engine.tools import ToolContext, ToolResult, ToolSpec
    from flowdeck.storage import open_database
    from flowdeck.storage.effects import SqlJournal

    db = open_database(url)
    journal = SqlJournal(db, "bench", secrets=lambda: ["a-saved-secret-value"])
    spec = ToolSpec(name="write_file", description="", parameters={}, effect="write")
    call = ToolCall(id="c", name="write_file", arguments='{"path": "a.md", "content": "some text"}')
    intents, outcomes = [], []
    for n in range(1, count + 1):
        context = ToolContext(run_id="bench", node_id="w", execution=1, key=f"bench:w:1:{n}")
        t0 = time.perf_counter()
        journal.intent(context, spec, call)
        t1 = time.perf_counter()
        journal.outcome(context, ToolResult(content="wrote a.md", detail={"path": "a.md", "bytes": 9}))
        t2 = time.perf_counter()
        intents.append((t1 - t0) * 1e6)
        outcomes.append((t2 - t1) * 1e6)
    db.dispose()
    return intents, outcomes


async def _runs(url: str, folder: Path, calls: int) -> tuple[float, float]:
    """Milliseconds per write_file call of one agent's run, with the journal and without it (the engine alone)."""
    from flowdeck.engine.run import Run, drain
    from flowdeck.engine.workflow import parse_workflow
    from flowdeck.models.scripted import ScriptedCaller
    from flowdeck.storage import open_database
    from flowdeck.storage.effects import SqlJournal
    from flowdeck.tools import make_toolbox

    db = open_database(url)
    line = 'CALL write_file {"path": "a.md", "content": "some text"}'
    config = {"system_prompt": "\n".join([line] * calls), "tools": ["write_file"], "max_tool_calls": calls}
    workflow = parse_workflow(
        {"format": 2, "name": "w", "nodes": [{"id": "a", "type": "custom", "config": config}], "edges": []}
    )
    best = {"journal": float("inf"), "none": float("inf")}
    try:
        for n in range(6):
            for kind in best:
                run_id = f"bench{kind}{n}"
                toolbox = make_toolbox(workflow, folder / run_id, lambda _name: None)
                journal = SqlJournal(db, run_id) if kind == "journal" else None
                run = Run(workflow, caller=ScriptedCaller(), default_model="scripted", run_id=run_id, toolbox=toolbox,
                          journal=journal)  # fmt: skip
                t0 = time.perf_counter()
                events = await drain(run)
                assert events[-1].status == "succeeded", events[-1]  # type: ignore[attr-defined]
                best[kind] = min(best[kind], (time.perf_counter() - t0) * 1000 / calls)
    finally:
        db.dispose()
    return best["journal"], best["none"]


def _fresh_postgres(admin_url: str) -> tuple[str, object]:
    from sqlalchemy import create_engine, text

    name = f"flowdeck_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()

    return admin_url.rsplit("/", 1)[0] + "/" + name, drop


if __name__ == "__main__":
    main()
