"""Events are stored as JSON: every event reads back exactly as it was written, and so do the events stored by
earlier versions of flowdeck."""

from __future__ import annotations

import json
from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowdeck.engine.events import (
    ApprovalDecided,
    ApprovalRequested,
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
    RunWaiting,
    Token,
    ToolCalled,
    ToolFinished,
    Usage,
    event_from_dict,
    event_to_dict,
    event_to_json,
)
from flowdeck.storage.codec import batch_from_json, batch_to_json

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
        ApprovalRequested(**node, seq=12, text=TRICKY, label=TRICKY, received_from=["a"], timeout=1e-3),
        RunWaiting(**base, seq=13, waiting=["__proto__"]),
        ApprovalDecided(**node, seq=14, decision="rejected", by=TRICKY, note=TRICKY, text=None, timed_out=True),
        ToolCalled(**node, seq=15, call_id=TRICKY, tool="write_file", arguments=TRICKY, effect="write", key=TRICKY),
        ToolFinished(
            **node, seq=16, call_id=TRICKY, tool="fetch", ok=False, result=TRICKY, duration=0.5, artifacts=[TRICKY]
        ),
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
    assert batch_from_json(batch_to_json(events)) == events


def test_events_stored_by_earlier_versions_still_read() -> None:
    """Before msgspec, events were written by orjson from dataclasses: the type came last."""
    old = (
        '[{"run_id":"r1","seq":3,"ts":1795774726.2547,"node_id":"a","execution":1,"attempt":1,"text":"hi",'
        '"type":"token"},{"run_id":"r1","seq":4,"ts":1795774726.3,"node_id":"a","execution":1,"output":"hi",'
        '"usage":{"prompt_tokens":1,"completion_tokens":2},"cost":1e+22,"duration":0.5,"cached":false,'
        '"attempts":1,"type":"node_finished"}]'
    )
    token, finished = batch_from_json(old)
    assert token == Token(run_id="r1", seq=3, ts=1795774726.2547, node_id="a", execution=1, attempt=1, text="hi")
    assert isinstance(finished, NodeFinished) and finished.usage.total_tokens == 3 and finished.cost == 1e22


def test_malformed_event_data_is_refused_naming_the_field() -> None:
    good = event_to_dict(one_of_each()[2])
    with pytest.raises(EventDataError, match=r"\$\.seq"):
        event_from_dict({**good, "seq": "seven"})
    with pytest.raises(EventDataError, match="type"):
        event_from_dict({**good, "type": "no_such_event"})
    with pytest.raises(EventDataError, match="not JSON"):
        batch_from_json('[{"type": "token",')


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
    assert batch_from_json(batch_to_json(events)) == events
    for event in events:
        assert event_from_dict(json.loads(event_to_json(event))) == event


def finished(seq: int, node_id: str = "a", output: str = TRICKY, ts: float = 1795774726.5) -> NodeFinished:
    return NodeFinished(
        run_id="r1",
        seq=seq,
        ts=ts,
        node_id=node_id,
        execution=1,
        output=output,
        usage=Usage(),
        cost=0.0,
        duration=0.1,
        cached=False,
        attempts=1,
    )


def handoff(seq: int, target: str, source: NodeFinished, **changes: object) -> Handoff:
    fields: dict[str, object] = {
        "run_id": source.run_id,
        "seq": seq,
        "ts": source.ts,
        "node_id": source.node_id,
        "execution": source.execution,
        "target": target,
        "edge_id": f"{source.node_id}->{target}",
        "message": source.output,
    }
    fields.update(changes)
    return Handoff(**fields)  # type: ignore[arg-type]


def test_handoffs_are_stored_without_repeating_the_output_they_hand_over() -> None:
    output = "a long answer " * 200
    a = finished(5, output=output)
    b = finished(9, node_id="b", output="")
    events: list[Event] = [
        a,
        *(handoff(6 + i, t, a) for i, t in enumerate(["b", "c", "d"])),
        b,
        handoff(10, "d", b),
    ]
    text = batch_to_json(events)
    assert text.count("a long answer") == 200, "the output is stored once, in node_finished"
    assert [item["type"] for item in json.loads(text)] == ["node_finished", "handoffs", "node_finished", "handoffs"]
    assert batch_from_json(text) == events


def test_a_handoff_that_differs_from_the_node_finished_before_it_is_stored_whole() -> None:
    a = finished(5)
    cases: dict[str, list[Event]] = {
        "another message": [a, handoff(6, "b", a, message="feedback for b")],
        "another time": [a, handoff(6, "b", a, ts=a.ts + 1)],
        "a gap in seq": [a, handoff(7, "b", a)],
        "another node": [a, handoff(6, "b", a, node_id="z")],
        "another execution": [a, handoff(6, "b", a, execution=2)],
        "another run": [a, handoff(6, "b", a, run_id="r2")],
        "no node_finished before it": [handoff(6, "b", a), handoff(7, "c", a)],
        "after one stored whole": [a, handoff(6, "b", a, message="x"), handoff(7, "c", a)],
        "after another event": [a, Log(run_id="r1", seq=6, ts=a.ts, level="info", text="hi"), handoff(7, "b", a)],
    }
    for name, events in cases.items():
        text = batch_to_json(events)
        assert batch_from_json(text) == events, name
    stored = [item["type"] for item in json.loads(batch_to_json(cases["after one stored whole"]))]
    assert stored == ["node_finished", "handoff", "handoff"]


def test_a_handoffs_record_out_of_place_is_refused() -> None:
    with pytest.raises(EventDataError, match=r"\$\[0\].*must follow the node_finished"):
        batch_from_json('[{"type": "handoffs", "to": [["b", "a->b"]]}]')
    token = event_to_json(one_of_each()[2])
    with pytest.raises(EventDataError, match=r"\$\[1\]"):
        batch_from_json(f'[{token}, {{"type": "handoffs", "to": [["b", "a->b"]]}}]')
    with pytest.raises(EventDataError, match="to"):
        batch_from_json(f'[{event_to_json(finished(5))}, {{"type": "handoffs", "to": [["b"]]}}]')


@settings(max_examples=100, deadline=None)
@given(
    outputs=st.lists(st.text(max_size=40), min_size=1, max_size=4),
    fanout=st.lists(st.integers(min_value=0, max_value=3), min_size=4, max_size=4),
    whole=st.sets(st.integers(min_value=0, max_value=20)),
)
def test_any_run_of_finished_nodes_and_handoffs_reads_back_exactly(
    outputs: list[str], fanout: list[int], whole: set[int]
) -> None:
    """Nodes finishing one after another, each handing off along a few edges; the handoffs numbered in `whole`
    carry a message of their own, so they are stored whole among the folded ones."""
    events: list[Event] = []
    seq = 0
    for index, output in enumerate(outputs):
        seq += 1
        source = finished(seq, node_id=f"n{index}", output=output)
        events.append(source)
        for k in range(fanout[index]):
            seq += 1
            changes = {"message": output + "!"} if seq in whole else {}
            events.append(handoff(seq, f"t{k}", source, **changes))
    assert batch_from_json(batch_to_json(events)) == events
