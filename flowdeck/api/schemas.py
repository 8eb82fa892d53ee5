"""The HTTP API's request and response bodies (they are its OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from flowdeck.engine.approvals import MAX_NOTE_CHARS
from flowdeck.engine.workflow import MAX_INPUT_CHARS, MAX_INPUTS, MAX_PROMPT_CHARS

MAX_SEQ = 2**63 - 1  # the largest integer SQLite and PostgreSQL keep: events' sequence numbers stay below it
InputName = Annotated[str, Field(min_length=1, max_length=64)]
InputValue = Annotated[str, Field(max_length=MAX_INPUT_CHARS)]


class RunRequest(BaseModel):
    """Start a run of a saved workflow (by id or name) or a built-in template (by name)."""

    model_config = ConfigDict(extra="forbid", strict=True)  # JSON's types as the schema says: no 0 for false
    workflow: str = Field(min_length=1, max_length=200, examples=["research-code-review"])
    inputs: dict[InputName, InputValue] = Field(
        default_factory=dict,
        max_length=MAX_INPUTS,
        description=f"Inputs by name: at most {MAX_INPUTS}, of at most {MAX_INPUT_CHARS:,} characters each.",
        examples=[{"task": "Write a palindrome checker"}],
    )
    model: str | None = Field(
        default=None, max_length=200, description="Run every agent on this model instead of each agent's own."
    )
    use_cache: bool = Field(default=False, description="Reuse cached outputs of identical agent calls.")
    wait: bool = Field(
        default=False,
        description="Answer when the run has ended (with its outputs) or waits for approval, not at once.",
    )


class ResumeRequest(BaseModel):
    """How to resume: what to do with tool calls whose outcome is unknown (the process stopped while they ran)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    unknown: Literal["retry", "skip"] | None = Field(
        default=None,
        description="retry: run those calls again; skip: do not repeat them (the agent is told their outcome is "
        "unknown). Omitted: a run that has such calls is not resumed (409 listing them).",
    )


def _whole(value: object) -> object:
    """JSON's 3.0 is the integer 3 (JSON Schema says so); the strict models would refuse it as a float."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class _Deciding(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    note: str = Field(default="", max_length=MAX_NOTE_CHARS, description="Why; a rejection hands it on as feedback.")
    wait: bool = Field(default=False, description="Answer when the run has ended or waits again, not at once.")
    execution: Annotated[int | None, BeforeValidator(_whole)] = Field(
        default=None,
        ge=1,
        le=1_000_000,
        description="The round of the approval this decides (as shown, e.g. its approval_requested event's execution):"
        " a decision for an earlier round is refused with 409, since the work changed. Omitted: the round waiting.",
    )


class Approve(_Deciding):
    """Approve what the approval asks about, or an edited text of it."""

    decision: Literal["approve"]
    text: str | None = Field(
        default=None,
        max_length=MAX_PROMPT_CHARS,
        pattern=r"\S",  # (not blank: refused by the engine too, with a message that says so)
        description="The edited text to hand on; not empty or blank (to approve as asked, leave it out).",
    )

    @field_validator("text", mode="before")
    @classmethod
    def _not_blank(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():  # said before the pattern's own words, which say less
            raise ValueError("the edited text is empty; give the text to approve, or leave it out to approve as asked")
        return value


class Reject(_Deciding):
    """Reject: the note goes along the approval's "rejected" path, or the run ends rejected."""

    decision: Literal["reject"]


DecisionRequest = Annotated[Approve | Reject, Field(discriminator="decision")]


class NodeResult(BaseModel):
    id: str
    name: str
    status: str
    summary: str = Field(description="The node's state in a few words, as the canvas shows it.")
    output: str | None = None
    error_kind: str | None = None
    error: str | None = None
    tokens: int = 0
    cost: float = 0.0
    duration: float | None = None


class RunResult(BaseModel):
    id: str
    workflow: str
    workflow_id: str | None = Field(
        default=None,
        description='The workflow the run belongs to: a saved workflow\'s id, "template:<name>", "file:<path>" or '
        '"sha256:<hash>"; null for runs recorded before flowdeck recorded it.',
    )
    status: str = Field(
        description="pending, running, waiting (for approval), succeeded, failed, cancelled, interrupted or rejected"
    )
    started_at: float | None = None
    duration: float | None = None
    tokens: int = 0
    cost: float = 0.0
    nodes: list[NodeResult] = []
    outputs: dict[str, str] = Field(default_factory=dict, description="Node id to output, for finished nodes.")
    events_url: str


class RunListItem(BaseModel):
    id: str
    workflow: str
    workflow_id: str | None = Field(
        default=None,
        description='The workflow the run belongs to: a saved workflow\'s id, "template:<name>", "file:<path>" or '
        '"sha256:<hash>"; null for runs recorded before flowdeck recorded it.',
    )
    status: str
    started_at: float
    duration: float | None
    tokens: int
    cost: float
    label: str = Field(default="", description='What a partial run was, e.g. "Retry of Coder"; empty for a whole run.')


class WorkflowItem(BaseModel):
    id: str | None = Field(description="The saved workflow's id; null for a built-in template.")
    name: str
    kind: str = Field(description="saved, template (saved by a user) or builtin")
    inputs: list[str]


class Problem(BaseModel):
    detail: str | list[Any]
