"""Runs that continue recorded ones: Run from here, Run this node only, Retry and Resume (the Runner's half that reads
a recorded run and starts a new one from it, reusing what it committed)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Literal

from flowdeck.engine.dag import Dag, build
from flowdeck.engine.events import ApprovalDecided, Event, RunOrigin, RunStarted, Usage
from flowdeck.engine.llm_types import Completion
from flowdeck.engine.state import fold
from flowdeck.engine.workflow import Workflow, parse_workflow
from flowdeck.errors import NotFoundError, Problem, WorkflowError

if TYPE_CHECKING:
    from flowdeck.runner import ActiveRun
    from flowdeck.runner.tooling import UnknownChoice
    from flowdeck.storage.runs import RunLog


class Reruns:
    """The Runner's partial runs and resumes: it sets every attribute declared here."""

    _log: RunLog
    _active: dict[str, ActiveRun]

    if TYPE_CHECKING:  # defined by Runner

        async def start(
            self,
            workflow: Workflow | Dag,
            inputs: Mapping[str, str] | None = None,
            *,
            model: str | None = None,
            use_cache: bool = False,
            workflow_id: str | None = None,
            reuse: Mapping[str, Completion] | None = None,
            scope: Iterable[str] | None = None,
            origin: RunOrigin | None = None,
            recorded: Mapping[tuple[str, int], Completion] | None = None,
            approve_all: str | None = None,
            decisions: Mapping[tuple[str, int], ApprovalDecided] | None = None,
            on_unknown_effect: UnknownChoice = "fail",
        ) -> str: ...

        def _refuse_unknown(self, run_id: str, events: list[Event], labels: dict[str, str]) -> None: ...

    async def rerun(
        self,
        run_id: str,
        node_id: str,
        *,
        only: bool = False,
        retry: bool = False,
        workflow: Workflow | None = None,
        workflow_id: str | None = None,
    ) -> str:
        """Re-run part of a recorded run, reusing the recorded outputs of everything upstream.

        Default ("run from here"): the node and everything downstream of it. `only`: that node alone, with
        the inputs it had. `retry` labels the run as a retry of the node (it failed). `workflow` is the (possibly
        edited) workflow to use; default: the one recorded. The new run belongs to `workflow_id`, by default to the
        workflow of the run it continues. The recorded run's model for every agent goes with the recorded workflow
        only: a workflow given runs each agent on the model it names now, as the editor shows it.
        """
        started, outputs = await asyncio.to_thread(self._recorded, run_id)
        model = started.model if workflow is None else None
        if workflow is None:
            workflow = parse_workflow(started.workflow, source=f"the workflow of run {run_id}")
        dag = build(workflow)
        scope = {node_id} if only or node_id not in dag.order else {node_id, *dag.descendants(node_id)}
        reuse = {n: Completion(text=text, usage=Usage(), cost=0.0) for n, text in outputs.items() if n not in scope}
        kind: Literal["only", "retry", "from"] = "only" if only else "retry" if retry else "from"
        origin = RunOrigin(kind=kind, run_id=started.run_id, node_id=node_id, node_label=dag.labels.get(node_id))
        workflow_id = workflow_id or started.workflow_id
        return await self.start(
            dag, started.inputs, model=model, reuse=reuse, scope=scope, workflow_id=workflow_id, origin=origin
        )

    async def resume(
        self,
        run_id: str,
        *,
        model: str | None = None,
        approve_all: str | None = None,
        unknown: UnknownChoice | None = None,
    ) -> str:
        """Finish a run that stopped (interrupted, failed or cancelled) as a new run: the agents without a
        committed output run; the others reuse their outputs, so no completed model call is repeated, nor a tool
        call whose outcome is recorded. `unknown`: what to do with tool calls whose outcome is unknown (the process
        stopped while they ran): "retry" or "skip"; without it, a run that has any is refused (UnknownEffects)."""
        started, outputs = await asyncio.to_thread(self._recorded, run_id)
        if started.run_id in self._active:
            raise WorkflowError([Problem("run", f"run {run_id} is still going; wait for it or cancel it first")])
        dag = build(parse_workflow(started.workflow, source=f"the workflow of run {run_id}"))
        if unknown is None:
            events = await asyncio.to_thread(self._log.events, started.run_id)
            await asyncio.to_thread(self._refuse_unknown, started.run_id, events, dag.labels)
        on_unknown: UnknownChoice = unknown or "fail"
        if not dag.plain:
            return await self._resume_rounds(started, dag, model, approve_all, on_unknown)
        missing = [n for n in dag.order if n not in outputs]
        if not missing:
            raise WorkflowError([Problem("run", f"every agent of run {run_id} has its output; nothing to resume")])
        reuse = {n: Completion(text=outputs[n], usage=Usage(), cost=0.0) for n in dag.order if n in outputs}
        origin = RunOrigin(kind="resume", run_id=started.run_id)
        model = model or started.model
        return await self.start(
            dag,
            started.inputs,
            model=model,
            reuse=reuse,
            scope=missing,
            origin=origin,
            workflow_id=started.workflow_id,
            on_unknown_effect=on_unknown,
        )

    async def _resume_rounds(
        self, started: RunStarted, dag: Dag, model: str | None, approve_all: str | None, on_unknown: UnknownChoice
    ) -> str:
        """Resume a run of a workflow with conditions or loops: the new run replays the old one's routing with the
        outputs it committed, execution by execution, so that it picks up in the round where the old one stopped
        and calls the model only for what has no committed output."""
        old = fold(await asyncio.to_thread(self._log.events, started.run_id))
        if old.status == "succeeded":
            raise WorkflowError([Problem("run", f"run {started.run_id} succeeded; nothing to resume")])
        recorded = {
            (node_id, ex.index): Completion(text=ex.output, usage=Usage(), cost=0.0)
            for node_id, node in old.nodes.items()
            for ex in node.executions
            if ex.output is not None
        }
        decisions = {
            (node_id, ex.index): ex.decision
            for node_id, node in old.nodes.items()
            for ex in node.executions
            if ex.decision is not None
        }
        return await self.start(
            dag,
            started.inputs,
            model=model or started.model,
            recorded=recorded,
            decisions=decisions,
            origin=RunOrigin(kind="resume", run_id=started.run_id),
            workflow_id=started.workflow_id,
            approve_all=approve_all,
            on_unknown_effect=on_unknown,
        )

    def stored_after(self, run_id: str, seq: int) -> bool:
        """Whether the log holds an event of the run after `seq`. Blocking."""
        return bool(self._log.events(run_id, seq, limit=1))

    def recorded_workflow(self, run_id: str) -> Workflow:
        """The workflow a recorded run ran. Blocking."""
        started, _ = self._recorded(run_id)
        return parse_workflow(started.workflow, source=f"the workflow of run {run_id}")

    def _recorded(self, run_id: str) -> tuple[RunStarted, dict[str, str]]:
        summary = self._log.get(run_id)
        first = self._log.events(summary.id, 0, limit=1)
        if not first or not isinstance(first[0], RunStarted):
            raise NotFoundError(f"run '{run_id}' has no recorded start; it cannot be re-run")
        return first[0], self._log.outputs(summary.id)
