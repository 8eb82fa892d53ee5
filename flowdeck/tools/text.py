"""A fetched page as text a model can read: HTML reduced to its words, one block per line, scripts and styles
dropped, entities decoded.

A page is hostile input, so this is one linear pass with str.find, not a parser: the standard library's HTMLParser
took 97 s on 100 KB of "<a b=" (Python 3.11.7) and HTML5 tree builders (lexbor, html5lib) grow with the square of
the nesting depth (400,000 unclosed <div>: over 2 minutes). Tags are not matched, only removed."""

from __future__ import annotations

import html
import re

__all__ = ["cut", "html_to_text", "is_html", "is_text"]

_SKIP = {"script", "style", "noscript", "template", "svg", "iframe", "object", "canvas", "textarea"}
_BLOCK = {
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "figure", "footer",
    "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section",
    "table", "td", "th", "tr", "ul", "title",
}  # fmt: skip
_CLOSE = {tag: re.compile(f"</{tag}", re.IGNORECASE) for tag in _SKIP}
_NAME = re.compile(r"/?([a-zA-Z][a-zA-Z0-9-]{0,30})")
_TEXT_TYPES = ("application/json", "application/xml", "application/javascript", "application/x-www-form-urlencoded")


def is_html(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in ("text/html", "application/xhtml+xml")


def is_text(content_type: str) -> bool:
    kind = content_type.split(";")[0].strip().lower()
    return not kind or kind.startswith("text/") or kind in _TEXT_TYPES or kind.endswith(("+json", "+xml"))


def html_to_text(page: str) -> str:
    """The page's visible text (its title first), whitespace collapsed, in time linear in its length."""
    parts: list[str] = []
    i, n = 0, len(page)
    while i < n:
        lt = page.find("<", i)
        if lt < 0:
            parts.append(page[i:])
            break
        parts.append(page[i:lt])
        if page.startswith("<!--", lt):
            end = page.find("-->", lt + 4)
            i = n if end < 0 else end + 3
            continue
        name = _NAME.match(page, lt + 1)
        if name is None and not page.startswith(("<!", "<?"), lt):
            parts.append("<")  # "a < b" is text
            i = lt + 1
            continue
        gt = page.find(">", lt + 1)
        if gt < 0:
            break  # an unclosed tag: what follows is inside it
        i = gt + 1
        tag = name.group(1).lower() if name is not None else ""
        closing = page[lt + 1] == "/"
        if tag in _SKIP and not closing:
            close = _CLOSE[tag].search(page, i)
            i = n if close is None else (page.find(">", close.start()) + 1 or n)
        elif tag in _BLOCK:
            parts.append("\n")
    text = html.unescape("".join(parts))
    lines = (re.sub(r"[ \t\r\f\v\xa0]+", " ", line).strip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def cut(text: str, limit: int) -> str:
    """The text, or its first `limit` characters and a note saying it was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[… cut at {limit:,} characters of {len(text):,}]"
