"""Undoing runs' side effects on the command line: `flowdeck runs compensate RUN`, `flowdeck runs compensated RUN
KEY` (manual steps a person followed), the lines `runs show` adds, and `flowdeck trust` (the approvals that let a
workflow's compensation handlers run: list, approve from a workflow file or by hash, revoke). The command line is
the machine's owner: it approves as an editor would."""

from __future__ import annotations

import asyncio
import getpass
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from flowdeck.cli.admin import _fail
from flowdeck.cli.terminal import shown
from flowdeck.errors import FlowdeckError

if TYPE_CHECKING:
    from flowdeck.storage.compensations import CompensationEntry


@click.command("compensate")
@click.argument("run_id")
def compensate_command(run_id: str) -> None:
    """Undo a finished run's side effects with its workflow's handlers, newest first, each at most once; prints each
    attempt. Exits 1 if one failed or was blocked (e.g. an untrusted handler: see `flowdeck trust`)."""
    from flowdeck.cli.main import _services

    async def go() -> tuple[str, list[str], bool]:
        services = _services()
        try:
            full = services.runs.get(run_id).id
            done = await services.runner.compensate(full, "demand")
        finally:
            await services.runner.close()
            services.close()
        lines = [f"{a.key}  {a.tool}  {a.handler or '-'}  {a.status}  {a.message}" for a in done.attempts]
        return full, lines, done.failed

    try:
        full, lines, failed = asyncio.run(go())
    except FlowdeckError as exc:
        _fail(exc)
    if not lines:
        click.echo(f"run {full} has no side effects to undo")
    for line in lines:
        click.echo(shown(line))
    raise SystemExit(1 if failed else 0)


@click.command("compensated")
@click.argument("run_id")
@click.argument("key")
@click.option("--by", default=None, help="Who followed the steps (default: your login name).")
def compensated_command(run_id: str, key: str, by: str | None) -> None:
    """Mark an effect's manual compensation steps as done (KEY as `runs compensate` printed it)."""
    from flowdeck.cli.main import _services
    from flowdeck.storage.compensations import mark_done

    services = _services()
    try:
        full = services.runs.get(run_id).id
        entry = mark_done(services.engine, full, key, by or f"{getpass.getuser()} (command line)")
    except FlowdeckError as exc:
        _fail(exc)
    finally:
        services.close()
    click.echo(shown(f"{entry.key}  marked done by {entry.detail.get('by')}"))


def compensation_lines(entries: list[CompensationEntry]) -> list[str]:
    """What `runs show` says about undoing the run's effects."""
    if not entries:
        return []
    lines = ["", "compensation:"]
    for e in entries:
        lines.append(f"  {_clock(e.ts)}  {e.tool} {e.key}  {e.handler or '-'}  {e.status}  {e.message}")
    return lines


@click.group("trust")
def trust_command() -> None:
    """Approvals that let compensation handlers from elsewhere (an imported file, a template) run."""


@trust_command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print each approval as a JSON line.")
def trust_list(as_json: bool) -> None:
    """List approvals, newest first: hash, kind, who, when, what it can reach."""
    from flowdeck.cli.main import _services
    from flowdeck.storage.trust import TrustStore

    services = _services()
    try:
        entries = TrustStore(services.engine).entries()
    except FlowdeckError as exc:
        _fail(exc)
    finally:
        services.close()
    for e in entries:
        if as_json:
            click.echo(json.dumps({"content_hash": e.content_hash, "kind": e.kind, "summary": e.summary,
                                   "approved_by": e.approved_by, "approved_at": e.approved_at}))  # fmt: skip
        else:
            click.echo(
                shown(f"{e.content_hash}  {e.kind}  {e.approved_by}  {_clock(e.approved_at)}  {_reach(e.summary)}")
            )
    if not entries and not as_json:
        click.echo("no approvals")


@trust_command.command("approve")
@click.argument("target")
@click.option("--only", "only", help="Approve only this handler (its id) or MCP server (its name) of the file.")
@click.option("--kind", type=click.Choice(["handler", "mcp_server"]), default="handler", help="What a HASH approves.")
def trust_approve(target: str, only: str | None, kind: str) -> None:
    """Approve the compensation handlers and MCP server commands of a workflow FILE (each printed with what it can
    call or run), or one HASH that `trust list`, a blocked compensation or a refused MCP server named."""
    from flowdeck.cli.main import _services
    from flowdeck.engine.workflow import parse_workflow
    from flowdeck.storage.trust import TrustStore, approve_handler, reach_text

    path = Path(target)
    by = f"{getpass.getuser()} (command line)"
    services = _services()
    try:
        trust = TrustStore(services.engine)
        if not path.is_file():
            trust.approve(target, "mcp_server" if kind == "mcp_server" else "handler", {}, by)
            click.echo(f"approved {target}")
            return
        workflow = parse_workflow(path.read_bytes(), source=str(path))
        handlers = [h for h in workflow.handlers if only in (None, h.id)]
        servers = [s for s in workflow.mcp_servers if s.command is not None and only in (None, s.name)]
        if not handlers and not servers:
            named = f"no handler or stdio MCP server named '{only}'" if only else "no handlers nor stdio MCP servers"
            _fail(FlowdeckError(f"{path} has {named}; nothing approved"))
        for handler in handlers:
            approve_handler(trust, handler, by)
            click.echo(shown(f"approved {handler.id} ({handler.content_hash()}): it can call {reach_text(handler)}"))
        for server in servers:
            command = list(server.command or [])
            trust.approve(server.content_hash(), "mcp_server", {"name": server.name, "command": command}, by)
            click.echo(shown(f"approved MCP server {server.name} ({server.content_hash()}): it runs {command}"))
    except FlowdeckError as exc:
        _fail(exc)
    finally:
        services.close()


@trust_command.command("revoke")
@click.argument("content_hash")
def trust_revoke(content_hash: str) -> None:
    """Revoke an approval: that handler is untrusted again."""
    from flowdeck.cli.main import _services
    from flowdeck.storage.trust import TrustStore

    services = _services()
    try:
        revoked = TrustStore(services.engine).revoke(content_hash)
    except FlowdeckError as exc:
        _fail(exc)
    finally:
        services.close()
    if not revoked:
        _fail(FlowdeckError(f"no approval has the hash {content_hash[:80]}; `flowdeck trust list` lists them"))
    click.echo(f"revoked {content_hash}")


def _reach(summary: dict[str, object]) -> str:
    said = [f"{k} {', '.join(map(str, v))}" for k, v in summary.items() if isinstance(v, list) and v]
    return "; ".join(said) or "-"


def _clock(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
