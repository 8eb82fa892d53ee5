"""The node output cache: diskcache holding JSON (never pickle, so a writable cache dir cannot run code)."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import diskcache

from flowdeck.engine.events import Usage
from flowdeck.engine.llm_types import Completion

log = logging.getLogger("flowdeck.storage")
_FAULTS = (OSError, sqlite3.Error)  # a full disk, a read-only folder, a damaged cache file


class JSONDisk(diskcache.Disk):  # type: ignore[misc]
    """Stores values as JSON text; refuses to unpickle anything."""

    def store(self, value: object, read: bool, key: object = diskcache.UNKNOWN) -> object:
        if not read:
            value = json.dumps(value, ensure_ascii=False)
        return super().store(value, read, key=key)

    def fetch(self, mode: int, filename: str, value: object, read: bool) -> object:
        if mode == diskcache.core.MODE_PICKLE:
            raise ValueError("refusing to unpickle a cache entry")
        data = super().fetch(mode, filename, value, read)
        return json.loads(data) if isinstance(data, str) else data


class OutputCache:
    """Node outputs keyed by a hash of model, parameters, system prompt and rendered input.

    Only ever a saving: a cache that cannot be opened, read or written (a full disk, a read-only folder) is skipped
    with a warning, and the agents call their models."""

    def __init__(self, directory: Path, size_limit: int = 1 << 30) -> None:
        self._cache: diskcache.Cache | None = None
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._cache = diskcache.Cache(str(directory), disk=JSONDisk, size_limit=size_limit)
        except _FAULTS as exc:
            log.warning("the output cache in %s cannot be used, runs go without it: %s", directory, exc)

    def get(self, key: str) -> Completion | None:
        if self._cache is None:
            return None
        try:
            data = self._cache.get(key)
        except (ValueError, json.JSONDecodeError):
            return None
        except _FAULTS as exc:
            log.warning("reading the output cache failed, the agent calls its model: %s", exc)
            return None
        if not isinstance(data, dict):
            return None
        try:
            return Completion(
                text=str(data["text"]),
                usage=Usage(prompt_tokens=int(data["prompt_tokens"]), completion_tokens=int(data["completion_tokens"])),
                cost=float(data["cost"]),
                cut=bool(data.get("cut", False)),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def set(self, key: str, value: Completion) -> None:
        if self._cache is None:
            return
        data = {
            "text": value.text,
            "prompt_tokens": value.usage.prompt_tokens,
            "completion_tokens": value.usage.completion_tokens,
            "cost": value.cost,
            "cut": value.cut,
        }
        try:
            self._cache.set(key, data)
        except _FAULTS as exc:
            log.warning("writing the output cache failed, the output is not cached: %s", exc)

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
