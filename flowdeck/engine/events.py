"""Run events: the single source of truth about a run. Ordered by seq, gapless per run."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any, Literal, TypeVar

import orjson
from pydantic import Field, TypeAdapter
from typing_extensions import dataclass_transform

RunStatus = Literal["succeeded", "failed", "cancelled"]
LogLevel = Literal["debug", "info", "warning", "error"]


_T = TypeVar("_T")


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(field,))
def record(cls: type[_T]) -> type[_T]:
    """An immutable record (an event, a message, usage): frozen to the type checker, which refuses any
    assignment to a field, and a plain dataclass at run time. A run makes several of them per agent, and a
    frozen dataclass takes 2.4 times as long to build (each field goes through object.__setattr__): 3.0
    against 1.3 us for a token event here. Not slotted: orjson writes a dataclass from its __dict__ 3.5 times
    as fast as from its slots (a token event 0.7 against 2.6 us), and every event is written to the log."""
    return dataclass(kw_only=True)(cls)


@record
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


@record
class Usage:
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


@record
class _EventBase:
    run_id: str
    seq: int
    ts: float


@record
class _NodeEventBase(_EventBase):
    node_id: str
    execution: int


@record
class RunStarted(_EventBase):
    workflow_name: str
    workflow: dict[str, Any]
    inputs: dict[str, str]
    node_ids: list[str]
    reused: list[str] = field(default_factory=list)
    model: str | None = None  # the model every agent was told to use (`--model`), if any
    type: Literal["run_started"] = "run_started"


@record
class NodeStarted(_NodeEventBase):
    attempt: int
    model: str
    messages: list[Message]
    parameters: dict[str, float | int]
    received_from: list[str]
    type: Literal["node_started"] = "node_started"


@record
class Token(_NodeEventBase):
    attempt: int
    text: str
    type: Literal["token"] = "token"


@record
class Log(_EventBase):
    level: LogLevel
    text: str
    node_id: str | None = None
    execution: int | None = None
    type: Literal["log"] = "log"


@record
class Handoff(_NodeEventBase):
    target: str
    edge_id: str
    message: str
    type: Literal["handoff"] = "handoff"


@record
class NodeRetrying(_NodeEventBase):
    attempt: int
    max_attempts: int
    error_kind: str
    message: str
    wait: float
    type: Literal["node_retrying"] = "node_retrying"


@record
class NodeFinished(_NodeEventBase):
    output: str
    usage: Usage
    cost: float
    duration: float
    cached: bool
    attempts: int
    type: Literal["node_finished"] = "node_finished"


@record
class NodeFailed(_NodeEventBase):
    error_kind: str
    message: str
    retryable: bool
    attempts: int
    type: Literal["node_failed"] = "node_failed"


@record
class NodeSkipped(_NodeEventBase):
    reason: str
    type: Literal["node_skipped"] = "node_skipped"


@record
class RunFinished(_EventBase):
    status: RunStatus
    duration: float
    usage: Usage
    cost: float
    type: Literal["run_finished"] = "run_finished"


@record
class RunInterrupted(_EventBase):
    running: list[str]
    type: Literal["run_interrupted"] = "run_interrupted"


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
)


@cache
def _adapter() -> TypeAdapter[Event]:
    # Built on first use: building the schema of every event type costs ~50 ms, which start-up does not need.
    return TypeAdapter(Annotated[Event, Field(discriminator="type")])


def event_to_dict(event: Event) -> dict[str, Any]:
    """The event as plain JSON-ready data (the form stored in the event log and printed by --json)."""
    data: dict[str, Any] = _adapter().dump_python(event, mode="json")
    return data


def event_to_json(event: Event) -> str:
    """The event as one line of JSON: the same text as pydantic's dump_json (tests/test_events_json.py
    checks it for every event type), written by orjson at twice the speed."""
    return orjson.dumps(event).decode()


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from its stored form; raises pydantic.ValidationError on malformed data."""
    return _adapter().validate_python(data)
