"""Credentials, sessions and the login limiter, through their public interfaces."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from flowdeck.auth import Authenticator, CredentialStore, Gate, LoginLimiter, register_login
from flowdeck.config import Settings, ensure_home, load_settings
from flowdeck.errors import ConfigError
from flowdeck.storage import open_database
from flowdeck.storage.sessions import SessionStore

PASSWORD = "a long enough password"


def test_passwords_are_stored_hashed_in_a_private_file(tmp_path: Path, settings: Settings) -> None:
    store = CredentialStore(tmp_path)
    store.set_password("editor", PASSWORD)
    text = store.path.read_text()
    assert PASSWORD not in text and "scrypt$" in text
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    auth = Authenticator(settings, store)
    assert auth.configured
    assert auth.login(PASSWORD) == "editor"
    assert auth.login(PASSWORD + "x") is None
    assert auth.login("") is None


def test_short_password_is_refused_with_the_minimum(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least 10"):
        CredentialStore(tmp_path).set_password("viewer", "short")


def test_environment_passwords_and_token(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("FLOWDECK_PASSWORD", "editor password 1")
    monkeypatch.setenv("FLOWDECK_VIEWER_PASSWORD", "viewer password 1")
    monkeypatch.setenv("FLOWDECK_API_TOKEN", "t" * 32)
    settings = load_settings(env_file=None)
    assert "editor password 1" not in repr(settings) and "t" * 32 not in repr(settings)
    auth = Authenticator(settings, CredentialStore(home))
    assert auth.login("editor password 1") == "editor"
    assert auth.login("viewer password 1") == "viewer"
    assert auth.bearer("t" * 32) == "editor"
    assert auth.bearer("t" * 31) is None


def test_environment_password_too_short_names_the_variable(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("FLOWDECK_VIEWER_PASSWORD", "abc")
    with pytest.raises(ConfigError, match="FLOWDECK_VIEWER_PASSWORD is 3 characters long; use at least 10"):
        load_settings(env_file=None)


def test_tokens_are_shown_once_kept_as_digests_and_revocable(tmp_path: Path, settings: Settings) -> None:
    store = CredentialStore(tmp_path)
    token = store.create_token("ci", "viewer")
    assert token not in store.path.read_text()
    auth = Authenticator(settings, store)
    assert auth.bearer(token) == "viewer"
    with pytest.raises(ConfigError, match="named 'ci' exists"):
        store.create_token("ci", "editor")
    assert [(t.name, t.role) for t in store.tokens()] == [("ci", "viewer")]
    assert store.revoke_token("ci")
    assert auth.bearer(token) is None
    assert not auth.configured  # a token alone opens the API, not the pages


def test_storage_secret_is_made_once_and_private(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)
    secret = store.storage_secret()
    assert len(secret) >= 64
    assert CredentialStore(tmp_path).storage_secret() == secret
    assert stat.S_IMODE((tmp_path / "storage_secret").stat().st_mode) == 0o600


def test_sessions_end_on_logout_and_on_password_change(settings: Settings) -> None:
    ensure_home(settings)
    engine = open_database(settings.database_url)
    sessions = SessionStore(engine, "s" * 64)
    other_process = SessionStore(engine, "s" * 64)
    editor = sessions.create("editor")
    viewer = sessions.create("viewer")
    assert sessions.role_of(editor) == "editor" and other_process.role_of(viewer) == "viewer"
    assert sessions.role_of("forged") is None
    assert SessionStore(engine, "another secret").role_of(editor) is None  # keyed by the data dir's secret
    sessions.end(editor)
    assert sessions.role_of(editor) is None and sessions.cached_role(editor) is None
    assert sessions.end_all("viewer") == 1
    assert other_process.role_of(viewer) is None
    expired = sessions.create("editor", lifetime=-1)
    assert sessions.role_of(expired) is None
    engine.dispose()


def test_limiter_counts_attempts_before_they_are_checked_and_per_address() -> None:
    limiter = LoginLimiter(per_client=3, total=50, window=60)
    assert [limiter.attempt("10.0.0.1") for _ in range(3)] == [0, 0, 0]  # none of them checked yet
    assert 59 < limiter.attempt("10.0.0.1") <= 60
    assert [limiter.attempt("10.0.0.2") for _ in range(3)] == [0, 0, 0]  # another address is not held back
    limiter.succeeded("10.0.0.2")
    assert limiter.attempt("10.0.0.2") == 0  # a right password forgives its own attempt


def test_limiter_under_guesses_from_many_addresses_gives_each_one_try() -> None:
    limiter = LoginLimiter(per_client=3, total=5, window=60)
    for client in ("10.0.0.1", "10.0.0.2"):
        for _ in range(3):
            limiter.attempt(client)
    assert limiter.attempt("10.0.0.3") == 0  # five failures in all, and more: one try each from now on
    assert limiter.attempt("10.0.0.3") > 0
    assert limiter.attempt("::ffff:10.0.0.3") > 0  # the same address, written as IPv6
    assert limiter.attempt("10.0.0.4") == 0


@pytest.fixture
async def login_path(settings: Settings) -> AsyncIterator[Callable[[str, str], Awaitable[int]]]:
    """POST /login of the login routes as the server mounts them, from a client address of the caller's choosing."""
    ensure_home(settings)
    store = CredentialStore(settings.home)
    store.set_password("editor", PASSWORD)
    engine = open_database(settings.database_url)
    gate = Gate(
        authenticator=Authenticator(settings, store),
        sessions=SessionStore(engine, store.storage_secret()),
        require_login=True,
        shared=True,
    )
    app = FastAPI()
    register_login(app, gate)

    async def login(address: str, password: str) -> int:
        transport = httpx.ASGITransport(app=app, client=(address, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://flowdeck.test") as client:
            answer = await client.post("/login", data={"password": password})
        if answer.status_code == 429:
            assert int(answer.headers["retry-after"]) > 0
        return answer.status_code

    yield login
    engine.dispose()


async def test_an_ipv6_host_guesses_no_more_by_taking_other_addresses_of_its_64(
    login_path: Callable[[str, str], Awaitable[int]],
) -> None:
    # One host owns a whole /64 (SLAAC, privacy addresses): counted per address, it had 2**64 times five guesses.
    rotated = ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2:a::b"]
    statuses = [await login_path(address, "a guess") for address in [*rotated, "2001:db8:1:2::5"]]
    assert statuses == [401] * 5
    assert await login_path("2001:db8:1:2::6", "another guess") == 429
    assert await login_path("2001:db8:1:2:1234::1", PASSWORD) == 429  # the /64 waits, whichever address it takes
    assert await login_path("2001:db8:1:3::1", PASSWORD) == 303  # the next /64 is another host


async def test_ipv4_clients_are_counted_by_address_however_written(
    login_path: Callable[[str, str], Awaitable[int]],
) -> None:
    written = ["10.0.0.5", "::ffff:10.0.0.5", "::ffff:a00:5", "10.0.0.5", "::ffff:10.0.0.5"]
    assert [await login_path(address, "a guess") for address in written] == [401] * 5
    assert await login_path("10.0.0.5", PASSWORD) == 429
    assert await login_path("10.0.0.6", PASSWORD) == 303  # a neighbour's address is another client


async def test_a_viewer_login_does_not_forgive_wrong_editor_guesses(
    login_path: Callable[[str, str], Awaitable[int]], settings: Settings
) -> None:
    # The viewer password is widely shared: if its login wiped the address's failures, 4 guesses + 1 viewer login,
    # repeated, would guess the editor password without end.
    CredentialStore(settings.home).set_password("viewer", "the viewer password, shared")
    statuses = []
    for _ in range(3):
        statuses += [await login_path("10.0.0.7", "an editor guess") for _ in range(4)]
        statuses.append(await login_path("10.0.0.7", "the viewer password, shared"))
    wrong = [status for index, status in enumerate(statuses) if index % 5 != 4]
    assert 429 in wrong[:6], statuses  # the 6th wrong guess at the latest is held back
    assert wrong.count(401) <= 5, statuses
