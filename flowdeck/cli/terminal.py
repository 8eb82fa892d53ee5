"""Text from models, runs and people, made safe to print on a terminal: its control characters shown, not obeyed.

A model's output or a run's input could otherwise set the window title, write the clipboard (OSC 52) or reset the
terminal of whoever looks at the run. Newlines and tabs stay; every other C0 and C1 character, and DEL, is printed
as an escape (\\x1b)."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def shown(text: str) -> str:
    """`text` with its control characters (but newlines and tabs) written as escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", text)
