"""Login sessions, kept on the server so that logging out ends them: the cookie holds a random id, the
database an HMAC of it (keyed by the data dir's storage secret), the role and the expiry."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time

from sqlalchemy import Engine, delete, insert, select

from flowdeck.storage.db import writing
from flowdeck.storage.tables import SessionRow

_SESSIONS = SessionRow.__table__  # type: ignore[attr-defined]
LIFETIME = 30 * 24 * 3600.0
# How long a lookup is trusted before the database is asked again. Logging out in this process takes
# effect at once; a logout done by another process on the same database within this many seconds.
CACHE_SECONDS = 5.0


class SessionStore:
    """Create, look up and end sessions. Blocking: call from a worker thread."""

    def __init__(self, engine: Engine, secret: str) -> None:
        self._engine = engine
        self._key = secret.encode()
        self._cache: dict[str, tuple[str, float, float]] = {}  # digest -> role, expires_at, checked_at
        self._lock = threading.Lock()

    def create(self, role: str, *, lifetime: float = LIFETIME) -> str:
        """A new session for `role`; returns the value for the cookie."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        with writing(self._engine) as conn:
            conn.execute(delete(_SESSIONS).where(_SESSIONS.c.expires_at < now))
            conn.execute(
                insert(_SESSIONS).values(id=self._digest(token), role=role, created_at=now, expires_at=now + lifetime)
            )
        return token

    def cached_role(self, token: str) -> str | None:
        """The role of a session seen recently, without touching the database (None: ask role_of)."""
        with self._lock:
            hit = self._cache.get(self._digest(token))
        now = time.time()
        if hit is None or now - hit[2] > CACHE_SECONDS or now >= hit[1]:
            return None
        return hit[0]

    def role_of(self, token: str) -> str | None:
        """The role of a live session, or None if the id is unknown, ended or expired."""
        digest = self._digest(token)
        now = time.time()
        with self._engine.connect() as conn:
            row = conn.execute(select(_SESSIONS.c.role, _SESSIONS.c.expires_at).where(_SESSIONS.c.id == digest)).first()
        with self._lock:
            if row is None or row.expires_at <= now:
                self._cache.pop(digest, None)
                return None
            self._cache[digest] = (row.role, row.expires_at, now)
        return str(row.role)

    def end(self, token: str) -> None:
        """Log out: the session stops working everywhere at once (in this process)."""
        digest = self._digest(token)
        with self._lock:
            self._cache.pop(digest, None)
        with writing(self._engine) as conn:
            conn.execute(delete(_SESSIONS).where(_SESSIONS.c.id == digest))

    def end_all(self, role: str | None = None) -> int:
        """End every session (of one role); returns how many. Used when a password changes."""
        with self._lock:
            self._cache.clear()
        query = delete(_SESSIONS)
        if role is not None:
            query = query.where(_SESSIONS.c.role == role)
        with writing(self._engine) as conn:
            return int(conn.execute(query).rowcount or 0)

    def _digest(self, token: str) -> str:
        return hmac.new(self._key, token.encode(), hashlib.sha256).hexdigest()
