"""The prompt templates' sandbox: jinja2's SandboxedEnvironment with bounds on what one render may do.

Every loop iteration counts against one budget and every call against another, whether or not it prints;
both check the clock. Every filter, method and operator that builds a string or list, and every value turned
into text, goes through the size checks of flowdeck/engine/template_sizes.py. A bound that is hit raises
TemplateLimit, whose message completes "the prompt template of agent X ...". This gives a clear error; the hard
bound is the process the template renders in (flowdeck/engine/prompt_process.py).
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache, wraps
from typing import Any

from jinja2 import StrictUndefined, nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.filters import FILTERS
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import SandboxedEnvironment, SandboxedFormatter
from jinja2.visitor import NodeTransformer

from flowdeck.engine.template_sizes import (
    FIX_SIZE,
    MAX_CHARS,
    PRECHECKS,
    TEXT_FILTERS,
    TemplateLimit,
    check_built,
    check_method,
    check_number,
    check_percent,
    check_size,
    check_spec,
    check_text,
    linear_sum,
    lipsum,
    text_size,
)

MAX_LOOPS = 100_000  # iterations of all the loops of one render together
MAX_CALLS = 100_000  # calls of macros, functions and methods in one render
MAX_SECONDS = 2.0
MAX_PLAIN_CHARS = 1_000  # compiling 1,000 characters of template takes ~10 ms, 100,000 up to 2.7 s


@dataclass(slots=True)
class _Budget:
    deadline: float
    loops: int = 0
    calls: int = 0


_BUDGET: ContextVar[_Budget | None] = ContextVar("flowdeck_template_budget", default=None)


@contextmanager
def bounded(seconds: float = MAX_SECONDS) -> Iterator[None]:
    """Render templates inside this block: loops, calls and time are counted from its start."""
    token = _BUDGET.set(_Budget(time.monotonic() + seconds))
    try:
        yield
    finally:
        _BUDGET.reset(token)


def compile_template(source: str) -> Any:
    """The template compiled in the bounded sandbox (cached: a run renders the same templates again and again)."""
    return _compile(source)


def needs_isolation(source: str) -> bool:
    """Whether rendering the template could take long or build much: anything beyond printing and comparing the
    values it is given (loops, calls, filters, arithmetic), or long enough that compiling it takes a while, is
    rendered in a separate process."""
    return len(source) > MAX_PLAIN_CHARS or _needs_isolation(source)


def check_time() -> None:
    """Refuse to go on past the render's deadline."""
    budget = _BUDGET.get()
    if budget is not None and time.monotonic() > budget.deadline:
        raise TemplateLimit(f"took longer than {MAX_SECONDS:g} s to render; simplify its loops and filters")


# -- loops and calls ------------------------------------------------------------------------------------------


@pass_context
def _loop(context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
    """Every {% for %} iterates through this (see _Bounds): each item counts, printed or not."""
    budget = _BUDGET.get()
    if budget is None:
        yield from iterable
        return
    for item in iterable:
        budget.loops += 1
        if budget.loops > MAX_LOOPS:
            raise TemplateLimit(
                f"loops more than {MAX_LOOPS:,} times in all; loop over fewer items (e.g. items[:100]) "
                "or nest fewer loops"
            )
        if not budget.loops & 1023:
            check_time()
        yield item


@pass_context
def _concat(context: Context, parts: tuple[Any, ...]) -> str:
    """`a ~ b`: the parts are measured before they are joined."""
    if sum(text_size(part) for part in parts) > MAX_CHARS:
        raise TemplateLimit(f"joins with ~ a text of more than {MAX_CHARS:,} characters; {FIX_SIZE}")
    return "".join(map(str, parts))


class _Bounds(NodeTransformer):
    """Rewrites a parsed template so that its loops and `~` go through _loop and _concat."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, "_flowdeck_loop", [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        parts = nodes.Tuple(node.nodes, "load", lineno=node.lineno)
        return nodes.Filter(parts, "_flowdeck_concat", [], [], None, None, lineno=node.lineno)


class _Formatter(SandboxedFormatter):
    def format_field(self, value: Any, format_spec: str) -> Any:
        check_spec(format_spec)
        check_text(value, "str.format")
        return super().format_field(value, format_spec)


class LimitedEnvironment(SandboxedEnvironment):
    """The sandbox prompt templates render in (see the module's docstring)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def call_binop(self, context: Context, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**" and isinstance(right, int | float) and abs(right) > 64:
            raise TemplateLimit("raises a number to a power above 64; use a smaller exponent")
        if operator_name in ("*", "**") and isinstance(left, int) and isinstance(right, int):
            bits = left.bit_length() * right if operator_name == "**" else left.bit_length() + right.bit_length()
            check_number(bits, operator_name)  # (10**64)**64 ... has a billion digits five powers on
        if operator_name == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(count, int):
                    check_size(len(seq) * count, "*")
            return operator.mul(left, right)
        if operator_name == "+" and isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
            check_size(len(left) + len(right), "+")
        if operator_name == "%":
            check_percent(left, right)
        return super().call_binop(context, operator_name, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        check_time()  # also for the attribute paths of map, sort, groupby...: 'a.b.c...' read for every item
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        check_time()
        return super().getitem(obj, argument)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = _BUDGET.get()
        if budget is not None:
            budget.calls += 1
            if budget.calls > MAX_CALLS:
                raise TemplateLimit(
                    f"makes more than {MAX_CALLS:,} calls (of macros, functions and methods); call fewer, "
                    "or stop a macro that calls itself sooner"
                )
            check_time()
        if isinstance(__obj, LoopContext) and args:  # loop(items) in a recursive for: counts like the first
            args = (_loop(__context, args[0]), *args[1:])
        receiver = getattr(__obj, "__self__", None)
        if isinstance(receiver, str | bytes):
            check_method(receiver, getattr(__obj, "__name__", ""), args)
        result = super().call(__context, __obj, *args, **kwargs)
        name = f"{getattr(__obj, '__name__', 'a call')}()"
        check_built(result, name)
        if isinstance(receiver, list | dict | set):
            check_built(receiver, name)  # append, extend, update grow their receiver
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is None or type(value.__self__) is not str:
            return wrapper  # Markup's own format escapes; its result is checked where it is used
        is_map = value.__name__ == "format_map"

        def checked(*args: Any, **kwargs: Any) -> str:
            mapping = args[0] if is_map and args else kwargs
            text = _Formatter(self).vformat(value.__self__, () if is_map else args, mapping)
            check_built(text, "str.format")
            return text

        return checked


def _filter(
    name: str, original: Callable[..., Any], precheck: Callable[..., None] | None = None, *, text: bool = False
) -> Callable[..., Any]:
    """A filter with its bounds: a `precheck` on its arguments, the text size of its value, the clock, and the
    size of what it built."""
    value_at = 0 if getattr(original, "jinja_pass_arg", None) is None else 1  # after a context it is passed
    label = f"|{name}"

    @wraps(original)
    def bounded_filter(*args: Any, **kwargs: Any) -> Any:
        check_time()
        if name == "join" and len(args) > value_at and not isinstance(args[value_at], list | tuple):
            args = (*args[:value_at], list(args[value_at]), *args[value_at + 1 :])  # to measure it before
        if text and len(args) > value_at and not isinstance(args[value_at], str):
            check_text(args[value_at], label)
        if precheck is not None:
            precheck(*args[value_at:], **kwargs)
        result = original(*args, **kwargs)
        check_built(result, label)
        return result

    return bounded_filter


class _RenderTimeOutput(CodeGenerator):
    """Compiles {{ }} of constants to code run at render time, within the budget, rather than running its filters
    while compiling (200 {{ 'x'|center(399999) }} made 305 MB of constants before anything was rendered)."""

    def _output_child_to_const(self, node: nodes.Expr, frame: Frame, finalize: Any) -> str:
        if not isinstance(node, nodes.TemplateData):
            raise nodes.Impossible()
        return super()._output_child_to_const(node, frame, finalize)


def _finalize(value: Any) -> Any:
    if not isinstance(value, _SCALARS):  # what {{ }} prints most; measured in bench/prompts.py
        check_text(value, "{{ }}")
    return value


_SCALARS = (str, int, float)


_ENV = LimitedEnvironment(
    undefined=StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
    finalize=_finalize,
    optimized=False,  # folding constants ran filters while compiling, into code: 450 MB for a short template
)
_ENV.code_generator_class = _RenderTimeOutput
_FILTERS = FILTERS | {"sum": linear_sum}
_ENV.filters.update(
    {name: _filter(name, _FILTERS[name], PRECHECKS.get(name), text=name in TEXT_FILTERS) for name in _FILTERS}
)
_ENV.filters.update(_flowdeck_loop=_loop, _flowdeck_concat=_concat)
_ENV.globals["lipsum"] = lipsum


def add_filters(filters: dict[str, Callable[..., Any]]) -> None:
    """Offer these filters of text to templates too, with the same bounds as jinja2's own."""
    _ENV.filters.update({name: _filter(name, function, text=True) for name, function in filters.items()})


def parse(source: str) -> nodes.Template:
    """The template's syntax tree, as the sandbox parses it (raises TemplateSyntaxError)."""
    return _ENV.parse(source)


@lru_cache(maxsize=512)
def _compile(source: str) -> Any:
    tree = _ENV.parse(source)
    tree = _Bounds().visit(tree)
    tree.set_environment(_ENV)
    return _ENV.from_string(tree)


# What a template may hold and still only print and compare the values it is given.
PLAIN_NODES = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Const,
    nodes.Name,
    nodes.Getattr,
    nodes.Getitem,
    nodes.If,
    nodes.Compare,
    nodes.Operand,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.CondExpr,
    nodes.Test,
    nodes.Concat,
)


@lru_cache(maxsize=512)
def _needs_isolation(source: str) -> bool:
    try:
        tree = _ENV.parse(source)
    except Exception:
        return False  # rendering reports the syntax error at once
    return any(not isinstance(node, PLAIN_NODES) for node in tree.find_all(nodes.Node))
