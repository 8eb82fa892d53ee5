"""The built-in workflow templates, shipped as JSON files beside this module."""

from __future__ import annotations

from importlib import resources

from flowdeck.engine.workflow import Workflow, parse_workflow
from flowdeck.errors import NotFoundError


def template_names() -> list[str]:
    """The names of the built-in templates (their file names without .json)."""
    return sorted(
        entry.name.removesuffix(".json")
        for entry in resources.files(__name__).iterdir()
        if entry.name.endswith(".json")
    )


def load_template(name: str) -> Workflow:
    """A built-in template by name; NotFoundError listing the names if there is none."""
    if name not in template_names():
        raise NotFoundError(f"no built-in template '{name}'; choose one of: {', '.join(template_names())}")
    text = resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8")
    return parse_workflow(text, source=f"template {name}")
