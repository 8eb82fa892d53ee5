"""The engine: workflow model, graph, run, events and reducer. Imports neither nicegui nor storage."""

from flowdeck.engine.dag import Dag, build
from flowdeck.engine.events import Event, event_from_dict, event_to_dict
from flowdeck.engine.llm_types import Completion, ModelCaller, ModelRequest, OutputCache
from flowdeck.engine.run import Run, drain
from flowdeck.engine.state import RunState, fold
from flowdeck.engine.workflow import Workflow, parse_workflow, read_workflow

__all__ = [
    "Completion",
    "Dag",
    "Event",
    "ModelCaller",
    "ModelRequest",
    "OutputCache",
    "Run",
    "RunState",
    "Workflow",
    "build",
    "drain",
    "event_from_dict",
    "event_to_dict",
    "fold",
    "parse_workflow",
    "read_workflow",
]
