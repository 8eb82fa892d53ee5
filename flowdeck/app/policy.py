"""The Content-Security-Policy of every answer: the page fetches, posts and connects to flowdeck alone, and keeps
no style sheet that flowdeck did not put there.

The second wall behind the sanitizer (components/markup.py): whatever markup slipped into a page could still
not load an image, style sheet or font from elsewhere, send a form elsewhere, connect elsewhere, embed an
object, move the page's base address, or restyle the page with a <style> element. NiceGUI needs what the policy
still allows: its page starts with inline scripts and Vue compiles templates in the browser ('unsafe-eval'), and
Quasar and Vue set style attributes ('unsafe-inline' for attributes only).

<style> elements need the page's nonce, fresh for each HTML answer. The server's own (NiceGUI's page template, the
components' styles, the login page) get it here, in the HTML before NiceGUI's page data (whose markup is escaped
there: none of it is an element). Those that the page's scripts make (ui.add_css, the canvas, CodeMirror) get it
from document.createElement, which a first script in <head> wraps: markup put into the page (innerHTML, v-html)
never passes through it, so a <style> element in it is refused. Checked in Chromium: every page loads with no CSP
violation, and an injected <style> is refused (tests/e2e/test_hostile_output.py).
"""

from __future__ import annotations

import asyncio
import gzip
import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_DIRECTIVES = [
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",  # browsers without the two below (before 2022) keep the policy of before
    "style-src-elem 'self'{nonce}",
    "style-src-attr 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "media-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
]
CONTENT_SECURITY_POLICY = "; ".join(_DIRECTIVES).format(nonce="")  # of an answer that is not HTML
_OTHER_HEADERS = [(b"x-dns-prefetch-control", b"off")]  # a link's host is not looked up before anyone clicks it

_PAGE_DATA = b"parseElements("  # NiceGUI's page data starts here: nothing after it is given the nonce
_STYLE = re.compile(rb"<style(?=[\s/>])", re.IGNORECASE)
_HEAD = re.compile(rb"<head(?:\s[^>]*)?>", re.IGNORECASE)
# Every <style> a script of the page makes carries the nonce (Vue's own and the canvas's call createElement).
_WRAP = (
    "<script>(()=>{{const n='{nonce}',make=Document.prototype.createElement;"
    "Document.prototype.createElement=function(tag,options){{const e=make.call(this,tag,options);"
    "if(String(tag).toLowerCase()==='style')e.nonce=n;return e}}}})();</script>"
)
_THREAD_BYTES = 256 * 1024  # a larger page (or any gzipped one) is given its nonces on a worker thread


def policy(nonce: str | None = None) -> str:
    """The policy of an answer: with the nonce its <style> elements carry, if it is HTML."""
    return "; ".join(_DIRECTIVES).format(nonce=f" 'nonce-{nonce}'" if nonce else "")


class PagePolicy:
    """ASGI middleware adding the policy to every HTTP answer, and its nonce to the <style> elements of HTML ones."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: Message | None = None  # the start of an HTML answer, sent once its body is complete
        body: list[bytes] = []

        async def send_with_policy(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                if _html(headers):
                    held = message
                    return
                message["headers"] = [*headers, (b"content-security-policy", CONTENT_SECURITY_POLICY.encode())]
                message["headers"] += _OTHER_HEADERS
            elif held is not None and message["type"] == "http.response.body":
                body.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                start, held = held, None
                await _send_page(start, b"".join(body), send)
                return
            elif held is not None:  # not a body (a server extension): the answer goes as it is, its styles refused
                start, held = held, None
                start["headers"] = [*start["headers"], (b"content-security-policy", CONTENT_SECURITY_POLICY.encode())]
                await send(start)
            await send(message)

        await self.app(scope, receive, send_with_policy)


async def _send_page(start: Message, body: bytes, send: Send) -> None:
    nonce = secrets.token_urlsafe(18)
    headers = list(start.get("headers", []))
    encoding = next((value.lower() for name, value in headers if name.lower() == b"content-encoding"), b"")
    if body and encoding in (b"", b"gzip"):
        gzipped = encoding == b"gzip"
        if gzipped or len(body) > _THREAD_BYTES:  # gzip again: ~8 ms for a 1,000-agent editor (bench/README.md)
            body = await asyncio.to_thread(_nonced, body, nonce, gzipped)
        else:
            body = _nonced(body, nonce, gzipped)
        headers = [(n, v) for n, v in headers if n.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
    headers += [(b"content-security-policy", policy(nonce).encode()), *_OTHER_HEADERS]
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _nonced(body: bytes, nonce: str, gzipped: bool) -> bytes:
    """The page with the nonce on its own <style> elements and the script that gives it to those made later."""
    page = gzip.decompress(body) if gzipped else body
    own, data, rest = page.partition(_PAGE_DATA)
    attribute = f'<style nonce="{nonce}"'.encode()
    own = _STYLE.sub(lambda _: attribute, own)
    own = _HEAD.sub(lambda head: head[0] + _WRAP.format(nonce=nonce).encode(), own, count=1)
    page = own + data + rest
    return gzip.compress(page, compresslevel=6, mtime=0) if gzipped else page


def _html(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(name.lower() == b"content-type" and value.lower().startswith(b"text/html") for name, value in headers)
