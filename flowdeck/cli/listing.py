"""What `flowdeck runs` and `flowdeck runs show` print: the table of runs, and one run's events."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence

from flowdeck.engine import events as ev
from flowdeck.engine.state import RunState
from flowdeck.storage.runs import RunSummary

_WHAT_RAN = 24


def run_table(rows: Sequence[RunSummary], live: dict[str, RunState]) -> Iterator[str]:
    """A header and a line per run. `live`: the states folded so far of runs still going, whose tokens are estimated
    from what their agents were sent and have streamed (marked ~), as providers report usage only at the end."""
    yield (
        f"{'ID':<12}  {'WORKFLOW':<32}  {'WHAT RAN':<{_WHAT_RAN}}  {'STATUS':<11}  {'STARTED':<19}  "
        f"{'DURATION':>8}  {'TOKENS':>7}  COST"
    )
    for r in rows:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.started_at))
        duration = f"{r.duration:.1f}s" if r.duration is not None else "-"
        tokens = f"{r.prompt_tokens + r.completion_tokens}"
        if r.id in live:
            count, estimated = live[r.id].tokens()
            tokens = f"{'~' if estimated else ''}{count}"
        yield (
            f"{r.id:<12}  {_cut(r.workflow_name, 32):<32}  {_cut(r.label or 'all agents', _WHAT_RAN):<{_WHAT_RAN}}  "
            f"{r.status:<11}  {started:<19}  {duration:>8}  {tokens:>7}  ${r.cost:.4f}"
        )


def event_lines(events: Sequence[ev.Event], *, tokens: bool = False) -> Iterator[str]:
    """A line per event. Token events (a run has many: its agents' streamed text) are summed up, each stretch of
    them on one line with its seq range, so that no seq goes missing unexplained; `tokens` lists each one."""
    t0 = events[0].ts if events else 0.0
    stretch: list[ev.Token] = []
    summed = False
    for event in events:
        if isinstance(event, ev.Token) and not tokens:
            stretch.append(event)
            continue
        if stretch:
            yield _tokens_line(stretch, t0)
            stretch, summed = [], True
        node = getattr(event, "node_id", None) or ""
        if (getattr(event, "execution", None) or 1) > 1:
            node = f"{node} #{getattr(event, 'execution', 1)}"  # a later execution: a loop's round
        yield _line(f"{event.seq}", event.ts - t0, event.type, node, _detail(event))
    if stretch:
        yield _tokens_line(stretch, t0)
        summed = True
    if summed:
        yield "  (token events are summed up; --tokens lists each)"


def _tokens_line(stretch: list[ev.Token], t0: float) -> str:
    first, last = stretch[0], stretch[-1]
    seqs = f"{first.seq}" if first is last else f"{first.seq}-{last.seq}"
    nodes = list(dict.fromkeys(token.node_id for token in stretch))
    count = f"{len(stretch)} token event{'' if len(stretch) == 1 else 's'}"
    chars = sum(len(token.text) for token in stretch)
    source = "" if len(nodes) == 1 else f" from {', '.join(nodes)}"
    detail = f"{count}{source}: {chars} characters streamed"
    return _line(seqs, first.ts - t0, "tokens", nodes[0] if len(nodes) == 1 else "", detail)


def _line(seqs: str, at: float, kind: str, node: str, detail: str) -> str:
    return f"  {seqs:>9}  +{at:7.2f}s  {kind:<15} {node:<16} {detail}".rstrip()


def _detail(event: ev.Event) -> str:
    if isinstance(event, ev.NodeStarted):
        return f"attempt {event.attempt} on {event.model}"
    if isinstance(event, ev.Token):
        return _cut(json.dumps(event.text, ensure_ascii=False), 80)
    if isinstance(event, ev.NodeFinished):
        cached = " (pinned)" if event.pinned else " (cached)" if event.cached else ""
        verdict = f", verdict: {event.verdict}" if event.verdict else ""
        return f"{event.duration:.2f}s, {event.usage.total_tokens} tokens{cached}{verdict}"
    if isinstance(event, ev.NodeFailed | ev.NodeRetrying):
        return f"{event.error_kind}: {event.message}"
    if isinstance(event, ev.NodeSkipped):
        return event.reason
    if isinstance(event, ev.Handoff):
        return f"-> {event.target} ({len(event.message)} chars)"
    if isinstance(event, ev.RunFinished):
        return f"{event.status} in {event.duration:.2f}s"
    if isinstance(event, ev.RunInterrupted):
        because = f"; {event.reason}" if event.reason else ""
        return f"interrupted while running: {', '.join(event.running) or 'nothing'}{because}"
    if isinstance(event, ev.Log):
        return f"[{event.level}] {event.text}"
    if isinstance(event, ev.ApprovalRequested):
        return f"waiting for approval of {len(event.text)} chars" + (f": {event.label}" if event.label else "")
    if isinstance(event, ev.ApprovalDecided):
        how = "approved (edited)" if event.text is not None else event.decision
        who = "the timeout" if event.timed_out else event.by
        return f"{how} by {who}" + (f": {_cut(event.note, 60)}" if event.note else "")
    if isinstance(event, ev.RunWaiting):
        return f"waiting for approval: {', '.join(event.waiting)}"
    if isinstance(event, ev.ToolCalled):
        effect = " (side effect)" if event.effect == "write" else ""
        return f"{event.tool}{effect} {_cut(' '.join(event.arguments.split()), 80)}"
    if isinstance(event, ev.ToolFinished):
        ended = "reused" if event.reused else f"{'ok' if event.ok else 'failed'} in {event.duration:.2f}s"
        return f"{event.tool} {ended}: {_cut(' '.join(event.result.split()), 80)}"
    return ""


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
