"""Runs started and watched from the editor: the inputs form, start, partial re-runs, cancel, and the
subscription that feeds the RunView (status merged per agent, flushed about every 50 ms)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence

from nicegui import background_tasks, ui

from flowdeck.app.account import can_edit
from flowdeck.app.approval import ApprovalCards
from flowdeck.app.pin_dialog import edit_output_dialog
from flowdeck.app.refusal import Refusal, show_refusal
from flowdeck.app.run_dialog import run_dialog
from flowdeck.app.run_view import RunView
from flowdeck.components.inspector import NodeAction
from flowdeck.engine.state import RunState
from flowdeck.engine.workflow import Workflow
from flowdeck.errors import FlowdeckError
from flowdeck.runner import Runner

FLUSH_SECONDS = 0.05
TICK_SECONDS = 1.0
WAITING_CHECK_SECONDS = 1.0  # how often a page showing a run that waits for approval looks whether it went on
RESTORE_PAUSE = 0.02  # between the canvas and the panels when a page comes back to a run
SLOW_START_SECONDS = 1.5
SLOW_START = "Starting… getting the models ready (the first run after the app starts can take a few seconds)"
log = logging.getLogger("flowdeck.app")


class LiveRun:
    """Starts runs from the editor and shows them; one per editor tab at a time."""

    def __init__(
        self,
        runner: Runner,
        make_view: Callable[[], RunView],
        on_change: Callable[[], None],
        workflow: Callable[[], Workflow | None],
        pin: Callable[[str, str | None], None] | None = None,
        *,
        identity: Callable[[], str | None] = lambda: None,
        refusals: ui.element | None = None,
    ) -> None:
        self.runner = runner
        self.pin = pin  # pins an agent's output in the workflow being edited (None: the run is read-only here)
        self.make_view = make_view
        self.on_change = on_change
        self.workflow = workflow
        self.identity = identity  # the workflow's that runs started here belong to (engine/identity.py)
        self.refusals = refusals  # where a refused start says why (None: a notification)
        self.run_id: str | None = None
        self._starting = False
        self._task: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._view: RunView | None = None
        self._looking = 0  # which call of show_latest is the latest
        self._refusal: ui.notification | Refusal | None = None
        self._cancelling: ui.notification | None = None  # said until the run has stopped, then taken away
        self.model = ""  # the Run dialog's "Model for every agent", kept for the next run of this tab ("": none)
        # Kept, not looked up when needed: a run is often started from a button that the start itself removes (the
        # inspector's, redrawn as the run changes), and the slot of a removed element has no client.
        self._client = ui.context.client
        self._client.on_delete(self.stop)  # not on_disconnect: NiceGUI 3 calls that on a reconnect too
        self.editable = can_edit(self._client)  # a viewer watches: starts, re-runs, pins and cancels are refused
        self._cards: ApprovalCards | None = None

    @property
    def view(self) -> RunView:
        """The run panel, made the first time a run is shown."""
        if self._view is None:
            self._view = self.make_view()
            self._view.actions = self._actions
            if self._view.approvals_slot is not None:
                with self._view.approvals_slot:
                    self._cards = ApprovalCards(self.runner, self._client, self._decided)
        return self._view

    def review(self, node_id: object) -> None:
        """The decision dialog of an approval of the run shown (the canvas card's Review…); refused for a viewer."""
        if self._cards is not None:
            self._cards.review(str(node_id))

    def _decided(self, run_id: str) -> None:
        """A decision continues the run, in this process: follow it again."""
        if run_id == self.run_id:
            self.watch(run_id)

    @property
    def shown(self) -> bool:
        """Whether the run panel has been made."""
        return self._view is not None

    @property
    def state(self) -> RunState:
        return self._view.state if self._view is not None else RunState()

    @property
    def running(self) -> bool:
        """Starting or going: a run that waits for approval is not (another can start meanwhile)."""
        return self._starting or (self.run_id is not None and self.state.status in ("pending", "running"))

    @property
    def cancellable(self) -> bool:
        """Running here, or waiting for approval: a run of another process (the CLI, another server) is stopped
        where it runs."""
        if self.run_id is not None and self.state.status == "waiting":
            return True
        return self.running and self.run_id is not None and self.runner.is_active(self.run_id)

    def watch_active(self, workflow_id: str) -> bool:
        """Show this workflow's run going on in this process, if there is one, with what it has done so far."""
        for run_id in self.runner.active_runs(workflow_id)[:1]:
            if run_id != self.run_id:
                self.watch(run_id, restore=True)
            return True
        return False

    async def show_latest(self, workflow_id: str, *, fallback: str | None = None) -> None:
        """The run going on now of the workflow with this identity, else its most recent run (a run of another process
        still going is followed live), else `fallback`, else none: a page opened or reloaded after a run ended still
        shows that run."""
        self._looking += 1
        looking = self._looking
        if self.watch_active(workflow_id):
            return
        run_id = await asyncio.to_thread(self.runner.latest, workflow_id) or fallback
        if looking != self._looking or self._starting or self.watch_active(workflow_id):
            return  # asked again since, or a run was started meanwhile
        if run_id is None:
            self.clear()
        elif run_id != self.run_id:
            self.watch(run_id)

    def clear(self) -> None:
        """Show no run."""
        self.stop()
        if self.run_id is None:
            return
        self.run_id = None
        self.view.reset()
        self.view.progress.set_text("")
        self.view.bar.set_value(0)
        self.on_change()

    def ask(
        self,
        workflow: Workflow,
        models: Mapping[str, str] | None = None,
        *,
        agents: Sequence[tuple[str, str]] = (),
        problem: Callable[[str], str | None] = lambda _: None,
    ) -> None:
        """The Run dialog (app/run_dialog.py)."""
        run_dialog(self, workflow, models, agents=agents, problem=problem)

    async def rerun(self, node_id: str, *, only: bool, retry: bool = False) -> None:
        """Run from this agent (it and everything downstream), or only this agent, on the current workflow;
        `retry`: the agent failed, and the run is labelled a retry of it."""
        if self.run_id is None or self.running or not self.editable:
            return
        workflow = self.workflow()
        if workflow is not None and node_id not in {node.id for node in workflow.nodes}:
            workflow = None  # the agent was deleted since: re-run the recorded workflow
        identity = self.identity()
        await self.launch(
            self.runner.rerun(self.run_id, node_id, only=only, retry=retry, workflow=workflow, workflow_id=identity)
        )

    async def launch(self, starting: object) -> None:
        self._starting = True
        self._looking += 1  # a run looked up before this one started is not shown over it
        if self._refusal is not None and not self._refusal.is_deleted:
            self._refusal.dismiss()  # the reason a start was refused goes with the next start
        self.view.progress.set_text("Starting…")
        self.on_change()
        # A run starts once its models are ready: the first after the app starts can wait seconds for the model
        # library's import or a local model server, which a bare "Starting…" does not explain.
        slow = asyncio.get_running_loop().call_later(SLOW_START_SECONDS, self.view.progress.set_text, SLOW_START)
        try:
            run_id = await starting  # type: ignore[misc]
        except FlowdeckError as exc:
            self._starting = False
            self._refused(exc)
            return
        finally:
            slow.cancel()
            self._starting = False
        self.watch(run_id)

    def _refused(self, exc: FlowdeckError) -> None:
        """Why the run did not start, on screen until dismissed; the editor as it was before Run (Run enabled, the
        run shown before, if any, shown again)."""
        if self.run_id is None:
            self.view.progress.set_text("")
        else:
            self.view.show_progress()
        with self._client:
            self._refusal = show_refusal(f"Not started: {exc}", self.refusals)
        self.on_change()

    def watch(self, run_id: str, *, restore: bool = False) -> None:
        """Show this run and follow it. `restore` (a page being built on a run going on): what it has done so
        far is shown at once, in the page itself when the canvas is preloading."""
        if self._task is not None:
            self._task.cancel()
        self.run_id = run_id
        self.view.reset()
        if restore:
            self.view.feed(self.runner.recorded_so_far(run_id))
            self.view.flush(panels=False)
        self._task = background_tasks.create(self._follow(run_id), name=f"watch run {run_id}")
        if self._ticker is None or self._ticker.done():
            self._ticker = background_tasks.create(self._tick(), name="elapsed time of the run shown")
        self.on_change()

    def stop(self) -> None:
        """Stop following (the run itself goes on)."""
        for task in (self._task, self._ticker):
            if task is not None:
                task.cancel()
        self._task = self._ticker = None

    async def _tick(self) -> None:
        """The elapsed time goes on between events: while an agent thinks, and between one agent and the next."""
        while True:
            await asyncio.sleep(TICK_SECONDS)
            if self._task is not None and self.state.status in ("pending", "running", "waiting"):
                self.view.show_progress()

    async def cancel(self) -> None:
        if not self.editable or self.run_id is None:
            return
        if self.runner.cancel(self.run_id):
            self._cancelling = ui.notification("Cancelling the run…", timeout=10)
            return
        waiting = self.state.status == "waiting"
        outcome = await self.runner.cancel_anywhere(self.run_id)  # waiting here, or driven by another process
        if outcome == "cancelling":
            self._cancelling = ui.notification("Cancelling the run in the process that runs it…", timeout=10)
        elif outcome == "cancelled" and waiting:
            self.watch(self.run_id)  # cancelled here, from its log

    async def _follow(self, run_id: str) -> None:
        last_flush = 0.0
        flush_handle: asyncio.TimerHandle | None = None
        loop = asyncio.get_running_loop()

        def flush() -> None:
            nonlocal last_flush, flush_handle
            flush_handle = None
            last_flush = time.monotonic()
            try:
                self.view.flush()
                if self._cards is not None:
                    self._cards.update(self.view.state)
            except Exception:  # a display bug must not freeze the page: the next flush shows the state again
                log.exception("run %s: updating the page failed", run_id)

        live = self.runner.is_active(run_id)
        if self.view.state.last_seq:
            # Restored with the page (watch(restore=True)): the canvas has it; the panels follow a moment later,
            # so that the browser draws the agents' states before it builds them.
            await asyncio.sleep(RESTORE_PAUSE)
            flush()
        while True:
            async for batch in self.runner.subscribe_batches(run_id, self.view.state.last_seq):
                try:
                    self.view.feed(batch)
                except Exception:
                    log.exception("run %s: showing events %s-%s failed", run_id, batch[0].seq, batch[-1].seq)
                due = last_flush + FLUSH_SECONDS - time.monotonic()
                if due <= 0:
                    flush()
                elif flush_handle is None:
                    flush_handle = loop.call_later(due, flush)  # FLUSH_SECONDS after the last flush, not after now
            if self.view.state.status != "waiting":
                break
            flush()
            self.on_change()
            # It waits for a person, who may decide anywhere (another page, the API, the CLI): followed on then.
            await self._until_it_goes_on(run_id)
        if flush_handle is not None:
            flush_handle.cancel()
        flush()
        if self._cancelling is not None and not self._cancelling.is_deleted:
            self._cancelling.dismiss()
        if live and (reason := self.view.state.interrupted_reason):  # e.g. its events could not be stored
            with self._client:
                self._refusal = show_refusal(f"Run interrupted: {reason}")
        self.on_change()

    async def _until_it_goes_on(self, run_id: str) -> None:
        """Until a run that waits has gone on (decided, or cancelled), here or in another process (polled: another
        process tells this one nothing)."""
        while True:
            await asyncio.sleep(WAITING_CHECK_SECONDS)
            if self.runner.is_active(run_id):
                return
            if await asyncio.to_thread(self.runner.stored_after, run_id, self.view.state.last_seq):
                return

    def _actions(self, node_id: str, state: RunState) -> list[NodeAction]:
        if not self.editable or self.running or state.status not in ("succeeded", "failed", "cancelled", "interrupted"):
            return []
        node = state.nodes.get(node_id)
        actions = []
        if node is not None and node.status in ("failed", "cancelled", "interrupted"):
            actions.append(
                NodeAction(
                    "Retry",
                    "replay",
                    lambda: self.rerun(node_id, only=False, retry=True),
                    "Run this agent again, and everything after it; the rest reuse their outputs",
                )
            )
        else:
            actions.append(
                NodeAction(
                    "Run from here",
                    "play_circle",
                    lambda: self.rerun(node_id, only=False),
                    "Re-run this agent and everything downstream; upstream agents reuse their recorded outputs",
                )
            )
        outputs = state.outputs()
        upstream = set(self.view.upstream(node_id))
        if upstream <= set(outputs):
            actions.append(
                NodeAction(
                    "Run this node only",
                    "filter_center_focus",
                    lambda: self.rerun(node_id, only=True),
                    "Re-run only this agent with the inputs it received (e.g. after editing its prompt)",
                )
            )
        return actions + self._pin_actions(node_id, outputs.get(node_id))

    def _edit_output(self, node_id: str, text: str) -> None:
        assert self.pin is not None
        pin = self.pin
        with self._client:  # not in the inspector's slot: the panel is redrawn while the dialog is open
            edit_output_dialog(text, lambda edited: pin(node_id, edited))

    def _pin_actions(self, node_id: str, output: str | None) -> list[NodeAction]:
        """Pin the output shown (or an edited one), so that runs reuse it and the agents after it can be iterated
        on; or unpin it."""
        pin, workflow = self.pin, self.workflow()
        if pin is None or workflow is None or node_id not in {node.id for node in workflow.nodes}:
            return []
        pinned = workflow.node(node_id).pinned_output
        actions = []
        if pinned is None and output is not None:
            actions.append(
                NodeAction(
                    "Pin output",
                    "push_pin",
                    lambda: pin(node_id, output),
                    "Runs use this output instead of calling the model",
                )
            )
        if pinned is not None or output is not None:
            actions.append(
                NodeAction(
                    "Edit output…",
                    "edit_note",
                    lambda: self._edit_output(node_id, pinned if pinned is not None else output or ""),
                    "Edit the output and pin it: the agents after this one receive your text",
                )
            )
        if pinned is not None:
            actions.append(NodeAction("Unpin", "push_pin", lambda: pin(node_id, None), "Call the model again in runs"))
        return actions
