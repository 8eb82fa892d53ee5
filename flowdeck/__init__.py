"""flowdeck: design and run AI agent workflows, visually, from the command line, or from Python.

import flowdeck
workflow = flowdeck.load("research-code-review")       # a template name, a file path or JSON text
state = flowdeck.run(workflow, {"task": "Write a palindrome checker"})
print(state.outputs()["reviewer"])

async for event in flowdeck.start(workflow, {"task": "..."}):   # the live event stream, not stored
    print(event.type)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

# Nothing heavy is imported here: `import flowdeck` runs before the command line can catch Ctrl+C (issue 20), so the
# engine (pydantic, jinja2) and asyncio load on first use of the names below.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from flowdeck.engine.events import Event
    from flowdeck.engine.run import Run
    from flowdeck.engine.state import RunState
    from flowdeck.engine.workflow import Workflow, workflow_json_schema
    from flowdeck.errors import FlowdeckError, ModelError, NotFoundError, Problem, WorkflowError

_LAZY = {
    "Event": "flowdeck.engine.events",
    "Run": "flowdeck.engine.run",
    "RunState": "flowdeck.engine.state",
    "Workflow": "flowdeck.engine.workflow",
    "workflow_json_schema": "flowdeck.engine.workflow",
    "FlowdeckError": "flowdeck.errors",
    "ModelError": "flowdeck.errors",
    "NotFoundError": "flowdeck.errors",
    "Problem": "flowdeck.errors",
    "WorkflowError": "flowdeck.errors",
}


def __getattr__(name: str) -> object:
    import importlib

    if name not in _LAZY:
        raise AttributeError(f"module 'flowdeck' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "Event",
    "FlowdeckError",
    "ModelError",
    "NotFoundError",
    "Problem",
    "Run",
    "RunState",
    "Workflow",
    "WorkflowError",
    "arun",
    "load",
    "load_with_identity",
    "open",
    "run",
    "start",
    "workflow_json_schema",
]


def load(source: str | Path | Workflow) -> Workflow:
    """A workflow from a built-in template name, a file path, or JSON text."""
    return load_with_identity(source)[0]


def load_with_identity(source: str | Path | Workflow) -> tuple[Workflow, str]:
    """load(), and the identity that the source's runs are stored under: "template:<name>", "file:<absolute path>",
    or for JSON text and Workflow objects "sha256:<hash of the workflow>" (see flowdeck/engine/identity.py)."""
    from flowdeck.engine.identity import content_identity, file_identity, template_identity
    from flowdeck.engine.workflow import Workflow, parse_workflow, read_workflow

    if isinstance(source, Workflow):
        return source, content_identity(source)
    if isinstance(source, Path):
        return read_workflow(source), file_identity(source)
    if source.lstrip().startswith("{"):
        workflow = parse_workflow(source)
        return workflow, content_identity(workflow)
    from flowdeck.templates import load_template, template_names

    if source in template_names():
        return load_template(source), template_identity(source)
    path = Path(source)
    if path.suffix == ".json" or path.exists():
        return read_workflow(path), file_identity(path)
    return load_template(source), template_identity(source)  # raises NotFoundError listing the templates


def start(source: str | Path | Workflow, inputs: Mapping[str, str] | None = None, *, model: str | None = None) -> Run:
    """A run to iterate (`async for event in run`). It is not stored; use run()/arun() for that."""
    from flowdeck.config import load_settings
    from flowdeck.engine.run import Run
    from flowdeck.models import make_caller

    settings = load_settings()
    return Run(
        load(source),
        inputs,
        caller=make_caller(settings),
        default_model=settings.default_model,
        model_override=model,
        max_retry_wait=settings.max_retry_wait,
    )


async def arun(
    source: str | Path | Workflow,
    inputs: Mapping[str, str] | None = None,
    *,
    model: str | None = None,
    use_cache: bool = False,
    on_event: Callable[[Event], None] | None = None,
) -> RunState:
    """Run a workflow to completion, stored in the run history, and return its final state."""
    import asyncio

    from flowdeck.engine.state import RunState, fold
    from flowdeck.services import open_services

    workflow, identity = load_with_identity(source)
    services = await asyncio.to_thread(open_services)
    try:
        run_id = await services.runner.start(workflow, inputs, model=model, use_cache=use_cache, workflow_id=identity)
        state = RunState()
        async for event in services.runner.subscribe(run_id):
            fold([event], state)
            if on_event is not None:
                on_event(event)
        return state
    finally:
        await services.runner.close()
        services.close()


def run(
    source: str | Path | Workflow,
    inputs: Mapping[str, str] | None = None,
    *,
    model: str | None = None,
    use_cache: bool = False,
) -> RunState:
    """Blocking version of arun(), for scripts."""
    import asyncio

    return asyncio.run(arun(source, inputs, model=model, use_cache=use_cache))


def open(source: str | Path | Workflow = "research-code-review", *, port: int = 8765, browser: bool = True) -> None:
    """Start the editor on 127.0.0.1 with this workflow loaded (unsaved); blocks until Ctrl+C."""
    from flowdeck.app.server import serve

    serve(port=port, open_browser=browser, workflow=load(source))
