"""Whether a stored batch of events is as it was written: a checksum of each batch, made when it is written and
checked when it is read (and by `flowdeck doctor`).

The JSON of a batch can be changed and still parse (a status flipped, a number changed, by a disk's fault or a
hand in the file): read back, it would be taken as what happened. So each row of event_batches carries the
CRC-32 of its run id, its seqs and its JSON. A CRC finds damage; it is no seal against someone who can write the
file, who could compute it again (as any checksum without a key). Rows written before migration 0006 have none
and are read as they are (`flowdeck doctor` counts them).

CRC-32 rather than a cryptographic hash: it costs ~0.6 us for a 2 KB batch against ~1.6 us for SHA-256, and a
quarter of SHA-256's time on a 256 KB one (bench/README.md).
"""

from __future__ import annotations

import zlib
from collections import Counter

from flowdeck.engine.events import Event, EventDataError
from flowdeck.errors import StorageError
from flowdeck.storage.codec import batch_from_json

ALGORITHM = "crc32"
CHECKSUM_CHARS = 16  # the column's width: "crc32:" and 8 hex digits, with room for another algorithm's name


class ChangedBatch(EventDataError):
    """A stored batch whose bytes are not those that were written (its checksum does not match)."""

    def __init__(self, run_id: str, events: str, one: bool) -> None:
        self.run_id = run_id
        self.events = events  # which: "events 5-7 (5 node_finished of coder, ...)"
        which = f"its stored {events}" if one else f"one or more of its stored {events}"
        super().__init__(f"run {run_id}: {which} changed after being written (their checksum does not match)")


def batch_checksum(run_id: str, first_seq: int, last_seq: int, data: str | bytes) -> str:
    """What a batch's checksum column holds: "crc32:" and 8 hex digits, over the row's run, seqs and JSON."""
    head = zlib.crc32(f"{run_id}\x00{first_seq}\x00{last_seq}\x00".encode())
    body = data.encode() if isinstance(data, str) else data
    return f"{ALGORITHM}:{zlib.crc32(body, head):08x}"


def checked_batch(run_id: str, first_seq: int, last_seq: int, data: str | bytes, checksum: str | None) -> list[Event]:
    """The events of a stored batch, once its checksum is found to match (a batch without one is taken as it is).
    Raises EventDataError if the data is no batch of events at all, else ChangedBatch naming the run and the events
    if it is not what was written."""
    if not isinstance(data, str | bytes):  # a damaged page of the file can read back as NULL, or as a number
        raise EventDataError(f"the stored data is {type(data).__name__}, not JSON text")
    events = batch_from_json(data)
    if checksum is not None and checksum != batch_checksum(run_id, first_seq, last_seq, data):
        raise ChangedBatch(run_id, _which(first_seq, last_seq, events), first_seq == last_seq)
    return events


def stored_events(
    run_id: str, first_seq: int, last_seq: int, data: str, checksum: str | None, *, after: int | None
) -> list[Event]:
    """checked_batch() for the run log's readers: a batch changed or unreadable is a StorageError saying which
    events of which run, and what to do (`after`: the seq of the last event read before it, if any)."""
    try:
        return checked_batch(run_id, first_seq, last_seq, data, checksum)
    except ChangedBatch as exc:
        raise StorageError(
            f"{exc}; nothing was changed, and no changed event is taken for what happened: keep a copy of the "
            "database, run `flowdeck doctor` to find any other change, and restore a backup",
            kind="corrupt",
        ) from None
    except EventDataError as exc:
        where = f"after seq {after}" if after is not None else "from its start"
        raise StorageError(
            f"the stored events of run {run_id} {where} cannot be read, the database file is damaged ({exc}); "
            "nothing was changed: run `flowdeck doctor`, and restore a backup or recover the file with "
            "`sqlite3 FILE .recover`",
            kind="corrupt",
        ) from None


def _which(first_seq: int, last_seq: int, events: list[Event]) -> str:
    """The events of the batch by seq, with their types and agents."""
    seqs = f"event {first_seq}" if first_seq == last_seq else f"events {first_seq}-{last_seq}"
    types = Counter(e.type for e in events)
    agents = list(dict.fromkeys(node for e in events if (node := getattr(e, "node_id", None))))
    shown = ", ".join(f"{count} {kind}" if count > 1 else kind for kind, count in types.items())
    if agents:
        shown += f"; of {', '.join(agents[:5])}" + (f" and {len(agents) - 5} more agents" if len(agents) > 5 else "")
    return f"{seqs} ({shown})"
