"""The node output cache: diskcache holding JSON (never pickle, so a writable cache dir cannot run code)."""

from __future__ import annotations

import json
from pathlib import Path

import diskcache

from flowdeck.engine.events import Usage
from flowdeck.engine.llm_types import Completion


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
    """Node outputs keyed by a hash of model, parameters, system prompt and rendered input."""

    def __init__(self, directory: Path, size_limit: int = 1 << 30) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._cache = diskcache.Cache(str(directory), disk=JSONDisk, size_limit=size_limit)

    def get(self, key: str) -> Completion | None:
        try:
            data = self._cache.get(key)
        except (ValueError, json.JSONDecodeError):
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
        self._cache.set(
            key,
            {
                "text": value.text,
                "prompt_tokens": value.usage.prompt_tokens,
                "completion_tokens": value.usage.completion_tokens,
                "cost": value.cost,
                "cut": value.cut,
            },
        )

    def close(self) -> None:
        self._cache.close()
