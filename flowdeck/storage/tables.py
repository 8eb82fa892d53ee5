"""Database tables (sqlmodel): workflows and templates, runs, the event log, node outputs, side effects, migrations."""

from __future__ import annotations

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from flowdeck.engine.identity import IDENTITY_LIMIT
from flowdeck.storage.integrity import CHECKSUM_CHARS


class WorkflowRow(SQLModel, table=True):
    __tablename__ = "workflows"

    id: str = Field(primary_key=True, max_length=32)
    name: str = Field(index=True, max_length=200)
    is_template: bool = Field(default=False, index=True)
    data: str
    created_at: float
    updated_at: float


LABEL_LIMIT = 200  # characters of a run's label (engine.state.run_label) that are stored


class RunRow(SQLModel, table=True):
    __tablename__ = "runs"

    id: str = Field(primary_key=True, max_length=32)
    workflow_name: str = Field(index=True, max_length=200)
    # The workflow the run belongs to (engine/identity.py): a saved workflow's id, "template:...", "file:...", ...
    workflow_id: str | None = Field(default=None, index=True, max_length=IDENTITY_LIMIT)  # 32 before 0005
    status: str = Field(index=True, max_length=20)
    owner: str = Field(max_length=200)
    started_at: float = Field(index=True)
    finished_at: float | None = None
    duration: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    last_seq: int = 0
    label: str = Field(default="", max_length=LABEL_LIMIT, sa_column_kwargs={"server_default": ""})  # since 0004


class EventRow(SQLModel, table=True):
    """One event per row: the log's first layout, kept for migrations 0001 and 0003 only."""

    __tablename__ = "events"

    run_id: str = Field(primary_key=True, max_length=32)
    seq: int = Field(primary_key=True)
    ts: float
    type: str = Field(max_length=32)
    node_id: str | None = Field(default=None, max_length=64)
    data: str


class EventBatchRow(SQLModel, table=True):
    """The events of one run stored together in one transaction, as a JSON array in seq order (storage/codec.py).

    A run's batches hold its events first_seq..last_seq without gap or overlap. One row per batch rather than
    per event: each row has its own insert cost (bench/README.md), and a run writes several events per agent."""

    __tablename__ = "event_batches"

    run_id: str = Field(primary_key=True, max_length=32)
    last_seq: int = Field(primary_key=True)
    first_seq: int
    data: str
    checksum: str | None = Field(default=None, max_length=CHECKSUM_CHARS)  # since 0006; None: written before


class NodeOutputRow(SQLModel, table=True):
    __tablename__ = "node_outputs"

    run_id: str = Field(primary_key=True, max_length=32)
    node_id: str = Field(primary_key=True, max_length=64)
    execution: int = Field(primary_key=True)
    output: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    cached: bool = False
    seq: int


class RunRequestRow(SQLModel, table=True):
    """What a process asks of the process that drives a run (since 0007): a decision on one of its approvals, or a
    cancel. The driving process looks for them between events (storage/requests.py)."""

    __tablename__ = "run_requests"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(index=True, max_length=32)
    kind: str = Field(max_length=10)  # "decide" or "cancel"
    node_id: str | None = Field(default=None, max_length=64)
    decision: str | None = None  # the decision's fields, JSON (engine.approvals.Decision)
    state: str = Field(index=True, max_length=10)  # pending, taken, done, refused, withdrawn
    answer: str = ""  # done: the node decided; refused: why
    created_at: float
    answered_at: float | None = None


class MigrationRow(SQLModel, table=True):
    __tablename__ = "migrations"

    name: str = Field(primary_key=True, max_length=100)
    applied_at: float


class SessionRow(SQLModel, table=True):
    __tablename__ = "sessions"

    id: str = Field(primary_key=True, max_length=64)  # HMAC of the cookie value; the value itself is not kept
    role: str = Field(max_length=10)
    created_at: float
    expires_at: float = Field(index=True)


class SideEffectRow(SQLModel, table=True):
    """One entry of the append-only side-effect log (storage/effects.py): an intent before a side-effecting tool call
    runs, an outcome after. The database refuses to change or delete rows (triggers: storage/db.py APPEND_ONLY)."""

    __tablename__ = "side_effects"
    __table_args__ = (UniqueConstraint("key", "phase", "attempt", name="side_effects_once"),)

    seq: int | None = Field(default=None, primary_key=True)  # the log's own order, across runs
    run_id: str = Field(index=True, max_length=64)
    node_id: str = Field(max_length=64)
    execution: int
    key: str = Field(index=True, max_length=300)  # the call's idempotency key (engine/tools.py ToolContext)
    attempt: int  # 1, or more when a call whose outcome was unknown was run again (resume with retry)
    tool: str = Field(max_length=100)
    phase: str = Field(max_length=12)  # intent | outcome | compensation (0008 widens it from 10 on PostgreSQL)
    status: str | None = Field(default=None, max_length=10)  # ok | failed; a compensation's also manual | blocked
    arguments: str = ""  # an intent's: the call's arguments, secrets redacted
    detail: str = ""  # an outcome's: JSON of the result's detail (method, url, path...), secrets redacted
    content: str = ""  # an outcome's: what the model was given, secrets redacted (a reused call gives it again)
    ts: float


class TrustRow(SQLModel, table=True):
    """An editor's approval of a compensation handler or an MCP server command, by its content hash (storage/trust.py):
    a changed one has another hash, so it needs approving again."""

    __tablename__ = "trust"

    content_hash: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=20)  # handler | mcp_server
    summary: str  # JSON: what it can reach (domains, methods, files, secrets), as the person approving saw it
    approved_by: str = Field(max_length=200)
    approved_at: float
