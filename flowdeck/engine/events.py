"""Run events: the single source of truth about a run. Ordered by seq, gapless per run."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import msgspec

RunStatus = Literal[
    "succeeded", "failed", "cancelled", "rejected"
]  # rejected: an approval said no, with no path for it
DecisionKind = Literal["approved", "rejected"]
LogLevel = Literal["debug", "info", "warning", "error"]


class Record(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """An immutable record (an event, a message, usage, a model request): a frozen msgspec Struct.

    A run makes several records per agent, one per edge it hands off along, and stores every event as JSON, so
    how fast they are built and written is most of the engine's own cost: a Struct is faster than a dataclass
    (bench/README.md). Records hold no reference cycles, so the garbage collector need not track them (gc=False)
    and a run's thousands of events do not trigger its collections.
    Subclasses repeat frozen=True: msgspec inherits it, but the type checker does not know that."""


class ToolCall(Record, frozen=True):
    """One call of a tool the model asked for (engine/tools.py has the rest of the tools' types)."""

    id: str  # the model's id for it (the tool result answers it)
    name: str
    arguments: str  # JSON text as the model wrote it; the toolbox parses and checks it


class Message(Record, frozen=True, omit_defaults=True):
    """One message of a conversation. omit_defaults: a message without tools is stored as before."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: tuple[ToolCall, ...] = ()  # an assistant message that asked for tools
    tool_call_id: str | None = None  # a tool message: the call it answers


class Usage(Record, frozen=True):
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class RunOrigin(Record, frozen=True):
    """The recorded run that a partial run continues, and how: from an agent on ("from"), a retry of an agent that
    failed ("retry"), one agent alone ("only"), or the agents a stopped run had left ("resume")."""

    kind: Literal["from", "retry", "only", "resume"]
    run_id: str
    node_id: str | None = None
    node_label: str | None = None  # the agent's name then: the run's label needs no parsing of its workflow


class _EventBase(Record, tag_field="type", frozen=True):
    """Every event's JSON form starts with its "type" (the struct's tag), which is also readable as `.type`."""

    run_id: str
    seq: int
    ts: float


class _NodeEventBase(_EventBase, frozen=True):
    node_id: str
    execution: int


class RunStarted(_EventBase, tag="run_started", frozen=True):
    type: ClassVar[Literal["run_started"]] = "run_started"
    workflow_name: str
    workflow: dict[str, Any]
    inputs: dict[str, str]
    node_ids: list[str]
    reused: list[str] = msgspec.field(default_factory=list)
    model: str | None = None  # the model every agent was told to use (`--model`), if any
    labels: dict[str, str] = msgspec.field(default_factory=dict)  # node id -> the name shown; {} in older logs
    pinned: list[str] = msgspec.field(default_factory=list)  # agents whose pinned output is used (among `reused`)
    scope: list[str] | None = None  # the agents a partial run executes (None: every agent it does not reuse)
    origin: RunOrigin | None = None  # the run a partial run continues
    workflow_id: str | None = None  # the workflow it belongs to (engine/identity.py); None in older logs


class NodeStarted(_NodeEventBase, tag="node_started", frozen=True):
    type: ClassVar[Literal["node_started"]] = "node_started"
    attempt: int
    model: str
    messages: list[Message]
    parameters: dict[str, float | int]
    received_from: list[str]


class Token(_NodeEventBase, tag="token", frozen=True):
    type: ClassVar[Literal["token"]] = "token"
    attempt: int
    text: str


class Log(_EventBase, tag="log", frozen=True):
    type: ClassVar[Literal["log"]] = "log"
    level: LogLevel
    text: str
    node_id: str | None = None
    execution: int | None = None


class Handoff(_NodeEventBase, tag="handoff", frozen=True):
    type: ClassVar[Literal["handoff"]] = "handoff"
    target: str
    edge_id: str
    message: str


class NodeRetrying(_NodeEventBase, tag="node_retrying", frozen=True):
    type: ClassVar[Literal["node_retrying"]] = "node_retrying"
    attempt: int
    max_attempts: int
    error_kind: str
    message: str
    wait: float


class NodeFinished(_NodeEventBase, tag="node_finished", frozen=True):
    type: ClassVar[Literal["node_finished"]] = "node_finished"
    output: str
    usage: Usage
    cost: float
    duration: float
    cached: bool
    attempts: int
    cut: bool = False  # the answer was cut at max_tokens
    pinned: bool = False  # the agent's pinned output, not a model's answer
    verdict: str | None = None  # the verdict it gave (format 2's deciding agents)


class NodeFailed(_NodeEventBase, tag="node_failed", frozen=True):
    type: ClassVar[Literal["node_failed"]] = "node_failed"
    error_kind: str
    message: str
    retryable: bool
    attempts: int


class NodeSkipped(_NodeEventBase, tag="node_skipped", frozen=True):
    type: ClassVar[Literal["node_skipped"]] = "node_skipped"
    reason: str


class ToolCalled(_NodeEventBase, tag="tool_called", frozen=True):
    """An agent's model asked for a tool and the engine is about to run it (after its intent is durable, for a
    side effect)."""

    type: ClassVar[Literal["tool_called"]] = "tool_called"
    call_id: str
    tool: str
    arguments: str  # as the model wrote them, capped like a result
    effect: Literal["read", "write"]
    key: str  # the idempotency key (engine/tools.py ToolContext)


class ToolFinished(_NodeEventBase, tag="tool_finished", frozen=True):
    """A tool call ended; `result` is what the model was given (capped at MAX_RESULT_CHARS)."""

    type: ClassVar[Literal["tool_finished"]] = "tool_finished"
    call_id: str
    tool: str
    ok: bool
    result: str
    duration: float
    artifacts: list[str] = msgspec.field(default_factory=list)
    reused: bool = False  # not run again: the side-effect log had its outcome (a retried or resumed call)


class ApprovalRequested(_NodeEventBase, tag="approval_requested", frozen=True):
    """The run reached an approval node: it waits for a person to approve or reject `text` (what it received)."""

    type: ClassVar[Literal["approval_requested"]] = "approval_requested"
    text: str
    label: str = ""  # what the person is asked
    received_from: list[str] = msgspec.field(default_factory=list)
    timeout: float | None = None  # seconds after this event at which it decides by itself
    on_timeout: Literal["approve", "reject"] = "reject"


class ApprovalDecided(_NodeEventBase, tag="approval_decided", frozen=True):
    """A person (or the timeout) decided an approval. The node's output is `text` (as approved, maybe edited) when
    approved, the note when rejected."""

    type: ClassVar[Literal["approval_decided"]] = "approval_decided"
    decision: DecisionKind
    by: str  # who decided: a role or user name, "cli", or "timeout"
    note: str = ""
    text: str | None = None  # the edited text, if the person changed it before approving
    timed_out: bool = False


class RunWaiting(_EventBase, tag="run_waiting", frozen=True):
    """Nothing more runs until a person decides: the run is stored as waiting, not as running or interrupted. A
    decision continues it (in any process) from its log."""

    type: ClassVar[Literal["run_waiting"]] = "run_waiting"
    waiting: list[str]  # the approval nodes waiting


class RunFinished(_EventBase, tag="run_finished", frozen=True):
    type: ClassVar[Literal["run_finished"]] = "run_finished"
    status: RunStatus
    duration: float
    usage: Usage
    cost: float


class RunInterrupted(_EventBase, tag="run_interrupted", frozen=True):
    type: ClassVar[Literal["run_interrupted"]] = "run_interrupted"
    running: list[str]
    duration: float | None = None  # how long it ran: from its start to its last event (None in older logs)
    # Why, when known: e.g. its events could not be stored. None: its process stopped (found at the next start).
    reason: str | None = None


Event = (
    RunStarted
    | NodeStarted
    | Token
    | Log
    | Handoff
    | NodeRetrying
    | NodeFinished
    | NodeFailed
    | NodeSkipped
    | RunFinished
    | RunInterrupted
    | ApprovalRequested
    | ApprovalDecided
    | RunWaiting
    | ToolCalled
    | ToolFinished
)

_ENCODER = msgspec.json.Encoder()


def event_to_dict(event: Event) -> dict[str, Any]:
    """The event as plain JSON-ready data (the form printed by the HTTP API)."""
    data: dict[str, Any] = msgspec.to_builtins(event)
    return data


def event_to_json(event: Event) -> str:
    """The event as one line of JSON (the form stored in the event log and printed by --json)."""
    return _ENCODER.encode(event).decode()


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from its JSON form, decoded; raises EventDataError on malformed data."""
    try:
        event: Event = msgspec.convert(data, Event)
        return event
    except msgspec.ValidationError as exc:
        raise EventDataError(str(exc)) from None


class EventDataError(ValueError):
    """Stored or received event data that is not a valid event (the message names the field)."""
