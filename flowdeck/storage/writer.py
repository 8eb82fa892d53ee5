"""How the Runner's batches reach the run log: on the event loop when that cannot block, else on one writer thread."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from flowdeck.storage.runs import RunLog, StoredBatch

log = logging.getLogger("flowdeck.storage")


class BatchWriter:
    """Stores batches of events for every run of a process through one ordered path.

    A small batch goes in at once when SQLite's write lock is free (RunLog.write_now); anything else waits for
    the lock on the writer thread. Checkpoints, which sync the disk, run on that thread too, one queued at a time.
    """

    def __init__(self, runs: RunLog) -> None:
        self._runs = runs
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowdeck-writer")
        self._checkpointing = False  # a checkpoint waits for the thread: batches written meanwhile add none

    async def store(self, batch: StoredBatch, *, owner: str) -> None:
        """Persist `batch` (durable when this returns)."""
        if not self._runs.write_now(batch, owner=owner):
            await asyncio.get_running_loop().run_in_executor(
                self._thread, partial(self._runs.write, batch, owner=owner)
            )
        elif self._runs.checkpoint_due() and not self._checkpointing:
            self._checkpointing = True
            self._thread.submit(self._checkpoint)

    def close(self) -> None:
        """Wait for what the thread still has to do."""
        self._thread.shutdown(wait=True)

    def _checkpoint(self) -> None:
        self._checkpointing = False  # from here on, what is written needs the next one
        try:
            self._runs.checkpoint()
        except Exception:
            log.exception("checkpointing the run log failed; the next one will try again")
