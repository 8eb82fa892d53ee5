"""Retrying model calls: transient errors only, the provider's Retry-After honoured, waits capped."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from flowdeck.errors import ModelError, RateLimited

T = TypeVar("T")
OnRetry = Callable[[ModelError, int, float], None]


async def retry_after(
    first: ModelError, attempt: Callable[[], Awaitable[T]], *, max_attempts: int, max_wait: float, on_retry: OnRetry
) -> T:
    """Await `attempt()` after a first attempt failed with `first` (a retryable error), until it succeeds or fails
    for good, through tenacity. on_retry(error, next_attempt_number, wait_seconds) is called before each wait.

    The first attempt is the caller's own: one that succeeds, as nearly all do, pays nothing for tenacity
    (bench/README.md)."""
    wait = retry_wait(first, 1, max_wait)
    on_retry(first, 2, wait)
    await asyncio.sleep(wait)

    def wait_for(state: RetryCallState) -> float:
        return retry_wait(_error(state, first), state.attempt_number + 1, max_wait)

    def before_sleep(state: RetryCallState) -> None:
        on_retry(_error(state, first), state.attempt_number + 2, state.next_action.sleep if state.next_action else 0.0)

    retrying = AsyncRetrying(
        stop=stop_after_attempt(max_attempts - 1),
        retry=retry_if_exception(lambda exc: isinstance(exc, ModelError) and exc.retryable),
        wait=wait_for,
        before_sleep=before_sleep,
        reraise=True,
    )
    async for retry in retrying:
        with retry:
            return await attempt()
    raise AssertionError("unreachable: tenacity either returns or re-raises")  # pragma: no cover


def retry_wait(error: ModelError, failures: int, max_wait: float) -> float:
    """Seconds before the next attempt: the provider's Retry-After if it gave one, else exponential backoff."""
    if isinstance(error, RateLimited) and error.retry_after is not None:
        wait = error.retry_after
    else:
        wait = 0.5 * 2 ** (failures - 1)
    return min(wait, max_wait)


def _error(state: RetryCallState, fallback: ModelError) -> ModelError:
    exc = state.outcome.exception() if state.outcome else None
    return exc if isinstance(exc, ModelError) else fallback
