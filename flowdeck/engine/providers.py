"""What a provider needs before it can be called (a key, a server that answers), checked without calling it."""

from __future__ import annotations

import asyncio
import os
from typing import Any, Protocol
from urllib.parse import urlsplit


class KeySource(Protocol):
    """API keys saved in the app, handed to one provider at a time (storage.keys.ProviderKeys is one)."""

    def for_provider(self, provider: str) -> tuple[str, str] | None: ...


async def check_model(litellm: Any, model: str, keys: KeySource | None, ollama_base: str) -> str | None:
    """Why `model` cannot be called as things are set up, or None."""
    provider = provider_of(litellm, model)
    if provider is None:
        return "no provider recognised in the model string; use provider/model, e.g. openai/gpt-4o-mini"
    if provider in ("ollama", "ollama_chat"):
        base = os.environ.get("OLLAMA_API_BASE") or ollama_base
        if not await _answers(base):
            return f"Ollama does not answer at {base}; start it (`ollama serve`) or set OLLAMA_API_BASE"
        return None
    custom = custom_base(provider)
    if custom is not None and not await _answers(custom[1]):
        return f"no server answers at {custom[1]} (from {custom[0]}); start it or correct {custom[0]}"
    env = litellm.validate_environment(model=model)
    missing = [str(k) for k in env.get("missing_keys") or [] if str(k).endswith("_KEY")]
    if env.get("keys_in_environment") or not missing:
        return None
    if keys is not None and custom is None and keys.for_provider(provider) is not None:
        return None
    return (
        f"needs {' or '.join(missing)}; set it in the environment or .env, "
        f"or save it in Settings → API keys (or `flowdeck keys set {missing[0]}`)"
    )


def provider_of(litellm: Any, model: str) -> str | None:
    try:
        return str(litellm.get_llm_provider(model)[1])
    except Exception:  # litellm raises BadRequestError (and sometimes others) for strings it cannot place
        return None


def custom_base(provider: str) -> tuple[str, str] | None:
    """(variable, url) when the environment points this provider somewhere other than its own service."""
    names = [f"{provider.upper()}_API_BASE", f"{provider.upper()}_BASE_URL"]
    for name in names:
        if value := os.environ.get(name):
            return name, value
    return None


CONNECT_SECONDS = 1.5


async def _answers(url: str) -> bool:
    """Whether something accepts a TCP connection at the URL's host and port."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, port), CONNECT_SECONDS)
    except (OSError, TimeoutError, ValueError):
        return False
    writer.close()
    return True
