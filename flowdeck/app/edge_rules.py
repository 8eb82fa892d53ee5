"""What an edge may carry in the editor: its condition and loop, checked with the engine's own rules and words."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from flowdeck.engine.agents import PRESETS, decisions_of, display_name
from flowdeck.engine.workflow import Condition, Edge, Expression, Loop, Node, VerdictIs, Workflow
from flowdeck.errors import EditRefused, WorkflowError

CONDITION_KINDS = ("always", "verdict", "contains", "expression", "otherwise")
# The field each condition kind's value is typed in (EditRefused names it, the panel shows the error under it).
VALUE_FIELD = {"verdict": "verdict", "contains": "contains", "expression": "expression"}


def condition_from(kind: str, value: str | None) -> Condition | None:
    """The condition a person chose: a kind and, for verdict/contains/expression, its value."""
    if kind not in CONDITION_KINDS:
        raise EditRefused(f"Condition must be one of: {', '.join(CONDITION_KINDS)}", "condition")
    if kind == "always":
        return None
    if kind == "otherwise":
        return "otherwise"
    text = (value or "").strip() if kind != "contains" else (value or "")
    field = VALUE_FIELD[kind]
    if not text:
        words = {"verdict": "Choose a verdict", "contains": "Type the text", "expression": "Type an expression"}
        raise EditRefused(f"{words[kind]}: the {kind} condition needs one", field)
    try:
        edge = Edge.model_validate({"id": "e", "source": "a", "target": "b", "condition": {kind: text}})
    except ValidationError as exc:
        raise EditRefused(f"{field.capitalize()}: {_reason(exc)}", field) from None
    return edge.condition


def loop_from(max_rounds: Any, exhausted: str) -> Loop:
    """A loop's settings as typed; EditRefused naming the field, in the engine's words (the cap included)."""
    if isinstance(max_rounds, float) and max_rounds.is_integer():
        max_rounds = int(max_rounds)
    if not isinstance(max_rounds, int) or isinstance(max_rounds, bool):
        raise EditRefused("Max rounds must be a whole number from 1 to 20", "max_rounds")
    try:
        return Loop.model_validate({"max_rounds": max_rounds, "exhausted": exhausted})
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][-1])
        name = "Max rounds" if field == "max_rounds" else "When rounds run out"
        return_fix = _reason(exc) if field == "max_rounds" else "choose go on or fail the run"
        raise EditRefused(f"{name}: {return_fix}", field) from None


def graph_problems(before: Workflow, after: Workflow, edge_id: str) -> list[str]:
    """The engine's graph problems (cycles, loops, conditions) that `after` has and `before` had not: an edit is
    refused for what it breaks, not for what was already unfinished elsewhere. Those of the edge being edited
    are said without its id (the person is looking at it)."""
    known = set(_problems(before))
    return [message.removeprefix(f"edge {edge_id}: ") for message in _problems(after) if message not in known]


def refused(problems: list[str], condition: Condition | None, loop: Loop | None) -> EditRefused:
    """The refusal of an edge's edit, naming the field the person can fix it in."""
    text = "; ".join(_clearer(problem, condition) for problem in problems)
    field = "loop" if loop is not None else "condition"
    if "expression" in text or "unknown name" in text or "private attribute" in text:
        field = "expression"
    elif "verdict" in text and condition is not None and condition != "otherwise":
        field = "verdict"
    return EditRefused(text[:1].upper() + text[1:], field)


def _clearer(problem: str, condition: Condition | None) -> str:
    """The parser's "unexpected ')'" about the bracket the engine closes the expression with: it ends too early."""
    unexpected = "does not parse (unexpected ')')" in problem
    if (
        unexpected
        and isinstance(condition, Expression)
        and condition.expression.count(")") <= condition.expression.count("(")
    ):
        return "the expression ends too early: finish it, e.g. \"verdict == 'revise'\""
    return problem


def _problems(workflow: Workflow) -> list[str]:
    from flowdeck.engine.dag import build  # lazily: it imports networkx

    try:
        build(workflow)
    except WorkflowError as exc:
        return [f"{p.where}: {p.message}" if p.where.startswith("edge") else p.message for p in exc.problems]
    return []


def verdict_in_use(workflow: Workflow, node_id: str, verdicts: list[str]) -> EditRefused | None:
    """A verdict an agent would drop while a connection out of it routes on it: refused, naming that connection."""
    kept = {v.casefold() for v in verdicts}
    for edge in workflow.edges:
        condition = edge.condition
        if edge.source == node_id and isinstance(condition, VerdictIs) and condition.verdict.casefold() not in kept:
            kind = "loop" if edge.loop is not None else "connection"
            source, target = (display_name(workflow.node(n)) for n in (edge.source, edge.target))
            return EditRefused(
                f"Verdicts: {condition.verdict} is used by the {kind} {source} → {target}: "
                "change or remove that connection first",
                "verdicts",
            )
    return None


def verdict_choices(node: Node) -> tuple[str, ...]:
    """The verdicts an edge out of this agent can route on."""
    if node.type == "approval":  # a person's step (contract 3): its verdicts are fixed
        return ("approved", "rejected")
    return decisions_of(node) if node.type in PRESETS else ()


def _reason(exc: ValidationError) -> str:
    error = exc.errors()[0]
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "string_pattern_mismatch":
        return "use letters, digits, - and _, starting with a letter (at most 40 characters)"
    if error["type"] == "string_too_long":
        return f"{message}; shorten it"
    return message
