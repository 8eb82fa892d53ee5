"""The Output tab's order: agents that started by when they started, ties and the unstarted by data flow."""

from __future__ import annotations

from flowdeck.components.outputs import flow_order
from flowdeck.engine.state import RunState


def test_flow_order_is_by_layer_then_by_the_workflows_order() -> None:
    state = RunState()
    # Listed out of data-flow order: the reviewer first, a coder before the researcher it reads.
    state.labels = {"reviewer": "Reviewer", "coder_b": "Coder B", "researcher": "Researcher", "coder_a": "Coder A"}
    state.workflow = {
        "edges": [
            {"source": "researcher", "target": "coder_a"},
            {"source": "researcher", "target": "coder_b"},
            {"source": "coder_a", "target": "reviewer"},
            {"source": "coder_b", "target": "reviewer"},
            {"source": "researcher", "target": "reviewer"},
        ]
    }
    order = flow_order(state)
    assert sorted(order, key=order.__getitem__) == ["researcher", "coder_b", "coder_a", "reviewer"]
