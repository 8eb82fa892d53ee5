"""Where a prompt template's problems are: the run's own checks (engine.prompts.check_template and the dag's
reference checks), each placed on the text it is about, for the editor to underline.

Computed on the server rather than in the browser: jinja's own parser is the grammar the run uses, so the editor
flags exactly what a run would refuse, and no second parser of jinja in JavaScript can drift from it. jinja gives
line numbers only; the columns come from scanning the template's `{{ }}` and `{% %}` blocks on that line.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any, Literal

from jinja2 import Environment, TemplateSyntaxError, meta, nodes
from jinja2.filters import FILTERS as DEFAULT_FILTERS

from flowdeck.engine.prompts import PROMPT_FILTERS, References, check_template

MAX_DIAGNOSTICS = 100  # more is noise, and each is sent on every keystroke

FILTER_NAMES = frozenset(DEFAULT_FILTERS) | frozenset(PROMPT_FILTERS)
# A raw block or a comment (not code), else an expression or a statement; an unclosed one runs to the line's end.
_BLOCKS = re.compile(
    r"\{%-?\s*raw\s*-?%\}.*?\{%-?\s*endraw\s*-?%\}|\{#.*?#\}|(?P<code>\{\{.*?\}\}|\{%.*?%\}|(?:\{\{|\{%)[^\n]*)",
    re.DOTALL,
)


class _AnyName(dict[str, Callable[..., Any]]):
    """Filters and tests by any name, for finding a template's variables past an unknown filter (reported apart)."""

    def get(self, name: str, default: Any = None) -> Callable[..., Any]:
        return super().get(name) or _nothing


def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


_PARSER = Environment()  # parses and inspects only: never renders
_PARSER.filters = _AnyName()
_PARSER.tests = _AnyName()  # type: ignore[assignment]  # jinja types its tests as plain functions


@dataclass(frozen=True, kw_only=True, slots=True)
class Diagnostic:
    """A problem and the characters it is about, as offsets in UTF-16 code units (CodeMirror's)."""

    start: int
    end: int
    message: str
    severity: Literal["error", "warning"] = "error"

    def to_dict(self) -> dict[str, object]:
        return {"from": self.start, "to": self.end, "message": self.message, "severity": self.severity}


@dataclass(frozen=True, kw_only=True, slots=True)
class Scope:
    """What a template may read: the workflow's inputs, the agents upstream of its own, and every agent (by id,
    with the names shown)."""

    inputs: Collection[str]
    upstream: Collection[str]
    agents: Mapping[str, str]


def diagnose(source: str, scope: Scope, refs: References | None = None) -> list[Diagnostic]:
    """The template's problems, each placed where it is (the first MAX_DIAGNOSTICS); [] when a run would accept it.
    `refs`: check_template(source), if already made."""
    source = source.replace("\r\n", "\n").replace("\r", "\n")  # as the editor holds it
    found = sorted(islice(_problems(source, scope, refs or check_template(source)), MAX_DIAGNOSTICS))
    utf16 = _Utf16(source)
    return [Diagnostic(start=utf16(start), end=utf16(end), message=message) for start, end, message in found]


def _problems(source: str, scope: Scope, refs: References) -> Iterator[tuple[int, int, str]]:
    try:
        tree = _PARSER.parse(source)
    except TemplateSyntaxError as exc:
        start, end = _syntax_error_span(source, exc)
        yield start, end, refs.problems[0] if refs.problems else f"syntax error: {exc.message}"
        return
    code = list(_code_blocks(source))
    for name in sorted(meta.find_undeclared_variables(tree) - {"inputs", "outputs", "upstream"}):
        message = f"unknown variable '{name}'; use inputs.<name>, outputs.<node id> or upstream"
        yield from _each(source, code, rf"(?<![\w.'\"]){re.escape(name)}\b", message)
    for problem in refs.problems:
        if (key := re.match(r"'(_\w*)' is a private attribute", problem)) is not None:
            yield from _each(source, code, rf"\.\s*{key[1]}\b|\[\s*(['\"]){key[1]}\1\s*\]", problem)
    for name in sorted(refs.inputs - set(scope.inputs)):
        declared = ", ".join(sorted(scope.inputs)) or "none"
        message = f"reads inputs.{name}, which the workflow does not declare (declared: {declared})"
        yield from _each(source, code, _reference("inputs", name), message)
    for node_id in sorted(refs.outputs - set(scope.upstream)):
        if node_id in scope.agents:
            message = (
                f"reads outputs.{node_id}, but {scope.agents[node_id]} is not upstream of this agent; "
                "connect it upstream or remove the reference"
            )
        else:
            message = f"reads outputs.{node_id}, but no agent has the id '{node_id}'"
        yield from _each(source, code, _reference("outputs", node_id), message)
    # Every unknown filter (jinja names only the first).
    for filter_name in sorted({f.name for f in tree.find_all(nodes.Filter)} - FILTER_NAMES):
        message = f"no filter named '{filter_name}'; the prompt filters are {', '.join(PROMPT_FILTERS)} and jinja's own"
        yield from _each(source, code, rf"\|\s*{re.escape(filter_name)}\b", message)


def _syntax_error_span(source: str, exc: TemplateSyntaxError) -> tuple[int, int]:
    """The characters a syntax error is about: the block on its line that fails on its own, an unclosed one, the
    block left open (for an 'unexpected end'), else the line."""
    at = re.search(r" at (\d+)$", exc.message or "")  # the lexer's errors name the exact position
    if at is not None and int(at[1]) <= len(source):
        return int(at[1]), min(int(at[1]) + 1, len(source))
    line_start, line_end = _line_span(source, exc.lineno)
    innermost = re.search(r"innermost block that needs to be closed is '(\w+)'", exc.message or "")
    if innermost is not None:
        opened = list(re.finditer(rf"\{{%-?\s*{innermost[1]}\b.*?%\}}", source, re.DOTALL))
        if opened:
            return opened[-1].start(), opened[-1].end()
    for start, end in _code_blocks(source):
        if end < line_start or start > line_end:
            continue
        try:
            _PARSER.parse(source[start:end])
        except TemplateSyntaxError as alone:
            if source[start:end].startswith("{{") or alone.message == exc.message:
                return start, end
    text = source[line_start:line_end]
    indent = len(text) - len(text.lstrip())
    return line_start + indent, max(line_start + indent, line_end - (len(text) - len(text.rstrip())))


def _code_blocks(source: str) -> Iterator[tuple[int, int]]:
    for match in _BLOCKS.finditer(source):
        if match["code"] is not None:
            yield match.start(), match.end()


def _each(source: str, code: list[tuple[int, int]], pattern: str, message: str) -> Iterator[tuple[int, int, str]]:
    """The message at each place the pattern occurs inside a code block (nothing if it is nowhere: the Reads row
    still says it)."""
    regex = re.compile(pattern)
    return ((m.start(), m.end(), message) for start, end in code for m in regex.finditer(source, start, end))


def _reference(kind: str, name: str) -> str:
    return rf"(?<![\w.]){kind}\s*(?:\.\s*{re.escape(name)}\b|\[\s*(['\"]){re.escape(name)}\1\s*\])"


def _line_span(source: str, lineno: int) -> tuple[int, int]:
    lines = source.split("\n")
    index = min(max(lineno, 1), len(lines)) - 1
    start = sum(len(line) + 1 for line in lines[:index])
    return start, start + len(lines[index])


class _Utf16:
    """String indexes as CodeMirror counts them: a character beyond the BMP (an emoji) is two units."""

    def __init__(self, source: str) -> None:
        self.wide = [i for i, ch in enumerate(source) if ord(ch) > 0xFFFF]  # usually none

    def __call__(self, index: int) -> int:
        return index + bisect_left(self.wide, index)
