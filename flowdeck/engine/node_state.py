"""What a run's state knows of one node: each execution of it (a loop's rounds), with its tool calls, and how the
node's state reads in a few words."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from flowdeck.engine.events import ApprovalDecided, ApprovalRequested, Message, ToolCalled, ToolFinished, Usage

NodeStatus = Literal[
    "queued", "running", "retrying", "waiting", "succeeded", "failed", "skipped", "cancelled", "interrupted"
]
TERMINAL_NODE = frozenset({"succeeded", "failed", "skipped", "cancelled", "interrupted"})


@dataclass(kw_only=True, slots=True)
class Execution:
    """One execution of a node within a run (a node may execute more than once once loops exist)."""

    index: int
    status: NodeStatus = "queued"
    attempt: int = 0
    model: str = ""
    messages: list[Message] = field(default_factory=list)
    parameters: dict[str, float | int] = field(default_factory=dict)
    received_from: list[str] = field(default_factory=list)
    text: str = ""
    output: str | None = None
    usage: Usage = field(default_factory=Usage)
    cost: float = 0.0
    duration: float | None = None
    cached: bool = False
    cut: bool = False  # the answer stopped at max_tokens
    pinned: bool = False  # the output is the agent's pinned one
    started_at: float | None = None
    finished_at: float | None = None
    error_kind: str | None = None
    error: str | None = None
    retry_wait: float | None = None
    max_attempts: int | None = None
    skip_reason: str | None = None
    verdict: str | None = None  # the verdict it gave (an agent that decides, format 2)
    approval: ApprovalRequested | None = None  # an approval node's request, while it waits and after
    decision: ApprovalDecided | None = None  # and what was decided
    tool_calls: list[ToolCallState] = field(default_factory=list)  # in the order the model asked for them

    def cut_note(self) -> str:
        """' · cut at 512 tokens' when the answer stopped at max_tokens, else ''."""
        if not self.cut:
            return ""
        limit = self.parameters.get("max_tokens")
        return f" · cut at {limit} tokens" if limit else " · cut at max tokens"


@dataclass(kw_only=True, slots=True)
class ToolCallState:
    """One tool call of an execution: asked for, then finished (result None while it runs)."""

    call: ToolCalled
    finished: ToolFinished | None = None


_FAULT_WORDS = {
    "rate_limit": "rate limited",
    "timeout": "timed out",
    "unavailable": "provider unavailable",
    "stream_cut": "stream cut off",
}


@dataclass(kw_only=True, slots=True)
class NodeState:
    node_id: str
    executions: list[Execution] = field(default_factory=list)

    @property
    def latest(self) -> Execution | None:
        return self.executions[-1] if self.executions else None

    @property
    def status(self) -> NodeStatus:
        return self.executions[-1].status if self.executions else "queued"

    def summary(self) -> str:
        """The node's state in a few words, as the terminal view and the canvas show it."""
        ex = self.latest
        status = self.status
        if ex is None or status == "queued":
            return "queued"
        if status == "running":
            return f"running · {len(ex.text.split())} words"
        if status == "retrying":
            wait = ex.retry_wait or 0.0
            when = f"{wait:.0f} s" if wait >= 10 else f"{wait:.1f} s"
            fault = _FAULT_WORDS.get(ex.error_kind or "", ex.error_kind)
            return f"{fault}, retry {ex.attempt + 1}/{ex.max_attempts} in {when}"
        if status == "succeeded" and ex.decision is not None:
            decided = ex.decision
            how = "edited and approved" if decided.decision == "approved" and decided.text is not None else ex.verdict
            who = "by itself (no decision in time)" if decided.timed_out else f"by {decided.by}"
            return f"{how} {who}" + (f": {decided.note}" if decided.note and not decided.timed_out else "")
        if status == "succeeded":
            if ex.pinned:
                return "done · pinned output (the model was not called)"
            if ex.cached:
                return "done · cached (the model was not called)"
            cost = f" · ${ex.cost:.4f}" if ex.cost else ""
            # first what matters most, as a card's line is cut short at its end: the verdict, then a cut answer
            verdict = f"verdict: {ex.verdict} · " if ex.verdict else ""
            if ex.cut:
                spent = f"{ex.duration or 0:.1f} s · {ex.usage.total_tokens} tokens with the prompt"
                return f"{verdict}{ex.cut_note().removeprefix(' · ')} · {spent}{cost}"
            return f"{verdict}done in {ex.duration or 0:.1f} s · {ex.usage.total_tokens} tokens{cost}"
        if status in ("failed", "cancelled"):
            tries = f" after {ex.attempt} attempts" if status == "failed" and ex.attempt > 1 else ""
            return f"{status}{tries}: {ex.error}"
        if status == "skipped":
            return f"skipped: {ex.skip_reason}"
        if status == "waiting":
            return "Waiting for approval"
        return status

    def execution(self, index: int) -> Execution:
        for item in reversed(self.executions):
            if item.index == index:
                return item
        item = Execution(index=index)
        self.executions.append(item)
        return item
