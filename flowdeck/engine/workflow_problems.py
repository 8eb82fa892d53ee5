"""A workflow file's problems as a person reads them: where each is and what to do about it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowdeck.engine.strict_json import Refusal, dotted, printable
from flowdeck.errors import Problem


def refused_problems(refused: list[Refusal]) -> list[Problem]:
    """The values the JSON reader refused (a NaN, a lone surrogate...), at their places."""
    return [Problem(dotted(r.path), r.message) for r in refused]


def count_problems(data: dict[str, Any], limits: Mapping[str, int]) -> list[Problem]:
    """Lists longer than their limit. Counted before pydantic runs so that a 10^5-node file fails fast with one
    clear line each."""
    problems = []
    for key, limit in limits.items():
        items = data.get(key)
        if isinstance(items, list) and len(items) > limit:
            problems.append(Problem(key, f"{len(items):,} entries; the limit is {limit:,}"))
    return problems


_FIXES = {
    "extra_forbidden": "remove this field; workflow files hold only the documented fields",
    "missing": "add this required field",
    "string_pattern_mismatch": "use letters, digits and underscores, starting with a letter or underscore",
    "string_too_long": "shorten it",
    "string_unicode": "it holds a lone surrogate, which is not a character; remove it",
    "too_long": "remove entries",
}


def field_problem(error: Any) -> Problem:
    """One of pydantic's validation errors, with the fix for its kind."""
    where = dotted(tuple(printable(p) if isinstance(p, str) else p for p in error["loc"]))
    message = str(error["msg"])
    fix = _FIXES.get(str(error["type"]))
    if error["type"] == "value_error":
        message = message.removeprefix("Value error, ")
    elif fix:
        message = f"{message}; {fix}"
    return Problem(where, message)
