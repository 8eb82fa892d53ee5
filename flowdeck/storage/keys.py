"""Provider API keys saved in the app (⋮ → API keys… in the editor, or `flowdeck keys set`): a 0600 file in the
data dir.

Write-only from the outside: nothing here returns a key except `for_provider`, which the model caller uses to
pass it to that provider alone. Lists show the last 4 characters. Environment variables win over saved keys.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from flowdeck.config import write_private
from flowdeck.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Provider:
    variable: str  # the environment variable litellm reads
    label: str
    providers: tuple[str, ...]  # litellm's provider names that take this key


PROVIDERS: tuple[Provider, ...] = (
    Provider("OPENAI_API_KEY", "OpenAI", ("openai", "text-completion-openai")),
    Provider("ANTHROPIC_API_KEY", "Anthropic", ("anthropic",)),
    Provider("GEMINI_API_KEY", "Google Gemini", ("gemini",)),
    Provider("GROQ_API_KEY", "Groq", ("groq",)),
    Provider("MISTRAL_API_KEY", "Mistral", ("mistral",)),
    Provider("OPENROUTER_API_KEY", "OpenRouter", ("openrouter",)),
    Provider("DEEPSEEK_API_KEY", "DeepSeek", ("deepseek",)),
    Provider("XAI_API_KEY", "xAI", ("xai",)),
    Provider("TOGETHERAI_API_KEY", "Together AI", ("together_ai",)),
    Provider("COHERE_API_KEY", "Cohere", ("cohere", "cohere_chat")),
)
_BY_VARIABLE = {p.variable: p for p in PROVIDERS}


class ProviderKeys:
    """Saved provider keys. Blocking (small file reads)."""

    def __init__(self, home: Path) -> None:
        self.path = home / "provider_keys.json"

    def set(self, variable: str, key: str) -> None:
        if variable not in _BY_VARIABLE:
            raise ConfigError(
                f"'{variable}' is not a provider key flowdeck knows; use one of {', '.join(_BY_VARIABLE)}"
            )
        key = key.strip()
        if len(key) < 8 or len(key) > 500 or any(c.isspace() for c in key):
            raise ConfigError(f"that does not look like a {variable} (8 to 500 characters, no spaces); nothing saved")
        keys = self._read()
        keys[variable] = key
        self._write(keys)

    def remove(self, variable: str) -> bool:
        keys = self._read()
        removed = keys.pop(variable, None) is not None
        self._write(keys)
        return removed

    def masked(self) -> dict[str, str]:
        """Saved keys as '…' and their last 4 characters, by variable."""
        return {name: "…" + key[-4:] for name, key in self._read().items()}

    def for_provider(self, provider: str) -> tuple[str, str] | None:
        """(variable, key) saved for a litellm provider name, unless the environment sets that key itself."""
        for item in PROVIDERS:
            if provider in item.providers:
                if os.environ.get(item.variable):
                    return None
                key = self._read().get(item.variable)
                return (item.variable, key) if key else None
        return None

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            raise ConfigError(f"{self.path} is damaged; delete it and save the keys again") from None
        return {k: v for k, v in data.items() if k in _BY_VARIABLE and isinstance(v, str)}

    def _write(self, keys: dict[str, str]) -> None:
        write_private(self.path, json.dumps(keys))
