"""The run log's storage: batches of events read back from any seq, and the move from one row per event."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import text

from flowdeck.engine.events import Event, RunFinished, RunStarted, Token, Usage, event_to_json
from flowdeck.storage import RunLog, db, open_database
from flowdeck.storage.runs import CHECKPOINT_BYTES, StoredBatch


def _events(run_id: str, count: int) -> list[Event]:
    start = RunStarted(run_id=run_id, seq=1, ts=1.0, workflow_name="w", workflow={}, inputs={}, node_ids=["a"])
    tokens = [
        Token(run_id=run_id, seq=seq, ts=float(seq), node_id="a", execution=1, attempt=1, text=f"t{seq} ")
        for seq in range(2, count)
    ]
    end = RunFinished(
        run_id=run_id, seq=count, ts=float(count), status="succeeded", duration=1.0, usage=Usage(), cost=0
    )
    return [start, *tokens, end]


def test_events_are_read_back_from_any_seq_across_batches(tmp_path: Path) -> None:
    log = RunLog(open_database(f"sqlite:///{tmp_path / 'f.db'}"))
    events = _events("r1", 10)
    for batch in (events[:1], events[1:4], events[4:9], events[9:]):
        log.append(batch)
    for after in range(11):
        assert log.events("r1", after) == events[after:]
    assert log.events("r1", 0, limit=1) == events[:1]
    assert log.events("r1", 3, limit=4) == events[3:7]
    assert log.events("elsewhere") == []
    assert log.get("r1").status == "succeeded" and log.get("r1").last_seq == 10


def test_a_database_with_one_row_per_event_is_migrated_without_losing_any(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with monkeypatch.context() as patch:
        patch.setattr(db, "MIGRATIONS", db.MIGRATIONS[:2])  # the layout before 0003
        engine = open_database(url)
    events = _events("old1", 6)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO runs (id, workflow_name, status, owner, started_at, prompt_tokens, completion_tokens, "
                "cost, last_seq) VALUES ('old1', 'w', 'succeeded', '', :ts, 0, 0, 0, 6)"
            ),
            {"ts": time.time()},
        )
        for e in events:
            conn.execute(
                text("INSERT INTO events (run_id, seq, ts, type, node_id, data) VALUES (:r, :s, :ts, :t, :n, :d)"),
                {
                    "r": e.run_id,
                    "s": e.seq,
                    "ts": e.ts,
                    "t": e.type,
                    "n": getattr(e, "node_id", None),
                    "d": event_to_json(e),
                },
            )
    assert db.migrate(engine) == [
        "0003_event_batches",
        "0004_run_labels",
        "0005_workflow_identities",
        "0006_event_checksums",
        "0007_side_effects",
        "0008_run_requests",
        "0009_trust",
    ]
    log = RunLog(engine)
    assert log.events("old1") == events
    assert log.events("old1", 4) == events[4:]
    log.append(_events("new1", 3))  # and new runs are stored beside the migrated ones
    assert [e.seq for e in log.events("new1")] == [1, 2, 3]
    with engine.connect() as conn:
        tables = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars())
    assert "events" not in tables and "event_batches" in tables


def test_runs_recorded_before_labels_were_stored_get_theirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with monkeypatch.context() as patch:
        patch.setattr(db, "MIGRATIONS", db.MIGRATIONS[:3])  # before 0004
        engine = open_database(url)
    log = RunLog(engine)
    whole, partial = _events("whole", 3), _events("partial", 3)
    started = partial[0]
    assert isinstance(started, RunStarted)
    log.append(whole)
    log.append([msgspec.structs.replace(started, reused=["b"]), *partial[1:]])  # as a re-run of old recorded it
    with engine.begin() as conn:
        conn.execute(text("UPDATE runs SET label = ''"))  # as they were: no label stored
    assert db.migrate(engine) == [
        "0004_run_labels",
        "0005_workflow_identities",
        "0006_event_checksums",
        "0007_side_effects",
        "0008_run_requests",
        "0009_trust",
    ]
    assert (log.get("whole").label, log.get("partial").label) == ("", "Partial run")


def test_a_write_that_would_wait_for_another_process_is_not_made_at_once(tmp_path: Path) -> None:
    # write_now() is for the event loop: it writes only when that cannot block, and says so when it did not.
    path = tmp_path / "f.db"
    log = RunLog(open_database(f"sqlite:///{path}"))
    events = _events("r1", 5)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writes
    try:
        started = time.monotonic()
        assert not log.write_now(StoredBatch.of(events[:2]))
        assert time.monotonic() - started < 0.5  # it did not wait for the lock
    finally:
        other.execute("COMMIT")
        other.close()
    assert log.events("r1") == []
    assert log.write_now(StoredBatch.of(events[:2]))
    log.write(StoredBatch.of(events[2:]))
    assert [e.seq for e in log.events("r1")] == [1, 2, 3, 4, 5]
    assert log.get("r1").status == "succeeded"


def test_writes_made_at_once_are_checkpointed_so_the_wal_stays_small(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    log = RunLog(open_database(f"sqlite:///{path}"))
    written = 0
    for i in range(60):  # ~6 MB of events, in batches of ~100 KB
        batch = StoredBatch.of(_events(f"r{i}", 1200))
        assert log.write_now(batch)
        written += len(batch.data)
        if log.checkpoint_due():
            log.checkpoint()
    assert written > 1.4 * CHECKPOINT_BYTES
    assert Path(f"{path}-wal").stat().st_size < 1.4 * CHECKPOINT_BYTES  # the WAL is reused after each checkpoint
    assert len(log.events("r59")) == 1200


def test_runs_are_listed_a_page_at_a_time_newest_first(tmp_path: Path) -> None:
    log = RunLog(open_database(f"sqlite:///{tmp_path / 'f.db'}"))
    for number in range(7):
        status = "failed" if number % 3 == 0 else "succeeded"
        start = RunStarted(
            run_id=f"r{number}", seq=1, ts=100.0 + number // 2, workflow_name="w", workflow={}, inputs={}, node_ids=[]
        )
        end = RunFinished(run_id=f"r{number}", seq=2, ts=200.0, status=status, duration=1.0, usage=Usage(), cost=0)
        log.append([start, end])
    newest_first = [r.id for r in log.recent(limit=100)]
    assert newest_first == ["r6", "r4", "r5", "r2", "r3", "r0", "r1"]  # equal start times: in id order
    pages = [[r.id for r in log.recent(limit=3, offset=offset)] for offset in (0, 3, 6, 9)]
    assert pages == [newest_first[:3], newest_first[3:6], newest_first[6:], []]
    assert log.count() == 7
    assert log.count(status="failed") == 3 and [r.id for r in log.recent(status="failed", offset=1)] == ["r3", "r0"]
    assert log.count(workflow="other") == 0
