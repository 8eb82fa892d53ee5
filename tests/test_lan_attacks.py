"""Attacks from a LAN on a shared flowdeck (issue 20), replayed against the real app in a subprocess: guesses sent
at once, floods from one address and from many, request bodies that never end, and more followers than it serves.
Other client addresses are loopback ones (127.0.0.2, ...), which the app tells apart as a LAN's would be."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.appserver import running_app

PASSWORD = "editor password 1"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("attacks")
    with running_app(root / "home", root / "server.log", env={"FLOWDECK_PASSWORD": PASSWORD}) as url:
        yield url


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


async def _logins(url: str, address: str, passwords: list[str], *, one_by_one: bool = False) -> list[int]:
    """POST /login from `address` with each password, all at once (or one after another): the statuses."""
    transport = httpx.AsyncHTTPTransport(local_address=address, limits=httpx.Limits(max_connections=None))
    async with httpx.AsyncClient(base_url=url, transport=transport, timeout=60) as client:

        async def one(password: str) -> int:
            return (await client.post("/login", data={"password": password}, headers={"Origin": url})).status_code

        if one_by_one:
            return [await one(password) for password in passwords]
        return list(await asyncio.gather(*(one(password) for password in passwords)))
