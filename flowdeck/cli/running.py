"""Following a run from the command line to its end: its progress (or its events as JSON), the question asked at an
approval step, its outputs, and the exit code (`flowdeck run`, `runs resume`, `runs approve`)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from typing import Any, Literal

import click

from flowdeck.cli.terminal import shown

CANCEL_GRACE = 2.0  # seconds a cancelled run has to end and be stored before Ctrl+C stops the command anyway


def _cancel(runner: Any, run_id: str) -> None:
    """Ctrl+C during a run: cancel it, and stop at once if storing that cannot end (another program holds the
    database's lock: SQLite would wait for its whole busy timeout). The run is then marked interrupted when flowdeck
    next opens the database, and can be resumed."""
    from flowdeck.cli.entry import stop_at_once

    runner.cancel(run_id)
    stop = threading.Timer(CANCEL_GRACE, stop_at_once)
    stop.daemon = True  # a run that ends in time exits as it would have
    stop.start()


async def run_to_end(
    workflow: object,
    inputs: dict[str, str],
    model: str | None,
    as_json: bool,
    use_cache: bool = False,
    resume: str | None = None,
    identity: str | None = None,
    *,
    approve_all: bool = False,
    no_input: bool = False,
    decide: tuple[str, str | None, object] | None = None,
    unknown: str | None = None,
) -> int:
    """Start (or resume, or decide and continue) a run here and follow it to its end, asking at approvals when it may;
    the exit code. `unknown`: a resume's choice for tool calls whose outcome is unknown (retry, skip)."""
    from flowdeck.cli.approvals import WAITING_EXIT, ask, may_ask, waiting_message
    from flowdeck.cli.entry import NOTES
    from flowdeck.cli.progress import ProgressView
    from flowdeck.config import load_settings
    from flowdeck.engine.agents import models_of
    from flowdeck.engine.approvals import Decision
    from flowdeck.engine.dag import Dag
    from flowdeck.engine.events import event_to_json
    from flowdeck.engine.state import RunState, fold
    from flowdeck.engine.workflow import Workflow
    from flowdeck.services import open_services

    dag = workflow if isinstance(workflow, Dag) else None  # `flowdeck run` checks it first (cli/main.py)
    workflow = dag.workflow if dag is not None else workflow
    NOTES.setLevel(logging.CRITICAL)  # the run's own outcome, storage faults included, is printed below
    settings = load_settings()
    # Loading the embedded model holds the GIL for ~0.5 s: in a child process it loads while this one starts.
    embedded = isinstance(workflow, Workflow) and "embedded" in models_of(workflow, settings.default_model, model)
    services = await asyncio.to_thread(open_services, settings, model_process=embedded)
    try:
        runner = services.runner
        state = RunState()
        approver = "cli --approve" if approve_all else None
        if decide is not None:
            run_id, node_id, decision = decide
            assert isinstance(decision, Decision)
            run_id = (await asyncio.to_thread(services.runs.get, run_id)).id
            workflow = await asyncio.to_thread(runner.recorded_workflow, run_id)
            fold(await asyncio.to_thread(services.runs.events, run_id), state)
            await runner.decide(run_id, node_id, decision)
        elif resume is not None:
            workflow = await asyncio.to_thread(runner.recorded_workflow, resume)
            choice: Literal["retry", "skip"] | None = "retry" if unknown == "retry" else "skip" if unknown else None
            run_id = await runner.resume(resume, model=model, approve_all=approver, unknown=choice)
        else:
            assert isinstance(workflow, Workflow)
            run_id = await runner.start(
                dag or workflow, inputs, model=model, use_cache=use_cache, workflow_id=identity, approve_all=approver
            )
        assert isinstance(workflow, Workflow)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, _cancel, runner, run_id)
        view = None if as_json else ProgressView(workflow)
        if view is not None and "embedded" in runner.models_of(run_id):
            click.echo(
                "note: agents run on the embedded demo model (SmolLM2-135M, offline); its answers are demo-grade.\n"
                "      For real work pass --model (e.g. gpt-4o-mini, ollama_chat/llama3.2) or set FLOWDECK_MODEL;\n"
                "      see the README's Models section.\n",
                err=True,
            )
        shown = state.last_seq  # a decided run: its events so far are not printed again

        def show(event: object) -> None:
            if as_json:
                sys.stdout.write(event_to_json(event) + "\n")  # type: ignore[arg-type]
                sys.stdout.flush()
            elif view is not None:
                view.update(state)

        while True:
            # The events stored meanwhile (a decision's own), then the run's, live.
            for event in await asyncio.to_thread(services.runs.events, run_id, state.last_seq):
                state.apply(event)
                if event.seq > shown:
                    show(event)
            async for event in runner.subscribe(run_id, state.last_seq):
                state.apply(event)
                show(event)
            if state.status != "waiting":
                break
            if not may_ask(no_input):
                if view is not None:
                    view.finish(state)
                click.echo(waiting_message(state), err=True)
                return WAITING_EXIT
            if view is not None:
                view.update(state, force=True)
            node_id, decision = ask(state)
            await runner.decide(run_id, node_id, decision)
        if view is not None and state.run_id:
            view.finish(state)
            _print_outputs(workflow, state)
        if state.interrupted_reason:
            click.echo(f"error: run {run_id} was interrupted: {state.interrupted_reason}", err=True)
            if state.run_id:
                click.echo(f"  once the database works again: flowdeck runs resume {run_id}", err=True)
        return {"succeeded": 0, "cancelled": 130}.get(state.status, 1)
    finally:
        await services.runner.close()
        if services.models is not None:
            await services.models.close()
        services.close()


def _print_outputs(workflow: object, state: object) -> None:
    from flowdeck.engine.agents import display_name
    from flowdeck.engine.state import RunState
    from flowdeck.engine.workflow import Workflow

    assert isinstance(workflow, Workflow) and isinstance(state, RunState)
    outputs = state.outputs()
    sources = {edge.source for edge in workflow.edges if edge.loop is None}  # a loop's source can end the run
    sinks = [node_id for node_id in state.nodes if node_id not in sources]  # state.nodes is in run order
    for node_id in sinks:
        if node_id in outputs:
            click.echo(shown(f"\n=== {display_name(workflow.node(node_id))} ===\n{outputs[node_id]}"))
    for node_id, node in state.nodes.items():
        if node.status == "failed" and node.latest is not None:
            click.echo(shown(f"\n{display_name(workflow.node(node_id))} failed: {node.latest.error}"), err=True)
