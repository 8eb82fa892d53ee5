"""Request bodies are capped before they are read, on every route, in front of everything else.

A body larger than its route's cap is refused with 413: at once when its Content-Length says so, else as soon as
the chunks read so far pass the cap (a chunked body announces no length). Nothing past the cap is read, parsed or
spooled to a temporary file, and the connection is closed, so the rest is never received.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("flowdeck.auth")

KIB = 1024
MIB = 1024 * KIB
FORM_BYTES = 8 * KIB  # /login's password form
API_BYTES = 1 * MIB  # a run request's inputs
# Anything else: NiceGUI's socket.io posts its messages (1,000,000 bytes at most) when websockets are unavailable.
DEFAULT_BYTES = 1 * MIB
MULTIPART_OVERHEAD = 64 * KIB  # a multipart upload's boundaries and part headers around the file


class BodyLimit:
    """ASGI middleware refusing request bodies over their route's cap with 413, before they are read."""

    def __init__(self, app: ASGIApp, *, upload_bytes: int) -> None:
        self.app = app
        self.caps: Sequence[tuple[re.Pattern[str], int, str]] = (
            (re.compile(r"/log(in|out)"), FORM_BYTES, "a login form"),
            (re.compile(r"/api/.*"), API_BYTES, "an API request"),
            # ui.upload posts its file here (the Import dialog's workflow file).
            (re.compile(r"/_nicegui/client/[^/]+/upload/[^/]+"), upload_bytes + MULTIPART_OVERHEAD, "an upload"),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap, what = self.cap(scope["path"])
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > cap):
            await _too_large(send, cap, what)
            return
        read = 0
        refused = started = False

        async def capped_receive() -> Message:
            nonlocal read, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > cap:
                    refused = True
                    if not started:
                        await _too_large(send, cap, what)
                    log.warning("refused a body over %s bytes sent to %s", f"{cap:,}", scope["path"])
                    return {"type": "http.disconnect"}  # the app stops reading, as if the client had gone
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the app's answer to the body it was not given: 413 was sent instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped_receive, tracked_send)
        except Exception:
            if not refused:
                raise
            # What the app raised on finding the body cut short (a client disconnect) is no error of its own.

    def cap(self, path: str) -> tuple[int, str]:
        """The largest body accepted at this path (bytes), and what the route takes."""
        for pattern, cap, what in self.caps:
            if pattern.fullmatch(path):
                return cap, what
        return DEFAULT_BYTES, "this request"


async def _too_large(send: Send, cap: int, what: str) -> None:
    detail = f"the request body is too large: {what} takes at most {cap:,} bytes; send less"
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),  # the rest of the body is never read
        (b"x-content-type-options", b"nosniff"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
