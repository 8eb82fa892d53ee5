"""The durable run log: runs, their ordered events and the outputs of finished nodes."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Select, func, select
from sqlalchemy.exc import SQLAlchemyError

from flowdeck.engine.events import (
    ApprovalDecided,
    Event,
    NodeFinished,
    RunFinished,
    RunInterrupted,
    RunStarted,
    RunWaiting,
)
from flowdeck.engine.state import run_label
from flowdeck.errors import NotFoundError, StorageError
from flowdeck.storage.codec import batch_to_json
from flowdeck.storage.db import is_read_only
from flowdeck.storage.faults import storage_error
from flowdeck.storage.integrity import batch_checksum, stored_events
from flowdeck.storage.requests import RunRequests
from flowdeck.storage.statements import AppendSql
from flowdeck.storage.tables import LABEL_LIMIT, EventBatchRow, NodeOutputRow, RunRow

_BATCHES = EventBatchRow.__table__  # type: ignore[attr-defined]
_RUNS = RunRow.__table__  # type: ignore[attr-defined]
_OUTPUTS = NodeOutputRow.__table__  # type: ignore[attr-defined]
FAST_WRITE_BYTES = 256 * 1024  # the largest batch write_now() takes, quick enough for the event loop (bench/README.md)
CHECKPOINT_BYTES = 4 * 1024 * 1024  # SQLite's own default checkpoints at ~1,000 pages of 4 KB


MAX_RUN_ID = 64  # run ids are 12 characters; 64 leaves room for ids of other origins


@dataclass(frozen=True, kw_only=True, slots=True)
class RunSummary:
    id: str
    workflow_name: str
    workflow_id: str | None
    status: str
    owner: str
    started_at: float
    finished_at: float | None
    duration: float | None
    prompt_tokens: int
    completion_tokens: int
    cost: float
    last_seq: int
    label: str = ""  # what a partial run is, e.g. "Retry of Coder" (engine.state.run_label); "" for a whole run


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredBatch:
    """A batch of one run's events made ready to store: their JSON, and what the run's row and the node outputs
    table get from them.

    Made where the events were made (the Runner does it on the event loop), and written by a writer thread: the
    encoding holds the GIL either way, and is faster in the thread that made the events, as they are still in
    its cache (bench/README.md).
    """

    run_id: str
    first_seq: int
    last_seq: int
    data: str
    checksum: str  # storage/integrity.py
    outputs: list[tuple[str, str, int, str, int, int, float, bool, int]]
    prompt_tokens: int
    completion_tokens: int
    cost: float
    started: RunStarted | None
    ending: tuple[str, float | None, float | None, str] | None  # (status, finished_at, duration, run id)

    @classmethod
    def of(cls, events: Sequence[Event]) -> StoredBatch:
        run_id = events[0].run_id
        outputs = []
        prompt = completion = 0
        cost = 0.0
        ending: tuple[str, float | None, float | None, str] | None = None
        started: RunStarted | None = None
        # type() is, not isinstance(), which is slow on msgspec Structs (their metaclass is not `type`): this loop
        # runs over every event of a run (bench/README.md).
        for e in events:
            if type(e) is NodeFinished:
                usage = e.usage
                outputs.append(
                    (
                        run_id,
                        e.node_id,
                        e.execution,
                        e.output,
                        usage.prompt_tokens,
                        usage.completion_tokens,
                        e.cost,
                        e.cached,
                        e.seq,
                    )
                )
                prompt += usage.prompt_tokens
                completion += usage.completion_tokens
                cost += e.cost
            elif type(e) is RunFinished:
                ending = (e.status, e.ts, e.duration, run_id)
            elif type(e) is RunInterrupted:
                ending = ("interrupted", e.ts, e.duration, run_id)
            elif type(e) is RunStarted:
                started = e
            elif type(e) is RunWaiting:
                ending = ("waiting", None, None, run_id)
            elif type(e) is ApprovalDecided and ending is None:
                ending = ("running", None, None, run_id)  # a decision continues the run, in the process storing it
        first_seq, last_seq, data = events[0].seq, events[-1].seq, batch_to_json(events)
        return cls(
            run_id=run_id,
            first_seq=first_seq,
            last_seq=last_seq,
            data=data,
            checksum=batch_checksum(run_id, first_seq, last_seq, data),
            outputs=outputs,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost=cost,
            started=started,
            ending=ending,
        )


class RunLog:
    """Appends events in transactions and reads them back in order. Blocking: call from a worker thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sql = AppendSql(engine.dialect.paramstyle)
        self._begin = "BEGIN IMMEDIATE" if engine.dialect.name == "sqlite" else None
        self._writer: Any = None  # the connection write() holds (a pooled DBAPI connection)
        self._fast: Any = None  # the one write_now() holds (SQLite: it never waits for the lock, never checkpoints)
        self._writer_lock = threading.Lock()  # one writer at a time, whichever the connection
        self._unchecked = 0  # bytes that write_now() added to SQLite's WAL since the last checkpoint
        self.requests = RunRequests(engine)  # what other processes ask of the runs this one drives

    @property
    def read_only(self) -> bool:
        """Whether the database was opened read-only (it cannot be written: see open_database)."""
        return is_read_only(self._engine)

    def fault(self, exc: BaseException | str, *, doing: str) -> StorageError:
        """What a failure of this database while `doing` something means, and what to do about it."""
        url = self._engine.url
        shown = f"sqlite:///{url.database}" if url.drivername.startswith("sqlite") else url.render_as_string()
        return storage_error(exc, shown, doing=doing)

    @contextmanager
    def _reading(self, doing: str) -> Iterator[Connection]:
        """A connection for reads (deferred: it takes no lock), its failures turned into a StorageError."""
        try:
            with self._engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise self.fault(exc, doing=doing) from None

    def close(self) -> None:
        """Give the connections that the writes hold back to the pool."""
        with self._writer_lock:
            for conn in (self._writer, self._fast):
                if conn is not None:
                    conn.close()
            self._writer = self._fast = None

    def append(self, events: Sequence[Event], *, owner: str = "") -> None:
        """Persist a batch of one run's events, with the run row and node outputs, in one transaction."""
        if events:
            self.write(StoredBatch.of(events), owner=owner)

    def write(self, batch: StoredBatch, *, owner: str = "") -> None:
        """Persist a batch made ready by StoredBatch.of(), in one transaction.

        This is the hot path of every run (each batch of events is stored before anyone sees it), so it goes
        straight to the driver, on a connection it keeps: a transaction through SQLAlchemy's Connection costs
        more than the statements themselves (bench/README.md). The events go in one row (see EventBatchRow).
        """
        with self._writer_lock:
            if self._writer is None:
                self._writer = self._engine.raw_connection()
            self._transaction(self._writer, batch, owner, begun=False)

    def write_now(self, batch: StoredBatch, *, owner: str = "") -> bool:
        """Persist a batch at once if that cannot block: SQLite, a batch of at most FAST_WRITE_BYTES, and the
        write lock free (in this process and in others). Returns False, having written nothing, otherwise: then
        write() it from a worker thread, where waiting for the lock harms no one.

        Made for the event loop: a round trip to the writer thread costs more than a small write (bench/README.md)."""
        if self._begin is None or len(batch.data) > FAST_WRITE_BYTES:
            return False
        if not self._writer_lock.acquire(blocking=False):
            return False
        try:
            if self._fast is None:
                conn = self._engine.raw_connection()
                cursor = conn.cursor()
                cursor.execute("PRAGMA busy_timeout=0")  # a lock held elsewhere fails BEGIN at once
                cursor.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints sync the disk: checkpoint() does them
                cursor.close()
                self._fast = conn
            conn = self._fast
            cursor = conn.cursor()
            try:
                cursor.execute(self._begin)
            except sqlite3.OperationalError:
                return False  # another process is writing
            finally:
                cursor.close()
            try:
                self._transaction(conn, batch, owner, begun=True)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                return False  # rolled back as a whole: the writer thread writes it, waiting its turn
            self._unchecked += len(batch.data)
            return True
        finally:
            self._writer_lock.release()

    def checkpoint_due(self) -> bool:
        """Whether write_now() added enough to SQLite's WAL since the last checkpoint() to need one."""
        return self._unchecked >= CHECKPOINT_BYTES

    def checkpoint(self) -> None:
        """Copy the WAL's pages into the database file (SQLite; passive: it never waits for readers). Blocking,
        with a disk sync: call from a worker thread."""
        with self._writer_lock:
            self._unchecked = 0
            if self._begin is None:
                return
            if self._writer is None:
                self._writer = self._engine.raw_connection()
            cursor = self._writer.cursor()
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            cursor.close()

    def _transaction(self, conn: Any, batch: StoredBatch, owner: str, *, begun: bool) -> None:
        """The statements of one batch, committed (SQLite: after BEGIN IMMEDIATE, issued here unless `begun`)."""
        run_id, started = batch.run_id, batch.started
        sql = self._sql
        try:
            cursor = conn.cursor()
            if self._begin is not None and not begun:
                cursor.execute(self._begin)  # SQLite: take the write lock now (the driver runs in autocommit)
            if started is not None:
                label = run_label(started)[:LABEL_LIMIT]  # an agent's name can be long; PostgreSQL enforces it
                cursor.execute(
                    sql.insert_run,
                    (
                        *(run_id, started.workflow_name, started.workflow_id, "running", owner, started.ts),
                        *(0, 0, 0.0, 0, label),
                    ),
                )
            cursor.execute(sql.insert_batch, (run_id, batch.last_seq, batch.first_seq, batch.data, batch.checksum))
            if batch.outputs:
                cursor.executemany(sql.insert_outputs, batch.outputs)
            totals = (batch.last_seq, batch.prompt_tokens, batch.completion_tokens, batch.cost, run_id)
            cursor.execute(sql.update_totals, totals)
            if batch.ending is not None:
                cursor.execute(sql.update_ending, batch.ending)
                if batch.ending[0] == "running":
                    cursor.execute(sql.update_owner, (owner, run_id))
            cursor.close()
            conn.commit()
        except BaseException:
            # Whatever went wrong (a constraint, a lost server), the next write starts on a new connection.
            if conn is self._writer:
                self._writer = None
            else:
                self._fast = None
            try:
                conn.rollback()
            finally:
                conn.invalidate()
            raise

    def claim_waiting(self, run_id: str, last_seq: int, *, owner: str, batch: StoredBatch | None = None) -> bool:
        """Take a run that waits for approval, to continue it in this process: in one transaction, the run's row goes
        from waiting (with `last_seq`, as read) to running, owned by `owner`, and `batch` (a decision) is stored. False,
        having written nothing, if it no longer waits as read: another process took it first (a row lock on
        PostgreSQL, the write lock on SQLite: exactly one process continues a waiting run)."""
        with self._writer_lock:
            if self._writer is None:
                self._writer = self._engine.raw_connection()
            conn = self._writer
            try:
                cursor = conn.cursor()
                if self._begin is not None:
                    cursor.execute(self._begin)
                cursor.execute(self._sql.claim_waiting, (owner, run_id, last_seq))
                claimed = cursor.rowcount == 1
                cursor.close()
            except BaseException:
                self._writer = None
                try:
                    conn.rollback()
                finally:
                    conn.invalidate()
                raise
            if not claimed:
                conn.rollback()
                return False
            if batch is None:
                conn.commit()
            else:
                self._transaction(conn, batch, owner, begun=True)
            return True

    def events(self, run_id: str, after_seq: int = 0, *, limit: int | None = None) -> list[Event]:
        """The run's events with seq > after_seq, in order (at most `limit` of them)."""
        columns = (_BATCHES.c.first_seq, _BATCHES.c.last_seq, _BATCHES.c.data, _BATCHES.c.checksum)
        query = (
            select(*columns)
            .where(_BATCHES.c.run_id == run_id, _BATCHES.c.last_seq > after_seq)
            .order_by(_BATCHES.c.last_seq)
        )
        found: list[Event] = []
        with self._reading(f"reading the events of run {run_id}") as conn:
            for first_seq, last_seq, data, checksum in conn.execute(query).all():
                after = found[-1].seq if found else None
                for event in stored_events(run_id, first_seq, last_seq, data, checksum, after=after):
                    if event.seq > after_seq:
                        found.append(event)
                        if limit is not None and len(found) >= limit:
                            return found
        return found

    def outputs(self, run_id: str) -> dict[str, str]:
        """The committed output of each node of a run (latest execution)."""
        with self._reading(f"reading the outputs of run {run_id}") as conn:
            rows = conn.execute(
                select(_OUTPUTS.c.node_id, _OUTPUTS.c.output)
                .where(_OUTPUTS.c.run_id == run_id)
                .order_by(_OUTPUTS.c.seq)
            ).all()
        return {node_id: output for node_id, output in rows}

    def get(self, run_id: str) -> RunSummary:
        """One run, by id or by a unique prefix of its id."""
        if not run_id or len(run_id) > MAX_RUN_ID:  # longer than any id: no run, not a query SQLite gives up on
            raise NotFoundError(f"no run with id '{run_id[:MAX_RUN_ID]}…'; `flowdeck runs` lists them")
        with self._reading(f"reading run {run_id}") as conn:
            rows = conn.execute(select(_RUNS).where(_RUNS.c.id.startswith(run_id, autoescape=True)).limit(2)).all()
        if not rows:
            raise NotFoundError(f"no run with id '{run_id}'; `flowdeck runs` lists them")
        if len(rows) > 1:
            raise NotFoundError(f"'{run_id}' matches several runs; give more characters of the id")
        return RunSummary(**rows[0]._asdict())

    def recent(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        workflow: str | None = None,
        status: str | None = None,
        workflow_id: str | None = None,
    ) -> list[RunSummary]:
        """Runs, newest first (`offset` of them skipped), optionally of workflows of one name, in one status, and of
        one workflow (by its identity, engine/identity.py)."""
        query = self._filtered(select(_RUNS), workflow, status, workflow_id)
        query = query.order_by(_RUNS.c.started_at.desc(), _RUNS.c.id).limit(limit).offset(offset)
        with self._reading("listing runs") as conn:
            return [RunSummary(**row._asdict()) for row in conn.execute(query).all()]

    def count(self, *, workflow: str | None = None, status: str | None = None, workflow_id: str | None = None) -> int:
        """How many runs recent() would list with no limit."""
        query = self._filtered(select(func.count()).select_from(_RUNS), workflow, status, workflow_id)
        with self._reading("counting runs") as conn:
            return int(conn.execute(query).scalar_one())

    @staticmethod
    def _filtered(query: Select[Any], workflow: str | None, status: str | None, workflow_id: str | None) -> Select[Any]:
        if workflow:
            query = query.where(_RUNS.c.workflow_name == workflow)
        if workflow_id:
            query = query.where(_RUNS.c.workflow_id == workflow_id)
        if status:
            query = query.where(_RUNS.c.status == status)
        return query

    def workflow_names(self) -> list[str]:
        """The names of the workflows that have runs, sorted."""
        with self._reading("listing workflows with runs") as conn:
            query = select(_RUNS.c.workflow_name).distinct().order_by(_RUNS.c.workflow_name)
            return list(conn.execute(query).scalars())

    def running(self) -> list[RunSummary]:
        return self.recent(limit=10_000, status="running")

    def waiting(self) -> list[RunSummary]:
        """The runs waiting for a person's approval."""
        return self.recent(limit=10_000, status="waiting")
