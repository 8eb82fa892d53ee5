"""Model text as HTML: markdown rendered on the server, then cleaned by a strict allow-list (ammonia, via nh3).

What a model writes may restyle or track the page if shown as it is: a <style> hiding the header, a form asking
for a password, an image or CSS url() that every viewer's browser fetches. What is left is text, emphasis,
lists, tables, quotes, highlighted code and links that fetch nothing by themselves: no styles (no <style>, no
style attribute, no class but the code highlighter's), no forms or controls, no images or other resources (an
image becomes its alt text). The page's Content-Security-Policy (flowdeck/app/policy.py) is the second wall.
"""

from __future__ import annotations

import html
import re
from functools import cache, lru_cache

import nh3

# As ui.markdown (code blocks highlighted by pygments), and as GitHub reads it: snake_case names keep their
# underscores (no emphasis inside a word), and a list may follow a paragraph's line without a blank line.
_MARKDOWN_EXTRAS: dict[str, object] = {
    "fenced-code-blocks": None,
    "tables": None,
    "middle-word-em": False,
    "cuddled-lists": None,
}

_TAGS = {
    *("p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "div", "span", "pre", "code", "kbd"),
    *("strong", "b", "em", "i", "u", "s", "del", "ins", "mark", "sub", "sup", "small", "abbr", "q", "cite"),
    *("ul", "ol", "li", "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption"),
    *("a", "img"),  # an img keeps only its alt, and becomes that text (below)
}
_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "img": {"alt"}, "ol": {"start"}}
_ALIGN = {"align": {"left", "right", "center"}}
_SCHEMES = {"http", "https", "mailto"}
# markdown2 aligns table columns with a style attribute; kept as the (fetch-free) align attribute instead.
_CELL_ALIGN = re.compile(r'<(t[hd]) style="text-align:(left|right|center);">')
# ammonia writes an image left with its alt alone in exactly this form (quotes in the value are escaped).
_IMAGE = re.compile(r'<img(?: alt="([^"]*)")?>')


@lru_cache(maxsize=128)
def render_markdown(text: str) -> str:
    """Markdown to HTML that is safe to show: rendered as ui.markdown does, then cleaned. Cached for replays,
    which show the same outputs again; kept small, as an output can be long."""
    if not text:
        return ""
    import markdown2  # ~50 ms to import: not on the app's start path

    return clean_html(str(markdown2.markdown(text, extras=_MARKDOWN_EXTRAS)))


def clean_html(markup: str) -> str:
    """Only the allowed tags and attributes of `markup`; each image replaced by its alt text."""
    markup = _CELL_ALIGN.sub(r'<\1 align="\2">', markup)
    cleaned = nh3.clean(
        markup,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        tag_attribute_values={"th": _ALIGN, "td": _ALIGN},
        allowed_classes=_highlight_classes(),
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        clean_content_tags={"script", "style", "template", "noscript", "title", "textarea", "select"},
        strip_comments=True,
    )
    return _IMAGE.sub(lambda found: html.escape(html.unescape(found.group(1) or ""), quote=False), cleaned)


@cache
def _highlight_classes() -> dict[str, set[str]]:
    """The classes pygments gives highlighted code (its short token names), and nothing else."""
    from pygments.token import STANDARD_TYPES

    tokens = {name for name in STANDARD_TYPES.values() if name}
    return {"div": {"codehilite"}, "span": tokens, "code": set(), "pre": set()}
