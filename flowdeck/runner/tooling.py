"""What a run whose agents have tools gets besides its model: its workspace folder, its toolbox (flowdeck/tools/,
imported only then: runs without tools never load httpx) and its side-effect journal."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypedDict

from sqlalchemy import Engine

from flowdeck.engine.events import Event, RunOrigin, RunStarted
from flowdeck.engine.state import fold
from flowdeck.engine.tools import EffectJournal, Toolbox
from flowdeck.engine.workflow import Workflow
from flowdeck.errors import NotFoundError, Problem, UnknownEffects
from flowdeck.storage.effects import SqlJournal, unknown_effects

if TYPE_CHECKING:
    from flowdeck.storage.runs import RunLog

UnknownChoice = Literal["fail", "retry", "skip"]  # what a resumed run does with a call whose outcome is unknown
MAX_LINEAGE = 1_000  # resumes of resumes followed back to the first run (a loop in the log cannot hang a start)


class ToolArguments(TypedDict, total=False):
    """Run()'s arguments for tools (engine/run.py)."""

    toolbox: Toolbox
    journal: EffectJournal
    on_unknown_effect: UnknownChoice
    effects_run_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class RunTools:
    """Where runs keep their side-effect log (the database) and their files (`workspaces`), and how their tools get
    saved secrets (`secret`: a value by name; `secret_values`: every value, which the log redacts)."""

    db: Engine
    workspaces: Path
    secret: Callable[[str], str | None]
    secret_values: Callable[[], Collection[str]]
    # Whether an editor approved this content hash here (an MCP server's stdio command); none is, by default.
    trusted: Callable[[str], bool] = lambda content_hash: False

    def workspace(self, run_id: str) -> Path:
        """The folder of a run's files (it may not exist): `<workspaces>/<run id>/`."""
        if not run_id or "/" in run_id or run_id.startswith("."):
            raise NotFoundError(f"'{run_id[:80]}' is not a run id")
        return self.workspaces / run_id

    def arguments(
        self, workflow: Workflow, run_id: str, lineage: list[str], origin: RunOrigin | None, unknown: UnknownChoice
    ) -> ToolArguments:
        """Run()'s tool arguments for a run of `workflow` (none if no agent has tools). Its workspace starts with the
        files of the run it continues (`origin`), which stay as they were. `lineage`: the runs a resume continues,
        newest first: it uses the first one's keys for its calls, so that it finds their recorded outcomes. Blocking."""
        if not uses_tools(workflow):
            return {}
        folder = self._make(run_id)
        if origin is not None:
            _copy_files(self.workspace(origin.run_id), folder)
        from flowdeck.tools import make_toolbox  # only runs with tools load httpx and the egress guard

        return {
            "toolbox": make_toolbox(
                workflow, folder, self.secret, approved=lambda server: self.trusted(server.content_hash())
            ),
            "journal": SqlJournal(self.db, run_id, secrets=self.secret_values, continues=lineage),
            "on_unknown_effect": unknown,
            "effects_run_id": lineage[-1] if lineage else run_id,
        }

    def _make(self, run_id: str) -> Path:
        folder = self.workspace(run_id)
        for made in (self.workspaces, folder):
            made.mkdir(mode=0o700, exist_ok=True)
            made.chmod(0o700)  # whatever the umask (or an older flowdeck) made of it: runs' files are private
        return folder


def uses_tools(workflow: Workflow) -> bool:
    """Whether any agent of the workflow lists tools."""
    return any(node.config.tools for node in workflow.nodes)


def lineage(log: RunLog, origin: RunOrigin | None) -> list[str]:
    """The runs a resume continues, newest first (the run it resumes, the one that one resumed, ...); [] for a run
    that is not a resume. Blocking."""
    found: list[str] = []
    while origin is not None and origin.kind == "resume" and origin.run_id not in found and len(found) < MAX_LINEAGE:
        found.append(origin.run_id)
        first = log.events(origin.run_id, 0, limit=1)
        origin = first[0].origin if first and isinstance(first[0], RunStarted) else None
    return found


def _copy_files(source: Path, target: Path) -> None:
    """The files of the run a partial run or a resume continues (links copied as links, never followed); not into a
    folder that has files already (a run continued after it waited for approval)."""
    if source.is_dir() and not source.is_symlink() and not any(target.iterdir()):
        shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)


class Tooling:
    """The Runner's tools: it sets every attribute declared here."""

    _log: RunLog
    _tools: RunTools | None

    async def _tools_for(
        self, workflow: Workflow, run_id: str, origin: RunOrigin | None, unknown: UnknownChoice, *, continued: bool
    ) -> ToolArguments:
        """Run()'s tool arguments for a new run (or one `continued` under its id after it waited for approval).
        None without tools configured (a Runner made without them): an agent with tools then fails, saying so."""
        if self._tools is None or not uses_tools(workflow):
            return {}
        tools = self._tools
        runs = await asyncio.to_thread(lineage, self._log, origin)
        return await asyncio.to_thread(tools.arguments, workflow, run_id, runs, None if continued else origin, unknown)

    def _refuse_unknown(self, run_id: str, events: list[Event], labels: dict[str, str]) -> None:
        """UnknownEffects listing the calls of a stopped run (and of the runs it resumed) whose outcome is unknown and
        that a resume would come to again (their agent's round has no committed output). Blocking."""
        if self._tools is None or not events or not isinstance(events[0], RunStarted):
            return
        runs = [run_id, *lineage(self._log, events[0].origin)]
        committed = {
            (node_id, ex.index)
            for node_id, node in fold(events).nodes.items()
            for ex in node.executions
            if ex.output is not None
        }
        found = [e for e in unknown_effects(self._tools.db, runs) if (e.node_id, e.execution) not in committed]
        if found:
            problems = [
                Problem(
                    f"{labels.get(e.node_id, e.node_id)} (round {e.execution}), {e.tool}",
                    f"outcome unknown: its process stopped while the call ran ({_clock(e.started_at)}); "
                    f"arguments {_short(e.arguments)}",
                )
                for e in found
            ]
            problems.append(
                Problem(
                    "choose",
                    "resume with --unknown retry (run these calls again) or --unknown skip (do not repeat them: the "
                    'agent is told their outcome is unknown); the API takes {"unknown": "retry"} or {"unknown": '
                    '"skip"}. `flowdeck runs effects RUN` lists them',
                )
            )
            raise UnknownEffects(problems)

    def _discard_workspace(self, run_id: str) -> None:
        """Remove the workspace made for a run that then failed to start (a fresh id: nothing else is in it)."""
        if self._tools is not None:
            shutil.rmtree(self._tools.workspace(run_id), ignore_errors=True)


def _clock(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
