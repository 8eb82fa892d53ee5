"""Edge conditions (format 2): whether an edge is taken, given its source's answer; checked before a run starts.

An expression is a Jinja expression over `output`, `verdict`, `round` and `inputs`, evaluated in a sandbox that
allows only a few cheap filters and string methods, so that a shared file's condition can neither reach Python's
internals nor make a huge string or number."""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, meta, nodes
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from flowdeck.engine.workflow import Contains, Edge, Expression, VerdictIs
from flowdeck.errors import RoutingError

NAMES = frozenset({"output", "verdict", "round", "inputs"})
MAX_RESULT_CHARS = 100_000
MAX_NUMBER_BITS = 4_096  # a condition's whole numbers: about 1,200 digits
_FILTERS = ("length", "lower", "upper", "trim", "int", "float", "string", "first", "last", "default", "abs", "round")
_METHODS = frozenset(
    {"lower", "upper", "strip", "lstrip", "rstrip", "startswith", "endswith", "count", "find", "casefold", "isdigit"}
)


class _ConditionEnvironment(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "~", "+"})

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**" and not (isinstance(right, int | float) and abs(right) <= 64):
            raise SecurityError("exponent too large for a condition")
        if operator_name in ("**", "*") and isinstance(left, int) and isinstance(right, int):
            # (9**64)**64**64 passes the exponent check step by step and builds a number of millions of digits
            bits = abs(left).bit_length() * (abs(right) if operator_name == "**" else 1) + (
                abs(right).bit_length() if operator_name == "*" else 0
            )
            if bits > MAX_NUMBER_BITS:
                raise SecurityError("number too large for a condition")
        if operator_name in ("*", "~", "+"):
            result = {"*": operator.mul, "~": lambda a, b: f"{a}{b}", "+": operator.add}[operator_name]
            if operator_name == "*":
                for seq, count in ((left, right), (right, left)):
                    sized = isinstance(seq, str | list | tuple) and isinstance(count, int)
                    if sized and len(seq) * count > MAX_RESULT_CHARS:
                        raise SecurityError("repetition too large for a condition")
            value = result(left, right)
            if isinstance(value, str | list | tuple) and len(value) > MAX_RESULT_CHARS:
                raise SecurityError("result too large for a condition")
            return value
        try:
            return super().call_binop(context, operator_name, left, right)
        except ArithmeticError as exc:  # a float ** that overflows, a division by zero: the condition's own error
            raise SecurityError(f"{exc} in a condition") from None

    def call(self, context: Any, obj: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(obj, "__name__", "")
        if not (isinstance(getattr(obj, "__self__", None), str) and name in _METHODS):
            raise SecurityError(f"a condition may call only these string methods: {', '.join(sorted(_METHODS))}")
        return super().call(context, obj, *args, **kwargs)


_ENV = _ConditionEnvironment(undefined=StrictUndefined, autoescape=False)
_ENV.filters = {name: _ENV.filters[name] for name in _FILTERS}
_ENV.globals = {}


@dataclass(slots=True)
class Answer:
    """What conditions see of a source agent's execution (a dataclass, not frozen: made once an agent)."""

    output: str
    verdict: str | None
    round: int
    inputs: Mapping[str, str]


def expression_problems(source: str, declared_inputs: frozenset[str]) -> list[str]:
    """What is wrong with a condition expression, found without evaluating it."""
    try:
        tree = _ENV.parse("{{ (" + source + ") }}")
        _ENV.compile(tree)
    except TemplateError as exc:
        return [f"the expression does not parse ({exc.message or exc}); fix it, e.g. \"'done' in output\""]
    problems = [
        f"unknown name '{name}'; an expression reads only output, verdict, round and inputs.<name>"
        for name in sorted(meta.find_undeclared_variables(tree) - NAMES)
    ]
    for call in tree.find_all(nodes.Call):  # refused when run (see _ConditionEnvironment.call): refused now instead
        method = call.node.attr if isinstance(call.node, nodes.Getattr) else None
        if method not in _METHODS:
            called = f"calls '{method}'" if method is not None else "calls something that is not a string method"
            problems.append(f"{called}; a condition may call only these string methods: {', '.join(sorted(_METHODS))}")
    for node in tree.find_all(nodes.Getattr):
        if node.attr.startswith("_"):
            problems.append(f"'{node.attr}' is a private attribute; an expression may not read it")
        elif isinstance(node.node, nodes.Name) and node.node.name == "inputs" and node.attr not in declared_inputs:
            declared = ", ".join(sorted(declared_inputs)) or "none"
            problems.append(f"reads inputs.{node.attr}, which the workflow does not declare (declared: {declared})")
    return problems


def taken(edge: Edge, answer: Answer) -> bool:
    """Whether this (not "otherwise") edge is taken; RoutingError if its expression fails to evaluate."""
    condition = edge.condition
    if condition is None:
        return True
    if isinstance(condition, VerdictIs):
        return answer.verdict is not None and answer.verdict.casefold() == condition.verdict.casefold()
    if isinstance(condition, Contains):
        return condition.contains.casefold() in answer.output.casefold()
    if isinstance(condition, Expression):
        return _evaluate(edge, condition.expression, answer)
    raise AssertionError(f"an 'otherwise' edge is decided by its siblings: {edge.id}")


def _evaluate(edge: Edge, source: str, answer: Answer) -> bool:
    context: dict[str, object] = {"output": answer.output, "verdict": answer.verdict or "", "round": answer.round}
    context["inputs"] = dict(answer.inputs)
    try:
        return bool(_compiled(source)(**context))
    except SecurityError as exc:
        raise RoutingError(f"the condition of edge {edge.id} tried something the sandbox forbids ({exc})") from None
    except (TemplateError, ArithmeticError, TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise RoutingError(f"the condition of edge {edge.id} failed: {type(exc).__name__}: {exc}") from None


@lru_cache(maxsize=256)
def _compiled(source: str) -> Any:
    return _ENV.compile_expression(source)


def describe(edge: Edge) -> str:
    """The condition in a few words, as a log line or a skip reason shows it."""
    condition = edge.condition
    if isinstance(condition, VerdictIs):
        return f"verdict {condition.verdict}"
    if isinstance(condition, Contains):
        return f"answer contains '{condition.contains}'"
    if isinstance(condition, Expression):
        return f"'{condition.expression}'"
    return str(condition or "always")
