"""Approvals on the command line: `flowdeck runs approve`, the question `flowdeck run` asks on a terminal, and what
it says when it may not ask (--no-input, no terminal)."""

from __future__ import annotations

import asyncio
import sys

import click

from flowdeck.cli.terminal import shown as terminal_safe
from flowdeck.engine.approvals import Decision
from flowdeck.engine.state import RunState
from flowdeck.errors import FlowdeckError, NotWaitingError, WorkflowError

WAITING_EXIT = 3  # the run waits for a person's approval: not a success, not a failure
SHOWN_CHARS = 4_000  # of the text to approve, on a terminal


def waiting_message(state: RunState) -> str:
    """What a run that waits needs, naming each approval and the command that decides it."""
    lines = []
    for node_id in state.waiting():
        name = state.labels.get(node_id, node_id)
        lines.append(
            f"error: run {state.run_id} waits for approval at '{name}' (node {node_id}); decide it with\n"
            f"  flowdeck runs approve {state.run_id} --node {node_id}            (approve)\n"
            f'  flowdeck runs approve {state.run_id} --node {node_id} --reject --note "why"'
        )
    return "\n".join(lines)


def ask(state: RunState) -> tuple[str, Decision]:
    """Ask on the terminal about the first approval that waits: approve, reject (with a note) or edit and approve."""
    node_id = state.waiting()[0]
    name = state.labels.get(node_id, node_id)
    latest = state.nodes[node_id].latest
    request = latest.approval if latest is not None else None
    text = request.text if request is not None else ""
    question = request.label if request is not None and request.label else "Approve this?"
    shown = text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + f"\n… ({len(text):,} characters in all)"
    click.echo(terminal_safe(f"\n── {name}: {question} ──\n{shown}\n"), err=True)
    choice = click.prompt(
        "Approve, reject or edit then approve?",
        type=click.Choice(["approve", "reject", "edit"]),
        default="approve",
        err=True,
    )
    if choice == "reject":
        note = click.prompt("Note for the rejection (handed on as feedback)", default="", err=True)
        return node_id, Decision(approve=False, by="cli", note=note)
    if choice == "edit":
        edited = click.edit(text)
        return node_id, Decision(approve=True, by="cli", text=edited if edited is not None else text)
    return node_id, Decision(approve=True, by="cli")


def may_ask(no_input: bool) -> bool:
    """Whether `flowdeck run` may ask on a terminal."""
    return not no_input and sys.stdin.isatty()


@click.command("approve")
@click.argument("run_id")
@click.option("--node", "-n", "node_id", help="The approval's node id (needed when several wait).")
@click.option("--reject", is_flag=True, help="Reject instead of approving.")
@click.option("--note", default="", help="Why; a rejection hands it on as feedback.")
@click.option("--text", "text", help="Approve this edited text instead of the one asked about.")
@click.option(
    "--round",
    "execution",
    type=click.IntRange(1, 1_000_000),
    help="The round you looked at (runs show numbers them): refused if the approval now waits in a later one.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run's new events as JSON lines.")
@click.option("--no-input", is_flag=True, help="Never ask on the terminal if the run waits again.")
def approve_command(
    run_id: str,
    node_id: str | None,
    reject: bool,
    note: str,
    text: str | None,
    execution: int | None,
    as_json: bool,
    no_input: bool,
) -> None:
    """Decide an approval a run waits for, and continue the run (here, from its log: no agent runs again).

    Exits 0 when the run then succeeds, 3 when it waits again, 1 otherwise."""
    from flowdeck.cli.running import run_to_end

    decision = Decision(approve=not reject, by="cli", note=note, text=text, execution=execution)
    try:
        sys.exit(
            asyncio.run(run_to_end(None, {}, None, as_json, decide=(run_id, node_id, decision), no_input=no_input))
        )
    except NotWaitingError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except WorkflowError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except FlowdeckError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
