"""The Content-Security-Policy of every answer: the page fetches, posts and connects to flowdeck alone.

The second wall behind the sanitizer (components/markup.py): whatever markup slipped into a page could still
not load an image, style sheet or font from elsewhere, send a form elsewhere, connect elsewhere, embed an
object or move the page's base address. NiceGUI needs what the policy still allows: its page starts with
inline scripts and Vue compiles templates in the browser ('unsafe-eval'), and Quasar sets inline styles.
Checked by loading every page under it in Chromium with no CSP violation (tests/e2e/test_hostile_output.py).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "media-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-dns-prefetch-control", b"off"),  # a link's host is not looked up before anyone clicks it
]


class PagePolicy:
    """ASGI middleware adding the policy to every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_policy)
