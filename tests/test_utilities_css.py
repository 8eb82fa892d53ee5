"""Every CSS class the app's Python code asks for exists: the app runs without NiceGUI's Tailwind compiler, so
a class that is neither in flowdeck/static/utilities.css, nor Quasar's, nor flowdeck's own (fd-*) would be
silently ignored and the page would look wrong."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nicegui

ROOT = Path(__file__).resolve().parents[1] / "flowdeck"


def _classes_used() -> dict[str, set[str]]:
    """Class names in .classes(...) / add_classes / remove / classes= arguments, with the files using them."""
    used: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        if "node_modules" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            args: list[ast.expr] = [k.value for k in node.keywords if k.arg == "classes"]
            if isinstance(node.func, ast.Attribute) and node.func.attr in ("classes", "add_classes"):
                args += node.args + [k.value for k in node.keywords if k.arg in ("add", "remove", "replace")]
            for arg in args:
                for sub in ast.walk(arg):
                    if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                        for name in sub.value.split():
                            used.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return used


def _defined(css: str) -> set[str]:
    # `.name` in selectors, with CSS escapes (`.w-\[40rem\]`, `.hover\:x:hover`) undone.
    return {re.sub(r"\\(.)", r"\1", m) for m in re.findall(r"\.((?:\\.|[A-Za-z0-9_-])+)", css)}


def test_every_class_the_app_uses_is_defined() -> None:
    ours = _defined((ROOT / "static" / "utilities.css").read_text())
    static = Path(nicegui.__file__).parent / "static"
    quasar = _defined((static / "quasar.important.prod.css").read_text())
    quasar |= _defined((static / "quasar.unimportant.prod.css").read_text())
    quasar |= _defined((static / "nicegui.css").read_text())
    used = _classes_used()
    assert len(used) > 40, "the scan found too few classes; is it still reading the app's code?"
    missing = {
        name: sorted(files)
        for name, files in used.items()
        if name not in ours and name not in quasar and not name.startswith("fd-")
    }
    assert not missing, f"classes used but defined nowhere (add them to flowdeck/static/utilities.css): {missing}"


def test_the_utilities_are_not_shadowed_by_quasar_layout_classes() -> None:
    # NiceGUI's own layout CSS beats Quasar's flex helpers; these must come from utilities.css (unlayered).
    ours = _defined((ROOT / "static" / "utilities.css").read_text())
    assert {"items-center", "items-end", "justify-end", "no-wrap"} <= ours
