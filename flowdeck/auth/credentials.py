"""Who may use a shared flowdeck: passwords and API tokens per role, stored hashed in the data directory.

Two roles: an editor changes and runs workflows; a viewer watches runs read-only (a team's shared screen).
Passwords come from FLOWDECK_PASSWORD / FLOWDECK_VIEWER_PASSWORD (hashed in memory at start-up) or from
`flowdeck auth set-password` (hashed with scrypt into auth.json). API tokens are random, shown once, and
stored as a SHA-256 digest. The storage secret, which keys session ids, is generated once per data dir.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flowdeck.config import write_private
from flowdeck.errors import ConfigError

Role = Literal["editor", "viewer"]
ROLES: tuple[Role, ...] = ("editor", "viewer")
MIN_PASSWORD = 10
TOKEN_PREFIX = "fdk_"
# scrypt at n=2**14, r=8 (16 MiB) makes each guess slow (bench/README.md); the login rate limit does the rest.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class _Token(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=60)
    role: Role
    digest: str
    created_at: float


class _AuthFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    passwords: dict[Role, str] = {}
    tokens: list[_Token] = []


@dataclass(frozen=True, slots=True)
class TokenInfo:
    name: str
    role: Role
    created_at: float


class CredentialStore:
    """auth.json and the storage secret in the data directory (files 0600). Blocking."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.path = home / "auth.json"
        self._secret_path = home / "storage_secret"

    def check_password(self, role: Role, password: str) -> None:
        """Raise ConfigError if `password` could not be set (too short), before anything else changes."""
        _check_password(password, f"the {role} password")

    def set_password(self, role: Role, password: str) -> None:
        _check_password(password, f"the {role} password")
        data = self._read()
        data.passwords[role] = hash_password(password)
        self._write(data)

    def remove_password(self, role: Role) -> bool:
        data = self._read()
        removed = data.passwords.pop(role, None) is not None
        self._write(data)
        return removed

    def create_token(self, name: str, role: Role) -> str:
        """Make a new API token and return it; only its digest is kept, so this is the one time it is seen."""
        data = self._read()
        if any(t.name == name for t in data.tokens):
            raise ConfigError(f"a token named '{name}' exists; revoke it first or pick another name")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        data.tokens.append(_Token(name=name, role=role, digest=token_digest(token), created_at=time.time()))
        self._write(data)
        return token

    def revoke_token(self, name: str) -> bool:
        data = self._read()
        kept = [t for t in data.tokens if t.name != name]
        removed = len(kept) != len(data.tokens)
        data.tokens = kept
        self._write(data)
        return removed

    def tokens(self) -> list[TokenInfo]:
        return [TokenInfo(t.name, t.role, t.created_at) for t in self._read().tokens]

    def password_hashes(self) -> dict[Role, str]:
        return dict(self._read().passwords)

    def token_digests(self) -> dict[str, Role]:
        return {t.digest: t.role for t in self._read().tokens}

    def storage_secret(self) -> str:
        """The data dir's secret (64 random bytes, made on first use)."""
        try:
            return self._secret_path.read_text().strip()
        except FileNotFoundError:
            secret = secrets.token_urlsafe(64)
            write_private(self._secret_path, secret)
            return secret

    def _read(self) -> _AuthFile:
        try:
            return _AuthFile.model_validate_json(self.path.read_bytes())
        except FileNotFoundError:
            return _AuthFile()
        except ValidationError as exc:
            raise ConfigError(
                f"{self.path} is damaged ({exc.error_count()} problems); delete it and set again"
            ) from None

    def _write(self, data: _AuthFile) -> None:
        write_private(self.path, json.dumps(data.model_dump(), indent=2))


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT, dklen=32)
    return "scrypt${n}${r}${p}${salt}${digest}".format(**_SCRYPT, salt=_b64(salt), digest=_b64(digest))


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.urlsafe_b64decode(digest)
        got = hashlib.scrypt(
            password.encode(), salt=base64.urlsafe_b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_password(password: str, what: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"{what} is {len(password)} characters; use at least {MIN_PASSWORD}")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()
