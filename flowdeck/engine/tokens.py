"""Merging streamed text: a node's deltas become one token event per TOKEN_FLUSH_SECONDS instead of one per chunk."""

from __future__ import annotations

import asyncio
from typing import Protocol

TOKEN_FLUSH_SECONDS = 0.05


class TokenSink(Protocol):
    def token(self, node_id: str, execution: int, attempt: int, text: str) -> None: ...


class TokenBuffer:
    """Collects the text deltas of one node's model call. `add` is the buffer list's own append: a model streams
    hundreds of deltas, and a Python method per delta would add up (bench/README.md). The run's TokenFlusher
    sends what collected every TOKEN_FLUSH_SECONDS, and flush() the rest."""

    __slots__ = ("_parts", "_sink", "add", "attempt", "execution", "node_id")

    def __init__(self, sink: TokenSink, node_id: str, execution: int) -> None:
        self._sink = sink
        self.node_id = node_id
        self.execution = execution
        self.attempt = 1
        self._parts: list[str] = []
        self.add = self._parts.append

    def flush(self) -> None:
        parts = self._parts
        if parts:
            text = "".join(parts)
            parts.clear()
            self._sink.token(self.node_id, self.execution, self.attempt, text)


class TokenFlusher:
    """One per run: while any of its nodes is calling a model, a single timer sends, every TOKEN_FLUSH_SECONDS,
    the text each has streamed since the last time. One timer for the run rather than one per node, which would
    pay for scheduling and cancelling it (bench/README.md). A delta waits at most one interval; the first one
    too, which shows no slower on a page that draws itself as often."""

    __slots__ = ("_active", "_handle")

    def __init__(self) -> None:
        self._active: dict[TokenBuffer, None] = {}  # the buffers of the calls going on, in the order they began
        self._handle: asyncio.TimerHandle | None = None

    def attach(self, buffer: TokenBuffer) -> None:
        """A model call begins streaming into `buffer`."""
        self._active[buffer] = None
        if self._handle is None:
            self._handle = asyncio.get_running_loop().call_later(TOKEN_FLUSH_SECONDS, self._tick)

    def detach(self, buffer: TokenBuffer) -> None:
        """The call ended; its buffer was flushed by whoever ended it."""
        self._active.pop(buffer, None)

    def _tick(self) -> None:
        self._handle = None
        for buffer in self._active:
            buffer.flush()
        if self._active:
            self._handle = asyncio.get_running_loop().call_later(TOKEN_FLUSH_SECONDS, self._tick)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._active.clear()
