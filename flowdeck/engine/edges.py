"""A workflow's edges (format 2): the conditions that choose them and the loops that send work back."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator

from flowdeck.engine.format_types import (
    MAX_EXPRESSION_CHARS,
    MAX_ROUNDS,
    EdgeId,
    Identifier,
    JsonNumber,
    VerdictLabel,
    _Strict,
)


class VerdictIs(_Strict):
    """Taken when the source agent's verdict is this one."""

    verdict: VerdictLabel


class Contains(_Strict):
    """Taken when the source agent's answer contains this text (case-insensitive)."""

    contains: Annotated[str, Field(min_length=1, max_length=1_000)]


class Expression(_Strict):
    """Taken when this sandboxed Jinja expression over output, verdict, round and inputs is true."""

    expression: Annotated[str, Field(min_length=1, max_length=MAX_EXPRESSION_CHARS)]


def _condition_kind(value: Any) -> str | None:
    if value == "otherwise":
        return "otherwise"
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        return key if key in ("verdict", "contains", "expression") else None
    if isinstance(value, VerdictIs):
        return "verdict"
    if isinstance(value, Contains):
        return "contains"
    return "expression" if isinstance(value, Expression) else None


Condition = Annotated[
    Annotated[VerdictIs, Tag("verdict")]
    | Annotated[Contains, Tag("contains")]
    | Annotated[Expression, Tag("expression")]
    | Annotated[Literal["otherwise"], Tag("otherwise")],
    Discriminator(
        _condition_kind,
        custom_error_type="condition",
        custom_error_message='use {"verdict": "..."}, {"contains": "..."}, {"expression": "..."} or "otherwise"',
    ),
]


class Loop(_Strict):
    """An edge back to an earlier agent: each time it is taken, the agents from its target to its source run again,
    as the next round, at most `max_rounds` rounds in all. Then: "otherwise" follows the source's other edges as if
    this one were not taken; "fail" fails the run."""

    max_rounds: Annotated[int, JsonNumber]
    exhausted: Literal["otherwise", "fail"] = "otherwise"

    @field_validator("max_rounds")
    @classmethod
    def _capped(cls, value: int) -> int:
        if not 1 <= value <= MAX_ROUNDS:
            raise ValueError(f"{value} rounds; a loop runs 1 to {MAX_ROUNDS} rounds (the cap): choose one of those")
        return value


class Edge(_Strict):
    id: EdgeId
    source: Identifier
    target: Identifier
    condition: Condition | None = None  # format 2: taken only when this holds (None: always)
    loop: Loop | None = None  # format 2: an edge back to an earlier agent, repeating the agents in between
