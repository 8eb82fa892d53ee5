"""Named secrets that tools use by name (an http_request header "Bearer {{secret:NAME}}"): saved with
`flowdeck secrets set NAME`, kept like the provider keys in a 0600 file in the data dir, never in workflow files,
events, the side-effect log or a page.

Write-only from the outside: `value` gives a secret to the run that uses it, `values` to the redaction of the
side-effect log; listings show names only."""

from __future__ import annotations

import json
import re
from pathlib import Path

from flowdeck.config import write_private
from flowdeck.errors import ConfigError

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")  # as http_request's {{secret:NAME}} (flowdeck/tools/web.py)
MIN_CHARS = 8  # a shorter value would be redacted wherever it appears by chance, and guessed
MAX_CHARS = 8_000
MAX_SECRETS = 200


class SecretStore:
    """Saved secrets by name. Blocking (small file reads)."""

    def __init__(self, home: Path) -> None:
        self.path = home / "secrets.json"

    def set(self, name: str, value: str) -> None:
        """Save (or replace) a secret; ConfigError naming what is wrong, and then nothing is saved."""
        if not NAME.fullmatch(name):
            raise ConfigError(
                f"'{name[:80]}' cannot be a secret's name: use letters, digits and _ (not first a digit, at most 128), "
                "e.g. GITHUB_TOKEN; nothing saved"
            )
        value = value.strip("\r\n")
        if not MIN_CHARS <= len(value) <= MAX_CHARS:
            raise ConfigError(
                f"the value of {name} is {len(value)} characters long; give {MIN_CHARS} to {MAX_CHARS:,}; nothing saved"
            )
        if any(c in value for c in "\r\n\x00"):
            raise ConfigError(f"the value of {name} has a line break or NUL, which no header can carry; nothing saved")
        saved = self._read()
        if name not in saved and len(saved) >= MAX_SECRETS:
            raise ConfigError(f"{MAX_SECRETS} secrets are saved already; remove one first; nothing saved")
        saved[name] = value
        write_private(self.path, json.dumps(saved))

    def remove(self, name: str) -> bool:
        saved = self._read()
        removed = saved.pop(name, None) is not None
        if removed:
            write_private(self.path, json.dumps(saved))
        return removed

    def names(self) -> list[str]:
        return sorted(self._read())

    def value(self, name: str) -> str | None:
        """A secret's value, for the run's tools that reference it by name; None if none is saved by that name."""
        return self._read().get(name)

    def values(self) -> list[str]:
        """Every saved value: the side-effect log redacts them."""
        return list(self._read().values())

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except PermissionError:  # not damaged: deleting it would lose good secrets
            raise ConfigError(
                f"cannot read {self.path}: this user has no permission; the secrets in it are not lost, do not delete "
                "it: run flowdeck as the user it belongs to"
            ) from None
        except (OSError, ValueError):
            raise ConfigError(f"{self.path} is damaged; delete it and save the secrets again") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{self.path} is damaged; delete it and save the secrets again")
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}
