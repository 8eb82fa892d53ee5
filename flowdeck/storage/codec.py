"""How the event log stores a batch of one run's events: one JSON array, in seq order.

Every event is stored as its own JSON form (see engine/events.py), with one exception. The handoffs that
follow a node_finished, one for each edge out of the node, repeat what that event already says: the run, the
time, the node and its execution, and, as the message handed over, the node's whole output. They are stored
as one record right after it, `{"type": "handoffs", "to": [[target, edge id], ...]}`, and read back as the
handoff events they stand for, numbered on from the node_finished's seq.

With real outputs (a few KB each) this keeps a run's log from holding every output once per edge out of its
node: on densely connected graphs, a large share of the stored JSON (bench/README.md). Only exact repeats are
folded: a handoff that differs in any field from the node_finished before it (none does today; a loop's
feedback might) is stored in full.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from flowdeck.engine.events import Event, EventDataError, Handoff, NodeFinished, Record


class _Handoffs(Record, tag="handoffs", tag_field="type", frozen=True):
    """The handoffs of the node_finished just before, stored: the (target, edge id) of each, in seq order."""

    to: list[tuple[str, str]]


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(list[Event | _Handoffs])


def batch_to_json(events: Sequence[Event]) -> str:
    """The events as stored: one JSON array, handoffs folded into the node_finished they follow."""
    stored: list[Event | _Handoffs] = []
    append = stored.append
    source: NodeFinished | None = None  # the node_finished whose handoffs may follow
    to: list[tuple[str, str]] = []
    for e in events:
        # type() is, not isinstance(): see StoredBatch.of. Every field but target and edge id must be the
        # node_finished's, so that the handoff reads back exactly as it was.
        if (
            type(e) is Handoff
            and source is not None
            and e.seq == source.seq + len(to) + 1
            and e.message == source.output  # the same str object, as the Outbox makes them: no comparison of text
            and e.ts == source.ts
            and e.node_id == source.node_id
            and e.execution == source.execution
            and e.run_id == source.run_id
        ):
            to.append((e.target, e.edge_id))
            continue
        if to:
            append(_Handoffs(to=to))
            to = []
        source = e if type(e) is NodeFinished else None
        append(e)
    if to:
        append(_Handoffs(to=to))
    return _ENCODER.encode(stored).decode()


def batch_from_json(text: str | bytes) -> list[Event]:
    """The events of a batch written by batch_to_json (or by earlier versions, which stored every event whole);
    raises EventDataError on malformed data."""
    try:
        stored = _DECODER.decode(text)
    except msgspec.ValidationError as exc:
        raise EventDataError(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise EventDataError(f"not JSON: {exc}") from None
    events: list[Event] = []
    append = events.append
    for index, item in enumerate(stored):
        if type(item) is not _Handoffs:
            append(item)  # type: ignore[arg-type]
            continue
        source = events[-1] if events else None
        if type(source) is not NodeFinished:
            raise EventDataError(f"$[{index}]: a 'handoffs' record must follow the node_finished it belongs to")
        for offset, (target, edge_id) in enumerate(item.to, start=1):
            append(
                Handoff(
                    run_id=source.run_id,
                    seq=source.seq + offset,
                    ts=source.ts,
                    node_id=source.node_id,
                    execution=source.execution,
                    target=target,
                    edge_id=edge_id,
                    message=source.output,
                )
            )
    return events
