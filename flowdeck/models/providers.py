"""The providers flowdeck knows (their key variables, litellm names, suggested models), and what one needs before
it can be called (a key, a server that answers), checked without calling it."""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import os
import re
import sys
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Provider:
    variable: str  # the environment variable litellm reads
    label: str
    providers: tuple[str, ...]  # litellm's provider names that take this key
    suggested: tuple[str, ...] = ()  # models the editor offers once the key is set
    # Where litellm reads an address for these providers from, beyond <PROVIDER>_API_BASE / _BASE_URL (read from
    # litellm 1.110: text-completion-openai goes to OPENAI_*, cohere_chat to COHERE_API_BASE, mistral also to
    # MISTRAL_AZURE_API_BASE). Any of them set, the saved key stays home.
    addresses: tuple[str, ...] = ()


PROVIDERS: tuple[Provider, ...] = (
    Provider(
        "OPENAI_API_KEY",
        "OpenAI",
        ("openai", "text-completion-openai"),
        ("gpt-4o-mini", "gpt-4o"),
        ("OPENAI_API_BASE", "OPENAI_BASE_URL"),
    ),
    Provider("ANTHROPIC_API_KEY", "Anthropic", ("anthropic",), ("anthropic/claude-3-5-haiku-latest",)),
    Provider("GEMINI_API_KEY", "Google Gemini", ("gemini",), ("gemini/gemini-2.0-flash",)),
    Provider("GROQ_API_KEY", "Groq", ("groq",), ("groq/llama-3.1-8b-instant",)),
    Provider(
        "MISTRAL_API_KEY",
        "Mistral",
        ("mistral",),
        ("mistral/mistral-small-latest",),
        ("MISTRAL_API_BASE", "MISTRAL_AZURE_API_BASE"),
    ),
    Provider("OPENROUTER_API_KEY", "OpenRouter", ("openrouter",)),
    Provider("DEEPSEEK_API_KEY", "DeepSeek", ("deepseek",)),
    Provider("XAI_API_KEY", "xAI", ("xai",)),
    Provider("TOGETHERAI_API_KEY", "Together AI", ("together_ai",), (), ("TOGETHERAI_API_BASE",)),
    Provider("COHERE_API_KEY", "Cohere", ("cohere", "cohere_chat"), (), ("COHERE_API_BASE", "COHERE_BASE_URL")),
)


@dataclass(frozen=True, slots=True)
class BaseUrl:
    """A server one runs oneself, whose address can be saved in the app (⋮ → API keys…)."""

    variable: str  # the environment variable litellm reads; set, it wins over the saved address
    label: str
    providers: tuple[str, ...]  # litellm's provider names sent there
    example: str
    # The name its own key is saved under (a vLLM or LM Studio started with --api-key): sent to the saved address
    # alone, never a provider's; None: such servers take no key (Ollama).
    key_variable: str | None = None


BASE_URLS: tuple[BaseUrl, ...] = (
    BaseUrl("OLLAMA_API_BASE", "Ollama", ("ollama", "ollama_chat"), "http://127.0.0.1:11434"),
    BaseUrl(
        "OPENAI_API_BASE",
        "OpenAI-compatible server",
        ("openai", "text-completion-openai"),
        "http://127.0.0.1:8000/v1",
        key_variable="OPENAI_COMPATIBLE_SERVER_KEY",
    ),
)
# Sent as the key to a server of one's own: OpenAI's client refuses to call without one, and such servers (llama.cpp,
# vLLM, LM Studio) mostly ask for none. A real key never goes to an address saved in the app.
NO_KEY = "no-key"


def suggested_models(variables: AbstractSet[str]) -> tuple[str, ...]:
    """Models worth offering when these provider key variables are set (in the environment or saved)."""
    return tuple(model for item in PROVIDERS if item.variable in variables for model in item.suggested)


class KeySource(Protocol):
    """API keys saved in the app, handed to one provider at a time, and server addresses saved with them
    (keys.ProviderKeys is one)."""

    def for_provider(self, provider: str) -> tuple[str, str] | None: ...

    def base_url(self, variable: str) -> str | None: ...

    def server_key(self, variable: str) -> str | None: ...


async def check_model(litellm: Any, model: str, keys: KeySource | None, ollama_base: str) -> str | None:
    """Why `model` cannot be called as things are set up, or None."""
    provider = provider_of(litellm, model)
    if provider is None:
        return "no provider recognised in the model string; use provider/model, e.g. openai/gpt-4o-mini"
    if provider in ("ollama", "ollama_chat"):
        saved = keys.base_url("OLLAMA_API_BASE") if keys is not None else None
        base = os.environ.get("OLLAMA_API_BASE") or saved or ollama_base
        if not await _answers(base):
            where = shown_url(base)
            return f"Ollama does not answer at {where}; start it (`ollama serve`) or change OLLAMA_API_BASE{_WHERE}"
        return None
    custom = custom_base(provider, keys)
    if custom is not None:
        if not await _answers(custom[1]):
            where = shown_url(custom[1])
            return f"no server answers at {where} (from {custom[0]}); start it or correct {custom[0]}{_WHERE}"
        return None  # a server of one's own may need no key (and is never sent a saved one)
    env = litellm.validate_environment(model=model)
    missing = [str(k) for k in env.get("missing_keys") or [] if str(k).endswith("_KEY")]
    if env.get("keys_in_environment") or not missing:
        return None
    if keys is not None and keys.for_provider(provider) is not None:
        return None
    return (
        f"needs {' or '.join(missing)}; set it in the environment or .env, "
        f"or save it in ⋮ → API keys… (or `flowdeck keys set {missing[0]}`)"
    )


def provider_of(litellm: Any, model: str) -> str | None:
    try:
        return str(litellm.get_llm_provider(model)[1])
    except Exception:  # litellm raises BadRequestError (and sometimes others) for strings it cannot place
        return None


def custom_base(provider: str, keys: KeySource | None = None) -> tuple[str, str] | None:
    """(variable, url) when this provider is pointed somewhere other than its own service: by the environment, or
    by an address saved in the app."""
    names = [f"{provider.upper()}_API_BASE", f"{provider.upper()}_BASE_URL"]
    names += [name for item in PROVIDERS if provider in item.providers for name in item.addresses]
    for name in names:
        if value := os.environ.get(name):
            return name, value
    for item in BASE_URLS:
        if keys is not None and provider in item.providers and (saved := keys.base_url(item.variable)):
            return item.variable, saved
    return None


_WHERE = " (in the environment, or in ⋮ → API keys…)"


def shown_url(url: str) -> str:
    """The address without the password it may hold (http://user:pw@host -> http://user:…@host): messages reach
    pages and logs."""
    return re.sub(r"^([a-zA-Z][\w+.-]*://[^/:@]*):[^/]*@", r"\1:…@", url)


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


@lru_cache(maxsize=1)
def litellm_providers() -> frozenset[str]:
    """The provider names litellm takes before a "/" (openai, ollama_chat, ...), without importing it (~4 s): read
    from its LlmProviders enum's source, or from litellm itself once loaded. Empty if neither can be read. Blocking."""
    loaded = sys.modules.get("litellm")
    if loaded is not None:
        return frozenset(str(getattr(p, "value", p)) for p in loaded.provider_list)
    try:
        spec = importlib.util.find_spec("litellm")
        source = Path(spec.origin).parent / "types" / "utils.py"  # type: ignore[union-attr, arg-type]
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (AttributeError, TypeError, OSError, SyntaxError, ValueError):
        return frozenset()
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "LlmProviders":
            return frozenset(
                item.value.value
                for item in node.body
                if isinstance(item, ast.Assign)
                and isinstance(item.value, ast.Constant)
                and isinstance(item.value.value, str)
            )
    return frozenset()
