"""Imports between the package's rooms point one way (DESIGN.md): read from the source with ast, so an import that
goes up fails here, wherever it hides (inside a function, under TYPE_CHECKING)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "flowdeck"

# What each room may import, besides itself. Everything below a room may be imported by it; nothing above.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "config": {"errors"},
    "engine": {"errors"},
    "templates": {"engine", "errors"},
    "tools": {"config", "engine", "errors"},
    "models": {"config", "engine", "errors"},
    "storage": {"config", "engine", "errors"},
    "runner": {"engine", "errors", "storage", "tools"},
    "services": {"config", "engine", "errors", "models", "runner", "storage"},
    "auth": {"config", "errors", "storage"},
    "api": {"auth", "config", "engine", "errors", "runner", "services", "storage", "templates", "tools"},
    "components": {"config", "engine", "errors"},
    "app": {
        "api",
        "tools",  # a run's files: listing and download (app/run_files.py)
        "auth",
        "components",
        "config",
        "engine",
        "errors",
        "models",
        "runner",
        "services",
        "storage",
        "templates",
    },
    "cli": {
        "(package)",
        "api",
        "app",
        "auth",
        "config",
        "engine",
        "errors",
        "models",
        "services",
        "storage",
        "templates",
        "tools",
    },
    "(package)": {"app", "config", "engine", "errors", "models", "services", "templates"},
}


def test_no_import_goes_up() -> None:
    found = [
        f"{where}: {room} imports {target}" for where, room, target in _imports(ROOT) if target not in ALLOWED[room]
    ]
    assert not found, "imports against the direction of the rooms (see ALLOWED):\n" + "\n".join(found)


def test_every_room_is_known() -> None:
    rooms = {_room_of(path.relative_to(ROOT)) for path in ROOT.rglob("*.py") if "node_modules" not in path.parts}
    assert rooms <= set(ALLOWED), f"rooms with no rule: {rooms - set(ALLOWED)}"


def test_an_import_that_goes_up_is_found(tmp_path: Path) -> None:
    package = tmp_path / "flowdeck"
    for room in ("engine", "storage", "app"):
        (package / room).mkdir(parents=True)
    (package / "services.py").write_text("")
    (package / "engine" / "run.py").write_text("def f():\n    from flowdeck.app.editor import Editor\n")
    (package / "storage" / "db.py").write_text("from flowdeck import services\nfrom flowdeck.engine import run\n")
    assert sorted((room, target) for _, room, target in _imports(package)) == [
        ("engine", "app"),
        ("storage", "engine"),
        ("storage", "services"),
    ]


def _imports(root: Path) -> list[tuple[str, str, str]]:
    """(file:line, its room, the room it imports) for every import of another room of the package."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if "node_modules" in path.parts:
            continue
        room = _room_of(path.relative_to(root))
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # `from flowdeck import services` imports the room named, not the package's __init__
                modules = [f"flowdeck.{a.name}" for a in node.names] if node.module == "flowdeck" else [node.module]
            else:
                continue
            for module in modules:
                target = _room_of_module(module, root)
                if target is not None and target != room:
                    found.append((f"{path.relative_to(root.parent)}:{node.lineno}", room, target))
    return found


def _room_of(relative: Path) -> str:
    if relative.parts == ("__init__.py",):
        return "(package)"
    return relative.parts[0].removesuffix(".py")


def _room_of_module(module: str, root: Path) -> str | None:
    parts = module.split(".")
    if parts[0] != "flowdeck":
        return None
    if len(parts) == 1:
        return "(package)"
    name = parts[1]
    if (root / name).is_dir() or (root / f"{name}.py").exists():
        return name
    return "(package)"  # a name the package's __init__ defines, e.g. `from flowdeck import load`
