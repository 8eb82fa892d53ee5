"""How many live event streams (GET /runs/{id}/events?follow=true) the API keeps open: per API token and in all.

500 followers at once stalled the server: its pages and /login waited seconds behind them. A stream past either
cap is refused with 429 and a Retry-After; its slot is given back however it ends (the run ended, the client went
away, an error).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import AsyncIterable, Callable

from fastapi import HTTPException, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

PER_TOKEN = 8
TOTAL = 64
RETRY_AFTER = 10  # seconds: a stream ends when its run does, which the refused client cannot know


class Followers:
    """Open event streams, counted per API token (by its digest) and in total."""

    def __init__(self, *, per_token: int = PER_TOKEN, total: int = TOTAL) -> None:
        self.per_token = per_token
        self.total = total
        self._open: Counter[str] = Counter()

    def stream(self, request: Request, lines: AsyncIterable[str]) -> StreamingResponse:
        """The JSON-lines response for these lines, holding a slot while it is sent; HTTPException 429 when the
        token, or the server, follows as many streams as it may."""
        token = _token_of(request)
        if self._open[token] >= self.per_token:
            raise _busy(
                f"this token follows {self._open[token]} runs' events already, the most it may at once; "
                "close one of those streams, or read events without follow=true"
            )
        if sum(self._open.values()) >= self.total:
            raise _busy(f"the server follows {self.total} event streams already, the most it serves at once; try later")
        self._open[token] += 1
        return _Followed(lines, media_type="application/x-ndjson", release=lambda: self._release(token))

    def _release(self, token: str) -> None:
        self._open[token] -= 1
        if self._open[token] <= 0:
            del self._open[token]


class _Followed(StreamingResponse):
    """A StreamingResponse that gives its slot back when it is done, whichever way it ends."""

    def __init__(self, content: AsyncIterable[str], *, media_type: str, release: Callable[[], None]) -> None:
        super().__init__(content, media_type=media_type)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


def _token_of(request: Request) -> str:
    # The guard has checked the token already; its digest, not the token itself, is kept as the key.
    return hashlib.sha256(request.headers.get("authorization", "").encode()).hexdigest()


def _busy(detail: str) -> HTTPException:
    return HTTPException(429, detail, headers={"Retry-After": str(RETRY_AFTER)})
