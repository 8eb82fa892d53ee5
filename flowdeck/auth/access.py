"""Checking a password or an API token, and limiting how fast passwords can be guessed."""

from __future__ import annotations

import hmac
import ipaddress
import threading
import time
from collections import deque

from flowdeck.auth.credentials import ROLES, CredentialStore, Role, hash_password, token_digest, verify_password
from flowdeck.config import Settings

IPV6_HOST_BITS = 64  # the bits of an IPv6 address that one host may choose (RFC 4291's interface identifier)


class Authenticator:
    """The roles' passwords and tokens from the environment and auth.json (re-read when it changes)."""

    def __init__(self, settings: Settings, store: CredentialStore) -> None:
        self.store = store
        # Environment passwords are hashed at once: the plain text is not kept by this object.
        self._env_passwords: dict[Role, str] = {}
        if settings.editor_password:
            self._env_passwords["editor"] = hash_password(settings.editor_password)
        if settings.viewer_password:
            self._env_passwords["viewer"] = hash_password(settings.viewer_password)
        self._env_token = token_digest(settings.api_token) if settings.api_token else None
        self._file_stamp: float | None = None
        self._file_passwords: dict[Role, str] = {}
        self._file_tokens: dict[str, Role] = {}
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        """Whether anyone could log in: a password of either role is set (tokens alone serve only the API)."""
        self._refresh()
        return bool(self._env_passwords or self._file_passwords)

    @property
    def has_tokens(self) -> bool:
        self._refresh()
        return bool(self._env_token or self._file_tokens)

    def login(self, password: str) -> Role | None:
        """The role this password opens, or None. Blocking (scrypt, slow by design, once per stored password)."""
        self._refresh()
        for role in ROLES:
            for stored in (self._env_passwords.get(role), self._file_passwords.get(role)):
                if stored is not None and verify_password(password, stored):
                    return role
        return None

    def bearer(self, token: str) -> Role | None:
        """The role of an API token, or None."""
        self._refresh()
        digest = token_digest(token)
        if self._env_token is not None and hmac.compare_digest(digest, self._env_token):
            return "editor"
        for known, role in self._file_tokens.items():
            if hmac.compare_digest(digest, known):
                return role
        return None

    def _refresh(self) -> None:
        try:
            stamp: float | None = self.store.path.stat().st_mtime
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp == self._file_stamp:
                return
            self._file_stamp = stamp
            self._file_passwords = self.store.password_hashes() if stamp is not None else {}
            self._file_tokens = self.store.token_digests() if stamp is not None else {}


class LoginLimiter:
    """Password attempts allowed per client (an IPv4 address, an IPv6 /64) within a sliding window, counted before
    they are checked.

    An attempt is counted when it arrives and forgiven only if its password was right (that attempt alone), so
    guesses sent at once cannot all be checked and a right password does not wipe the address's failures.
    Each client has `per_client` attempts per window; no client can use up another's.
    Past `total` failures from all clients (guessing spread over many of them), each client gets one attempt
    per window: guessing slows five-fold, and a right password from a client that has not failed still opens.
    """

    def __init__(self, *, per_client: int = 5, total: int = 50, window: float = 300.0) -> None:
        self.per_client = per_client
        self.total = total
        self.window = window
        self._attempts: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    def attempt(self, client: str) -> float:
        """Count an attempt by this client and return 0, or return the seconds it must wait (nothing counted)."""
        now = time.monotonic()
        self._expire(now)
        client = _address(client)
        mine = self._attempts.setdefault(client, deque())
        allowed = self.per_client if len(self._all) < self.total else 1
        if len(mine) >= allowed:
            return mine[len(mine) - allowed] + self.window - now
        mine.append(now)
        self._all.append(now)
        return 0.0

    def succeeded(self, client: str) -> None:
        """The client gave a right password: that one attempt is forgiven, its failures still count until they expire.

        Forgiving them all let a shared viewer password reset the count between guesses at the editor's (issue 20).
        """
        mine = self._attempts.get(_address(client))
        if not mine:
            return
        stamp = mine.pop()  # this attempt was no failure; one of the same client's is as good
        if stamp in self._all:
            self._all.remove(stamp)

    def _expire(self, now: float) -> None:
        cutoff = now - self.window
        while self._all and self._all[0] < cutoff:
            self._all.popleft()
        for client in list(self._attempts):
            queue = self._attempts[client]
            while queue and queue[0] < cutoff:
                queue.popleft()
            if not queue:
                del self._attempts[client]


def _address(client: str) -> str:
    """Who a client is, for counting: an IPv4 address (also when written as IPv6, ::ffff:10.0.0.5), or the /64 of an
    IPv6 address. One host may take any address of its /64 (SLAAC, privacy addresses), so counted per address it
    would guess without end; the price is that the IPv6 clients of one LAN subnet share their count."""
    try:
        parsed = ipaddress.ip_address(client)
    except ValueError:
        return client
    if isinstance(parsed, ipaddress.IPv4Address):
        return str(parsed)
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.IPv6Network((int(parsed) >> IPV6_HOST_BITS << IPV6_HOST_BITS, 128 - IPV6_HOST_BITS)))
