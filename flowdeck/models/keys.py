"""Provider API keys saved in the app (⋮ → API keys…, or `flowdeck keys set`): a 0600 file in the data dir, with
the addresses of servers one runs oneself (Ollama's, an OpenAI-compatible one's).

Write-only from the outside: nothing here returns a key except `for_provider`, which the model caller uses to
pass it to that provider alone. Lists show the last 4 characters. Environment variables win over saved keys and
addresses. Addresses are not secret, and are shown in full.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

from flowdeck.config import write_private
from flowdeck.errors import ConfigError
from flowdeck.models.providers import BASE_URLS, PROVIDERS

_BY_VARIABLE = {p.variable: p for p in PROVIDERS}
_BASES = {b.variable: b for b in BASE_URLS}
_SERVER_KEYS = {b.key_variable: b for b in BASE_URLS if b.key_variable is not None}


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

    def set_base(self, variable: str, url: str) -> None:
        """Save a server's address (OLLAMA_API_BASE, OPENAI_API_BASE); ConfigError saying what is wrong with it."""
        if variable not in _BASES:
            raise ConfigError(f"'{variable}' is not a server address flowdeck knows; use one of {', '.join(_BASES)}")
        url = url.strip().rstrip("/")
        example = _BASES[variable].example
        try:
            parts = urlsplit(url)
            usable = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
        except ValueError:  # a port that is not a number
            usable = False
        if not usable or len(url) > 500 or any(c.isspace() for c in url):
            raise ConfigError(f"{variable} must be an http:// or https:// address, e.g. {example}; nothing saved")
        if parts.username or parts.password:
            raise ConfigError(f"{variable} must not hold a user name or password; nothing saved")
        data = self._read()
        data[variable] = url
        self._write(data)

    def set_server_key(self, variable: str, key: str) -> None:
        """Save the key of a server whose address is saved (OPENAI_API_BASE): it goes to that address alone."""
        server = _BASES.get(variable)
        if server is None or server.key_variable is None:
            takes = [b.variable for b in BASE_URLS if b.key_variable]
            raise ConfigError(f"'{variable}' is not a server that takes a key; use one of {', '.join(takes)}")
        key = key.strip()
        if not 1 <= len(key) <= 500 or any(c.isspace() for c in key):
            raise ConfigError(f"a server key is 1 to 500 characters without spaces; nothing saved for {variable}")
        data = self._read()
        if variable not in data:
            raise ConfigError(f"save the server's address ({variable}) first: its key goes only there")
        data[server.key_variable] = key
        self._write(data)

    def server_key(self, variable: str) -> str | None:
        """The key saved for the server whose address is saved under `variable` (the model caller sends it there)."""
        server = _BASES.get(variable)
        if server is None or server.key_variable is None:
            return None
        return self._read().get(server.key_variable)

    def masked_server_keys(self) -> dict[str, str]:
        """Saved server keys as '…' and their last 4 characters, by the server's address variable."""
        data = self._read()
        return {b.variable: "…" + data[k][-4:] for k, b in _SERVER_KEYS.items() if data.get(k)}

    def base_url(self, variable: str) -> str | None:
        """The address saved for this variable, unless the environment sets it (then the environment's is used)."""
        if os.environ.get(variable):
            return None
        return self._read().get(variable) if variable in _BASES else None

    def bases(self) -> dict[str, str]:
        """Saved server addresses, by variable."""
        return {name: url for name, url in self._read().items() if name in _BASES}

    def remove(self, variable: str) -> bool:
        """Forget a saved key, address or server key; an address takes its server's key with it."""
        keys = self._read()
        removed = keys.pop(variable, None) is not None
        server = _BASES.get(variable)
        if server is not None and server.key_variable is not None:
            keys.pop(server.key_variable, None)
        self._write(keys)
        return removed

    def masked(self) -> dict[str, str]:
        """Saved keys as '…' and their last 4 characters, by variable."""
        return {name: "…" + key[-4:] for name, key in self._read().items() if name in _BY_VARIABLE}

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
        except PermissionError:  # not damaged: deleting it, as for a damaged file, would lose good keys
            raise ConfigError(
                f"cannot read {self.path} ({_owner(self.path)}): this user has no permission; the keys in it are "
                "not lost, do not delete it: run flowdeck as the user it belongs to, or have its owner give it to "
                "this user (chown) and keep it private (chmod 600)"
            ) from None
        except (OSError, ValueError):
            raise ConfigError(f"{self.path} is damaged; delete it and save the keys again") from None
        known = _BY_VARIABLE.keys() | _BASES.keys() | _SERVER_KEYS.keys()
        return {k: v for k, v in data.items() if k in known and isinstance(v, str)}

    def _write(self, keys: dict[str, str]) -> None:
        write_private(self.path, json.dumps(keys))


def _owner(path: Path) -> str:
    """Its mode and owner, e.g. "-rw-------, owned by root"."""
    import pwd
    import stat

    info = path.stat()
    try:
        owner = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        owner = f"user id {info.st_uid}"
    return f"{stat.filemode(info.st_mode)}, owned by {owner}"
