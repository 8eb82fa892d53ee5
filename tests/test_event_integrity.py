"""Stored events changed after they were written but still valid JSON (a status flipped, a number changed) are found
by their checksum (issue 20): `runs show` says which run and which events and what to do, `flowdeck doctor` finds
them, nothing is "repaired", and batches stored before checksums were kept are still read."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from flowdeck.cli import main
from flowdeck.config import Settings, ensure_home
from flowdeck.engine.events import Event, RunFinished, RunStarted, Token, Usage
from flowdeck.storage import RunLog, db, open_database
from flowdeck.storage.codec import batch_to_json
from tests.storagefaults import cli, overwrite


def _status_flipped(database: Path) -> None:
    """The run's end says it was cancelled: the bytes changed in the file, as a disk's fault would change them."""
    data = database.read_bytes()
    overwrite(database, data.index(b'"status":"succeeded"'), b'"status":"cancelled"')


def _number_changed(database: Path) -> None:
    """An agent's token count grown by a digit, through SQLite (as a hand in an `sqlite3` shell would)."""
    conn = sqlite3.connect(database)
    try:
        with conn:
            changed = conn.execute(
                "UPDATE event_batches SET data = replace(data, '\"completion_tokens\":', '\"completion_tokens\":9') "
                "WHERE data LIKE '%\"node_finished\"%'"
            ).rowcount
    finally:
        conn.close()  # and with it, the change is in the file
    assert changed == 1


@pytest.mark.parametrize(
    ("change", "named"),
    [(_status_flipped, "run_finished"), (_number_changed, "node_finished")],
    ids=["status flipped in the file", "number changed through sqlite"],
)
def test_an_event_changed_but_still_valid_json_is_reported_not_shown_as_truth(
    tmp_path: Path, change: Callable[[Path], None], named: str
) -> None:
    home = tmp_path / "home"
    code, _, err = cli(home, "run", "research-code-review", "-m", "scripted")
    assert code == 0, err
    _, out, _ = cli(home, "runs")
    run_id = out.splitlines()[1].split()[0]
    database = home / "flowdeck.db"
    change(database)
    before = database.read_bytes()

    code, out, err = cli(home, "runs", "show", run_id)
    assert code == 2 and "Traceback" not in err, err
    assert err.count("error: ") == 1, err
    assert f"run {run_id}: " in err and named in err and "changed after" in err, err
    assert "restore a backup" in err and "flowdeck doctor" in err
    assert "cancelled" not in out and "=== reviewer ===" not in out  # nothing of it shown as what happened

    code, out, err = cli(home, "runs")
    assert code == 0 and run_id in out, err  # the list of runs still works

    code, out, err = cli(home, "doctor")
    assert code == 1, out
    events = [line for line in out.splitlines() if line.split()[1:2] == ["events"]]
    assert len(events) == 1 and events[0].startswith("PROBLEM"), out
    assert f"run {run_id}: " in events[0] and named in events[0] and "restore a backup" in events[0]
    assert database.read_bytes() == before  # nothing "repaired" away


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


def test_batches_stored_before_checksums_are_read_and_counted_by_doctor(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure_home(settings)
    with monkeypatch.context() as patch:
        patch.setattr(db, "MIGRATIONS", db.MIGRATIONS[:5])  # before 0006
        engine = open_database(settings.database_url)
    old = _events("old1", 6)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE event_batches DROP COLUMN checksum"))  # as 0003 made it then
        conn.execute(
            text(
                "INSERT INTO runs (id, workflow_name, status, owner, started_at, prompt_tokens, completion_tokens, "
                "cost, last_seq, label) VALUES ('old1', 'w', 'succeeded', '', :ts, 0, 0, 0, 6, '')"
            ),
            {"ts": time.time()},
        )
        for batch in (old[:2], old[2:]):
            conn.execute(
                text("INSERT INTO event_batches (run_id, last_seq, first_seq, data) VALUES ('old1', :l, :f, :d)"),
                {"l": batch[-1].seq, "f": batch[0].seq, "d": batch_to_json(batch)},
            )
    engine.dispose()

    engine = open_database(settings.database_url)  # migrated to 0006
    log = RunLog(engine)
    assert log.events("old1") == old
    new = _events("new1", 4)
    log.append(new)
    assert log.events("new1") == new
    engine.dispose()
    result = CliRunner().invoke(main, ["doctor"], catch_exceptions=False)
    assert result.exit_code == 0, result.stdout
    assert "3 stored batches of events read back, 2 of them written before checksums were kept" in result.stdout
