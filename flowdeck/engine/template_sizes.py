"""How big what a prompt template builds may be: the checks made before a string or list is built, where its
size can be known beforehand (center, format, join, replace, ...), and after it otherwise (flowdeck/engine/sandbox.py
makes them). A check that fails raises TemplateLimit, whose message completes "the prompt template of agent X ..."."""

from __future__ import annotations

import re
from collections.abc import Callable, ItemsView, KeysView, Mapping, ValuesView
from itertools import chain
from typing import Any

from jinja2 import Environment, pass_environment
from jinja2.filters import FILTERS, make_attrgetter
from jinja2.utils import Namespace, generate_lorem_ipsum

MAX_CHARS = 400_000  # the rendered prompt, and every string or list a template builds on the way
MAX_NUMBER_BITS = 1 << 16  # ~20,000 digits: Python turns at most 4,300 into text anyway

FIX_SIZE = "use smaller widths and counts, or slice what it works on (e.g. outputs.x[:1000])"


class TemplateLimit(Exception):
    """A render went past one of the sandbox's bounds; the message says which, and how to fix the template."""


_SIZED = (str, list, dict, tuple, bytes, set, frozenset)  # tuples: isinstance() is ~2x as fast as with a union
_TEXTS = (str, bytes)
_NUMBERS = (int, float)
_SEQUENCES = (list, tuple, set, frozenset)
_VIEWS = (KeysView, ValuesView, ItemsView)


def check_built(value: object, built_by: str) -> None:
    """Refuse a string, list or mapping past the size bound."""
    if isinstance(value, _SIZED) and len(value) > MAX_CHARS:
        raise TemplateLimit(
            f"builds a value of more than {MAX_CHARS:,} characters or items with {built_by}; {FIX_SIZE}"
        )


def check_text(value: object, used_by: str) -> None:
    """Refuse a value whose text would be past the size bound (measured without making the text)."""
    if text_size(value) > MAX_CHARS:
        raise TemplateLimit(f"turns into text a value of more than {MAX_CHARS:,} characters with {used_by}; {FIX_SIZE}")


def text_size(value: object, stop: int = MAX_CHARS) -> int:
    """About len(str(value)), counted item by item up to `stop` (a list that holds itself stops there too)."""
    if isinstance(value, _TEXTS):
        return len(value)
    if isinstance(value, _NUMBERS):
        return len(repr(value))
    size, todo = 0, [value]
    while todo and size <= stop:
        item = todo.pop()
        if isinstance(item, _TEXTS):
            size += len(item) + 2  # and its quotes
        elif isinstance(item, _NUMBERS):
            size += len(repr(item))
        elif isinstance(item, _SEQUENCES):
            size += len(item) + 2
            todo.extend(item)
        elif isinstance(item, Mapping):
            size += 2 * len(item) + 2
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, _VIEWS):  # dict.items() and the like show what they hold
            size += len(item) + 16
            todo.extend(item)
        elif isinstance(item, Namespace):  # {% set ns = namespace(...) %} shows its attributes
            todo.append(object.__getattribute__(item, "_Namespace__attrs"))
        elif fields := getattr(item, "__struct_fields__", None):  # an UpstreamOutput (a msgspec Struct)
            size += 16 * len(fields)
            todo.extend(getattr(item, name) for name in fields)
        else:
            size += 24
    return size


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d*)(?:\.(\*|\d*))?")
_NUMBER = re.compile(r"\d+")


def check_width(width: object, built_by: str) -> None:
    if isinstance(width, int) and width > MAX_CHARS:
        raise TemplateLimit(f"asks {built_by} for a width of {width:,}, more than {MAX_CHARS:,}; use a smaller width")


def check_percent(fmt: object, args: object) -> None:
    """`fmt % args` and |format: widths and precisions in the format, and `*` widths taken from the args."""
    if not isinstance(fmt, str):
        return
    values = list(args.values()) if isinstance(args, Mapping) else list(args) if isinstance(args, tuple) else [args]
    for width, precision in _PERCENT_SPEC.findall(fmt):
        for number in (width, precision):
            if number == "*":
                for value in values:
                    check_width(value, "a % format")
            elif number:
                check_width(_number(number), "a % format")
    for value in values:
        check_text(value, "a % format")


def check_spec(spec: str) -> None:
    """A str.format field's spec: its width and precision."""
    for number in _NUMBER.findall(spec):
        check_width(_number(number), "str.format")


def _number(digits: str) -> int:
    return int(digits) if len(digits) <= 18 else 10**18  # int() of thousands of digits is refused, and slow


def check_method(text: str | bytes, name: str, args: tuple[Any, ...]) -> None:
    """String methods that can build more than they are given, checked before they run."""
    if name in ("center", "ljust", "rjust", "zfill") and args:
        check_width(args[0], f"{name}()")
    elif name == "expandtabs":
        tabs = text.count("\t") if isinstance(text, str) else text.count(b"\t")
        size = len(text) + tabs * (args[0] if args and isinstance(args[0], int) else 8)
        check_size(size, "expandtabs()")
    elif name == "replace" and len(args) >= 2:
        check_size(replaced_size(text, args[0], args[1], args[2] if len(args) > 2 else -1), "replace()")
    elif name == "join" and args:
        items = args[0] if isinstance(args[0], list | tuple) else []
        check_size(len(text) * max(len(items) - 1, 0) + sum(text_size(i) for i in items[:MAX_CHARS]), "join()")
    elif name == "translate" and args and isinstance(args[0], Mapping):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str | bytes)), default=1)
        check_size(len(text) * longest, "translate()")


def check_size(size: int, built_by: str) -> None:
    if size > MAX_CHARS:
        raise TemplateLimit(
            f"builds a value of more than {MAX_CHARS:,} characters or items with {built_by}; {FIX_SIZE}"
        )


def replaced_size(text: Any, old: Any, new: Any, count: Any) -> int:
    if not (isinstance(old, type(text)) and isinstance(new, type(text))):
        return len(text)
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return int(len(text) + found * (len(new) - len(old)))


def _pre_center(value: Any, width: Any = 80) -> None:
    check_width(width, "|center")


def _pre_indent(s: Any, width: Any = 4, first: bool = False, blank: bool = False) -> None:
    step = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    text = str(s)
    check_size(len(text) + (text.count("\n") + 1) * step, "|indent")


def _pre_replace(s: Any, old: Any, new: Any, count: Any = None) -> None:
    check_size(replaced_size(str(s), old, new, -1 if count is None else count), "|replace")


def _pre_wordwrap(s: Any, width: Any = 79, break_long_words: Any = True, wrapstring: Any = None, **_: Any) -> None:
    text = str(s)
    if isinstance(wrapstring, str) and len(wrapstring) > 1:
        # At most: a line per word, one more per `width` characters of a long word, one per line given.
        lines = len(text.split()) + len(text) // max(width if isinstance(width, int) else 1, 1) + text.count("\n") + 1
        check_size(len(text) + lines * len(wrapstring), "|wordwrap")


def _pre_join(value: Any, d: Any = "", attribute: Any = None) -> None:
    items = value if isinstance(value, list | tuple) else []
    check_size((len(d) if isinstance(d, str) else 0) * max(len(items) - 1, 0), "|join")
    size = 0
    for item in () if attribute else items:
        size += len(item) if isinstance(item, str) else text_size(item)
        if size > MAX_CHARS:
            check_size(size, "|join")


def _pre_format(value: Any, *args: Any, **kwargs: Any) -> None:
    check_percent(value, kwargs or args)


def _pre_batch(value: Any, linecount: Any, fill_with: Any = None) -> None:
    if fill_with is not None:
        check_width(linecount, "|batch")


def _pre_slice(value: Any, slices: Any, fill_with: Any = None) -> None:
    check_width(slices, "|slice")


TEXT_FILTERS = frozenset(  # the filters that turn their value into text first
    {"capitalize", "center", "e", "escape", "forceescape", "format", "indent", "lower", "pprint", "replace", "safe"}
    | {"string", "striptags", "title", "tojson", "trim", "truncate", "upper", "urlencode", "urlize", "wordcount"}
    | {"wordwrap", "xmlattr"}
)
PRECHECKS: dict[str, Callable[..., None]] = {
    "center": _pre_center,
    "indent": _pre_indent,
    "replace": _pre_replace,
    "wordwrap": _pre_wordwrap,
    "join": _pre_join,
    "format": _pre_format,
    "batch": _pre_batch,
    "slice": _pre_slice,
}


def check_number(bits: int, built_by: str) -> None:
    if bits > MAX_NUMBER_BITS:
        raise TemplateLimit(
            f"computes with {built_by} a number of more than {MAX_NUMBER_BITS:,} bits; use smaller numbers"
        )


@pass_environment
def linear_sum(environment: Environment, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
    """|sum, but lists added up in one pass: sum() copies the whole list once per item (100,000 small lists,
    each within bounds, took it 8-40 s in C, where nothing can stop it but a kill)."""
    if not isinstance(start, list | tuple):
        return FILTERS["sum"](environment, iterable, attribute, start)
    if attribute is not None:
        iterable = map(make_attrgetter(environment, attribute), iterable)
    items = list(iterable)
    if not all(isinstance(item, type(start)) for item in items):
        return sum(items, start)  # what sum() says about adding a list and something else
    check_size(len(start) + sum(len(item) for item in items), "|sum")
    return type(start)(chain(start, *items))


def lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    check_size(n * max * 12, "lipsum()")  # 12: about the longest word and its space
    return generate_lorem_ipsum(n, html, min, max)
