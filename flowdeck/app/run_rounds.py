"""Rounds on the canvas (contract 1): "round 2/3" on an agent a loop runs again, and on the loop edge that sent it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flowdeck.components.canvas.payload import RoundMarks
from flowdeck.engine.events import Handoff
from flowdeck.engine.loops import LoopRounds, loop_bounds
from flowdeck.engine.state import NodeState
from flowdeck.engine.workflow import parse_workflow
from flowdeck.errors import WorkflowError


@dataclass(frozen=True, slots=True)
class RoundBounds:
    """How many rounds each agent's loops allow, and each loop edge's own bound; with the run's handoffs, the round of
    its innermost loop that each agent and loop edge is in (engine.loops.LoopRounds)."""

    agents: Mapping[str, int] = field(default_factory=dict)
    loop_edges: Mapping[str, int] = field(default_factory=dict)
    handoffs: Sequence[Handoff] = field(default=(), compare=False)  # the run's, as its state folds them
    rounds: LoopRounds = field(default_factory=lambda: LoopRounds(None), compare=False)

    @classmethod
    def of(cls, workflow: Mapping[str, Any], handoffs: Sequence[Handoff] = ()) -> RoundBounds:
        """From the workflow a run recorded; none for one without loops, or that no longer reads."""
        if not any(isinstance(e, dict) and e.get("loop") for e in workflow.get("edges", []) or ()):
            return cls()  # a plain workflow (most runs): not parsed again
        try:
            parsed = parse_workflow(dict(workflow))
        except WorkflowError:
            return cls()
        edges = {e.id: e.loop.max_rounds for e in parsed.edges if e.loop is not None}
        return cls(agents=loop_bounds(parsed), loop_edges=edges, handoffs=handoffs, rounds=LoopRounds.of(parsed))

    def agent_round(self, node: NodeState | None, node_id: str) -> RoundMarks:
        """`round` (the round of its innermost loop that the execution shown is in) and `rounds` (that loop's bound) for
        an agent's status patch; an agent outside loops: `round`, its execution index."""
        if node is None or node.latest is None:
            return {}
        found = self.rounds.agent(node_id, node.latest.index, self.handoffs)
        if found is None:
            return {"round": node.latest.index}
        return {"round": found.round, "rounds": found.rounds}

    def edge_round(self, edge_id: str, delivered: int) -> RoundMarks | None:
        """A loop edge taken `delivered` times sent the work into a round of its loop (counted again from 1 each time
        a loop around it is taken); None for other edges."""
        bound = self.loop_edges.get(edge_id)
        if bound is None or delivered < 1:
            return None
        found = self.rounds.edge(edge_id, self.handoffs)
        return {"round": found[0] if found is not None else delivered + 1, "rounds": bound}
