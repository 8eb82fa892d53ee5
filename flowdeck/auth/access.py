"""Checking a password or an API token, and limiting how fast passwords can be guessed."""

from __future__ import annotations

import hmac
import threading
import time
from collections import deque

from flowdeck.auth.credentials import ROLES, CredentialStore, Role, hash_password, token_digest, verify_password
from flowdeck.config import Settings


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
    """Failed logins allowed per client address, and in total, within a sliding window."""

    def __init__(self, *, per_client: int = 5, total: int = 50, window: float = 300.0) -> None:
        self.per_client = per_client
        self.total = total
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    def wait(self, client: str) -> float:
        """Seconds this client must wait before trying again (0: it may try now)."""
        now = time.monotonic()
        self._expire(now)
        waits = [0.0]
        mine = self._failures.get(client)
        if mine is not None and len(mine) >= self.per_client:
            waits.append(mine[0] + self.window - now)
        if len(self._all) >= self.total:
            waits.append(self._all[0] + self.window - now)
        return max(waits)

    def failed(self, client: str) -> None:
        now = time.monotonic()
        self._failures.setdefault(client, deque()).append(now)
        self._all.append(now)

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)

    def _expire(self, now: float) -> None:
        cutoff = now - self.window
        while self._all and self._all[0] < cutoff:
            self._all.popleft()
        for client in list(self._failures):
            queue = self._failures[client]
            while queue and queue[0] < cutoff:
                queue.popleft()
            if not queue:
                del self._failures[client]
