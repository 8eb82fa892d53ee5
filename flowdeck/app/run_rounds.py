"""Rounds on the canvas (contract 1): "round 2/3" on an agent a loop runs again, and on the loop edge that sent it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flowdeck.components.canvas.payload import RoundMarks
from flowdeck.engine.loops import loop_bounds
from flowdeck.engine.state import NodeState
from flowdeck.engine.workflow import parse_workflow
from flowdeck.errors import WorkflowError


@dataclass(frozen=True, slots=True)
class RoundBounds:
    """How many rounds each agent's loops allow, and each loop edge's own bound."""

    agents: Mapping[str, int] = field(default_factory=dict)
    loop_edges: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, workflow: Mapping[str, Any]) -> RoundBounds:
        """From the workflow a run recorded; none for one without loops, or that no longer reads."""
        if not any(isinstance(e, dict) and e.get("loop") for e in workflow.get("edges", []) or ()):
            return cls()  # a plain workflow (most runs): not parsed again
        try:
            parsed = parse_workflow(dict(workflow))
        except WorkflowError:
            return cls()
        edges = {e.id: e.loop.max_rounds for e in parsed.edges if e.loop is not None}
        return cls(agents=loop_bounds(parsed), loop_edges=edges)

    def agent_round(self, node: NodeState | None, node_id: str) -> RoundMarks:
        """`round` (the execution shown) and `rounds` (its loops' bound) for an agent's status patch."""
        if node is None or node.latest is None:
            return {}
        marks: RoundMarks = {"round": node.latest.index}
        if node_id in self.agents:
            marks["rounds"] = self.agents[node_id]
        return marks

    def edge_round(self, edge_id: str, delivered: int) -> RoundMarks | None:
        """A loop edge taken `delivered` times sent the work into round delivered + 1; None for other edges."""
        bound = self.loop_edges.get(edge_id)
        if bound is None or delivered < 1:
            return None
        return {"round": delivered + 1, "rounds": bound}
