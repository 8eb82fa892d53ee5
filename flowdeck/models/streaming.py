"""Streamed text on its way from the model thread to the caller: whole characters only, and deltas merged into one
callback per wakeup of the caller's loop (models/llm.py)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable

_SURROGATE = re.compile("[\ud800-\udfff]")


class WholeCharacters:
    """Deltas made of whole characters. A provider that escapes text as UTF-16 (an emoji as \\ud83d\\ude00) can
    cut a pair between two chunks; each half alone is not valid UTF-8, so no event holding it could be stored.
    Halves are joined across chunks; a half with no partner becomes U+FFFD."""

    def __init__(self) -> None:
        self._held = ""

    def take(self, delta: str | None) -> str:
        text = self._held + (delta or "")
        self._held = ""
        if not _SURROGATE.search(text):
            return text
        if "\ud800" <= text[-1] <= "\udbff":  # a first half: its partner may open the next chunk
            self._held, text = text[-1], text[:-1]
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")

    def rest(self) -> str:
        held, self._held = self._held, ""
        return "\ufffd" if held else ""


def forwarder(on_text: Callable[[str], None]) -> Callable[[str], None]:
    """Deliver text deltas from the model loop to the caller's loop, merged into one callback per wakeup."""
    loop = asyncio.get_running_loop()
    pending: list[str] = []
    lock = threading.Lock()

    def deliver() -> None:
        with lock:
            text = "".join(pending)
            pending.clear()
        if text:
            on_text(text)

    def forward(delta: str) -> None:
        with lock:
            first = not pending
            pending.append(delta)
        if first:
            loop.call_soon_threadsafe(deliver)

    return forward
