"""The SQL of the run log's hot path (storage/runs.py), written once for the driver's placeholder style: it goes to
the driver directly, not through SQLAlchemy (bench/README.md)."""

from __future__ import annotations

from sqlalchemy import Table

from flowdeck.errors import StorageError
from flowdeck.storage.tables import EventBatchRow, NodeOutputRow, RunRow

_BATCHES = EventBatchRow.__table__  # type: ignore[attr-defined]
_RUNS = RunRow.__table__  # type: ignore[attr-defined]
_OUTPUTS = NodeOutputRow.__table__  # type: ignore[attr-defined]


class AppendSql:
    """The statements of RunLog's writes, written once for the driver's placeholder style."""

    def __init__(self, paramstyle: str) -> None:
        if paramstyle not in ("qmark", "format", "pyformat"):
            raise StorageError(f"database drivers with the '{paramstyle}' parameter style are not supported")
        mark = "?" if paramstyle == "qmark" else "%s"

        def insert(table: Table, columns: list[str]) -> str:
            return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"

        self.insert_run = insert(
            _RUNS,
            [
                *("id", "workflow_name", "workflow_id", "status", "owner", "started_at"),
                *("prompt_tokens", "completion_tokens", "cost", "last_seq", "label"),
            ],
        )
        self.insert_batch = insert(_BATCHES, ["run_id", "last_seq", "first_seq", "data", "checksum"])
        self.insert_outputs = insert(
            _OUTPUTS,
            ["run_id", "node_id", "execution", "output", "prompt_tokens", "completion_tokens", "cost", "cached", "seq"],
        )
        self.update_totals = (
            f"UPDATE {_RUNS.name} SET last_seq = {mark}, prompt_tokens = prompt_tokens + {mark}, "
            f"completion_tokens = completion_tokens + {mark}, cost = cost + {mark} WHERE id = {mark}"
        )
        self.update_owner = f"UPDATE {_RUNS.name} SET owner = {mark} WHERE id = {mark}"
        self.claim_waiting = (
            f"UPDATE {_RUNS.name} SET status = 'running', owner = {mark} "
            f"WHERE id = {mark} AND status = 'waiting' AND last_seq = {mark}"
        )
        self.update_ending = (
            f"UPDATE {_RUNS.name} SET status = {mark}, finished_at = {mark}, duration = {mark} WHERE id = {mark}"
        )
