"""What runs' tools did, on the command line: `flowdeck runs effects` (the side-effect log), `flowdeck runs
artifacts` (the files a run wrote, and one downloaded), what `runs show` adds about tool calls, and `flowdeck
secrets` (named secrets that tools use by name)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from flowdeck.cli.admin import _fail, _home
from flowdeck.cli.terminal import shown
from flowdeck.errors import FlowdeckError

if TYPE_CHECKING:
    from flowdeck.engine.state import RunState
    from flowdeck.storage.effects import Effect

ARGUMENTS_SHOWN = 160  # characters of a call's arguments in a listing line


@click.command("effects")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print each entry as a JSON line.")
def effects_command(run_id: str, as_json: bool) -> None:
    """List a run's side effects (tool calls that change the world), oldest first: ok, failed or outcome unknown."""
    from flowdeck.cli.main import _services
    from flowdeck.engine.events import RunStarted
    from flowdeck.storage.effects import effects_of

    services = _services()
    try:
        summary = services.runs.get(run_id)
        first = services.runs.events(summary.id, 0, limit=1)
        effects = effects_of(services.engine, summary.id)
    except FlowdeckError as exc:
        _fail(exc)
    finally:
        services.close()
    labels = first[0].labels if first and isinstance(first[0], RunStarted) else {}
    if as_json:
        for e in effects:
            click.echo(json.dumps(_entry(e, labels.get(e.node_id, e.node_id))))  # ASCII: no control character
        return
    if not effects:
        click.echo(f"run {summary.id} has no side effects recorded")
        return
    for e in effects:
        status = "outcome unknown" if e.status == "unknown" else e.status
        again = f" (attempt {e.attempt})" if e.attempt > 1 else ""
        arguments = e.arguments if len(e.arguments) <= ARGUMENTS_SHOWN else e.arguments[:ARGUMENTS_SHOWN] + "…"
        line = (
            f"{_clock(e.started_at)}  {labels.get(e.node_id, e.node_id)} (round {e.execution})  {e.tool}{again}  "
            f"{status}  {arguments}"
        )
        click.echo(shown(line))
    if any(e.status == "unknown" for e in effects):
        click.echo(
            f"\noutcome unknown: the process stopped while the call ran, so whether it happened is not known. "
            f"Check, then `flowdeck runs resume {summary.id} --unknown retry` (run it again) or `--unknown skip`.",
            err=True,
        )


@click.command("artifacts")
@click.argument("run_id")
@click.option("--get", "path", metavar="PATH", help="Download this file of the run (a path from the listing).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Where to save it (- : stdout).")
def artifacts_command(run_id: str, path: str | None, output: Path | None) -> None:
    """List the files a run's tools wrote (its workspace), or download one with --get PATH -o FILE."""
    from flowdeck.cli.main import _services
    from flowdeck.tools import Workspace, WorkspaceError, artifacts

    services = _services()
    try:
        summary = services.runs.get(run_id)
        workspace = services.tools.workspace(summary.id)
    except FlowdeckError as exc:
        _fail(exc)
    finally:
        services.close()
    if path is None:
        found = artifacts(workspace)
        if not found:
            click.echo(f"run {summary.id} wrote no files")
        for a in found:
            click.echo(shown(f"{a.size:>10,}  {_clock(a.modified)}  {a.path}"))
        return
    if output is None and sys.stdout.isatty():
        _fail(FlowdeckError(f"say where to save {path}: -o FILE (or -o - to print it)"))
    try:
        _, data = Workspace(workspace).read(path)
    except WorkspaceError as exc:
        _fail(FlowdeckError(f"run {summary.id} has no file {path} to download ({exc})"))
    if output is None or str(output) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    output.write_bytes(data)
    click.echo(f"saved {path} ({len(data):,} bytes) to {output}", err=True)


def tool_lines(state: RunState, effects: list[Effect]) -> list[str]:
    """What `runs show` says about a run's tool calls and its side effects ([] for a run without any)."""
    calls = sum(len(ex.tool_calls) for node in state.nodes.values() for ex in node.executions)
    if not calls and not effects:
        return []
    lines = [f"tool calls: {calls}"]
    if effects:
        counts = {s: sum(e.status == s for e in effects) for s in ("ok", "failed", "unknown")}
        lines.append(
            f"side effects: {len(effects)} ({counts['ok']} ok, {counts['failed']} failed, "
            f"{counts['unknown']} outcome unknown): `flowdeck runs effects {state.run_id}`"
        )
    for e in effects:
        if e.status == "unknown":
            name = state.labels.get(e.node_id, e.node_id)
            lines.append(f"  outcome unknown: {e.tool} by {name} (round {e.execution}) at {_clock(e.started_at)}")
    return lines


@click.group("secrets")
def secrets_command() -> None:
    """Named secrets that tools use by name (an http_request header "Bearer {{secret:NAME}}"), kept in the data dir
    (0600), never in workflow files, events or the side-effect log."""


@secrets_command.command("set")
@click.argument("name")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the value from standard input.")
def secrets_set(name: str, from_stdin: bool) -> None:
    """Save a secret; its value is read from standard input or asked for (never given on the command line)."""
    from flowdeck.storage.secret_store import SecretStore

    if not from_stdin and not sys.stdin.isatty():  # getpass would warn that the value may be echoed, then abort
        _fail(FlowdeckError(f"no terminal to ask for {name}'s value on: pipe it in with --stdin"))
    value = sys.stdin.readline().rstrip("\r\n") if from_stdin else click.prompt(name, hide_input=True)
    store = SecretStore(_home())
    try:
        store.set(name, value)
    except FlowdeckError as exc:
        _fail(exc)
    click.echo(f"secret {name} saved; refer to it as {{{{secret:{name}}}}} in an http_request header")


@secrets_command.command("list")
def secrets_list() -> None:
    """The names of the saved secrets (never their values)."""
    from flowdeck.storage.secret_store import SecretStore

    try:
        names = SecretStore(_home()).names()
    except FlowdeckError as exc:
        _fail(exc)
    if not names:
        click.echo("no secrets saved; save one with `flowdeck secrets set NAME`")
    for name in names:
        click.echo(name)


@secrets_command.command("remove")
@click.argument("name")
def secrets_remove(name: str) -> None:
    """Forget a saved secret."""
    from flowdeck.storage.secret_store import SecretStore

    try:
        removed = SecretStore(_home()).remove(name)
    except FlowdeckError as exc:
        _fail(exc)
    click.echo(f"secret {name} removed" if removed else shown(f"no secret named {name}"))


def _entry(effect: Effect, agent: str) -> dict[str, object]:
    return {
        "seq": effect.seq,
        "tool": effect.tool,
        "agent": agent,
        "node_id": effect.node_id,
        "round": effect.execution,
        "attempt": effect.attempt,
        "status": effect.status,
        "arguments": effect.arguments,
        "detail": effect.detail,
        "result": effect.content,
        "key": effect.key,
        "started_at": effect.started_at,
        "finished_at": effect.finished_at,
    }


def _clock(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
