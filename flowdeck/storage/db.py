"""The database: SQLite in the data directory (WAL, busy timeout, writes lock, reads do not) or PostgreSQL by URL."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import SQLModel

from flowdeck.engine.events import RunStarted
from flowdeck.engine.identity import IDENTITY_LIMIT
from flowdeck.engine.state import run_label
from flowdeck.errors import StorageError
from flowdeck.storage.codec import batch_from_json
from flowdeck.storage.faults import advice, sqlite_path, storage_error, unreadable_folder
from flowdeck.storage.integrity import CHECKSUM_CHARS
from flowdeck.storage.tables import (
    LABEL_LIMIT,
    EventBatchRow,
    EventRow,
    MigrationRow,
    NodeOutputRow,
    RunRequestRow,
    RunRow,
    SessionRow,
    SideEffectRow,
    TrustRow,
    WorkflowRow,
)

BUSY_TIMEOUT_MS = 10_000
log = logging.getLogger("flowdeck.storage")


def _initial(conn: Connection) -> None:
    tables = [t.__table__ for t in (WorkflowRow, RunRow, EventRow, NodeOutputRow)]  # type: ignore[union-attr]
    SQLModel.metadata.create_all(conn, tables=tables)


def _sessions(conn: Connection) -> None:
    SessionRow.__table__.create(conn)  # type: ignore[attr-defined]


def _event_batches(conn: Connection) -> None:
    EventBatchRow.__table__.create(conn)  # type: ignore[attr-defined]
    conn.exec_driver_sql(
        "INSERT INTO event_batches (run_id, last_seq, first_seq, data) "
        "SELECT run_id, seq, seq, '[' || data || ']' FROM events"
    )
    EventRow.__table__.drop(conn)  # type: ignore[attr-defined]


def _run_labels(conn: Connection) -> None:
    if not any(column["name"] == "label" for column in inspect(conn).get_columns("runs")):  # 0001 makes it now
        conn.exec_driver_sql("ALTER TABLE runs ADD COLUMN label VARCHAR(200) NOT NULL DEFAULT ''")
    # Runs recorded before: a partial run is known by the outputs it reused (not which agent it ran from).
    firsts = conn.exec_driver_sql(
        "SELECT b.run_id, b.data FROM event_batches b JOIN runs r ON r.id = b.run_id "
        "WHERE b.first_seq = 1 AND r.label = ''"
    ).all()
    for run_id, data in firsts:
        started = batch_from_json(data)[0]
        if isinstance(started, RunStarted) and (label := run_label(started)):
            conn.execute(update(RunRow).where(RunRow.id == run_id).values(label=label[:LABEL_LIMIT]))


def _workflow_identities(conn: Connection) -> None:
    # "file:<absolute path>" and the like outgrow the saved workflows' ids; SQLite does not enforce lengths.
    if conn.dialect.name != "sqlite":
        conn.exec_driver_sql(f"ALTER TABLE runs ALTER COLUMN workflow_id TYPE VARCHAR({IDENTITY_LIMIT})")


def _event_checksums(conn: Connection) -> None:
    # Batches stored from now on carry a checksum (storage/integrity.py); those stored before keep none.
    if not any(column["name"] == "checksum" for column in inspect(conn).get_columns("event_batches")):  # 0003 makes it
        conn.exec_driver_sql(f"ALTER TABLE event_batches ADD COLUMN checksum VARCHAR({CHECKSUM_CHARS})")


def _side_effects(conn: Connection) -> None:
    SideEffectRow.__table__.create(conn)  # type: ignore[attr-defined]
    for statement in APPEND_ONLY[conn.dialect.name]:
        conn.exec_driver_sql(statement)


def _trust(conn: Connection) -> None:
    TrustRow.__table__.create(conn)  # type: ignore[attr-defined]
    # A compensation attempt is a side-effect row of phase "compensation" (storage/compensations.py); SQLite does not
    # enforce lengths, PostgreSQL widens in place (DDL: the append-only triggers are for rows, not the column).
    if conn.dialect.name != "sqlite":
        conn.exec_driver_sql("ALTER TABLE side_effects ALTER COLUMN phase TYPE VARCHAR(12)")


# The side-effect log is append-only, and the database itself says so: whatever writes to it (this app, a script,
# a person with a SQL shell) cannot change or delete an entry. No run deletion exists; one added later keeps the
# run's effects (the table has no foreign key to runs), or drops these triggers in its own named transaction.
_REFUSED = "side_effects is append-only: its entries cannot be changed or deleted"
APPEND_ONLY: dict[str, list[str]] = {
    "sqlite": [
        *(
            f"CREATE TRIGGER side_effects_no_{what} BEFORE {what.upper()} ON side_effects "
            f"BEGIN SELECT RAISE(ABORT, '{_REFUSED}'); END"
            for what in ("update", "delete")
        ),
        # INSERT OR REPLACE deletes the row it conflicts with without firing delete triggers (recursive_triggers off)
        "CREATE TRIGGER side_effects_no_replace BEFORE INSERT ON side_effects WHEN EXISTS (SELECT 1 FROM side_effects "
        "WHERE seq = NEW.seq OR (key = NEW.key AND phase = NEW.phase AND attempt = NEW.attempt)) "
        f"BEGIN SELECT RAISE(ABORT, '{_REFUSED}'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION side_effects_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION USING MESSAGE = '{_REFUSED} (' || TG_OP || ' refused)'; END $$",
        "CREATE TRIGGER side_effects_no_change BEFORE UPDATE OR DELETE ON side_effects "
        "FOR EACH ROW EXECUTE FUNCTION side_effects_append_only()",
        "CREATE TRIGGER side_effects_no_truncate BEFORE TRUNCATE ON side_effects "
        "FOR EACH STATEMENT EXECUTE FUNCTION side_effects_append_only()",
    ],
}


SIDE_EFFECTS_MIGRATION = "0007_side_effects"
TRUST_MIGRATION = "0009_trust"  # approvals of handlers and MCP commands; renumbered at merge in this one place
# The triggers that make it so, by name, for `flowdeck doctor` (storage/health.py).
APPEND_ONLY_TRIGGERS: dict[str, tuple[str, ...]] = {
    "sqlite": ("side_effects_no_update", "side_effects_no_delete", "side_effects_no_replace"),
    "postgresql": ("side_effects_no_change", "side_effects_no_truncate"),
}


def _run_requests(conn: Connection) -> None:
    RunRequestRow.__table__.create(conn)  # type: ignore[attr-defined]


# Ordered and named. Never edit one that has shipped: add the next one instead.
MIGRATIONS: list[tuple[str, Callable[[Connection], None]]] = [
    ("0001_initial", _initial),
    ("0002_sessions", _sessions),
    ("0003_event_batches", _event_batches),
    ("0004_run_labels", _run_labels),
    ("0005_workflow_identities", _workflow_identities),
    ("0006_event_checksums", _event_checksums),
    (SIDE_EFFECTS_MIGRATION, _side_effects),
    ("0008_run_requests", _run_requests),
    (TRUST_MIGRATION, _trust),
]


def open_database(url: str, *, busy_timeout: float = BUSY_TIMEOUT_MS / 1000) -> Engine:
    """Connect, configure and migrate; StorageError saying what is wrong and what to do if the database cannot be used.

    An SQLite database that cannot be written (a read-only file or folder) is opened read-only, so that runs can
    still be listed and shown: writes to it then fail with a StorageError of kind "read_only". `busy_timeout`: how
    many seconds a write waits for another program's lock (SQLite)."""
    path = sqlite_path(url)
    if path is not None and (unreadable := unreadable_folder(path)) is not None:
        raise unreadable
    if path is not None and path.is_file() and not os.access(path, os.W_OK):
        return _open_read_only(path, url, None, busy_timeout)
    try:
        engine = _engine(url, busy_timeout)
        migrate(engine)
        return engine
    except SQLAlchemyError as exc:
        error = storage_error(exc, url, doing="opening the database")
    if error.kind not in ("read_only", "cannot_open") or path is None or not path.is_file():
        raise error
    return _open_read_only(path, url, error, busy_timeout)


def _open_read_only(path: Path, url: str, error: StorageError | None, busy_timeout: float) -> Engine:
    for mode in ("mode=ro", "immutable=1"):  # immutable: a WAL database in a folder where no -shm can be made
        engine = _engine(f"sqlite:///file:{path}?{mode}&uri=true", busy_timeout)
        try:
            todo = pending(engine)
        except SQLAlchemyError as exc:
            engine.dispose()
            error = error or storage_error(exc, url, doing="opening the database")
            continue
        if todo:
            engine.dispose()
            raise StorageError(
                f"the database {path} needs upgrading ({', '.join(todo)}) but cannot be written; "
                + advice("read_only", url),
                kind="read_only",
            )
        log.warning("the database %s cannot be written: opened read-only", path)
        return engine
    assert error is not None
    raise error


def is_read_only(engine: Engine) -> bool:
    """Whether open_database() opened this SQLite database read-only."""
    return bool(engine.url.database and engine.url.database.startswith("file:"))


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A transaction that writes: on SQLite it takes the write lock at once (BEGIN IMMEDIATE), so that two
    processes wait for each other instead of failing. Reads (engine.connect()) begin deferred and never lock."""
    with engine.connect() as conn:
        conn.execution_options(flowdeck_write=True)
        with conn.begin():
            yield conn


def pending(engine: Engine) -> list[str]:
    """The names of the migrations not yet applied (read without locking)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(MigrationRow.__tablename__):
            return [name for name, _ in MIGRATIONS]
        done = set(conn.execute(select(MigrationRow.name)).scalars())  # type: ignore[call-overload]
    return [name for name, _ in MIGRATIONS if name not in done]


def migrate(engine: Engine) -> list[str]:
    """Apply the migrations not yet recorded; return their names. Takes the write lock only if there are some."""
    if not pending(engine):
        return []
    applied: list[str] = []
    with writing(engine) as conn:
        MigrationRow.__table__.create(conn, checkfirst=True)  # type: ignore[attr-defined]
        done = set(conn.execute(select(MigrationRow.name)).scalars())  # type: ignore[call-overload]
        for name, step in MIGRATIONS:
            if name in done:
                continue
            step(conn)
            conn.execute(MigrationRow.__table__.insert().values(name=name, applied_at=time.time()))  # type: ignore[attr-defined]
            applied.append(name)
    return applied


def _engine(url: str, busy_timeout: float) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_timeout})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" below decide when transactions start (pysqlite's own is too lazy).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # Writers lock up front (see writing()); readers begin deferred: in WAL mode they never wait for a writer.
        immediate = conn.get_execution_options().get("flowdeck_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
