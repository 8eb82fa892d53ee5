"""Attacks from a LAN on a shared flowdeck (issue 20), replayed against the real app in a subprocess: guesses sent
at once, floods from one address and from many, request bodies that never end, and more followers than it serves.
Other client addresses are loopback ones (127.0.0.2, ...), which the app tells apart as a LAN's would be."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from flowdeck.auth import CredentialStore
from tests.appserver import running_app
from tests.streamed import post_streamed, spooled_bytes

PASSWORD = "editor password 1"
MIB = 1024 * 1024


@dataclass(frozen=True)
class Shared:
    url: str
    home: Path
    tmp: Path  # the app's temporary folder (TMPDIR)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    root = tmp_path_factory.mktemp("attacks")
    (root / "tmp").mkdir()
    env = {"FLOWDECK_PASSWORD": PASSWORD, "TMPDIR": str(root / "tmp")}
    with running_app(root / "home", root / "server.log", env=env) as url:
        yield Shared(url, root / "home", root / "tmp")


@pytest.fixture
def url(shared: Shared) -> str:
    return shared.url


def test_guesses_sent_at_once_are_counted_before_they_are_checked(url: str) -> None:
    # Found by an attack: 40 guesses sent at once were all checked, as each was counted only once it had failed.
    statuses = asyncio.run(_logins(url, "127.0.0.2", [f"guess {i}" for i in range(60)]))
    assert Counter(statuses) == {401: 5, 429: 55}


def test_a_flood_from_one_address_locks_out_no_other(url: str) -> None:
    # Found by an attack: the guesses of one address used up a limit shared by all, and the right password was
    # refused from every other address for 294 s.
    asyncio.run(_logins(url, "127.0.0.3", [f"guess {i}" for i in range(60)]))
    assert asyncio.run(_logins(url, "127.0.0.4", [PASSWORD])) == [303]
    assert asyncio.run(_logins(url, "127.0.0.3", [PASSWORD])) == [429]  # the flooding address waits, though


def test_under_a_flood_from_many_addresses_each_new_one_gets_one_try(tmp_path: Path) -> None:
    with running_app(tmp_path / "home", tmp_path / "server.log", env={"FLOWDECK_PASSWORD": PASSWORD}) as url:

        async def flood() -> list[int]:
            floods = [_logins(url, f"127.0.1.{n}", [f"guess {i}" for i in range(5)]) for n in range(1, 11)]
            return [status for statuses in await asyncio.gather(*floods) for status in statuses]

        assert Counter(asyncio.run(flood())) == {401: 50}  # the limit of failures from all addresses, reached
        assert asyncio.run(_logins(url, "127.0.2.1", [PASSWORD])) == [303]  # the right password still opens
        assert asyncio.run(_logins(url, "127.0.2.2", ["a wrong guess", "another"], one_by_one=True)) == [401, 429]


@pytest.mark.parametrize("filename", [None, "big.json"])
def test_a_chunked_body_too_large_for_the_login_form_is_refused_before_it_is_read(
    shared: Shared, filename: str | None
) -> None:
    # Found by an attack: a chunked multipart POST /login (no length announced) was read whole and spooled to the
    # temporary folder before anything was checked; three of 400 MB filled 1.2 GB. Now the body is cut at the cap
    # (a file part may be refused sooner still: the login form takes no file).
    watch = lambda: spooled_bytes(shared.home, shared.tmp)  # noqa: E731
    sent = post_streamed(
        shared.url, "/login", 64 * MIB, field="next", filename=filename, before={"password": "guess"}, watch=watch
    )
    if sent.status == 400:
        assert filename is not None and "Maximum number of files is 0" in sent.detail
    else:
        assert sent.status == 413, sent
        assert "a login form takes at most 8,192 bytes" in sent.detail
    assert sent.sent < 4 * MIB  # the app stopped reading: the rest never left this side
    assert sent.spooled == 0
    assert list(shared.tmp.iterdir()) == []
    assert asyncio.run(_logins(shared.url, f"127.0.0.{6 if filename else 5}", [PASSWORD])) == [303]  # still serving


@pytest.mark.parametrize(("path", "what"), [("/login", "a login form"), ("/api/v1/runs", "an API request")])
def test_a_body_announced_too_large_is_refused_unread(shared: Shared, path: str, what: str) -> None:
    sent = post_streamed(shared.url, path, 400 * MIB, chunked=False)
    assert sent.status == 413, sent
    assert f"{what} takes at most" in sent.detail
    assert sent.sent < 4 * MIB


def test_followers_past_the_cap_are_refused_and_pages_are_still_served(tmp_path: Path) -> None:
    # Found by an attack: 500 followers of a run's events at once stalled the server (/login took 17.6 s).
    tokens = [CredentialStore(tmp_path / "home").create_token(f"t{n}", "viewer") for n in range(9)]
    editor = "fdk_follower_test_token_0123456789"
    env = {"FLOWDECK_PASSWORD": PASSWORD, "FLOWDECK_API_TOKEN": editor}
    with running_app(tmp_path / "home", tmp_path / "server.log", env=env) as url:
        body = {"workflow": "research-code-review", "model": "scripted/latency=120"}
        run = httpx.post(url + "/api/v1/runs", json=body, headers=_bearer(editor)).json()["id"]
        try:
            asyncio.run(_follow_past_the_caps(url, run, tokens))
        finally:
            httpx.post(f"{url}/api/v1/runs/{run}/cancel", headers=_bearer(editor), timeout=30)


async def _follow_past_the_caps(url: str, run: str, tokens: list[str]) -> None:
    events = f"/api/v1/runs/{run}/events?follow=true"
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        opened: list[httpx.Response] = []

        async def follow(token: str) -> httpx.Response:
            response = await client.send(client.build_request("GET", events, headers=_bearer(token)), stream=True)
            opened.append(response)
            return response

        try:
            first = await asyncio.gather(*(follow(tokens[0]) for _ in range(8)))
            assert [r.status_code for r in first] == [200] * 8
            lines = first[0].aiter_lines()  # kept: an iterator let go of closes its stream
            assert (await anext(lines)).startswith('{"type":"run_started"')
            refused = await follow(tokens[0])  # a ninth of one token
            assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
            assert "this token follows 8 runs' events already" in (await refused.aread()).decode()

            others = await asyncio.gather(*(follow(token) for token in tokens[1:8] for _ in range(8)))
            assert [r.status_code for r in others] == [200] * 56  # other tokens have their own
            await refused.aclose()
            extra = await follow(tokens[8])  # the first of a token that follows nothing, but the 65th of all
            assert extra.status_code == 429 and int(extra.headers["retry-after"]) > 0
            assert "the server follows 64 event streams already" in (await extra.aread()).decode()

            # With every stream open, the pages and logins are still served.
            assert (await client.get("/login")).status_code == 200
            assert await _logins(url, "127.0.0.7", [PASSWORD]) == [303]

            await first[0].aclose()  # a stream that ends gives its slot back
            await asyncio.sleep(0.5)
            assert (await follow(tokens[0])).status_code == 200
        finally:
            for response in opened:
                await response.aclose()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _logins(url: str, address: str, passwords: list[str], *, one_by_one: bool = False) -> list[int]:
    """POST /login from `address` with each password, all at once (or one after another): the statuses."""
    transport = httpx.AsyncHTTPTransport(local_address=address, limits=httpx.Limits(max_connections=None))
    async with httpx.AsyncClient(base_url=url, transport=transport, timeout=60) as client:

        async def one(password: str) -> int:
            return (await client.post("/login", data={"password": password}, headers={"Origin": url})).status_code

        if one_by_one:
            return [await one(password) for password in passwords]
        return list(await asyncio.gather(*(one(password) for password in passwords)))
