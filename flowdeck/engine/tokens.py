"""Merging streamed text: a node's deltas become one token event per ~50 ms instead of one per chunk."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

TOKEN_FLUSH_SECONDS = 0.05


class TokenBuffer:
    """Collects text deltas; the first is sent at once, later ones at most every 50 ms, the rest on flush()."""

    __slots__ = ("_handle", "_parts", "_send", "_sent", "attempt")

    def __init__(self, send: Callable[[str, int], None]) -> None:
        self._send = send
        self.attempt = 1
        self._parts: list[str] = []
        self._handle: asyncio.TimerHandle | None = None
        self._sent = False

    def add(self, text: str) -> None:
        self._parts.append(text)
        if not self._sent:
            self.flush()
        elif self._handle is None:
            self._handle = asyncio.get_running_loop().call_later(TOKEN_FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if not self._parts:
            return
        self._sent = True
        text = "".join(self._parts)
        self._parts.clear()
        self._send(text, self.attempt)
