"""JSON read strictly. Python's json module lets through what nothing after it can hold: NaN and Infinity (not JSON,
and no JSON writer takes them back), 1e999 (infinite), integers of thousands of digits (int() refuses them past 4,300
digits, deep inside json) and lone surrogates (a "\\ud800" escape decodes to a str that cannot be written as UTF-8).
Each is refused here, once, named by where it is, so that files and request bodies are refused before anything runs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from flowdeck.errors import FlowdeckError

MAX_INT_DIGITS = 30  # no setting comes near it; int() of a long digit string is slow, and refused past 4,300

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Refusal:
    """One value refused: where it is (keys and list indexes from the top) and why, with the fix."""

    path: Path
    message: str


class JsonRefused(FlowdeckError):
    """JSON text holds values that cannot be kept (NaN, Infinity, huge numbers, lone surrogates); `refusals` lists
    each."""

    def __init__(self, refusals: list[Refusal]) -> None:
        self.refusals = refusals
        super().__init__("; ".join(f"{dotted(r.path) or 'the value'}: {r.message}" for r in refusals))


class Refused:
    """What a refused number is decoded as: a value that no field accepts, so a validator reports it only here."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"<refused: {self.message}>"


def decode(text: str | bytes) -> tuple[Any, list[Refusal]]:
    """The decoded value, with each refused number replaced by a Refused and each key holding a lone surrogate by
    its escaped spelling (as its refusal names it), and every refusal found. Raises json.JSONDecodeError for text
    that is not JSON (and RecursionError for JSON nested too deep)."""
    value = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)
    return value, refusals(value, escape_keys=True)


def loads(text: str | bytes) -> Any:
    """json.loads, raising JsonRefused for any value it would let through that cannot be kept."""
    value, found = decode(text)
    if found:
        raise JsonRefused(found)
    return value


def refusals(value: Any, *, escape_keys: bool = False) -> list[Refusal]:
    """Every refused number and lone surrogate (in keys as in values) in decoded JSON, walked without recursion.
    `escape_keys`: rename keys holding lone surrogates in place, so that a validator can go on past them."""
    found: list[Refusal] = []
    todo: list[tuple[Path, Any]] = [((), value)]
    while todo:
        path, item = todo.pop()
        if isinstance(item, str):
            if (problem := text_problem(item)) is not None:
                found.append(Refusal(path, problem))
        elif isinstance(item, Refused):
            found.append(Refusal(path, item.message))
        elif isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                if (problem := text_problem(key)) is not None:
                    found.append(Refusal((*path, printable(key)), f"the key {problem}"))
                    if escape_keys:
                        item[printable(key)] = item.pop(key)
                todo.append(((*path, printable(key)), child))
        elif isinstance(item, list):
            todo.extend(((*path, i), child) for i, child in reversed(list(enumerate(item))))
    return found


def text_problem(text: str) -> str | None:
    """Why this text cannot be kept (it holds a lone surrogate), or None."""
    if text.isascii():
        return None
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        bad = text[exc.start : exc.start + 1].encode("utf-8", "backslashreplace").decode()
        return (
            f"holds a lone surrogate ({bad}), which is not a character; remove it (an escape \\ud800-\\udbff "
            "must be followed by its pair \\udc00-\\udfff)"
        )
    return None


def printable(text: str) -> str:
    """The text with anything that cannot be written as UTF-8 shown as an escape, for messages."""
    return text.encode("utf-8", "backslashreplace").decode()


def dotted(path: Path) -> str:
    """A path as a workflow file's problems name it: nodes[0].config.max_tokens."""
    where = ""
    for part in path:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return where


def _constant(name: str) -> Refused:
    return Refused(f"{name} is not a number JSON allows; give a finite number")


def _float(literal: str) -> float | Refused:
    value = float(literal)
    if math.isfinite(value):
        return value
    return Refused(f"{_short(literal)} is too large to be a number; give a finite number")


def _int(literal: str) -> int | Refused:
    digits = len(literal.lstrip("-"))
    if digits <= MAX_INT_DIGITS:
        return int(literal)
    return Refused(f"a number of {digits:,} digits; give one of at most {MAX_INT_DIGITS} digits")


def _short(literal: str) -> str:
    return literal if len(literal) <= 40 else literal[:20] + "…" + literal[-10:]
