"""Pages stay the same size however often they are opened: shared style sheets are added once per process."""

from __future__ import annotations

import urllib.request
from pathlib import Path

from tests.appserver import running_app


def test_opening_pages_again_does_not_grow_them(tmp_path: Path) -> None:
    with running_app(tmp_path / "home", tmp_path / "server.log") as url:
        pages: dict[str, list[str]] = {"/": [], "/runs": []}
        for _ in range(4):
            for path, seen in pages.items():
                with urllib.request.urlopen(url + path, timeout=30) as response:
                    seen.append(response.read().decode())
    for path, seen in pages.items():
        sizes = [len(html) for html in seen]
        assert max(sizes) - min(sizes) < 200, f"{path} grows each time a page is opened: {sizes}"
    editor = pages["/"]
    for rule in (".fd-log-line", ".fd-card-head", ".w-full"):
        assert editor[0].count(rule) == editor[-1].count(rule) > 0, f"{rule} is added to the page again"
