"""The models the editor offers: the embedded and scripted ones, providers whose keys are set, and the
models of a reachable Ollama server; and the key a model still needs."""

from __future__ import annotations

import asyncio
import difflib
import time
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from flowdeck.config import Settings, environment_has
from flowdeck.models.keys import ProviderKeys
from flowdeck.models.providers import PROVIDERS, Provider, litellm_providers, suggested_models

_CACHE_SECONDS = 30.0
_found: dict[str, tuple[float, list[str]]] = {}  # base URL -> (when asked, the models it had)
_asking: dict[str, asyncio.Task[list[str]]] = {}


async def model_options(
    settings: Settings, saved_keys: Iterable[str] = (), ollama_base: str | None = None
) -> dict[str, str]:
    """Model string -> what the combobox shows. `saved_keys`: provider key variables saved in the app;
    `ollama_base`: Ollama's address saved in the app (the environment's, or the default, otherwise)."""
    options = {"embedded": "Embedded demo model (offline)", "scripted": "Scripted test model (no LLM)"}
    for model in suggested_models(settings.env_keys | set(saved_keys)):
        options.setdefault(model, model)
    for name in await ollama_models(ollama_base or settings.ollama_base):
        options.setdefault(f"ollama_chat/{name}", f"ollama_chat/{name} (Ollama)")
    return options


@dataclass(frozen=True, slots=True)
class ModelChoices:
    """What the Model box suggests, and which provider keys are saved in the app (to say which one is missing)."""

    suggestions: dict[str, str]
    saved_keys: frozenset[str] = frozenset()
    saved_bases: frozenset[str] = frozenset()  # server address variables saved in the app (OPENAI_API_BASE)
    providers: frozenset[str] = frozenset()  # the provider names litellm takes before a "/" (empty: not known)

    def unknown_provider(self, model: str) -> str | None:
        """Why `model` names no provider litellm knows ("opnai/gpt-4o" typed), or None. A hint while editing; the
        run's own check refuses such a model all the same."""
        prefix, slash, _ = model.partition("/")
        if not slash or not self.providers or prefix in _OURS or prefix.lower() in self.providers:
            return None
        near = difflib.get_close_matches(prefix.lower(), sorted(self.providers), n=2, cutoff=0.7)
        also = f" (did you mean {' or '.join(near)}?)" if near else ""
        return (
            f"“{prefix}” is not a provider flowdeck can call{also}: write provider/model, e.g. openai/gpt-4o-mini, "
            f"ollama_chat/llama3.2 or anthropic/claude-3-5-haiku-latest"
        )

    def missing_key(self, model: str) -> Provider | None:
        """The provider whose key `model` needs and does not have (neither saved nor in the environment).

        A hint while editing, read from the model string alone: the run's own check (engine/providers.py, which
        asks litellm) stays the one that refuses a run.
        """
        provider = _provider(model)
        if provider is None:
            return None
        for item in PROVIDERS:
            if provider in item.providers:
                own_server = f"{provider.upper()}_API_BASE" in self.saved_bases or any(
                    environment_has(f"{provider.upper()}_{name}") for name in ("API_BASE", "BASE_URL")
                )
                if own_server or environment_has(item.variable) or item.variable in self.saved_keys:
                    return None
                return item
        return None


async def model_choices(settings: Settings, keys: ProviderKeys) -> ModelChoices:
    """The Model box's suggestions and the saved keys, as they are now (after a key is saved, ask again)."""
    saved = frozenset(await asyncio.to_thread(keys.masked))
    bases = await asyncio.to_thread(keys.bases)
    ollama = None if environment_has("OLLAMA_API_BASE") else bases.get("OLLAMA_API_BASE")
    known = await asyncio.to_thread(litellm_providers)
    return ModelChoices(await model_options(settings, saved, ollama), saved, frozenset(bases), known)


_OURS = ("scripted", "embedded")  # flowdeck's own models, which take options after a "/"


# Model names litellm places with a provider without a "provider/" prefix (the ones people type).
_BARE_NAMES = (
    ("gpt-", "openai"),
    ("chatgpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4-", "openai"),
    ("claude-", "anthropic"),
    ("command-", "cohere"),
)


def _provider(model: str) -> str | None:
    prefix, slash, _ = model.partition("/")
    if slash:
        return prefix.lower()
    return next((provider for start, provider in _BARE_NAMES if model.lower().startswith(start)), None)


async def ollama_models(base: str) -> list[str]:
    """Names of the models an Ollama server at `base` has; [] if none answers within half a second.

    Only the first call for a server waits for its answer. Later calls (each page that opens) get the last
    answer at once; when it is older than 30 s, the server is asked again in the background.
    """
    found = _found.get(base)
    if found is None:
        return await _ask(base)
    if time.monotonic() - found[0] >= _CACHE_SECONDS:
        _ask(base)
    return found[1]


def _ask(base: str) -> asyncio.Task[list[str]]:
    task = _asking.get(base)
    if task is None:
        task = _asking[base] = asyncio.get_running_loop().create_task(_tags(base), name=f"flowdeck: ask {base}")
        task.add_done_callback(lambda _: _asking.pop(base, None))
    return task


async def _tags(base: str) -> list[str]:
    # Certificates are loaded only for https (~60 ms of the event loop here, per client). An http server gets no
    # TLS at all, and redirects, which could lead elsewhere, are not followed.
    try:
        async with httpx.AsyncClient(timeout=0.5, verify=base.startswith("https:")) as client:
            response = await client.get(f"{base.rstrip('/')}/api/tags")
            response.raise_for_status()
            names = [str(item["name"]) for item in response.json().get("models", []) if "name" in item]
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError):
        names = []
    _found[base] = (time.monotonic(), names)
    return names
