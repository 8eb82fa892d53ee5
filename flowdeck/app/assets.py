"""NiceGUI's versioned files (Vue, Quasar, its components, the canvas bundle) served from memory, compressed once.

Otherwise each of these files goes through NiceGUI's whole middleware stack on every request (three
BaseHTTPMiddleware layers, the session cookie, and gzip at level 9), all on the one event loop, which delays a
first page load (bench/README.md).

The cache keeps only what the app itself declares immutable (a 200 answer with `Cache-Control: ... immutable`,
which NiceGUI gives every file under its versioned prefix): the first request for a file is answered by the
app, uncompressed (at once: a first page load does not wait for compression), and remembered; later ones
come from memory, gzipped once on a worker thread. Only a complete answer is kept, and the first one is always
completed: Starlette's file answer stops sending at a disconnect, so a browser leaving a page mid-load would
otherwise leave an empty file in the cache and break every later page load (bench/README.md).
"""

from __future__ import annotations

import asyncio
import gzip
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BYTES = 64 * 1024 * 1024  # what the cache may hold in all: far more than NiceGUI's files and the bundle
_COMPRESSIBLE = (b"text/", b"application/javascript", b"application/json", b"image/svg+xml")
_MIN_COMPRESS = 500  # bytes: smaller bodies are sent as they are (as Starlette's GZipMiddleware does)
# Headers of the captured answer that would be wrong to repeat to someone else, or that are set per answer.
_DROP = frozenset({b"set-cookie", b"content-length", b"content-encoding", b"vary", b"date", b"server"})


@dataclass
class Asset:
    headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: bytes | None
    compressible: bool
    gzipped: bytes | None = None  # made on a worker thread after the first answer (which goes out plain)


class AssetCache:
    """ASGI middleware: GET requests under `prefix` (except `skip`) are answered from memory once seen."""

    def __init__(self, app: ASGIApp, prefix: str, skip: tuple[str, ...] = ()) -> None:
        self.app = app
        self.prefix = prefix
        self.skip = skip
        self._assets: dict[str, Asset] = {}
        self._bytes = 0
        self._compressing: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not path.startswith(self.prefix)
            or path.startswith(self.skip)
            or scope.get("query_string")
        ):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if "range" in headers:
            await self.app(scope, receive, send)
            return
        asset = self._assets.get(path)
        if asset is None:
            asset = await self._capture(scope, receive, send)
            if asset is None:
                return  # the app's own answer went out as it was
            if path not in self._assets and self._bytes + 2 * len(asset.body) <= MAX_BYTES:
                self._assets[path] = asset
                self._bytes += 2 * len(asset.body)  # with room for its gzipped form
                if asset.compressible:
                    task = asyncio.get_running_loop().create_task(_compress(asset))
                    self._compressing.add(task)
                    task.add_done_callback(self._compressing.discard)
        await _answer(asset, headers, send)

    async def _capture(self, scope: Scope, receive: Receive, send: Send) -> Asset | None:
        """Ask the app for the file, uncompressed. A complete 200 answer declared immutable is returned to be
        kept; any other answer is sent on to the client at once, as the app gave it."""
        plain = [(k, v) for k, v in scope["headers"] if k not in (b"accept-encoding", b"if-none-match")]
        messages: list[Message] = []
        asked = False

        async def request_only() -> Message:
            """The request (a GET has no body), then nothing: a client that goes away meanwhile (a browser
            leaving the page) must not cut the capture short. Starlette's file answer stops at a disconnect
            without sending anything, which its middleware then reports as an error ("No response returned")."""
            nonlocal asked
            if not asked:
                asked = True
                return await receive()
            await asyncio.Event().wait()  # cancelled by the app once its answer is complete
            raise AssertionError("unreachable")

        async def collect(message: Message) -> None:
            messages.append(message)

        await self.app({**scope, "headers": plain}, request_only, collect)
        start = messages[0] if messages else {}
        head = [(k.lower(), v) for k, v in start.get("headers", [])]
        last = messages[-1] if messages else {}
        complete = last.get("type") == "http.response.body" and not last.get("more_body", False)
        immutable = any(k == b"cache-control" and b"immutable" in v for k, v in head)
        if start.get("status") != 200 or not immutable or not complete:
            for message in messages:
                await send(message)
            return None
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        kind = next((v for k, v in head if k == b"content-type"), b"")
        etag = next((v for k, v in head if k == b"etag"), None)
        compressible = len(body) >= _MIN_COMPRESS and kind.startswith(_COMPRESSIBLE)
        return Asset([(k, v) for k, v in head if k not in _DROP], body, etag, compressible)


async def _compress(asset: Asset) -> None:
    gzipped = await asyncio.to_thread(gzip.compress, asset.body, 9, mtime=0)
    if len(gzipped) < len(asset.body):
        asset.gzipped = gzipped


async def _answer(asset: Asset, request: Headers, send: Send) -> None:
    head = list(asset.headers)
    if asset.etag is not None and request.get("if-none-match") == asset.etag.decode():
        await send({"type": "http.response.start", "status": 304, "headers": head})
        await send({"type": "http.response.body", "body": b""})
        return
    body = asset.body
    if asset.compressible:
        head.append((b"vary", b"Accept-Encoding"))
        if asset.gzipped is not None and "gzip" in request.get("accept-encoding", ""):
            body = asset.gzipped
            head.append((b"content-encoding", b"gzip"))
    head.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": head})
    await send({"type": "http.response.body", "body": body})
