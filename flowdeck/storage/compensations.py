"""Compensation attempts in the side-effect log (storage/effects.py): rows of phase "compensation" with the undone
effect's key, numbered 1, 2... per key (the table's unique (key, phase, attempt)), status ok | failed | manual |
blocked, and a redacted JSON detail naming the handler. An effect is undone once an ok row exists for its key: a
handler that worked, or manual steps a person marked done (a new row: ok, {"by": ...})."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, insert, select

from flowdeck.engine.handlers import Handler
from flowdeck.errors import NotFoundError
from flowdeck.storage.effects import Effect, _detail, _Faults, _writing, effects_of
from flowdeck.storage.redaction import Redactor
from flowdeck.storage.tables import SideEffectRow

PHASE = "compensation"
_TABLE = SideEffectRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, kw_only=True, slots=True)
class CompensationEntry:
    """One attempt to undo an effect, as the log keeps it."""

    seq: int
    run_id: str  # the run that was compensated (the effect may belong to a run it continued)
    node_id: str
    key: str  # the undone effect's key
    attempt: int
    tool: str
    status: str  # ok | failed | manual | blocked
    detail: dict[str, Any] = field(default_factory=dict)  # handler, message or reason, method, url, by...
    ts: float

    @property
    def handler(self) -> str:
        return str(self.detail.get("handler", ""))

    @property
    def message(self) -> str:
        detail = self.detail
        return str(
            detail.get("reason") or detail.get("message") or (f"done by {detail['by']}" if "by" in detail else "")
        )


class SqlCompensationLog:
    """tools/compensation.py's CompensationLog for compensating one run. Blocking (compensate() is async but its
    log calls are quick single-row writes, like the journal's outcome)."""

    def __init__(self, db: Engine, run_id: str, *, secrets: Callable[[], Collection[str]] = tuple) -> None:
        self._db = db
        self.run_id = run_id
        self._secrets = secrets

    def undone(self, key: str) -> bool:
        return undone(self._db, key)

    def attempt(self, effect: Any, handler: Handler, status: str, detail: dict[str, Any]) -> None:
        record(self._db, self.run_id, effect, status, {"handler": handler.id, **detail}, self._secrets())


def undone(db: Engine, key: str) -> bool:
    """Whether an ok compensation of this effect is in the log (whichever run recorded it)."""
    with _Faults(db, "reading the side-effect log"), db.connect() as conn:
        found = conn.execute(
            select(_TABLE.c.seq).where(_TABLE.c.key == key, _TABLE.c.phase == PHASE, _TABLE.c.status == "ok").limit(1)
        ).first()
    return found is not None


def record(db: Engine, run_id: str, effect: Any, status: str, detail: dict[str, Any], secrets: Iterable[str]) -> None:
    """Append one attempt for `effect` (anything with key, node_id, execution, tool); numbered in its transaction."""
    text = json.dumps(Redactor(secrets).value(detail), ensure_ascii=False, default=str)
    with _Faults(db, f"recording a compensation of run {run_id}"), _writing(db, synced=True) as conn:
        done = conn.execute(
            select(func.count()).where(_TABLE.c.key == effect.key, _TABLE.c.phase == PHASE)
        ).scalar_one()
        conn.execute(
            insert(_TABLE).values(
                run_id=run_id,
                node_id=effect.node_id,
                execution=effect.execution,
                key=effect.key,
                attempt=done + 1,
                tool=effect.tool,
                phase=PHASE,
                status=status,
                detail=text,
                ts=time.time(),
            )
        )


def compensations_of(db: Engine, keys: Collection[str]) -> list[CompensationEntry]:
    """The attempts to undo these effects (by key), oldest first. Blocking."""
    if not keys:
        return []
    with _Faults(db, "reading the side-effect log"), db.connect() as conn:
        rows = conn.execute(
            select(_TABLE).where(_TABLE.c.key.in_(list(keys)), _TABLE.c.phase == PHASE).order_by(_TABLE.c.seq)
        ).all()
    return [
        CompensationEntry(
            seq=row.seq,
            run_id=row.run_id,
            node_id=row.node_id,
            key=row.key,
            attempt=row.attempt,
            tool=row.tool,
            status=row.status or "",
            detail=_detail(row.detail),
            ts=row.ts,
        )
        for row in rows
    ]


def lineage_effects(db: Engine, run_ids: Iterable[str]) -> list[Effect]:
    """The effects of a run and of the runs it continues (a resume reuses its first run's keys): one per key, its
    latest attempt, oldest first. Blocking."""
    latest: dict[str, Effect] = {}
    for run_id in dict.fromkeys(run_ids):
        for effect in effects_of(db, run_id):
            if effect.key not in latest or effect.attempt >= latest[effect.key].attempt:
                latest[effect.key] = effect
    return sorted(latest.values(), key=lambda e: e.seq)


def mark_done(db: Engine, run_id: str, key: str, by: str) -> CompensationEntry:
    """A person says they followed an effect's manual steps: an ok row {"by": ...}. NotFoundError unless its latest
    attempt is "manual" and it is not undone already."""
    with db.connect() as conn:
        rows = conn.execute(
            select(_TABLE).where(_TABLE.c.key == key, _TABLE.c.phase == PHASE).order_by(_TABLE.c.seq)
        ).all()
    if not rows:
        raise NotFoundError(f"effect {key[:300]} has no compensation to mark done: compensate the run first")
    if any(row.status == "ok" for row in rows):
        raise NotFoundError(f"effect {key[:300]} is undone already; nothing to mark")
    last = rows[-1]
    if last.status != "manual":
        raise NotFoundError(f"effect {key[:300]}'s compensation is {last.status}, not manual steps to mark done")
    record(db, run_id, last, "ok", {"handler": _detail(last.detail).get("handler", ""), "by": by}, ())
    return compensations_of(db, [key])[-1]
