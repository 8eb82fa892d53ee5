"""Requests to the process that drives a run, from any other process on the database: decide one of its approvals, or
cancel it. A run lives in one process; the others ask it through its log's database, and it looks between events."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from flowdeck.storage.db import writing
from flowdeck.storage.faults import storage_error
from flowdeck.storage.tables import RunRequestRow

_TABLE = RunRequestRow.__table__  # type: ignore[attr-defined]

RequestKind = Literal["decide", "cancel"]
Outcome = Literal["done", "refused"]


@dataclass(frozen=True, kw_only=True, slots=True)
class RunRequest:
    id: int
    run_id: str
    kind: RequestKind
    node_id: str | None
    decision: str | None  # JSON
    state: str  # pending, taken, done, refused, withdrawn
    answer: str


class RunRequests:
    """The run_requests table. Every change of a request's state is conditional on the state it had, so that a request
    is taken by the driving process or withdrawn by its asker, never both. Blocking: call from a worker thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def post(self, run_id: str, kind: RequestKind, *, node_id: str | None = None, decision: str | None = None) -> int:
        """Ask the run's driving process; the request's id."""
        row = {"run_id": run_id, "kind": kind, "node_id": node_id, "decision": decision}
        with self._writing("asking the process that drives a run") as conn:
            found = conn.execute(insert(_TABLE).values(**row, state="pending", answer="", created_at=time.time()))
            key = found.inserted_primary_key
            assert key is not None
            return int(key[0])

    def pending(self, run_ids: Iterable[str]) -> list[RunRequest]:
        """The requests not yet taken for these runs, oldest first."""
        ids = list(run_ids)
        if not ids:
            return []
        query = select(_TABLE).where(_TABLE.c.state == "pending", _TABLE.c.run_id.in_(ids)).order_by(_TABLE.c.id)
        try:
            with self._engine.connect() as conn:
                return [_request(row) for row in conn.execute(query).mappings()]
        except SQLAlchemyError as exc:
            raise storage_error(exc, self._url(), doing="reading the requests to runs") from None

    def get(self, request_id: int) -> RunRequest:
        try:
            with self._engine.connect() as conn:
                row = conn.execute(select(_TABLE).where(_TABLE.c.id == request_id)).mappings().one()
        except SQLAlchemyError as exc:
            raise storage_error(exc, self._url(), doing="reading a request to a run") from None
        return _request(row)

    def take(self, request_id: int) -> bool:
        """The driving process takes a pending request; False if its asker withdrew it first."""
        return self._move(request_id, "pending", "taken")

    def withdraw(self, request_id: int) -> bool:
        """The asker takes back a request not taken yet (the run stopped, or no one answers); False if it was taken."""
        return self._move(request_id, "pending", "withdrawn")

    def answer(self, request_id: int, outcome: Outcome, text: str = "") -> None:
        """The driving process says how a request it took went: done (a decision: the node decided), or refused, why."""
        self._move(request_id, "taken", outcome, text)

    def _move(self, request_id: int, before: str, after: str, text: str = "") -> bool:
        query = (
            update(_TABLE)
            .where(_TABLE.c.id == request_id, _TABLE.c.state == before)
            .values(state=after, answer=text, answered_at=time.time())
        )
        with self._writing("answering a request to a run") as conn:
            return conn.execute(query).rowcount == 1

    @contextmanager
    def _writing(self, doing: str) -> Iterator[Connection]:
        try:
            with writing(self._engine) as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise storage_error(exc, self._url(), doing=doing) from None

    def _url(self) -> str:
        return self._engine.url.render_as_string()


def _request(row: object) -> RunRequest:
    data = dict(row)  # type: ignore[call-overload]
    return RunRequest(
        id=data["id"],
        run_id=data["run_id"],
        kind=data["kind"],
        node_id=data["node_id"],
        decision=data["decision"],
        state=data["state"],
        answer=data["answer"],
    )
