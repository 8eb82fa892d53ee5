"""The side-effect log: every tool call that changes the world is an intent row before it runs and an outcome row
after, in an append-only table (storage/db.py: SIDE_EFFECTS_MIGRATION). SqlJournal is what a run writes through
(engine/tools.py's EffectJournal); effects_of() is what pages, the API and the CLI read."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select
from sqlalchemy.exc import SQLAlchemyError

from flowdeck.engine.events import ToolCall
from flowdeck.engine.tools import MAX_RESULT_CHARS, EffectStatus, RecordedEffect, ToolContext, ToolResult, ToolSpec
from flowdeck.errors import StorageError
from flowdeck.storage.faults import storage_error
from flowdeck.storage.redaction import Redactor
from flowdeck.storage.tables import SideEffectRow

_TABLE = SideEffectRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, kw_only=True, slots=True)
class Effect:
    """One side effect of a run: its intent and, unless its process died in between, its outcome."""

    seq: int  # the intent's place in the log
    run_id: str
    node_id: str
    execution: int  # the agent's round
    key: str
    attempt: int
    tool: str
    status: EffectStatus  # unknown: an intent without an outcome
    arguments: str  # JSON text, secrets redacted
    detail: dict[str, Any] = field(default_factory=dict)
    content: str = ""
    started_at: float
    finished_at: float | None = None


class SqlJournal:
    """The EffectJournal of one run (engine/tools.py): each write is one transaction, committed before it returns.
    Blocking: the engine calls it from a worker thread.

    `secrets`: the values of the saved secrets, read at each write (a secret saved during the run is redacted too).
    `continues`: the runs this one resumes, newest first: a call recorded there under its own run's key is found."""

    def __init__(
        self,
        db: Engine,
        run_id: str,
        *,
        secrets: Callable[[], Collection[str]] = tuple,
        continues: Sequence[str] = (),
    ) -> None:
        self._db = db
        self.run_id = run_id
        self._secrets = secrets
        self._continues = tuple(continues)

    def recorded(self, key: str) -> RecordedEffect | None:
        """The latest entry for this call (here, or in a run this one resumes): ok/failed with what the model was
        given, unknown for an intent without an outcome, None if it never ran."""
        keys = self._candidates(key)
        with self._doing(f"reading the side effects of run {self.run_id}"), self._db.connect() as conn:
            rows = conn.execute(
                select(_TABLE.c.key, _TABLE.c.attempt, _TABLE.c.phase, _TABLE.c.status, _TABLE.c.content)
                .where(_TABLE.c.key.in_(keys))
                .order_by(_TABLE.c.seq)
            ).all()
        intents = [r for r in rows if r.phase == "intent"]
        if not intents:
            return None
        last = intents[-1]
        for row in rows:
            if row.phase == "outcome" and row.key == last.key and row.attempt == last.attempt:
                return RecordedEffect(key=key, status="ok" if row.status == "ok" else "failed", content=row.content)
        return RecordedEffect(key=key, status="unknown")

    def intent(self, context: ToolContext, spec: ToolSpec, call: ToolCall) -> None:
        """Record that a side-effecting call is about to run (its arguments redacted); on disk when this returns."""
        arguments = Redactor(self._secrets()).arguments(call.arguments)
        with self._doing(f"recording a side effect of run {self.run_id}"), _writing(self._db, synced=True) as conn:
            done = conn.execute(
                select(func.count()).where(_TABLE.c.key == context.key, _TABLE.c.phase == "intent")
            ).scalar_one()
            conn.execute(
                insert(_TABLE).values(
                    run_id=self.run_id,
                    node_id=context.node_id,
                    execution=context.execution,
                    key=context.key,
                    attempt=done + 1,
                    tool=spec.name,
                    phase="intent",
                    arguments=arguments,
                    ts=time.time(),
                )
            )

    def outcome(self, context: ToolContext, result: ToolResult) -> None:
        """Record how the call ended (ok or failed, its detail and what the model was given, redacted); committed when
        this returns (it outlives this process; see _writing). It closes the call's latest intent."""
        redactor = Redactor(self._secrets())
        detail = json.dumps(redactor.value(result.detail), ensure_ascii=False, default=str)
        content = redactor.text(result.content[:MAX_RESULT_CHARS])
        with self._doing(f"recording a side effect of run {self.run_id}"), _writing(self._db, synced=False) as conn:
            intent = conn.execute(
                select(_TABLE.c.attempt, _TABLE.c.tool)
                .where(_TABLE.c.key == context.key, _TABLE.c.phase == "intent")
                .order_by(_TABLE.c.seq.desc())
                .limit(1)
            ).first()
            if intent is None:
                raise StorageError(f"no intent was recorded for the tool call {context.key}; its outcome is not kept")
            conn.execute(
                insert(_TABLE).values(
                    run_id=self.run_id,
                    node_id=context.node_id,
                    execution=context.execution,
                    key=context.key,
                    attempt=intent.attempt,
                    tool=intent.tool,
                    phase="outcome",
                    status="ok" if result.ok else "failed",
                    detail=detail,
                    content=content,
                    ts=time.time(),
                )
            )

    def effects_of(self, run_id: str) -> list[Effect]:
        """A run's side effects, oldest first (see the module function)."""
        return effects_of(self._db, run_id)

    def _candidates(self, key: str) -> list[str]:
        own, sep, rest = key.partition(":")
        if not sep or own != self.run_id:
            return [key]
        return [key, *(f"{run_id}:{rest}" for run_id in self._continues)]

    def _doing(self, doing: str) -> _Faults:
        return _Faults(self._db, doing)


def effects_of(db: Engine, run_id: str) -> list[Effect]:
    """A run's side effects in the order their intents were written, each ok, failed or unknown (an intent without
    an outcome: its process died while the call ran, so whether it happened is not known). Blocking."""
    with _Faults(db, f"reading the side effects of run {run_id}"), db.connect() as conn:
        rows = conn.execute(select(_TABLE).where(_TABLE.c.run_id == run_id).order_by(_TABLE.c.seq)).all()
    outcomes = {(r.key, r.attempt): r for r in rows if r.phase == "outcome"}
    found = []
    for row in rows:
        if row.phase != "intent":
            continue
        out = outcomes.get((row.key, row.attempt))
        found.append(
            Effect(
                seq=row.seq,
                run_id=row.run_id,
                node_id=row.node_id,
                execution=row.execution,
                key=row.key,
                attempt=row.attempt,
                tool=row.tool,
                status="unknown" if out is None else "ok" if out.status == "ok" else "failed",
                arguments=row.arguments,
                detail=_detail(out.detail) if out is not None else {},
                content=out.content if out is not None else "",
                started_at=row.ts,
                finished_at=out.ts if out is not None else None,
            )
        )
    return found


def unknown_effects(db: Engine, run_ids: Iterable[str]) -> list[Effect]:
    """The calls of these runs (a run and the runs it resumed) whose latest attempt has no outcome: whether they
    happened is not known. A call run again (a resume's retry) counts by its new attempt, whichever run made it.
    Blocking."""
    latest: dict[str, Effect] = {}
    for run_id in dict.fromkeys(run_ids):
        for effect in effects_of(db, run_id):
            if effect.key not in latest or effect.attempt > latest[effect.key].attempt:
                latest[effect.key] = effect
    return sorted((e for e in latest.values() if e.status == "unknown"), key=lambda e: e.seq)


@contextmanager
def _writing(db: Engine, *, synced: bool) -> Iterator[Connection]:
    """A write transaction. `synced`: its commit is on disk when it returns, whatever the database's setting (SQLite
    syncs its WAL, PostgreSQL waits for its WAL flush); else the commit outlives this process but a power cut or a
    crash of the database server may lose it. An intent is synced: lost after its call ran, the call would be run
    again. An outcome is not: lost, its call reads "outcome unknown" and a resume asks; so the log adds one synced
    write per side effect (bench/README.md)."""
    sqlite = db.dialect.name == "sqlite"
    with db.connect() as conn:
        raw = conn.connection.driver_connection if sqlite and synced else None
        if raw is not None:  # SQLite refuses to change it inside a transaction
            raw.execute("PRAGMA synchronous=FULL")
        try:
            conn.execution_options(flowdeck_write=True)
            with conn.begin():
                if not sqlite:
                    conn.exec_driver_sql(f"SET LOCAL synchronous_commit TO {'ON' if synced else 'OFF'}")
                yield conn
        finally:
            if raw is not None:
                with suppress(Exception):  # a broken connection is dropped by the pool anyway
                    raw.execute("PRAGMA synchronous=NORMAL")  # the database's setting (storage/db.py), for the pool


def _detail(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class _Faults:
    """Database failures while `doing` something, as a StorageError saying what to do."""

    def __init__(self, db: Engine, doing: str) -> None:
        self._db = db
        self._doing = doing

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _tb: object) -> None:
        if isinstance(exc, SQLAlchemyError):
            url = self._db.url
            shown = f"sqlite:///{url.database}" if url.drivername.startswith("sqlite") else url.render_as_string()
            raise storage_error(exc, shown, doing=self._doing) from None
