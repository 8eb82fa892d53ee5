"""Events are stored as JSON: every event reads back exactly as it was written, and so do the events stored by
earlier versions of flowdeck."""

from __future__ import annotations

import json
from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowdeck.engine.events import (
    Event,
    EventDataError,
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
    event_to_dict,
    event_to_json,
    events_from_json,
    events_to_json,
)

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


def test_every_event_type_reads_back_as_written() -> None:
    events = one_of_each()
    assert {e.type for e in events} == {t.type for t in get_args(Event)}, "one_of_each() misses an event type"
    for event in events:
        text = event_to_json(event)
        data = json.loads(text)  # standard JSON, whatever the text holds
        assert next(iter(data)) == "type" and data["type"] == event.type
        assert event_from_dict(data) == event
        assert event_to_dict(event) == data
    assert events_from_json(events_to_json(events)) == events


def test_events_stored_by_earlier_versions_still_read() -> None:
    """Before msgspec, events were written by orjson from dataclasses: the type came last."""
    old = (
        '[{"run_id":"r1","seq":3,"ts":1795774726.2547,"node_id":"a","execution":1,"attempt":1,"text":"hi",'
        '"type":"token"},{"run_id":"r1","seq":4,"ts":1795774726.3,"node_id":"a","execution":1,"output":"hi",'
        '"usage":{"prompt_tokens":1,"completion_tokens":2},"cost":1e+22,"duration":0.5,"cached":false,'
        '"attempts":1,"type":"node_finished"}]'
    )
    token, finished = events_from_json(old)
    assert token == Token(run_id="r1", seq=3, ts=1795774726.2547, node_id="a", execution=1, attempt=1, text="hi")
    assert isinstance(finished, NodeFinished) and finished.usage.total_tokens == 3 and finished.cost == 1e22


def test_malformed_event_data_is_refused_naming_the_field() -> None:
    good = event_to_dict(one_of_each()[2])
    with pytest.raises(EventDataError, match=r"\$\.seq"):
        event_from_dict({**good, "seq": "seven"})
    with pytest.raises(EventDataError, match="type"):
        event_from_dict({**good, "type": "no_such_event"})
    with pytest.raises(EventDataError, match="not JSON"):
        events_from_json('[{"type": "token",')


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(),
    ts=st.floats(min_value=0, max_value=4e9, allow_nan=False),
    cost=st.floats(allow_nan=False, allow_infinity=False),
    seq=st.integers(min_value=1, max_value=2**53),
)
def test_any_text_and_number_reads_back_exactly(text: str, ts: float, cost: float, seq: int) -> None:
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
    assert events_from_json(events_to_json(events)) == events
    for event in events:
        assert event_from_dict(json.loads(event_to_json(event))) == event
