"""Every run event as one readable log line (time, agent, level, message). Pure: no UI."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, assert_never

from flowdeck.engine.events import (
    ApprovalDecided,
    ApprovalRequested,
    Event,
    Handoff,
    Log,
    NodeFailed,
    NodeFinished,
    NodeRetrying,
    NodeSkipped,
    NodeStarted,
    RunFinished,
    RunInterrupted,
    RunStarted,
    RunWaiting,
    Token,
    ToolCalled,
    ToolFinished,
)

LEVELS = ("debug", "info", "warning", "error")
TEXT_LIMIT = 400


def log_line(event: Event, labels: Mapping[str, str], started_at: float | None) -> dict[str, Any]:
    """{seq, time, agent, round, level, text} for one event; token deltas are debug lines. `round` is the agent's
    execution the event is about (None for the run's own lines): the log names it once the agent has several."""
    node_id = getattr(event, "node_id", None)
    agent = labels.get(node_id, node_id) if node_id else "run"
    level, text = _describe(event, labels)
    offset = event.ts - started_at if started_at is not None else 0.0
    if len(text) > TEXT_LIMIT:
        text = text[: TEXT_LIMIT - 1] + "…"
    execution = getattr(event, "execution", None) if node_id else None
    return {
        "seq": event.seq,
        "time": f"+{offset:.3f} s",
        "agent": agent,
        "round": execution,
        "level": level,
        "text": text,
    }


def as_text(lines: list[dict[str, Any]]) -> str:
    """The lines as a plain-text file, one per line, with the event's seq first; an agent that ran more than once
    is named with the round of each line, "Reviewer (round 2)", as the page shows it."""
    rounds: dict[str, int] = {}
    for line in lines:
        if line.get("round"):
            rounds[line["agent"]] = max(rounds.get(line["agent"], 0), line["round"])
    return "".join(
        f"{line['seq']}\t{line['time']}\t{agent_name(line, rounds)}\t{line['level']}\t{line['text']}\n"
        for line in lines
    )


def agent_name(line: Mapping[str, Any], rounds: Mapping[str, int]) -> str:
    """The line's agent, with its round when that agent has more than one in the log (`rounds`: the highest)."""
    agent, index = line["agent"], line.get("round")
    return f"{agent} (round {index})" if index and rounds.get(agent, 0) > 1 else str(agent)


def _describe(event: Event, labels: Mapping[str, str]) -> tuple[str, str]:
    name = labels.get
    if isinstance(event, Token):
        return "debug", "tokens: " + event.text.replace("\n", "⏎")
    if isinstance(event, NodeStarted):
        again = f" (attempt {event.attempt})" if event.attempt > 1 else ""
        return "info", f"started{again} on {event.model}"
    if isinstance(event, NodeFinished):
        verdict = f"verdict {event.verdict} · " if event.verdict is not None else ""  # first: what a loop acts on
        if event.pinned:
            return "info", f"{verdict}used its pinned output (the model was not called)"
        if event.cached:
            return "info", f"{verdict}reused its recorded output (cached; the model was not called)"
        cost = f" · ${event.cost:.4f}" if event.cost else ""
        return "info", f"{verdict}finished in {event.duration:.2f} s · {event.usage.total_tokens} tokens{cost}"
    if isinstance(event, Handoff):
        return "info", f"handed its output ({len(event.message)} characters) to {name(event.target, event.target)}"
    if isinstance(event, NodeRetrying):
        return "warning", (
            f"{event.error_kind}: {event.message} — retry {event.attempt}/{event.max_attempts} in {event.wait:.1f} s"
        )
    if isinstance(event, NodeFailed):
        return "error", f"{event.error_kind}: {event.message}"
    if isinstance(event, NodeSkipped):
        return "warning", f"skipped: {event.reason}"
    if isinstance(event, Log):
        return event.level, event.text
    if isinstance(event, RunStarted):
        inputs = ", ".join(f"{key}={value[:60]!r}" for key, value in event.inputs.items()) or "no inputs"
        reused = (
            f"; reusing the recorded outputs of {', '.join(name(n, n) for n in event.reused)}" if event.reused else ""
        )
        return "info", f"run started: {len(event.node_ids)} agents; {inputs}{reused}"
    if isinstance(event, RunFinished):
        level = "info" if event.status == "succeeded" else "error"
        return level, f"run {event.status} in {event.duration:.2f} s · {event.usage.total_tokens} tokens"
    if isinstance(event, RunInterrupted):
        working = ", ".join(name(n, n) for n in event.running) or "no agent"
        if event.reason:
            return "error", f"run interrupted while {working} was working: {event.reason}"
        return "error", f"run interrupted (the server stopped) while {working} was working"
    if isinstance(event, ApprovalRequested):
        return "warning", f"waiting for approval ({len(event.text)} characters to approve)"
    if isinstance(event, ApprovalDecided):
        return "info", _decision_text(event)
    if isinstance(event, RunWaiting):
        return "warning", f"run waiting for approval by a person: {', '.join(name(n, n) for n in event.waiting)}"
    if isinstance(event, ToolCalled):
        effect = "" if event.effect == "read" else " (side effect)"
        return "info", f"called {event.tool}{effect}: {_one_line(event.arguments[:200])}"
    if isinstance(event, ToolFinished):
        how = (
            "reused its recorded outcome"
            if event.reused
            else f"{'ok' if event.ok else 'failed'} in {event.duration:.2f} s"
        )
        return ("info" if event.ok else "warning"), f"{event.tool} {how}: {_one_line(event.result[:200])}"
    assert_never(event)  # a new kind of event must say here how it reads


def _decision_text(event: ApprovalDecided) -> str:
    how = "approved" if event.decision == "approved" else "rejected"
    if event.decision == "approved" and event.text is not None:
        how = "edited and approved"
    who = "by itself: no decision in time" if event.timed_out else f"by {event.by}"
    note = f": {event.note}" if event.note else ""
    return f"{how} {who}{note}"


def _one_line(text: str) -> str:
    """A tool's arguments or result on the event's one line (a file's lines, pretty JSON), as token lines show them."""
    return text.replace("\r\n", "⏎").replace("\n", "⏎").replace("\r", "⏎")
