"""Secrets kept out of the side-effect log: saved secrets' values, sensitive headers and URL parts become
"[redacted]" before anything is written."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"
MAX_STRING_CHARS = 4_000  # each string of a call's arguments kept in the log (a file's whole content is not needed)

# Names of headers and fields whose values are credentials: authorization, proxy-authorization, cookie, set-cookie,
# x-api-key, api_key, apikey, any *token*, *secret*, *password*.
_SENSITIVE_NAME = re.compile(r"authori[sz]ation|cookie|api[-_]?key|token|secret|passw(or)?d|credential", re.IGNORECASE)
# A URL's password (scheme://user:PASSWORD@host) and its query parameters with a sensitive name.
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@\"']*:)[^@/\s\"']+@", re.IGNORECASE)
_QUERY_SECRET = re.compile(
    r"([?&;][^=&#\s\"']*(?:authori[sz]ation|api[-_]?key|token|secret|passw(?:or)?d|sig(?:nature)?)[^=&#\s\"']*=)"
    r"[^&#\s\"']*",
    re.IGNORECASE,
)
# In text that is not JSON: `Name: value` or `"name": "value"` pairs with a sensitive name.
_PAIR = re.compile(
    r"""((?:^|[\s{,;"'])[\w-]*(?:authori[sz]ation|cookie|api[-_]?key|token|secret|passw(?:or)?d)[\w-]*["']?\s*[:=]\s*)"""
    r"""("(?:[^"\\]|\\.)*"|'[^']*'|[^\s,;}]+(?:[ \t]+[^\s,;}"']+)?)""",
    re.IGNORECASE,
)


def is_sensitive_name(name: str) -> bool:
    """Whether a header or field of this name holds a credential."""
    return bool(_SENSITIVE_NAME.search(name))


class Redactor:
    """Replaces the given secret values, and credentials found by name, with REDACTED."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first: a secret that contains another is replaced whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def text(self, text: str) -> str:
        """Secret values replaced; nothing else changed (for what the model was given)."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
            escaped = json.dumps(secret)[1:-1]  # as it appears inside JSON text
            if escaped != secret and escaped in text:
                text = text.replace(escaped, REDACTED)
        return text

    def url_text(self, text: str) -> str:
        """Secret values, URL passwords and sensitive query parameters replaced."""
        text = _URL_PASSWORD.sub(rf"\1{REDACTED}@", self.text(text))
        return _QUERY_SECRET.sub(rf"\1{REDACTED}", text)

    def value(self, value: Any) -> Any:
        """A JSON value with every field of a sensitive name redacted, and every string cleaned (url_text)."""
        if isinstance(value, dict):
            return {
                str(k): REDACTED if is_sensitive_name(str(k)) and v not in (None, "") else self.value(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        if isinstance(value, str):
            cleaned = self.url_text(value)
            if len(cleaned) > MAX_STRING_CHARS:
                cleaned = f"{cleaned[:MAX_STRING_CHARS]}… [cut: {len(cleaned):,} characters]"
            return cleaned
        return value

    def arguments(self, raw: str) -> str:
        """A call's arguments (JSON text as the model wrote it) redacted; text that is not JSON is cleaned as text."""
        try:
            parsed = json.loads(raw)
        except ValueError:
            cleaned = _PAIR.sub(rf"\1{REDACTED}", self.url_text(raw))
            return self.value(cleaned)  # type: ignore[no-any-return]
        return json.dumps(self.value(parsed), ensure_ascii=False)
