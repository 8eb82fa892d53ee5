"""The models the editor offers: the embedded and scripted ones, providers whose keys are set, and the
models of a reachable Ollama server."""

from __future__ import annotations

import time
from collections.abc import Iterable

import httpx

from flowdeck.config import Settings, models_for_keys

_CACHE_SECONDS = 30.0
_cache: dict[str, tuple[float, list[str]]] = {}


async def model_options(settings: Settings, saved_keys: Iterable[str] = ()) -> dict[str, str]:
    """Model string -> what the combobox shows. `saved_keys`: provider key variables saved in the app."""
    options = {"embedded": "Embedded demo model (offline)", "scripted": "Scripted test model (no LLM)"}
    for model in (*settings.suggested_models, *models_for_keys(set(saved_keys))):
        options.setdefault(model, model)
    for name in await ollama_models(settings.ollama_base):
        options.setdefault(f"ollama_chat/{name}", f"ollama_chat/{name} (Ollama)")
    return options


async def ollama_models(base: str) -> list[str]:
    """Names of the models an Ollama server at `base` has; [] if none answers within half a second."""
    now = time.monotonic()
    cached = _cache.get(base)
    if cached is not None and now - cached[0] < _CACHE_SECONDS:
        return cached[1]
    try:
        async with httpx.AsyncClient(timeout=0.5) as client:
            response = await client.get(f"{base.rstrip('/')}/api/tags")
            response.raise_for_status()
            names = [str(item["name"]) for item in response.json().get("models", []) if "name" in item]
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError):
        names = []
    _cache[base] = (now, names)
    return names
