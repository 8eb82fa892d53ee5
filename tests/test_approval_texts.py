"""What the page says a decision does to the run: true for each kind of approval (a rejection with no "rejected"
edge ends the run; it used to say "the run goes on")."""

from __future__ import annotations

from flowdeck.app.approval import _what_follows
from flowdeck.engine.state import RunState


def state(*edges: dict[str, object]) -> RunState:
    return RunState(workflow={"edges": list(edges)})


def test_a_decision_says_what_follows() -> None:
    back = {"id": "s->c", "source": "sign", "target": "coder", "condition": {"verdict": "rejected"}}
    onward = {"id": "s->w", "source": "sign", "target": "writer", "condition": "otherwise"}
    assert _what_follows(state(back), "sign", True) == "approved; the run goes on"
    assert _what_follows(state(back), "sign", False) == "rejected; the work goes back with the note"
    assert _what_follows(state(onward), "sign", False) == "rejected; the run ends rejected"
    assert _what_follows(state(), "sign", False) == "rejected; the run ends rejected"
