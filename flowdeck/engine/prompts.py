"""Prompt templates: jinja2 in a sandbox with limits, and a static check of what they reference."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Environment, TemplateSyntaxError, meta, nodes, pass_environment
from jinja2.exceptions import FilterArgumentError, SecurityError, TemplateAssertionError, TemplateError

from flowdeck.engine.events import Record
from flowdeck.engine.sandbox import MAX_SECONDS, add_filters, bounded, compile_template, parse
from flowdeck.engine.template_sizes import MAX_CHARS, TemplateLimit
from flowdeck.errors import PromptError

MAX_RENDERED_CHARS = MAX_CHARS
MAX_RENDER_SECONDS = MAX_SECONDS
_ALLOWED_NAMES = frozenset({"inputs", "outputs", "upstream"})


class UpstreamOutput(Record, frozen=True):
    """An upstream agent's output as a prompt sees it."""

    id: str
    label: str
    output: str


@dataclass(frozen=True, kw_only=True, slots=True)
class References:
    """What a template reads: workflow input names, node ids, and problems found on the way."""

    inputs: frozenset[str]
    outputs: frozenset[str]
    problems: tuple[str, ...]


@lru_cache(maxsize=256)  # a workflow started again is not parsed again (52 long templates took 18 s)
def check_template(source: str) -> References:
    """Parse a template and report which inputs and node outputs it reads, without rendering it."""
    try:
        return _references(parse(source))
    except TemplateSyntaxError as exc:
        problem = f"syntax error on line {exc.lineno}: {exc.message}"
    except RecursionError:
        problem = "nests brackets or blocks too deeply; nest fewer"
    return References(inputs=frozenset(), outputs=frozenset(), problems=(problem,))


def _references(tree: nodes.Template) -> References:
    problems: list[str] = []
    try:
        undeclared = meta.find_undeclared_variables(tree)
    except TemplateAssertionError as exc:  # an unknown filter or test: jinja finds it only when compiling
        undeclared = set()
        problems.append(f"{(exc.message or '').rstrip('.')} on line {exc.lineno}; {_FILTERS_HINT}")
    for name in sorted(undeclared - _ALLOWED_NAMES):
        problems.append(f"unknown variable '{name}'; use inputs.<name>, outputs.<node id> or upstream")
    found: dict[str, set[str]] = {"inputs": set(), "outputs": set()}
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        assert isinstance(node, nodes.Getattr | nodes.Getitem)
        key = _static_key(node)
        if key is not None and key.startswith("_"):
            problems.append(f"'{key}' is a private attribute; templates can read only inputs, outputs and upstream")
            continue
        target = node.node
        if isinstance(target, nodes.Name) and target.name in found and key is not None:
            found[target.name].add(key)
    return References(inputs=frozenset(found["inputs"]), outputs=frozenset(found["outputs"]), problems=tuple(problems))


def rename_inputs(source: str, renames: Mapping[str, str]) -> str:
    """The template with its references to renamed inputs (inputs.old, inputs['old']) renamed, all at once (a swap
    of two names works). Only inside {{ }} and {% %}: the same words in the prompt's text, a comment or a raw
    block are the author's own."""
    if not renames:
        return source
    names = "|".join(re.escape(name) for name in sorted(renames, key=len, reverse=True))
    reference = re.compile(
        rf"(?<![\w.])(inputs\s*\.\s*)({names})\b|(?<![\w.])(inputs\s*\[\s*)(['\"])({names})\4(\s*\])"
    )

    def rename(match: re.Match[str]) -> str:
        if match[1] is not None:
            return match[1] + renames[match[2]]
        return f"{match[3]}{match[4]}{renames[match[5]]}{match[4]}{match[6]}"

    def in_block(match: re.Match[str]) -> str:
        block = match[0]
        return reference.sub(rename, block) if match["code"] else block

    return _BLOCKS.sub(in_block, source)


# A raw block or a comment (left alone), else an expression or a statement.
_BLOCKS = re.compile(
    r"\{%-?\s*raw\s*-?%\}.*?\{%-?\s*endraw\s*-?%\}|\{#.*?#\}|(?P<code>\{\{.*?\}\}|\{%.*?%\})", re.DOTALL
)


def render_prompt(
    template: str | None,
    inputs: Mapping[str, str],
    upstream: Iterable[UpstreamOutput],
    ancestors: Mapping[str, str],
    *,
    agent: str = "",
) -> str:
    """The user message for an agent: its template rendered in the sandbox, here, or the default layout.
    `agent` (its name) is what the errors name. A run renders through render_isolated() instead."""
    upstream = list(upstream)
    if template is None:
        return default_prompt(inputs, [(item.label, item.output) for item in upstream])
    context = {"inputs": dict(inputs), "outputs": dict(ancestors), "upstream": upstream}
    where = template_of(agent)
    parts: list[str] = []
    size = 0
    try:
        with bounded():
            for chunk in compile_template(template).generate(context):
                size += len(chunk)
                if size > MAX_RENDERED_CHARS:
                    raise TemplateLimit(
                        f"renders more than {MAX_RENDERED_CHARS:,} characters; print less (e.g. outputs.x[:1000])"
                    )
                parts.append(chunk)
    except TemplateLimit as exc:
        raise PromptError(f"{where} {exc}") from None
    except SecurityError as exc:
        raise PromptError(f"{where} tried something the sandbox forbids ({exc})") from None
    except TemplateError as exc:
        raise PromptError(f"{where} failed to render: {exc}") from None
    except MemoryError:
        raise  # not the template's mistake to report: the process it renders in is spent (prompt_worker.py)
    except Exception as exc:  # whatever a filter or method raised on the values it got: the template's mistake
        raise PromptError(f"{where} failed to render: {type(exc).__name__}: {exc}") from None
    return "".join(parts)


def template_of(agent: str) -> str:
    """How errors name a prompt template: its agent's, when known."""
    return f"the prompt template of agent '{agent}'" if agent else "the prompt template"


def default_prompt(inputs: Mapping[str, str], upstream: Iterable[tuple[str, str]]) -> str:
    """The user message of an agent without a template: the inputs, then each (label, output) received."""
    return join_prompt(inputs_text(inputs), [upstream_heading(label) + output for label, output in upstream])


def inputs_text(inputs: Mapping[str, str]) -> str:
    """The workflow inputs as a default prompt starts with them: a single input's value, or "name: value" lines."""
    if len(inputs) == 1:
        return next(iter(inputs.values()))
    return "\n\n".join(f"{name}: {value}" for name, value in inputs.items())


def upstream_heading(label: str) -> str:
    """What precedes an upstream agent's output in a default prompt (a run makes each once, not once a call)."""
    return f"## From {label}\n"


def join_prompt(inputs: str, received: list[str]) -> str:
    """A default prompt from its parts: inputs_text(), then each heading + output, a blank line between."""
    return "\n\n".join([inputs, *received]) if inputs else "\n\n".join(received)


def _static_key(node: nodes.Getattr | nodes.Getitem) -> str | None:
    if isinstance(node, nodes.Getattr):
        return node.attr
    if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        return node.arg.value
    return None


# -- Filters that transform what an agent reads (the prompt editor offers them and shows them on its chips) ------
# Each reads one value and returns a smaller one, in one linear pass: none can loop, recurse on input or grow text.

MAX_JSON_CHARS = 1_000_000
MAX_JSON_PATH_PARTS = 32
_FENCE = re.compile(r"(`{3,}|~{3,})[ \t]*([^\s`]*)[^`]*")  # a fence, then its language and info


def first_lines(value: Any, count: int = 1) -> str:
    """The first `count` lines of the text."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise FilterArgumentError(f"first_lines needs a whole number of lines, 0 or more, not {count!r}")
    return "\n".join(str(value).splitlines()[:count])


def code_block(value: Any, language: str | None = None) -> str:
    """The content of the first fenced code block (of that language, if given); the whole text if there is none (an
    answer that is only code)."""
    if language is not None and not isinstance(language, str):
        raise FilterArgumentError(f"code_block's language must be text such as 'python', not {language!r}")
    text = str(value)
    wanted = language.strip().lower() if language else None
    fence: str | None = None  # the opening fence while inside a block
    keep = False
    kept: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if fence is None:
            opening = _FENCE.fullmatch(stripped)
            if opening is not None:
                fence, keep = opening[1], wanted is None or opening[2].lower() == wanted
        elif stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
            if keep:
                return "\n".join(kept)
            fence = None
        elif keep:
            kept.append(line)
    return "\n".join(kept) if keep else text  # a block cut off at the end of the answer: what it holds


@pass_environment
def json_field(environment: Environment, value: Any, path: str) -> Any:
    """A field of the JSON text (or of its first fenced code block): 'a.b', 'items.0.name'. Text comes out as it
    is, anything else as JSON; a missing field is undefined (so `| default('…')` can stand in for it)."""
    if not isinstance(path, str) or not path or len(path.split(".")) > MAX_JSON_PATH_PARTS:
        raise FilterArgumentError(
            f"json_field needs a field path such as 'answer' or 'items.0.name' (at most {MAX_JSON_PATH_PARTS} parts)"
        )
    data = _json_of(str(value))
    for part in path.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isascii() and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return environment.undefined(hint=f"json_field: the JSON has no field '{path}'")
    return data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)


def _json_of(text: str) -> Any:
    if len(text) > MAX_JSON_CHARS:
        raise FilterArgumentError(f"json_field reads at most {MAX_JSON_CHARS:,} characters of JSON")
    for candidate in (text, code_block(text)):
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    raise FilterArgumentError("json_field: the text is not JSON, and holds no code block of JSON")


PROMPT_FILTERS: dict[str, Any] = {"first_lines": first_lines, "code_block": code_block, "json_field": json_field}
_FILTERS_HINT = "the filters are first_lines, code_block, json_field and jinja's own (join, default, trim, …)"
add_filters(PROMPT_FILTERS)
