"""What messages and docs tell people to open exists: API keys are under ⋮ → API keys… (there is no Settings)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STALE = "Settings → API keys"


def test_messages_name_the_menu_that_exists() -> None:
    files = [*ROOT.glob("flowdeck/**/*.py"), *ROOT.glob("flowdeck/**/*.js"), *ROOT.glob("*.md")]
    stale = {str(path.relative_to(ROOT)) for path in files if STALE in path.read_text(errors="replace")}
    assert stale == set()
