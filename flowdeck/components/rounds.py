"""Rounds as every panel names them: an agent that a loop ran more than once is "Coder · round 2" (an execution of
it, engine/state.py), an agent that ran once is just "Coder"; a verdict's feedback is its answer without the
verdict line."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from flowdeck.engine.state import Execution, NodeState
from flowdeck.engine.verdicts import read_verdict

# A line that gives a verdict ("Verdict: revise", in any markdown), as engine/verdicts.py reads one.
_VERDICT_LINE = re.compile(r"^[\s>*_#`-]*verdict[\s*_`]*[:=\-–—]+\s*(.+?)\s*$", re.IGNORECASE)


def ran_again(node: NodeState | None) -> bool:
    """Whether the agent has more than one execution (a loop sent work back to it, or through it)."""
    return node is not None and len(node.executions) > 1


def round_name(label: str, execution: int, several: bool) -> str:
    """ "Coder · round 2" for an agent that ran more than once, else "Coder"."""
    return f"{label} · round {execution}" if several else label


def feedback(ex: Execution) -> str | None:
    """What an execution that gave a verdict said besides it (the feedback a loop sends back), else None."""
    if ex.verdict is None or ex.output is None:
        return None
    found = read_verdict(ex.output, [ex.verdict])
    return found.feedback if found is not None else None


def split_verdict(message: str) -> tuple[str | None, str]:
    """A handed-over message's verdict line, if it has one, and the rest of it (the feedback)."""
    lines = message.rstrip().split("\n")
    for index in range(len(lines) - 1, -1, -1):
        match = _VERDICT_LINE.match(lines[index])
        if match is not None:
            return match[1], "\n".join(lines[:index] + lines[index + 1 :]).strip()
    return None, message


def loop_edges(workflow: Mapping[str, Any]) -> frozenset[str]:
    """The ids of a run's loop edges (format 2: an edge with a `loop`), from the workflow it recorded."""
    edges: Iterable[Any] = workflow.get("edges", ()) if isinstance(workflow, Mapping) else ()
    return frozenset(str(e.get("id")) for e in edges if isinstance(e, Mapping) and e.get("loop"))
