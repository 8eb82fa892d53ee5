"""A run's events on their way out: numbered without gaps, stamped, and queued until taken in batches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from flowdeck.engine.events import Event, Handoff, NodeFinished, NodeStarted, Token
from flowdeck.engine.llm_types import Completion, ModelRequest
from flowdeck.engine.workflow import Edge


class Outbox:
    """Builds and queues one run's events. The frequent kinds (node started, token, node finished and its
    handoffs) have their own methods that build the event directly: passing fields through ** is slower
    (bench/README.md), and a run makes several per agent."""

    __slots__ = ("_closed", "_queue", "_seq", "_waiter", "run_id")

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self._seq = 0
        self._queue: list[Event] = []
        self._waiter: asyncio.Future[None] | None = None  # the taker's, while it waits for an event
        self._closed = False

    async def take(self) -> list[Event]:
        """Every event queued so far, waiting for at least one; [] once closed and emptied."""
        while not self._queue:
            if self._closed:
                return []
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        batch, self._queue = self._queue, []
        return batch

    @property
    def queued(self) -> int:
        return len(self._queue)

    def close(self) -> None:
        """No more events: take() returns what is left, then []."""
        self._closed = True
        self._wake()

    def put(self, kind: type[Event], **fields: Any) -> None:
        """Queue an event of this kind, numbered next and stamped now."""
        self._emit(kind(run_id=self.run_id, seq=self._next_seq(), ts=time.time(), **fields))

    def node_started(
        self, node_id: str, execution: int, attempt: int, request: ModelRequest, received_from: Iterable[str]
    ) -> None:
        self._emit(
            NodeStarted(
                run_id=self.run_id,
                seq=self._next_seq(),
                ts=time.time(),
                node_id=node_id,
                execution=execution,
                attempt=attempt,
                model=request.model,
                messages=request.messages,
                parameters={
                    "temperature": request.temperature,
                    "max_tokens": request.max_tokens,
                    "timeout": request.timeout,
                },
                received_from=list(received_from),
            )
        )

    def token(self, node_id: str, execution: int, attempt: int, text: str) -> None:
        self._emit(
            Token(
                run_id=self.run_id,
                seq=self._next_seq(),
                ts=time.time(),
                node_id=node_id,
                execution=execution,
                attempt=attempt,
                text=text,
            )
        )

    def node_finished(
        self,
        node_id: str,
        execution: int,
        completion: Completion,
        edges: Iterable[Edge],
        *,
        duration: float,
        cached: bool,
        attempts: int,
        pinned: bool = False,
        verdict: str | None = None,
    ) -> None:
        """node_finished, then a handoff of the output along each edge, all stamped with the same time.

        The handoffs are numbered and queued inline rather than through _emit and _next_seq: a node of a densely
        connected graph hands off along ten edges or more (bench/README.md)."""
        run_id, text, now = self.run_id, completion.text, time.time()
        queue = self._queue
        if not queue:
            self._wake()
        seq = self._seq + 1
        queue.append(
            NodeFinished(
                run_id=run_id,
                seq=seq,
                ts=now,
                node_id=node_id,
                execution=execution,
                output=text,
                usage=completion.usage,
                cost=completion.cost,
                duration=duration,
                cached=cached,
                attempts=attempts,
                cut=completion.cut,
                pinned=pinned,
                verdict=verdict,
            )
        )
        for edge in edges:
            seq += 1
            queue.append(
                Handoff(
                    run_id=run_id,
                    seq=seq,
                    ts=now,
                    node_id=node_id,
                    execution=execution,
                    target=edge.target,
                    edge_id=edge.id,
                    message=text,
                )
            )
        self._seq = seq

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _emit(self, event: Event) -> None:
        if not self._queue:
            self._wake()  # the taker waits only on an empty queue: one wake-up per batch is enough
        self._queue.append(event)

    def _wake(self) -> None:
        # A bare future, not an asyncio.Event, whose bookkeeping adds up over a wake-up per batch (bench/README.md).
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
