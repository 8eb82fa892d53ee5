"""Events are stored as JSON written by orjson; it must be exactly the text pydantic writes (and reads back)."""

from __future__ import annotations

import json
from typing import Annotated

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Field, TypeAdapter

from flowdeck.engine.events import (
    Event,
    Handoff,
    Log,
    Message,
    NodeFailed,
    NodeFinished,
    NodeRetrying,
    NodeSkipped,
    NodeStarted,
    RunFinished,
    RunInterrupted,
    RunStarted,
    Token,
    Usage,
    event_from_dict,
    event_to_json,
)

PYDANTIC: TypeAdapter[Event] = TypeAdapter(Annotated[Event, Field(discriminator="type")])
TRICKY = 'é 😀 \u2028 \u2029 "quoted" \\ back\nslash \x00 \x1f </script>'


def one_of_each() -> list[Event]:
    base = {"run_id": "r1", "ts": 1795774726.2547}
    node = {**base, "node_id": "__proto__", "execution": 1}
    usage = Usage(prompt_tokens=3, completion_tokens=5)
    return [
        RunStarted(
            **base,
            seq=1,
            workflow_name=TRICKY,
            workflow={"format": 1, "name": TRICKY, "nodes": [{"id": "a", "position": {"x": 0.1, "y": -2e-7}}]},
            inputs={"task": TRICKY},
            node_ids=["a", "b"],
        ),
        NodeStarted(
            **node,
            seq=2,
            attempt=1,
            model="openai/gpt-4o-mini",
            messages=[Message(role="system", content=TRICKY), Message(role="user", content="")],
            parameters={"temperature": 0.7, "max_tokens": 512, "timeout": 120.0},
            received_from=[],
        ),
        Token(**node, seq=3, attempt=1, text=TRICKY),
        Log(**base, seq=4, level="warning", text=TRICKY),
        Handoff(**node, seq=5, target="b", edge_id="a->b", message=TRICKY),
        NodeRetrying(**node, seq=6, attempt=2, max_attempts=3, error_kind="rate_limited", message="x", wait=1.5),
        NodeFinished(**node, seq=7, output=TRICKY, usage=usage, cost=1 / 3, duration=1e-9, cached=False, attempts=1),
        NodeFailed(**node, seq=8, error_kind="auth", message=TRICKY, retryable=False, attempts=2),
        NodeSkipped(**node, seq=9, reason=TRICKY),
        RunFinished(**base, seq=10, status="failed", duration=12345.678, usage=usage, cost=1e22),
        RunInterrupted(**base, seq=11, running=["a"]),
    ]


def test_every_event_type_is_written_as_pydantic_writes_it() -> None:
    for event in one_of_each():
        text = event_to_json(event)
        assert text == PYDANTIC.dump_json(event).decode(), event.type
        assert event_from_dict(json.loads(text)) == event


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(),
    ts=st.floats(min_value=0, max_value=4e9, allow_nan=False),
    cost=st.floats(allow_nan=False, allow_infinity=False),
    seq=st.integers(min_value=1, max_value=2**53),
)
def test_any_text_and_number_is_written_as_pydantic_writes_it(text: str, ts: float, cost: float, seq: int) -> None:
    events: list[Event] = [
        Token(run_id="r", seq=seq, ts=ts, node_id=text, execution=1, attempt=1, text=text),
        NodeFinished(
            run_id="r",
            seq=seq,
            ts=ts,
            node_id="n",
            execution=1,
            output=text,
            usage=Usage(),
            cost=cost,
            duration=ts,
            cached=True,
            attempts=1,
        ),
    ]
    for event in events:
        assert event_to_json(event) == PYDANTIC.dump_json(event).decode()
