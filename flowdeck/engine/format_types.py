"""The workflow format's building blocks: its limits, the kinds of text and name it holds, and numbers that must be
JSON numbers. Shared by engine/workflow.py and engine/edges.py."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

FORMAT_VERSION = 2  # the newest format this flowdeck reads; 2 adds conditions, loop edges and verdicts
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_NODES = 5_000
MAX_EDGES = 20_000
MAX_INPUTS = 50
MAX_PROMPT_CHARS = 100_000
MAX_INPUT_CHARS = MAX_PROMPT_CHARS  # a run's input value, as an input's default: the run's events copy it many times
MAX_ROUNDS = 20  # a loop's cap: each round re-runs model calls, and a runaway loop costs money
MAX_VERDICTS = 20
MAX_EXPRESSION_CHARS = 500
APPROVAL = "approval"  # the node type of a person's sign-off (no model)
MAX_APPROVAL_WAIT = 30 * 24 * 3600  # an approval's timeout: up to 30 days

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
EdgeId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:>\-]{1,160}$")]
ShortText = Annotated[str, Field(max_length=200)]
LongText = Annotated[str, Field(max_length=MAX_PROMPT_CHARS)]
ModelName = Annotated[str, Field(min_length=1, max_length=200)]
VerdictLabel = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]{0,39}$")]


def _number(value: Any) -> Any:
    """A number in a file is a JSON number: true is not 1, and "5" is not 5 (pydantic would take both)."""
    if isinstance(value, bool):
        raise ValueError(f"{json.dumps(value)} is a yes/no value, not a number; give a number, e.g. 3")
    if isinstance(value, str):
        fix = f"write it without quotes: {value.strip()}" if _numeric(value) else "give a number, e.g. 3"
        raise ValueError(f"{json.dumps(value)[:40]} is text, not a number; {fix}")
    return value


def _numeric(text: str) -> bool:
    try:
        return math.isfinite(float(text)) and len(text) < 40
    except ValueError:
        return False


JsonNumber = BeforeValidator(_number)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)
