"""The durable run log: runs, their ordered events and the outputs of finished nodes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update

from flowdeck.engine.events import (
    Event,
    NodeFinished,
    RunFinished,
    RunInterrupted,
    RunStarted,
    event_from_dict,
    event_to_json,
)
from flowdeck.errors import NotFoundError
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

    def append(self, events: Sequence[Event], *, owner: str = "", workflow_id: str | None = None) -> None:
        """Persist a batch of one run's events, with the run row and node outputs, in one transaction."""
        if not events:
            return
        run_id = events[0].run_id
        rows = [
            {
                "run_id": e.run_id,
                "seq": e.seq,
                "ts": e.ts,
                "type": e.type,
                "node_id": getattr(e, "node_id", None),
                "data": event_to_json(e),
            }
            for e in events
        ]
        outputs = [
            {
                "run_id": e.run_id,
                "node_id": e.node_id,
                "execution": e.execution,
                "output": e.output,
                "prompt_tokens": e.usage.prompt_tokens,
                "completion_tokens": e.usage.completion_tokens,
                "cost": e.cost,
                "cached": e.cached,
                "seq": e.seq,
            }
            for e in events
            if isinstance(e, NodeFinished)
        ]
        with self._engine.begin() as conn:
            for e in events:
                if isinstance(e, RunStarted):
                    conn.execute(
                        insert(_RUNS).values(
                            id=e.run_id,
                            workflow_name=e.workflow_name,
                            workflow_id=workflow_id,
                            status="running",
                            owner=owner,
                            started_at=e.ts,
                        )
                    )
            conn.execute(insert(_EVENTS), rows)
            if outputs:
                conn.execute(insert(_OUTPUTS), outputs)
            values: dict[str, object] = {"last_seq": events[-1].seq}
            prompt = sum(o["prompt_tokens"] for o in outputs)  # type: ignore[misc]
            completion = sum(o["completion_tokens"] for o in outputs)  # type: ignore[misc]
            cost = sum(o["cost"] for o in outputs)  # type: ignore[misc]
            if outputs:
                values["prompt_tokens"] = _RUNS.c.prompt_tokens + prompt
                values["completion_tokens"] = _RUNS.c.completion_tokens + completion
                values["cost"] = _RUNS.c.cost + cost
            for e in events:
                if isinstance(e, RunFinished):
                    values.update(status=e.status, finished_at=e.ts, duration=e.duration)
                elif isinstance(e, RunInterrupted):
                    values.update(status="interrupted", finished_at=e.ts)
            conn.execute(update(_RUNS).where(_RUNS.c.id == run_id).values(**values))

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
