"""The cache of NiceGUI's versioned files, in front of a small app that counts what reaches it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from flowdeck.app.assets import AssetCache

SCRIPT = b"console.log('hello');\n" * 100
IMMUTABLE = {"cache-control": "public, max-age=31536000, immutable", "etag": '"v1"', "set-cookie": "session=abc"}


def app_and_hits() -> tuple[AssetCache, list[str]]:
    hits: list[str] = []

    async def asset(request: Request) -> Response:
        asked = " (gzip asked)" if "gzip" in request.headers.get("accept-encoding", "") else ""
        hits.append(request.url.path + asked)
        await asyncio.sleep(0.01)
        return Response(SCRIPT, media_type="text/javascript", headers=IMMUTABLE)

    async def changing(request: Request) -> Response:
        hits.append(request.url.path)
        return Response(b"now", media_type="text/plain")

    async def missing(request: Request) -> Response:
        hits.append(request.url.path)
        return Response(b"no", status_code=404)

    routes = [Route("/v/app.js", asset), Route("/v/now.txt", changing), Route("/v/gone.js", missing)]
    routes.append(Route("/v/dynamic/x.js", asset))
    return AssetCache(Starlette(routes=routes), "/v/", skip=("/v/dynamic/",)), hits


async def get(app: AssetCache, path: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.get(path, headers=headers)


async def test_an_immutable_file_is_asked_once_then_served_from_memory_gzipped() -> None:
    app, hits = app_and_hits()
    first = await get(app, "/v/app.js", **{"accept-encoding": "gzip"})  # plain, at once: not kept waiting
    assert first.status_code == 200 and first.content == SCRIPT and "set-cookie" not in first.headers
    assert "content-encoding" not in first.headers and first.headers["vary"] == "Accept-Encoding"
    for _ in range(200):  # compressed on a worker thread meanwhile
        answer = await get(app, "/v/app.js", **{"accept-encoding": "gzip"})
        if "content-encoding" in answer.headers:
            break
        await asyncio.sleep(0.01)
    answers = [await get(app, "/v/app.js", **{"accept-encoding": "gzip"}) for _ in range(3)]
    assert hits == ["/v/app.js"]  # asked once, for the plain body
    for answer in answers:
        assert answer.status_code == 200 and answer.content == SCRIPT
        assert answer.headers["content-encoding"] == "gzip" and answer.headers["vary"] == "Accept-Encoding"
        assert answer.headers["cache-control"] == IMMUTABLE["cache-control"] and "set-cookie" not in answer.headers
        assert int(answer.headers["content-length"]) < len(SCRIPT) / 10
    plain = await get(app, "/v/app.js", **{"accept-encoding": "identity"})
    assert plain.content == SCRIPT and "content-encoding" not in plain.headers
    assert plain.headers["content-length"] == str(len(SCRIPT))


async def test_a_matching_etag_gets_not_modified() -> None:
    app, _ = app_and_hits()
    await get(app, "/v/app.js")
    answer = await get(app, "/v/app.js", **{"if-none-match": '"v1"'})
    assert answer.status_code == 304 and answer.content == b"" and answer.headers["etag"] == '"v1"'


async def test_what_is_not_declared_immutable_or_not_found_always_reaches_the_app() -> None:
    app, hits = app_and_hits()
    for path in ("/v/now.txt", "/v/gone.js", "/v/dynamic/x.js", "/v/app.js?x=1"):
        for _ in range(2):
            answer = await get(app, path)
            assert answer.status_code == (404 if "gone" in path else 200)
    assert hits[:6] == ["/v/now.txt"] * 2 + ["/v/gone.js"] * 2 + ["/v/dynamic/x.js (gzip asked)"] * 2
    assert hits[6:] == ["/v/app.js (gzip asked)"] * 2
    ranged = await get(app, "/v/app.js", range="bytes=0-9")
    assert ranged.status_code == 200 and len(hits) == 9


async def test_a_client_gone_before_the_first_answer_leaves_the_file_cached_and_no_error(tmp_path: Path) -> None:
    """A browser leaving a page aborts its file requests; the first one for a file is still completed (quietly:
    the departed client's answer goes nowhere) and kept, and starlette reports no 'No response returned'."""
    script = tmp_path / "bundle.js"
    script.write_bytes(SCRIPT)
    hits: list[str] = []

    async def bundle(request: Request) -> Response:
        hits.append(request.url.path)
        return FileResponse(script, headers={"cache-control": IMMUTABLE["cache-control"]})

    class Passing(BaseHTTPMiddleware):  # as NiceGUI's own middlewares are
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            return await call_next(request)

    app = AssetCache(Passing(Starlette(routes=[Route("/v/bundle.js", bundle)])), "/v/")
    sent: list[Message] = []
    messages = iter([{"type": "http.request", "body": b"", "more_body": False}, {"type": "http.disconnect"}])

    async def receive() -> Message:
        return next(messages)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/v/bundle.js", "headers": [], "query_string": b""}
    await app(scope, receive, send)
    assert sent[0]["status"] == 200  # what the departed client would have got
    answer = await get(app, "/v/bundle.js")
    assert answer.status_code == 200 and answer.content == SCRIPT and hits == ["/v/bundle.js"]


async def test_an_answer_cut_short_is_passed_on_and_not_kept() -> None:
    calls: list[int] = []

    async def cut_short(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(1)
        headers = [(b"cache-control", IMMUTABLE["cache-control"].encode()), (b"content-type", b"text/javascript")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": SCRIPT[:10], "more_body": True})  # and no more

    app = AssetCache(cut_short, "/v/")
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "GET", "path": "/v/app.js", "headers": [], "query_string": b""}
    for _ in range(2):
        await app(scope, receive, send)
    assert [m.get("more_body") for m in sent] == [None, True] * 2  # passed on as the app gave it, both times
    assert calls == [1, 1]
