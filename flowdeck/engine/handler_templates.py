"""The templates of compensation handlers: rendered in the sandbox with the effect entry as data (`effect`), and
limited to what cannot run away — values, conditions, joining text, the filters urlencode and tojson, and
secret('NAME') for a saved secret — so a handler from an imported file can be rendered in the server's own process."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import TemplateSyntaxError, nodes

from flowdeck.engine.sandbox import PLAIN_NODES, bounded, compile_template, parse

FILTERS = frozenset({"urlencode", "tojson", "lower", "upper", "trim"})
NAMES = frozenset({"effect", "run", "secret"})


class HandlerTemplateError(ValueError):
    """A handler's template that is not allowed or does not parse; the message names the problem and the fix."""


def secrets_in(source: str) -> list[str]:
    """Check a handler's template; return the names of the saved secrets it reads (listed in the approval)."""
    try:
        tree = parse(source)
    except TemplateSyntaxError as exc:
        raise HandlerTemplateError(f"the template does not parse (line {exc.lineno}): {exc.message}") from None
    secrets: list[str] = []
    for node in tree.find_all(nodes.Node):
        if isinstance(node, nodes.Call):
            if not (
                isinstance(node.node, nodes.Name)
                and node.node.name == "secret"
                and len(node.args) == 1
                and not node.kwargs
                and isinstance(node.args[0], nodes.Const)
                and isinstance(node.args[0].value, str)
            ):
                raise HandlerTemplateError("the only call a handler's template may make is secret('NAME')")
            secrets.append(node.args[0].value)
        elif isinstance(node, nodes.Filter):
            if node.name not in FILTERS:
                raise HandlerTemplateError(
                    f"a handler's template may use the filters {', '.join(sorted(FILTERS))}, not |{node.name}"
                )
        elif isinstance(node, nodes.Name):
            if node.name not in NAMES:
                raise HandlerTemplateError(
                    f"a handler's template reads effect, run and secret('NAME'), not {node.name!r}"
                )
        elif not isinstance(node, PLAIN_NODES) and not isinstance(node, nodes.Keyword):
            raise HandlerTemplateError(
                f"a handler's template may print values, test conditions and use filters, not {type(node).__name__}"
            )
    return secrets


def render(source: str, effect: Mapping[str, Any], run: Mapping[str, Any], secret: Callable[[str], str | None]) -> str:
    """Render a checked template. An unknown secret is an error naming it (never an empty string sent on)."""
    secrets_in(source)

    def lookup(name: str) -> str:
        value = secret(name)
        if value is None:
            raise HandlerTemplateError(f"no saved secret is named {name!r}: save it with `flowdeck secrets set {name}`")
        return value

    with bounded():
        text: str = compile_template(source).render(effect=dict(effect), run=dict(run), secret=lookup)
    return text
