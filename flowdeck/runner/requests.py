"""Runs driven by another process: asking that process to decide an approval or to cancel (through the database), and
answering what others ask of the runs this process drives (looked for every REQUEST_POLL seconds while it has some)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from typing import TYPE_CHECKING, Literal

from flowdeck.engine.approvals import Decision
from flowdeck.errors import FlowdeckError, NotWaitingError
from flowdeck.storage.requests import RequestKind, RunRequest

if TYPE_CHECKING:
    from flowdeck.runner import ActiveRun
    from flowdeck.storage.runs import RunLog, RunSummary

log = logging.getLogger("flowdeck.runner")

REQUEST_POLL = 0.5  # how often a process that drives runs looks for requests to them (a cancel waits at most this)
ASK_POLL = 0.05  # how often an asker looks for the answer
ASK_SECONDS = 30.0  # how long an asker waits for the driving process to take its request before giving up
ANSWER_SECONDS = 10.0  # how long a process that stops gives the requests it took to be answered

CancelOutcome = Literal["cancelled", "cancelling"]


class Requests:
    """The Runner's half that talks to other processes about runs: it sets every attribute declared here."""

    _log: RunLog
    _active: dict[str, ActiveRun]
    _watching_requests: asyncio.Task[None] | None
    _answering: set[asyncio.Task[None]]

    if TYPE_CHECKING:  # defined by Runner and Decisions

        def live_elsewhere(self, summary: RunSummary) -> bool: ...

        async def decide(self, run_id: str, node_id: str | None, decision: Decision) -> str: ...

        async def cancel_anywhere(self, run_id: str) -> CancelOutcome | None: ...

    async def _ask_driver(
        self, run_id: str, kind: RequestKind, node_id: str | None = None, decision: Decision | None = None
    ) -> str | None:
        """Ask the process that drives the run (another one, alive) and wait for its answer: what it did (a decision:
        the node decided). None if the run is no longer driven elsewhere before that process took the request (it
        stopped to wait, or ended): then look again. NotWaitingError if it refused, or took too long."""
        summary = await asyncio.to_thread(self._log.get, run_id)
        if not self.live_elsewhere(summary):
            if summary.status == "running":  # its process died: the next start marks it interrupted
                raise NotWaitingError(f"run {run_id} was left running by a process that stopped; resume it instead")
            return None
        requests = self._log.requests
        data = json.dumps(dataclasses.asdict(decision)) if decision is not None else None
        request_id = await asyncio.to_thread(requests.post, run_id, kind, node_id=node_id, decision=data)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ASK_SECONDS
        while True:
            await asyncio.sleep(ASK_POLL)
            request = await asyncio.to_thread(requests.get, request_id)
            if request.state == "done":
                return request.answer
            if request.state == "refused":
                raise NotWaitingError(request.answer)
            if request.state == "taken":  # being answered (a decision may wait for the run's replay to reach it)
                if loop.time() > deadline + ASK_SECONDS:
                    raise NotWaitingError(f"the process that drives run {run_id} took the request but never answered")
                continue
            summary = await asyncio.to_thread(self._log.get, run_id)
            late = loop.time() > deadline
            if (late or not self.live_elsewhere(summary)) and await asyncio.to_thread(requests.withdraw, request_id):
                if late:
                    raise NotWaitingError(
                        f"the process that drives run {run_id} ({summary.owner}) did not answer within "
                        f"{ASK_SECONDS:g} s; try again, or cancel the run"
                    )
                return None

    def _watch_requests(self) -> None:
        """Look for requests to this process's runs while it has some (started with each run it drives)."""
        if self._watching_requests is None or self._watching_requests.done():
            loop = asyncio.get_running_loop()
            self._watching_requests = loop.create_task(self._answer_requests(), name="flowdeck-run-requests")

    async def _answer_requests(self) -> None:
        while self._active:
            await asyncio.sleep(REQUEST_POLL)
            try:
                pending = await asyncio.to_thread(self._log.requests.pending, list(self._active))
            except Exception as exc:  # a database fault now and then must not end the watch
                log.warning("requests to this process's runs could not be read: %s", exc)
                continue
            for request in pending:
                if await asyncio.to_thread(self._log.requests.take, request.id):
                    task = asyncio.get_running_loop().create_task(self._answer(request))
                    self._answering.add(task)
                    task.add_done_callback(self._answering.discard)

    async def _answer(self, request: RunRequest) -> None:
        requests = self._log.requests
        try:
            if request.kind == "cancel":
                outcome = await self.cancel_anywhere(request.run_id)
                if outcome is None:
                    await asyncio.to_thread(requests.answer, request.id, "refused", f"run {request.run_id} has ended")
                else:
                    await asyncio.to_thread(requests.answer, request.id, "done")
                return
            decision = Decision(**json.loads(request.decision or "{}"))
            node_id = await self.decide(request.run_id, request.node_id, decision)
            await asyncio.to_thread(requests.answer, request.id, "done", node_id)
        except FlowdeckError as exc:
            await asyncio.to_thread(requests.answer, request.id, "refused", str(exc))
        except Exception:
            log.exception("run %s: a request from another process could not be answered", request.run_id)
            await asyncio.to_thread(requests.answer, request.id, "refused", "the driving process failed to answer")

    async def _stop_requests(self) -> None:
        """Stop looking for requests; those taken are answered first (their askers wait for the answer)."""
        if self._watching_requests is not None:
            self._watching_requests.cancel()
            await asyncio.gather(self._watching_requests, return_exceptions=True)
            self._watching_requests = None
        if self._answering:
            await asyncio.wait(self._answering, timeout=ANSWER_SECONDS)
