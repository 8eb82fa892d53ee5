"""The network tools: `fetch` (GET a URL, readable text back) and `http_request` (any method; headers may name saved
secrets). Both go through the egress guard; a refusal or a failure is a result with ok=False that names the cause.

Secrets: a header value may contain {{secret:NAME}}, replaced by the value of the saved secret NAME just before the
request is sent. The value never appears in the result, its detail or an error (every occurrence, also in the
response the server sent back, is replaced by [redacted]); it is never sent along a redirect to another origin.
Secrets cannot be used in the URL or the body, where they would end up in logs."""

from __future__ import annotations

import asyncio
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from flowdeck.engine.tools import MAX_RESULT_CHARS, ToolResult
from flowdeck.tools.arguments import FetchArgs, HttpRequestArgs
from flowdeck.tools.egress import Egress, EgressError, EgressRefused, Response
from flowdeck.tools.text import cut, html_to_text, is_html, is_text

__all__ = ["SECRET_SYNTAX", "SecretLookup", "Web"]

SecretLookup = Callable[[str], "str | None"]
SECRET_SYNTAX = "{{secret:NAME}}"
_SECRET = re.compile(r"\{\{\s*secret:([A-Za-z_][A-Za-z0-9_]{0,127})\s*\}\}")
_ANY_SECRET = re.compile(r"\{\{\s*secrets?\s*[:.]", re.IGNORECASE)
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
# Framing, routing and encoding headers come from the URL, the body and the guard (which reads only identity, gzip
# and deflate bodies, bounded); a caller's own would contradict them.
_SET_BY_TOOL = {
    "host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer",
    "proxy-authorization", "proxy-connection", "accept-encoding",
}  # fmt: skip
MAX_HEADER_CHARS = 8_000
REDACTED = "[redacted]"


class Web:
    """fetch and http_request for one run: its egress guard and its way to look up saved secrets."""

    def __init__(self, egress: Egress, secrets: SecretLookup) -> None:
        self.egress = egress
        self.secrets = secrets

    async def fetch(self, args: FetchArgs) -> ToolResult:
        detail: dict[str, Any] = {"url": args.url, "status": None}
        try:
            response = await self.egress.request("GET", args.url)
        except EgressError as e:
            return _failed(str(e), detail, refused=isinstance(e, EgressRefused))
        # Reducing up to 2 MB of HTML takes a second or two: off the event loop.
        return await asyncio.to_thread(
            _result, response, detail, readable=True, cap=self.egress.limits.max_response_bytes
        )

    async def http_request(self, args: HttpRequestArgs) -> ToolResult:
        hide = _Redactor()
        detail: dict[str, Any] = {"method": args.method, "url": args.url, "status": None}
        try:
            if _ANY_SECRET.search(args.url) or _ANY_SECRET.search(args.body):
                raise EgressRefused(
                    f"secrets can only be used in header values ({SECRET_SYNTAX}), not in the URL or body"
                )
            if args.body and args.method in ("GET", "HEAD"):
                raise EgressRefused(f"a {args.method} request has no body: use POST, PUT or PATCH to send one")
            headers, private = await self._headers(args.headers, hide)
            response = await self.egress.request(
                args.method, args.url, headers=headers, body=args.body.encode() if args.body else None,
                private_headers=private,
            )  # fmt: skip
        except EgressError as e:
            return hide.result(_failed(str(e), detail, refused=isinstance(e, EgressRefused)))
        return hide.result(_result(response, detail, readable=False, cap=self.egress.limits.max_response_bytes))

    async def _headers(self, given: dict[str, str], hide: _Redactor) -> tuple[dict[str, str], set[str]]:
        """The headers with secrets filled in, and the names of those that carry one."""
        headers: dict[str, str] = {}
        private: set[str] = set()
        for name, value in given.items():
            if not _TOKEN.match(name):
                raise EgressRefused(f"{name!r} is not a valid header name (letters, digits and -)")
            if name.lower() in _SET_BY_TOOL:
                raise EgressRefused(f"the header {name} is set by the tool from the URL and body: remove it")
            if len(value) > MAX_HEADER_CHARS:
                raise EgressRefused(f"the header {name} is over {MAX_HEADER_CHARS:,} characters")
            if not _sendable(value):
                raise EgressRefused(
                    f"the header {name} has a line break, a control character or a non-ASCII character: header "
                    "values are plain ASCII text"
                )
            filled = await self._fill(name, value, hide)
            if filled != value:
                private.add(name.lower())
            headers[name] = filled
        return headers, private

    async def _fill(self, header: str, value: str, hide: _Redactor) -> str:
        names = _SECRET.findall(value)
        if len(names) != len(_ANY_SECRET.findall(value)):
            raise EgressRefused(
                f"the header {header} refers to a secret in a form that is not understood: write {SECRET_SYNTAX}, "
                "where NAME is the saved secret's name (letters, digits and _)"
            )
        values: dict[str, str] = {}
        for name in names:
            secret = await asyncio.to_thread(self.secrets, name)
            if not secret:
                raise EgressRefused(
                    f"no saved secret is named {name}: save it first (`flowdeck secrets set {name}`), then refer to it "
                    f"as {{{{secret:{name}}}}}"
                )
            hide.add(secret)
            if not _sendable(secret):  # said before httpx could quote the value in its own error
                raise EgressRefused(
                    f"the saved secret {name} has a line break, a control character or a non-ASCII character: it "
                    "cannot be sent in a header"
                )
            values[name] = secret
        return _SECRET.sub(lambda m: values[m.group(1)], value)


class _Redactor:
    """Replaces the values of the secrets a call used, wherever they show up in its result."""

    def __init__(self) -> None:
        self.values: list[str] = []

    def add(self, secret: str) -> None:
        for form in (secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)):
            if form and form not in self.values:
                self.values.append(form)
        self.values.sort(key=len, reverse=True)

    def text(self, text: str) -> str:
        for value in self.values:
            text = text.replace(value, REDACTED)
        return text

    def result(self, result: ToolResult) -> ToolResult:
        if not self.values:
            return result
        detail = {k: self.text(v) if isinstance(v, str) else v for k, v in result.detail.items()}
        return ToolResult(content=self.text(result.content), ok=result.ok, artifacts=result.artifacts, detail=detail)


def _result(response: Response, detail: dict[str, Any], *, readable: bool, cap: int) -> ToolResult:
    content_type = response.headers.get("content-type", "")
    head = f"HTTP {response.status} {response.reason} from {response.url}"
    if response.cut:
        head += f"\n[the body was longer than the limit and was cut at {cap:,} bytes]"
    if not is_text(content_type):
        body = f"(a {content_type} body of {len(response.body):,} bytes: not text, not shown)"
    else:
        body = _decode(response.body, response.charset)
        if readable and is_html(content_type):
            body = html_to_text(body)
    if not readable and content_type:
        head += f"\ncontent-type: {content_type}"
    detail = {**detail, "status": response.status}
    if response.redirects:
        detail["final_url"] = response.url
    return ToolResult(content=cut(f"{head}\n\n{body}", MAX_RESULT_CHARS), ok=response.status < 400, detail=detail)


def _sendable(value: str) -> bool:
    return all(c == "\t" or " " <= c <= "~" for c in value)


def _failed(reason: str, detail: dict[str, Any], *, refused: bool) -> ToolResult:
    return ToolResult(content=reason, ok=False, detail={**detail, "error": reason, "refused": refused})


def _decode(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8", errors="replace")
