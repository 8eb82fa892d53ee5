"""The durable run log: runs, their ordered events and the outputs of finished nodes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, Table, select

from flowdeck.engine.events import (
    Event,
    NodeFinished,
    RunFinished,
    RunInterrupted,
    RunStarted,
    event_from_dict,
    event_to_json,
)
from flowdeck.errors import NotFoundError, StorageError
from flowdeck.storage.tables import EventRow, NodeOutputRow, RunRow

_EVENTS = EventRow.__table__  # type: ignore[attr-defined]
_RUNS = RunRow.__table__  # type: ignore[attr-defined]
_OUTPUTS = NodeOutputRow.__table__  # type: ignore[attr-defined]


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


class RunLog:
    """Appends events in transactions and reads them back in order. Blocking: call from a worker thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sql = _AppendSql(engine.dialect.paramstyle)

    def append(self, events: Sequence[Event], *, owner: str = "", workflow_id: str | None = None) -> None:
        """Persist a batch of one run's events, with the run row and node outputs, in one transaction.

        This is the hot path of every run (each batch of events is stored before anyone sees it), so its
        statements go to the driver as they are: SQLAlchemy's per-statement work cost ~350 us a transaction
        and ~10 us an event here, more than SQLite itself.
        """
        if not events:
            return
        run_id = events[0].run_id
        rows = []
        outputs = []
        prompt = completion = 0
        cost = 0.0
        ending: tuple[str, float, float | None, str] | None = None
        started: RunStarted | None = None
        for e in events:
            rows.append((run_id, e.seq, e.ts, e.type, getattr(e, "node_id", None), event_to_json(e)))
            if isinstance(e, NodeFinished):
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
            elif isinstance(e, RunFinished):
                ending = (e.status, e.ts, e.duration, run_id)
            elif isinstance(e, RunInterrupted):
                ending = ("interrupted", e.ts, None, run_id)
            elif isinstance(e, RunStarted):
                started = e
        sql = self._sql
        with self._engine.begin() as conn:
            if started is not None:
                conn.exec_driver_sql(
                    sql.insert_run,
                    (run_id, started.workflow_name, workflow_id, "running", owner, started.ts, 0, 0, 0.0, 0),
                )
            conn.exec_driver_sql(sql.insert_events, rows)
            if outputs:
                conn.exec_driver_sql(sql.insert_outputs, outputs)
            conn.exec_driver_sql(sql.update_totals, (events[-1].seq, prompt, completion, cost, run_id))
            if ending is not None:
                conn.exec_driver_sql(sql.update_ending, ending)

    def events(self, run_id: str, after_seq: int = 0, *, limit: int | None = None) -> list[Event]:
        """The run's events with seq > after_seq, in order (at most `limit` of them)."""
        query = (
            select(_EVENTS.c.data).where(_EVENTS.c.run_id == run_id, _EVENTS.c.seq > after_seq).order_by(_EVENTS.c.seq)
        )
        with self._engine.connect() as conn:
            data = conn.execute(query if limit is None else query.limit(limit)).scalars()
            return [event_from_dict(json.loads(item)) for item in data]

    def outputs(self, run_id: str) -> dict[str, str]:
        """The committed output of each node of a run (latest execution)."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(_OUTPUTS.c.node_id, _OUTPUTS.c.output)
                .where(_OUTPUTS.c.run_id == run_id)
                .order_by(_OUTPUTS.c.seq)
            ).all()
        return {node_id: output for node_id, output in rows}

    def get(self, run_id: str) -> RunSummary:
        """One run, by id or by a unique prefix of its id."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(_RUNS).where(_RUNS.c.id.startswith(run_id, autoescape=True)).limit(2)).all()
        if not rows:
            raise NotFoundError(f"no run with id '{run_id}'; `flowdeck runs` lists them")
        if len(rows) > 1:
            raise NotFoundError(f"'{run_id}' matches several runs; give more characters of the id")
        return RunSummary(**rows[0]._asdict())

    def recent(self, *, limit: int = 50, workflow: str | None = None, status: str | None = None) -> list[RunSummary]:
        query = select(_RUNS).order_by(_RUNS.c.started_at.desc()).limit(limit)
        if workflow:
            query = query.where(_RUNS.c.workflow_name == workflow)
        if status:
            query = query.where(_RUNS.c.status == status)
        with self._engine.connect() as conn:
            return [RunSummary(**row._asdict()) for row in conn.execute(query).all()]

    def workflow_names(self) -> list[str]:
        """The names of the workflows that have runs, sorted."""
        with self._engine.connect() as conn:
            query = select(_RUNS.c.workflow_name).distinct().order_by(_RUNS.c.workflow_name)
            return list(conn.execute(query).scalars())

    def running(self) -> list[RunSummary]:
        return self.recent(limit=10_000, status="running")


class _AppendSql:
    """The statements of RunLog.append, written once for the driver's placeholder style."""

    def __init__(self, paramstyle: str) -> None:
        if paramstyle not in ("qmark", "format", "pyformat"):
            raise StorageError(f"database drivers with the '{paramstyle}' parameter style are not supported")
        mark = "?" if paramstyle == "qmark" else "%s"

        def insert(table: Table, columns: list[str]) -> str:
            return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"

        self.insert_run = insert(
            _RUNS,
            [
                *("id", "workflow_name", "workflow_id", "status", "owner", "started_at"),
                *("prompt_tokens", "completion_tokens", "cost", "last_seq"),
            ],
        )
        self.insert_events = insert(_EVENTS, ["run_id", "seq", "ts", "type", "node_id", "data"])
        self.insert_outputs = insert(
            _OUTPUTS,
            ["run_id", "node_id", "execution", "output", "prompt_tokens", "completion_tokens", "cost", "cached", "seq"],
        )
        self.update_totals = (
            f"UPDATE {_RUNS.name} SET last_seq = {mark}, prompt_tokens = prompt_tokens + {mark}, "
            f"completion_tokens = completion_tokens + {mark}, cost = cost + {mark} WHERE id = {mark}"
        )
        self.update_ending = (
            f"UPDATE {_RUNS.name} SET status = {mark}, finished_at = {mark}, duration = {mark} WHERE id = {mark}"
        )
