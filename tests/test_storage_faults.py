"""Storage faults seen from the command line: a read-only folder or database, a damaged file, a lock held by another
program, a disk that refuses writes mid-run. Each is one clear line saying what to do, never a traceback, and
nothing already stored is lost."""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from flowdeck.engine.state import fold
from flowdeck.engine.workflow import Workflow
from flowdeck.services import Services
from tests.appserver import free_port
from tests.storagefaults import cli, cli_env, overwrite, page_of, read_only, write_lock


def _ran(home: Path) -> str:
    """A finished run in `home`: its id."""
    code, _, err = cli(home, "run", "research-code-review", "-m", "scripted")
    assert code == 0, err
    _, out, _ = cli(home, "runs")
    return out.splitlines()[1].split()[0]


def _clean(code: int, err: str) -> None:
    assert code != 0
    assert "Traceback" not in err
    assert err.count("error: ") == 1, err


def test_a_read_only_data_folder_still_lists_and_shows_runs_and_refuses_new_ones(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run_id = _ran(home)
    with read_only(home):
        code, out, err = cli(home, "runs")
        assert code == 0, err
        assert run_id in out and "succeeded" in out
        code, out, err = cli(home, "runs", "show", run_id)
        assert code == 0, err
        assert "=== reviewer ===" in out
        code, _, err = cli(home, "run", "research-code-review", "-m", "scripted")
        _clean(code, err)
        assert "cannot be written (read-only)" in err and "FLOWDECK_HOME" in err
    _, out, _ = cli(home, "runs")
    assert len(out.splitlines()) == 2  # the one run, and no half-stored other


def test_a_read_only_database_file_is_read_and_a_run_is_refused_before_it_starts(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run_id = _ran(home)
    with read_only(home / "flowdeck.db"):
        code, out, err = cli(home, "runs")
        assert code == 0 and run_id in out, err
        code, _, err = cli(home, "run", "research-code-review", "-m", "scripted")
        _clean(code, err)
        assert "cannot be written (read-only)" in err and "chmod u+w" in err


def _truncated(db: Path) -> None:
    db.write_bytes(db.read_bytes()[:5000])


def _garbage_header(db: Path) -> None:
    overwrite(db, 0, b"this is not an sqlite file")


def _damaged_page(db: Path) -> None:
    overwrite(db, page_of(db, "event_batches") + 8, b"\xff" * 2000)  # the table's b-tree page, past its header


def _damaged_event_data(db: Path) -> None:
    data = db.read_bytes()
    overwrite(db, data.index(b'"type":"node_finished"'), b"\xff" * 64)  # inside a row: SQLite's checks cannot see it


@pytest.mark.parametrize(
    ("damage", "lists"),
    [(_truncated, False), (_garbage_header, False), (_damaged_page, True), (_damaged_event_data, True)],
    ids=["truncated", "garbage header", "damaged middle page", "damaged event data"],
)
def test_a_damaged_database_is_reported_and_left_as_it_is(tmp_path: Path, damage: object, lists: bool) -> None:
    home = tmp_path / "home"
    run_id = _ran(home)
    db = home / "flowdeck.db"
    assert callable(damage)
    damage(db)
    before = db.read_bytes()
    code, out, err = cli(home, "runs")
    if lists:
        assert code == 0 and run_id in out, err
    else:
        _clean(code, err)
        assert "the database file is damaged" in err and "sqlite3 FILE .recover" in err
    code, out, err = cli(home, "runs", "show", run_id)
    _clean(code, err)
    assert "damaged" in err and "flowdeck doctor" in err
    code, out, _ = cli(home, "doctor")
    assert code == 1 and "PROBLEM" in out
    assert db.read_bytes() == before  # nothing "repaired" away


def test_reads_do_not_wait_for_another_programs_write_lock(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run_id = _ran(home)
    with write_lock(home / "flowdeck.db"):
        code, out, err = cli(home, "runs")
        assert code == 0 and run_id in out, err
        code, out, err = cli(home, "runs", "show", run_id)
        assert code == 0 and "run_finished" in out, err


def test_a_run_that_cannot_take_the_lock_ends_saying_so(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _ran(home)
    env = cli_env(home, FLOWDECK_BUSY_TIMEOUT="0.5")
    with write_lock(home / "flowdeck.db"):
        code, _, err = cli(home, "run", "research-code-review", "-m", "scripted", env=env)
    _clean(code, err)
    assert "the database is locked" in err and "Nothing of this run was stored" in err


def _interrupted_mid_run(home: Path, env: dict[str, str], fault: object) -> tuple[str, list[dict[str, object]], str]:
    """Start a slow run, apply `fault` (a context manager factory) once its first agent streams, and let it end."""
    cmd = [sys.executable, "-m", "flowdeck.cli", "run", "research-code-review", "--json", "-m", "scripted/delay=0.05"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    lines = []
    for line in proc.stdout:
        lines.append(json.loads(line))
        if lines[-1]["type"] == "token":
            break
    assert callable(fault)
    with fault():
        lines += [json.loads(line) for line in proc.stdout]
        err = proc.stderr.read()
        assert proc.wait(60) == 1
    proc.stdout.close()
    proc.stderr.close()
    return str(lines[0]["run_id"]), lines, err


def _resumes(home: Path, run_id: str) -> None:
    code, out, err = cli(home, "runs")
    assert code == 0, err
    assert f"{run_id}" in out and "interrupted" in out.splitlines()[1]
    code, out, err = cli(home, "runs", "resume", run_id, "--json")
    assert code == 0, err
    assert json.loads(out.splitlines()[-1])["status"] == "succeeded"


def test_a_lock_held_mid_run_interrupts_it_visibly_and_it_resumes_once_released(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _ran(home)
    env = cli_env(home, FLOWDECK_BUSY_TIMEOUT="0.5")
    run_id, lines, err = _interrupted_mid_run(home, env, lambda: write_lock(home / "flowdeck.db"))
    assert lines[-1]["type"] == "run_interrupted"
    assert "the database is locked" in str(lines[-1]["reason"])
    assert "Traceback" not in err
    assert f"error: run {run_id} was interrupted: the database is locked" in err
    assert f"flowdeck runs resume {run_id}" in err
    _resumes(home, run_id)


def test_a_disk_that_refuses_writes_mid_run_interrupts_it_and_it_resumes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _ran(home)
    size = (home / "flowdeck.db").stat().st_size
    env = cli_env(home)

    def limited() -> None:
        # The run's process may not grow a file past this size: the write-ahead log soon hits it (EFBIG, which
        # SQLite reports as a disk I/O error), as it would hit a full disk. Python ignores SIGXFSZ.
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + 16384, size + 16384))

    cmd = [sys.executable, "-m", "flowdeck.cli", "run", "research-code-review", "--json", "-m", "scripted/delay=0.05"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, preexec_fn=limited)
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 1
    assert events[-1]["type"] == "run_interrupted" and "I/O error" in str(events[-1]["reason"])
    assert "Traceback" not in done.stderr and "error: run" in done.stderr
    run_id = str(events[0]["run_id"])
    code, out, err = cli(home, "runs", "show", run_id, "--json")
    assert code == 0, err
    stored = [json.loads(line) for line in out.splitlines()]
    assert len(stored) == len(events)
    assert stored[:-1] == events[:-1]  # what was told was stored, and is kept (its end is marked on the restart)
    _resumes(home, run_id)


async def test_a_full_disk_mid_run_interrupts_it_and_it_resumes_once_there_is_room(
    services: Services, chain: Workflow
) -> None:
    engine = services.engine
    with engine.connect() as conn:
        pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar_one())

    def no_room(dbapi_connection: Any, _record: Any) -> None:
        # SQLite's own cap on the file: past it, writes fail as on a full disk (SQLITE_FULL).
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 4}")

    event.listen(engine, "connect", no_room)
    engine.dispose()
    run_id = await services.runner.start(chain, {"task": "x" * 6000}, model="scripted/delay=0.005")
    told = [e async for e in services.runner.subscribe(run_id)]
    state = fold(told)
    assert state.status == "interrupted"
    assert state.interrupted_reason is not None and "the disk is full" in state.interrupted_reason
    assert "What was stored is kept" in state.interrupted_reason
    stored = await asyncio.to_thread(services.runs.events, run_id)
    assert len(told) > 2 and stored[: len(told) - 1] == told[:-1]  # all that watchers saw was stored first

    event.remove(engine, "connect", no_room)  # room again: connections made from now on can grow the file
    services.runs.close()
    engine.dispose()
    resumed = await services.runner.wait(await services.runner.resume(run_id))
    assert resumed.status == "succeeded"
    assert (await asyncio.to_thread(services.runs.get, run_id)).status == "interrupted"  # its end, stored meanwhile
    assert (await asyncio.to_thread(services.runs.events, run_id))[: len(told) - 1] == told[:-1]


def test_the_server_does_not_start_on_a_damaged_database_and_says_why(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _ran(home)
    _garbage_header(home / "flowdeck.db")
    code, _, err = cli(home, "serve", "--port", str(free_port()), timeout=60)
    _clean(code, err)
    assert "the database file is damaged" in err and "flowdeck doctor" in err
