"""The command line: `flowdeck` (the editor), `serve`, `run`, `runs`, `templates`, `validate`, `schema`."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import TYPE_CHECKING

import click

from flowdeck.cli import entry
from flowdeck.cli.entry import NOTES, Main
from flowdeck.errors import FlowdeckError, NotFoundError, WorkflowError

if TYPE_CHECKING:
    from flowdeck.services import Services


@click.group(cls=Main, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """flowdeck: design and run AI agent workflows."""
    entry.WATCHED = ctx.invoked_subcommand not in (None, "serve")
    if ctx.invoked_subcommand is None:
        _serve("127.0.0.1", 8765, open_browser=True)
    elif ctx.invoked_subcommand != "serve" and NOTES not in logging.getLogger("flowdeck").handlers:
        logging.getLogger("flowdeck").addHandler(NOTES)


@main.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; anything but loopback needs a password (flowdeck auth set-password).",
)
@click.option("--port", "-p", default=8765, show_default=True, help="Port to listen on.")
def serve_command(host: str, port: int) -> None:
    """Start the editor without opening a browser."""
    _serve(host, port, open_browser=False)


def _serve(host: str, port: int, *, open_browser: bool) -> None:
    from flowdeck.app.server import serve

    try:
        serve(host=host, port=port, open_browser=open_browser, announce=lambda text: click.echo(text, err=True))
    except FlowdeckError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:  # the data folder: a secret or a file the server makes there
        click.echo(
            f"error: {exc.strerror or exc}: {exc.filename}; make the data folder writable by this user, or set "
            "FLOWDECK_HOME to one (see `flowdeck doctor`)",
            err=True,
        )
        sys.exit(2)


@main.command("run")
@click.argument("source")
@click.option("--input", "-i", "inputs", multiple=True, metavar="NAME=VALUE", help="A workflow input.")
@click.option("--model", "-m", help="Run every agent on this model (litellm string, 'embedded' or 'scripted').")
@click.option("--json", "as_json", is_flag=True, help="Print the event stream as JSON lines.")
@click.option("--cache", "use_cache", is_flag=True, help="Reuse cached outputs of identical agent calls.")
@click.option("--approve", "approve_all", is_flag=True, help="Approve every approval step at once (unattended runs).")
@click.option(
    "--no-input", is_flag=True, help="Never ask: a run that waits for approval exits 3, saying how to decide."
)
def run_command(
    source: str,
    inputs: tuple[str, ...],
    model: str | None,
    as_json: bool,
    use_cache: bool,
    approve_all: bool,
    no_input: bool,
) -> None:
    """Run a workflow: a built-in template name or a workflow JSON file.

    At an approval step it asks on the terminal; without one (or with --no-input) it stops, the run waits, and it
    exits 3 naming the command that decides it."""
    from flowdeck import load_with_identity
    from flowdeck.engine.dag import build

    values = {}
    for item in inputs:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"'{item}' is not NAME=VALUE", param_hint="--input")
        values[name.strip()] = value
    try:
        workflow, identity = load_with_identity(source)
        from flowdeck.cli.running import run_to_end

        # Checked here, on the main thread, where Ctrl+C stops it at once: asyncio.run() would wait for a worker
        # thread to end its check (seconds, for long templates) before it let the interrupt through.
        dag = build(workflow)
        code = asyncio.run(
            run_to_end(
                dag,
                values,
                model,
                as_json,
                use_cache,
                identity=identity,
                approve_all=approve_all,
                no_input=no_input,
            )
        )
        sys.exit(code)
    except WorkflowError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except FlowdeckError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


@main.group("runs", invoke_without_command=True)
@click.option("--limit", "-n", default=20, show_default=True, help="How many runs to list.")
@click.option("--workflow", "-w", help="Only runs of this workflow name.")
@click.option("--status", "-s", help="Only runs with this status.")
@click.pass_context
def runs_command(ctx: click.Context, limit: int, workflow: str | None, status: str | None) -> None:
    """List past runs (newest first)."""
    if ctx.invoked_subcommand is not None:
        return
    from flowdeck.cli.listing import run_table
    from flowdeck.engine.state import fold

    services = _services()
    try:
        rows = services.runs.recent(limit=limit, workflow=workflow, status=status)
        live = {r.id: fold(services.runs.events(r.id)) for r in rows if r.status == "running"}
    finally:
        services.close()
    if not rows:
        click.echo("no runs yet; start one with `flowdeck run research-code-review`")
        return
    for line in run_table(rows, live):
        click.echo(line)


@runs_command.command("resume")
@click.argument("run_id")
@click.option("--model", "-m", help="Run the remaining agents on this model instead of the run's own.")
@click.option("--json", "as_json", is_flag=True, help="Print the event stream as JSON lines.")
@click.option("--approve", "approve_all", is_flag=True, help="Approve every approval step at once.")
@click.option("--no-input", is_flag=True, help="Never ask: a run that waits for approval exits 3.")
@click.option(
    "--unknown",
    type=click.Choice(["retry", "skip"]),
    help="Tool calls whose outcome is unknown (the run stopped while they ran): run them again, or skip them.",
)
def runs_resume(
    run_id: str, model: str | None, as_json: bool, approve_all: bool, no_input: bool, unknown: str | None
) -> None:
    """Finish a stopped run: only agents without a committed output run again (as a new run)."""
    from flowdeck.cli.running import run_to_end

    try:
        code = asyncio.run(
            run_to_end(
                None,
                {},
                model,
                as_json,
                False,
                resume=run_id,
                approve_all=approve_all,
                no_input=no_input,
                unknown=unknown,
            )
        )
        sys.exit(code)
    except FlowdeckError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


@runs_command.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print the stored events as JSON lines.")
@click.option("--tokens", is_flag=True, help="List every token event (by default each stretch of them is summed up).")
def runs_show(run_id: str, as_json: bool, tokens: bool) -> None:
    """Show one run's events and outputs (RUN_ID may be a unique prefix)."""
    from flowdeck.cli.compensation import compensation_lines
    from flowdeck.cli.effects import tool_lines
    from flowdeck.cli.listing import event_lines
    from flowdeck.cli.terminal import shown
    from flowdeck.engine.events import event_to_json
    from flowdeck.engine.state import fold
    from flowdeck.storage.compensations import compensations_of
    from flowdeck.storage.effects import effects_of

    services = _services()
    try:
        summary = services.runs.get(run_id)
        events = services.runs.events(summary.id)
        effects = effects_of(services.engine, summary.id)
        undoing = compensations_of(services.engine, [e.key for e in effects])
    except FlowdeckError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    finally:
        services.close()
    if as_json:
        for event in events:
            click.echo(event_to_json(event))
        return
    state = fold(events)
    label = f"  ({state.label})" if state.label else ""
    click.echo(shown(f"run {summary.id}  {summary.workflow_name}  {state.status}{label}"))
    for line in event_lines(events, tokens=tokens):
        click.echo(shown(line))
    for line in [*tool_lines(state, effects), *compensation_lines(undoing)]:
        click.echo(shown(line))
    for node_id, text in state.outputs().items():
        click.echo(shown(f"\n=== {node_id} ===\n{text}"))


@runs_command.command("workflow")
@click.argument("run_id")
def runs_workflow(run_id: str) -> None:
    """Print the workflow a run ran, as a workflow file (fork it: `flowdeck runs workflow ID > mine.json`)."""
    from flowdeck.engine.events import RunStarted
    from flowdeck.engine.workflow import parse_workflow

    services = _services()
    try:
        summary = services.runs.get(run_id)
        first = services.runs.events(summary.id, 0, limit=1)
        if not first or not isinstance(first[0], RunStarted):
            raise NotFoundError(f"run '{summary.id}' has no recorded start, so no workflow")
        workflow = parse_workflow(first[0].workflow, source=f"the workflow of run {summary.id}")
    except FlowdeckError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    finally:
        services.close()
    click.echo(workflow.to_json())


@main.command("templates")
def templates_command() -> None:
    """List the built-in templates."""
    from flowdeck.templates import load_template, template_names

    for name in template_names():
        workflow = load_template(name)
        click.echo(f"{name}\n  {workflow.name}: {workflow.description}\n")


@main.command("validate")
@click.argument("source")
def validate_command(source: str) -> None:
    """Check a workflow file without running it."""
    from flowdeck import load
    from flowdeck.engine.dag import build

    try:
        workflow = load(source)
        build(workflow)
    except FlowdeckError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"ok: {workflow.name} ({len(workflow.nodes)} agents, {len(workflow.edges)} connections)")


@main.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of the workflow file format."""
    from flowdeck.engine.workflow import workflow_json_schema

    click.echo(json.dumps(workflow_json_schema(), indent=2))


def _services() -> Services:
    from flowdeck.services import open_services

    return open_services()


def _add_groups() -> None:
    from flowdeck.cli.admin import api_command, auth_command, keys_command
    from flowdeck.cli.approvals import approve_command
    from flowdeck.cli.compensation import compensate_command, compensated_command, trust_command
    from flowdeck.cli.doctor import doctor_command
    from flowdeck.cli.effects import artifacts_command, effects_command, secrets_command

    runs_command.add_command(approve_command)
    runs_command.add_command(effects_command)
    runs_command.add_command(artifacts_command)
    runs_command.add_command(compensate_command)
    runs_command.add_command(compensated_command)
    main.add_command(trust_command)
    main.add_command(secrets_command)
    main.add_command(auth_command)
    main.add_command(keys_command)
    main.add_command(api_command)
    main.add_command(doctor_command)


_add_groups()
