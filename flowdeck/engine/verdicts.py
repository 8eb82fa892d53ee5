"""Verdicts: reading an agent's verdict from its answer (JSON where the model was held to a schema, else a tolerant
reading of its text), the correction asked for when there is none, and an output as prompt templates see it."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
_LINE = re.compile(r"^[\s>*_#`-]*verdict[\s*_`]*[:=\-–—]+\s*(.+?)\s*$", re.IGNORECASE)
_DECORATION = re.compile(r"^[\W_]+|[\W_]+$")


@dataclass(frozen=True, slots=True)
class Verdict:
    """A verdict found in an answer, and the answer without it (the feedback)."""

    verdict: str
    feedback: str
    text: str  # the answer as the node's output: the model's own text, or, from JSON, "feedback\n\nVerdict: x"


def read_verdict(answer: str, verdicts: Sequence[str]) -> Verdict | None:
    """The verdict in an answer: a JSON object {"verdict", "feedback"}, else a line "Verdict: x" (any case, any
    markdown around it), else a last line that is one verdict alone. None when there is no valid one."""
    known = {_key(v): v for v in verdicts}
    data = _json_object(answer)
    if data is not None:
        chosen = known.get(_key(str(data.get("verdict", ""))))
        if chosen is None:
            return None
        feedback = str(data.get("feedback") or "").strip()
        return Verdict(chosen, feedback, join_verdict(feedback, chosen))
    lines = answer.rstrip().split("\n")
    for index in range(len(lines) - 1, -1, -1):
        match = _LINE.match(lines[index])
        if match is not None:
            chosen = known.get(_key(match[1]))
            if chosen is None:
                return None  # the answer's own verdict line names no known verdict: not guessed from elsewhere
            feedback = "\n".join(lines[:index] + lines[index + 1 :]).strip()
            return Verdict(chosen, feedback, answer)
    last = next((index for index in range(len(lines) - 1, -1, -1) if lines[index].strip()), None)
    if last is not None and (chosen := known.get(_key(lines[last]))) is not None:
        return Verdict(chosen, "\n".join(lines[:last]).strip(), answer)
    return None


def join_verdict(feedback: str, verdict: str) -> str:
    """An output made of feedback and a verdict, as an agent asked for a verdict line writes it."""
    return f"{feedback}\n\nVerdict: {verdict}" if feedback else f"Verdict: {verdict}"


def correction(name: str, verdicts: Sequence[str]) -> str:
    """What an agent that answered without a verdict is asked next."""
    choices = " or ".join(f"`Verdict: {v}`" for v in verdicts)
    return f"{name}: your answer has no verdict. Reply with one line only: {choices}."


def missing_verdict(name: str, verdicts: Sequence[str]) -> str:
    """The failure of an agent that gave no verdict, even when asked again."""
    return f"{name} answered without a verdict: expected {' or '.join(verdicts)}"


def _key(text: str) -> str:
    return _DECORATION.sub("", text.strip()).casefold().replace(" ", "_").replace("-", "_")


def _json_object(answer: str) -> dict[str, Any] | None:
    text = answer.strip()
    fenced = _FENCE.match(text)
    if fenced is not None:
        text = fenced[1]
    if not text.startswith("{"):
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


class Output(str):
    """A node's output as prompt templates read it: the text itself (`{{ outputs.reviewer }}`), with its verdict,
    its feedback (the text without the verdict line), its round, and every round's output so far, oldest first."""

    verdict: str | None
    feedback: str
    round: int
    earlier: tuple[Output, ...]

    def __new__(
        cls, text: str, verdict: Verdict | None = None, round: int = 1, earlier: tuple[Output, ...] = ()
    ) -> Output:
        made = super().__new__(cls, text)
        made.verdict = verdict.verdict if verdict is not None else None
        made.feedback = verdict.feedback if verdict is not None else str(text)
        made.round = round
        made.earlier = earlier  # not a list holding itself: no reference cycle for the collector to find
        return made

    @property
    def rounds(self) -> list[Output]:
        return [*self.earlier, self]


def output_to_json(value: str) -> str | list[list[Any]]:
    """An output as the render process receives it (JSON would keep only the text of an Output): its rounds as
    [text, verdict, feedback, round] lists, oldest first, or the text alone."""
    if not isinstance(value, Output):
        return str(value)
    return [[str(made), made.verdict, made.feedback, made.round] for made in value.rounds]


def output_from_json(data: str | list[list[Any]]) -> str:
    """The output that output_to_json() was given."""
    if isinstance(data, str):
        return data
    made: tuple[Output, ...] = ()
    for text, verdict, feedback, index in data:
        found = Verdict(verdict, feedback, text) if verdict is not None else None
        made = (*made, Output(text, found, index, made))
    return made[-1]
