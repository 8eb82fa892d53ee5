"""Compensating runs: after a run ends failed or cancelled (its run_finished stored first, so nothing waits on it), by
the workflow's handlers that run then; and on demand (API, CLI, the pages' Compensate). Newest effect first, each at
most once, over the run and the runs it continues. A handler runs if trust allows: system handlers always, others
once an editor approved their exact content (storage/trust.py), and only towards the workflow's allowed domains."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowdeck.engine.events import RunStarted
from flowdeck.engine.handlers import Handler, When
from flowdeck.engine.workflow import Workflow, parse_workflow
from flowdeck.errors import NotFoundError, Problem, WorkflowError
from flowdeck.runner.tooling import lineage
from flowdeck.storage.compensations import SqlCompensationLog, compensations_of, lineage_effects, undone
from flowdeck.storage.effects import Effect
from flowdeck.storage.trust import TrustStore, reach_text

if TYPE_CHECKING:  # flowdeck.tools loads httpx: only when something is compensated (runner/tooling.py's rule)
    from flowdeck.runner.tooling import RunTools
    from flowdeck.storage.runs import RunLog
    from flowdeck.tools.compensation import Compensation
    from flowdeck.tools.egress import AllowedDomains

log = logging.getLogger("flowdeck.runner")
CLOSE_WAIT = 60.0  # seconds a closing runner waits for compensations still going (a CLI run's end waits for them)


def trust_level(handler: Handler, trust: TrustStore) -> str:
    """system (flowdeck's own), approved (an editor approved this exact content), or untrusted."""
    from flowdeck.tools.compensation import SYSTEM_HANDLERS

    if handler in SYSTEM_HANDLERS:
        return "system"
    return "approved" if trust.approved(handler.content_hash()) else "untrusted"


def blocked_reason(handler: Handler, workflow: Workflow, trust: TrustStore) -> str | None:
    """Why a handler may not run for this workflow's runs (None: it may). Blocking."""
    from flowdeck.tools.compensation import SYSTEM_HANDLERS
    from flowdeck.tools.egress import AllowedDomains

    if handler in SYSTEM_HANDLERS:
        return None
    if not trust.approved(handler.content_hash()):
        return f"untrusted: an editor must approve it (it can call: {reach_text(handler)})"
    allowed = AllowedDomains(workflow.allowed_domains)
    for domain in handler.reach()["domains"]:
        if not _allows(allowed, domain):
            return f"it calls {domain}, which is not in this workflow's allowed domains"
    return None


def _allows(allowed: AllowedDomains, host: str) -> bool:
    from flowdeck.tools.addresses import parse_ip_literal

    try:
        ip = parse_ip_literal(host.strip("[]"))
    except ValueError:
        return False
    return ip in allowed.ips if ip is not None else allowed.allows_name(host)


def unapproved(workflow: Workflow, trust: TrustStore) -> list[Handler]:
    """The workflow's handlers that no editor approved yet (what the approval dialog lists). Blocking."""
    return [h for h in workflow.handlers if not trust.approved(h.content_hash())]


@dataclass(frozen=True, kw_only=True, slots=True)
class Planned:
    """What compensating would do with one effect (the confirmation lists these)."""

    effect: Effect
    handler: Handler | None
    blocked: str | None  # why its handler may not run
    undone: bool  # undone already: not repeated


class Compensating:
    """The Runner's compensation: it sets every attribute declared here."""

    _log: RunLog
    _tools: RunTools | None
    _active: dict[str, Any]
    _compensations: dict[str, asyncio.Task[object]]
    _compensation_locks: dict[str, asyncio.Lock]

    def compensating(self, run_id: str) -> bool:
        """Whether a compensation of this run goes on in this process."""
        task = self._compensations.get(run_id)
        return task is not None and not task.done()

    async def compensate(self, run_id: str, when: When = "demand") -> Compensation:
        """Undo what the run (and the runs it continues) did, by the handlers that run `when`. Refused while the
        run goes on. One at a time per run: a second waits for the first, then finds its effects undone."""
        from flowdeck.tools.compensation import compensate
        from flowdeck.tools.egress import Egress

        tools = self._need_tools()
        self._refuse_going(run_id)
        run_id, workflow, runs = await asyncio.to_thread(self._recorded_for_compensation, run_id)
        self._refuse_going(run_id)
        lock = self._compensation_locks.setdefault(run_id, asyncio.Lock())
        async with lock:
            effects = await asyncio.to_thread(lineage_effects, tools.db, runs)
            trust = TrustStore(tools.db)
            blocked = await asyncio.to_thread(_blocked_table, workflow, trust)
            return await compensate(
                effects,
                workflow.handlers,
                blocked=lambda handler: blocked.get(handler.content_hash()),
                egress=Egress(workflow.allowed_domains),
                workspace=tools.workspace(run_id),
                secrets=tools.secret,
                # its writes are single-row transactions, made inline: compensate()'s log is synchronous
                log=SqlCompensationLog(tools.db, run_id, secrets=tools.secret_values),
                run={"id": run_id, "workflow": workflow.name, "when": when},
                when=when,
            )

    async def plan_compensation(self, run_id: str) -> tuple[str, list[Planned]]:
        """The run's full id and what compensating it on demand would do, effect by effect, newest first."""
        tools = self._need_tools()
        run_id, workflow, runs = await asyncio.to_thread(self._recorded_for_compensation, run_id)
        return run_id, await asyncio.to_thread(_plan, tools, workflow, runs)

    async def compensation_log(self, run_id: str) -> list[Any]:
        """The attempts recorded for the run's effects (and those of the runs it continues), oldest first."""
        tools = self._need_tools()
        run_id, _workflow, runs = await asyncio.to_thread(self._recorded_for_compensation, run_id)
        effects = await asyncio.to_thread(lineage_effects, tools.db, runs)
        return await asyncio.to_thread(compensations_of, tools.db, [e.key for e in effects])

    def _compensate_after(self, run_id: str, workflow: Workflow, status: str) -> None:
        """Called once a failed or cancelled run's end is stored: compensate it in the background."""
        when: When | None = "failure" if status == "failed" else "cancel" if status == "cancelled" else None
        if when is None or self._tools is None or not any(when in h.on for h in workflow.handlers):
            return
        pump = asyncio.current_task()  # the run's own task: it lets go of the run once its last event is told
        task = asyncio.get_running_loop().create_task(self._compensate_logged(run_id, when, pump))
        self._compensations[run_id] = task

    async def _compensate_logged(
        self, run_id: str, when: When, pump: asyncio.Task[object] | None
    ) -> Compensation | None:
        if pump is not None:
            await asyncio.wait([pump])  # until then the run counts as going, and compensate() refuses it
        try:
            done = await self.compensate(run_id, when)
        except Exception:
            log.exception("run %s: compensating it on %s failed", run_id, when)
            return None
        for attempt in done.attempts:
            log.info("run %s: compensation %s %s: %s", run_id, attempt.handler, attempt.status, attempt.message)
        return done

    async def _close_compensations(self) -> None:
        tasks = [t for t in self._compensations.values() if not t.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=CLOSE_WAIT)

    def _refuse_going(self, run_id: str) -> None:
        if run_id in self._active:
            raise WorkflowError([Problem("run", f"run {run_id} is still going; compensate it once it has ended")])

    def _need_tools(self) -> RunTools:
        if self._tools is None:
            raise WorkflowError([Problem("compensate", "this runner has no side-effect log (made without tools)")])
        return self._tools

    def _recorded_for_compensation(self, run_id: str) -> tuple[str, Workflow, list[str]]:
        full = self._log.get(run_id).id
        first = self._log.events(full, 0, limit=1)
        if not first or not isinstance(first[0], RunStarted):
            raise NotFoundError(f"run {full} has no recorded start; there is nothing to compensate")
        workflow = parse_workflow(first[0].workflow, source=f"the workflow of run {full}")
        return full, workflow, [full, *lineage(self._log, first[0].origin)]


def _blocked_table(workflow: Workflow, trust: TrustStore) -> dict[str, str | None]:
    from flowdeck.tools.compensation import SYSTEM_HANDLERS

    return {h.content_hash(): blocked_reason(h, workflow, trust) for h in (*workflow.handlers, *SYSTEM_HANDLERS)}


def _plan(tools: RunTools, workflow: Workflow, runs: Sequence[str]) -> list[Planned]:
    from flowdeck.tools.compensation import handler_for

    trust = TrustStore(tools.db)
    effects = [e for e in lineage_effects(tools.db, runs) if e.status != "failed"]
    found = []
    for effect in sorted(effects, key=lambda e: e.seq, reverse=True):
        handler = handler_for(effect, workflow.handlers, "demand")
        reason = blocked_reason(handler, workflow, trust) if handler is not None else None
        found.append(Planned(effect=effect, handler=handler, blocked=reason, undone=undone(tools.db, effect.key)))
    return found
