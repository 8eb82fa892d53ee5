"""Checking a database without changing it (for `flowdeck doctor`): integrity, migrations, readable events, locks."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError

from flowdeck.engine.events import EventDataError
from flowdeck.storage.db import APPEND_ONLY_TRIGGERS, MIGRATIONS, SIDE_EFFECTS_MIGRATION
from flowdeck.storage.faults import advice, redact, sqlite_path, storage_error, unreadable_folder
from flowdeck.storage.integrity import ChangedBatch, checked_batch
from flowdeck.storage.tables import MigrationRow

Level = Literal["ok", "warning", "problem"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Finding:
    """One thing checked: how it is, what it is about, and what was found (with what to do when it is not ok)."""

    level: Level
    topic: str
    text: str


def check_database(url: str, *, full: bool = False) -> Iterator[Finding]:
    """Check the database at `url`, read-only (SQLite: opened with mode=ro, so nothing is created or migrated).
    `full`: PRAGMA integrity_check rather than quick_check (slower: it also checks indexes against tables)."""
    yield Finding(level="ok", topic="database", text=redact(url))
    path = sqlite_path(url)
    if path is None:
        yield from _check_server(url)
        return
    if (unreadable := unreadable_folder(path)) is not None:
        yield Finding(level="problem", topic="database", text=str(unreadable))
        return
    if not path.is_file():
        yield Finding(level="ok", topic="database", text=f"{path} does not exist yet: the first command creates it")
        return
    try:
        conn = _open_read_only(path)
    except sqlite3.Error as exc:
        yield _fault(exc, url, "opening the database")
        return
    try:
        yield from _check_sqlite(conn, url, full=full)
    finally:
        conn.close()
    if os.access(path, os.W_OK) and os.access(path.parent, os.W_OK):
        yield _lock(path, url)


def _open_read_only(path: Path) -> sqlite3.Connection:
    """mode=ro; immutable=1 for a WAL database in a folder where its -shm file cannot be made (nobody writes it).
    SQLite says "unable to open" for that, or, as a user other than root, "attempt to write a readonly database"."""
    conn = None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        conn.execute("SELECT count(*) FROM sqlite_master")
        return conn
    except sqlite3.OperationalError as exc:
        if conn is not None:
            conn.close()
        if "unable to open" not in str(exc) and "readonly" not in str(exc):
            raise
    return sqlite3.connect(f"file:{path}?immutable=1", uri=True, isolation_level=None)


def _check_sqlite(conn: sqlite3.Connection, url: str, *, full: bool) -> Iterator[Finding]:
    pragma = "integrity_check" if full else "quick_check"
    try:
        found = [" ".join(str(row[0]).split()) for row in conn.execute(f"PRAGMA {pragma}(20)")]
    except sqlite3.Error as exc:
        yield _fault(exc, url, f"checking its integrity ({pragma})")
        return
    if found == ["ok"]:
        yield Finding(level="ok", topic="integrity", text=f"PRAGMA {pragma}: ok")
    else:
        shown = "; ".join(found[:5]) + (f"; and {len(found) - 5} more" if len(found) > 5 else "")
        yield Finding(
            level="problem", topic="integrity", text=f"PRAGMA {pragma} found damage: {shown}; " + advice("corrupt", url)
        )
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        done = [row[0] for row in conn.execute("SELECT name FROM migrations")] if "migrations" in tables else []
    except sqlite3.Error as exc:
        yield _fault(exc, url, "reading its migrations")
        return
    yield _migrations(done)
    if "event_batches" in tables:
        yield from _events(conn, url)
    if "side_effects" in tables:
        try:
            triggers = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        except sqlite3.Error as exc:
            yield _fault(exc, url, "reading its triggers")
            return
        yield _append_only(triggers, "sqlite")


def _events(conn: sqlite3.Connection, url: str) -> Iterator[Finding]:
    """Every stored batch of events read back and checked against its checksum: damage inside a page's data (which
    the pragmas do not see) shows here, and so does a change that left valid JSON (storage/integrity.py)."""
    batches, unchecked, damaged, changed = 0, 0, dict[str, str](), dict[str, list[str]]()
    try:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(event_batches)")}
        checksum = "checksum" if "checksum" in columns else "NULL"  # a database not yet migrated to 0006
        rows = conn.execute(f"SELECT run_id, first_seq, last_seq, CAST(data AS BLOB), {checksum} FROM event_batches")
        for run_id, first_seq, last_seq, data, stored in rows:
            batches += 1
            unchecked += stored is None
            try:
                checked_batch(run_id, first_seq, last_seq, data, stored)
            except ChangedBatch as exc:
                changed.setdefault(run_id, []).append(exc.events)
            except EventDataError as exc:
                damaged.setdefault(run_id, f"events up to seq {last_seq}: {str(exc)[:120]}")
    except sqlite3.Error as exc:
        yield _fault(exc, url, "reading the stored events")
        return
    if damaged:
        runs = "; ".join(f"run {run_id} ({why})" for run_id, why in list(damaged.items())[:5])
        more = f"; and {len(damaged) - 5} more runs" if len(damaged) > 5 else ""
        yield Finding(
            level="problem", topic="events", text=f"cannot read the events of {runs}{more}; " + advice("corrupt", url)
        )
    if changed:
        runs = "; ".join(f"run {run_id}: {', '.join(which[:3])}" for run_id, which in list(changed.items())[:5])
        more = f"; and {len(changed) - 5} more runs" if len(changed) > 5 else ""
        file = sqlite_path(url)
        yield Finding(
            level="problem",
            topic="events",
            text=f"stored events changed after they were written (their checksums do not match): {runs}{more}; "
            f"nothing was changed: keep a copy of {file} and restore a backup (these runs cannot be shown or "
            "resumed: a changed event cannot be told from a true one)",
        )
    if not damaged and not changed:
        older = f", {unchecked} of them written before checksums were kept (read, not checked)" if unchecked else ""
        yield Finding(level="ok", topic="events", text=f"{batches} stored batches of events read back{older}")


def _lock(path: Path, url: str) -> Finding:
    """Whether another program holds the write lock now (probed without waiting, and released at once)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None, timeout=0)
    except sqlite3.Error:
        return Finding(level="ok", topic="lock", text="not checked: the database cannot be opened for writing")
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return Finding(level="ok", topic="lock", text="the write lock is free")
    except sqlite3.Error as exc:
        fault = storage_error(exc, url, doing="taking the write lock")
        if fault.kind == "locked":
            return Finding(level="warning", topic="lock", text=f"held by another program now; {advice('locked', url)}")
        return Finding(level="problem", topic="lock", text=str(fault))
    finally:
        conn.close()


def _check_server(url: str) -> Iterator[Finding]:
    engine = create_engine(url, pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            if inspect(conn).has_table(MigrationRow.__tablename__):
                done = list(conn.execute(select(MigrationRow.name)).scalars())  # type: ignore[call-overload]
            else:
                done = []
        yield Finding(level="ok", topic="connection", text="the server answers")
        yield _migrations(done)
        if SIDE_EFFECTS_MIGRATION in done:
            with engine.connect() as conn:
                rows = conn.execute(
                    text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'side_effects'::regclass AND NOT tgisinternal")
                )
                yield _append_only({row[0] for row in rows}, "postgresql")
    except SQLAlchemyError as exc:
        yield _fault(exc, url, "connecting")
    finally:
        engine.dispose()


def _migrations(done: list[str]) -> Finding:
    known = [name for name, _ in MIGRATIONS]
    unknown = sorted(set(done) - set(known))
    if unknown:
        return Finding(
            level="problem",
            topic="migrations",
            text=f"made by a newer flowdeck ({', '.join(unknown)}): upgrade flowdeck (pip install -U flowdeck)",
        )
    todo = [name for name in known if name not in done]
    if todo and done:
        return Finding(level="warning", topic="migrations", text=f"{', '.join(todo)} to apply: the next command does")
    if todo:
        return Finding(level="ok", topic="migrations", text="none applied yet: the first command sets the database up")
    return Finding(level="ok", topic="migrations", text=f"all {len(known)} applied ({known[-1]})")


def _append_only(triggers: set[str], dialect: str) -> Finding:
    """Whether the side-effect log is still append-only: the triggers of its migration are there."""
    missing = [name for name in APPEND_ONLY_TRIGGERS[dialect] if name not in triggers]
    if missing:
        return Finding(
            level="problem",
            topic="side effects",
            text=f"the side-effect log is no longer append-only: its triggers {', '.join(missing)} were dropped, so "
            "its entries may have been changed or deleted since; nothing was changed: keep a copy of the database "
            f"and find out who dropped them (they are made by migration {SIDE_EFFECTS_MIGRATION})",
        )
    return Finding(level="ok", topic="side effects", text="the side-effect log is append-only (its triggers are there)")


def _fault(exc: BaseException, url: str, doing: str) -> Finding:
    return Finding(level="problem", topic="database", text=str(storage_error(exc, url, doing=doing)))
