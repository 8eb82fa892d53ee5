"""The cache of NiceGUI's versioned files, in front of a small app that counts what reaches it."""

from __future__ import annotations

import asyncio

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

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
