"""The workflow file format: strict pydantic models, versioned, small and diffable."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    Field,
    SerializeAsAny,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from flowdeck.engine.edges import Condition, Contains, Edge, Expression, Loop, VerdictIs
from flowdeck.engine.format_types import (
    APPROVAL,
    FORMAT_VERSION,
    MAX_APPROVAL_WAIT,
    MAX_EDGES,
    MAX_FILE_BYTES,
    MAX_INPUT_CHARS,
    MAX_INPUTS,
    MAX_NODES,
    MAX_PROMPT_CHARS,
    MAX_ROUNDS,
    MAX_VERDICTS,
    Identifier,
    JsonNumber,
    LongText,
    ModelName,
    ShortText,
    VerdictLabel,
    _Strict,
)
from flowdeck.engine.handlers import MAX_HANDLERS, Handler, check_handlers
from flowdeck.engine.mcp_config import MAX_MCP_SERVERS, McpServer
from flowdeck.engine.strict_json import decode, refusals
from flowdeck.engine.tool_config import DEFAULT_MAX_TOOL_CALLS, AllowedDomains, MaxToolCalls, ToolNames, unknown_tools
from flowdeck.engine.workflow_problems import count_problems, field_problem, refused_problems
from flowdeck.errors import Problem, WorkflowError

__all__ = [  # with what engine/edges.py and engine/format_types.py hold, as every reader imports them from here
    "APPROVAL",
    "FORMAT_VERSION",
    "MAX_FILE_BYTES",
    "MAX_INPUTS",
    "MAX_INPUT_CHARS",
    "MAX_PROMPT_CHARS",
    "MAX_ROUNDS",
    "AgentConfig",
    "ApprovalConfig",
    "Condition",
    "Contains",
    "Edge",
    "Expression",
    "Loop",
    "Node",
    "Position",
    "VerdictIs",
    "Workflow",
    "WorkflowInput",
    "ancestors",
    "parse_workflow",
    "predecessors",
    "read_workflow",
    "workflow_json_schema",
]

M = TypeVar("M", bound=_Strict)


class Position(_Strict):
    x: Annotated[float, JsonNumber] = 0.0
    y: Annotated[float, JsonNumber] = 0.0

    @field_validator("x", "y")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class AgentConfig(_Strict):
    """What an agent sends to its model. Unset values fall back to the agent type's preset."""

    model: ModelName | None = None
    temperature: Annotated[float, Field(ge=0.0, le=2.0), JsonNumber] | None = None
    system_prompt: LongText | None = None
    prompt_template: LongText | None = None
    max_tokens: Annotated[int, Field(ge=1, le=200_000), JsonNumber] = 512
    timeout: Annotated[float, Field(gt=0, le=3600), JsonNumber] = 120.0
    retries: Annotated[int, Field(ge=0, le=10), JsonNumber] = 2
    # The answers this agent chooses from (format 2), e.g. ["approve", "revise"]; None: its type's, when an edge
    # routes on them; []: none.
    verdicts: Annotated[list[VerdictLabel], Field(max_length=MAX_VERDICTS)] | None = None
    tools: ToolNames = []  # the tools its model may call (engine/tool_config.py)
    max_tool_calls: MaxToolCalls = DEFAULT_MAX_TOOL_CALLS  # per execution; then it must answer without tools

    @field_validator("verdicts")
    @classmethod
    def _distinct(cls, value: list[str] | None) -> list[str] | None:
        seen: set[str] = set()
        for verdict in value or ():
            if verdict.casefold() in seen:
                raise ValueError(f"'{verdict}' is listed twice; list each verdict once")
            seen.add(verdict.casefold())
        return value


# The settings an approval refuses (it calls no model).
_AGENT_ONLY = (
    "model",
    "temperature",
    "system_prompt",
    "prompt_template",
    "max_tokens",
    "retries",
    "tools",
    "max_tool_calls",
)


class ApprovalConfig(AgentConfig):
    """An approval node's settings (format 2): a person approves or rejects what it received; no model.

    A subclass of AgentConfig so that every reader of `node.config` keeps working; the agent-only fields are refused
    on it by name."""

    label: ShortText = ""  # what the person is asked, e.g. "Sign off the release notes"
    timeout: Annotated[float, Field(gt=0, le=MAX_APPROVAL_WAIT), JsonNumber] | None = None  # type: ignore[assignment]
    on_timeout: Literal["approve", "reject"] = "reject"

    @model_validator(mode="before")
    @classmethod
    def _no_agent_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):  # a value equal to the agent default is what a full dump holds: let through
            for name in _AGENT_ONLY:
                if name in data and data[name] != AgentConfig.model_fields[name].default:
                    raise ValueError(f'"{name}" is an agent setting; an approval has none: remove it')
            if data.get("verdicts") is not None:
                raise ValueError('"verdicts": an approval\'s verdicts are always approved and rejected; remove it')
        return data


class Node(_Strict):
    id: Identifier
    type: Annotated[str, Field(min_length=1, max_length=64)]
    label: ShortText = ""
    position: Position = Position()
    config: SerializeAsAny[AgentConfig] = Field(default_factory=AgentConfig, validate_default=True)
    pinned_output: LongText | None = None  # used as the agent's output instead of calling its model

    @field_validator("config", mode="wrap")
    @classmethod
    def _config_of_type(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> AgentConfig:
        """An approval node's config is an ApprovalConfig; every other node's an AgentConfig."""
        if info.data.get("type") == APPROVAL:
            if isinstance(value, ApprovalConfig):
                return value
            if isinstance(value, AgentConfig):
                value = value.model_dump(exclude_defaults=True)
            return ApprovalConfig.model_validate(value)
        if isinstance(value, ApprovalConfig):
            value = value.model_dump(exclude_defaults=True, exclude={"label", "on_timeout"})
        config: AgentConfig = handler(value)
        return config

    @property
    def approval(self) -> ApprovalConfig | None:
        """The approval's settings, if this node is one."""
        return self.config if isinstance(self.config, ApprovalConfig) else None


class WorkflowInput(_Strict):
    name: Identifier
    label: ShortText = ""
    description: Annotated[str, Field(max_length=2_000)] = ""
    default: Annotated[str, Field(max_length=MAX_PROMPT_CHARS)] | None = None


class Workflow(_Strict):
    """A workflow file. Key order is fixed by field order, so saved files diff cleanly."""

    format: int
    name: ShortText
    description: Annotated[str, Field(max_length=5_000)] = ""
    default_model: ModelName | None = None  # for agents that name none; None: the app's (FLOWDECK_MODEL)
    inputs: Annotated[list[WorkflowInput], Field(max_length=MAX_INPUTS)] = []
    nodes: Annotated[list[Node], Field(max_length=MAX_NODES)] = []
    edges: Annotated[list[Edge], Field(max_length=MAX_EDGES)] = []
    allowed_domains: AllowedDomains = []  # where its tools may connect (engine/tool_config.py); empty: nowhere
    mcp_servers: Annotated[list[McpServer], Field(max_length=MAX_MCP_SERVERS)] = []  # engine/mcp_config.py
    handlers: Annotated[list[Handler], Field(max_length=MAX_HANDLERS)] = []  # compensation (engine/handlers.py)

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: int) -> int:
        if value > FORMAT_VERSION:
            raise ValueError(
                f"format {value} is newer than this flowdeck understands ({FORMAT_VERSION}); upgrade flowdeck"
            )
        if value < 1:
            raise ValueError(f'format {value} does not exist; use "format": {FORMAT_VERSION}')
        return value

    @model_validator(mode="after")
    def _format_holds_fields(self) -> Workflow:
        if self.format >= 2:
            return self
        used = [f'edge {e.id} uses "condition"' for e in self.edges if e.condition is not None]
        used += [f'edge {e.id} uses "loop"' for e in self.edges if e.loop is not None]
        used += [f'node {n.id} uses "verdicts"' for n in self.nodes if n.config.verdicts is not None]
        used += [f"node {n.id} is an approval" for n in self.nodes if n.type == APPROVAL]
        if used:
            raise ValueError(f'{"; ".join(used[:5])}: these need "format": 2; set "format": 2')
        return self

    @model_validator(mode="after")
    def _known_tools(self) -> Workflow:
        servers = [server.name for server in self.mcp_servers]
        problems = unknown_tools(
            ((n.id, n.label or n.type, n.config.tools) for n in self.nodes if n.config.tools), servers
        )
        problems += [f"MCP server name '{name}' is used twice; give each server its own name" for name in
                     sorted({name for name in servers if servers.count(name) > 1})]  # fmt: skip
        problems += check_handlers(self.handlers)
        if problems:
            raise ValueError("; ".join(problems[:5]))
        return self

    def node(self, node_id: str) -> Node:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def upstream(self, node_id: str) -> frozenset[str]:
        """Every node with a path of edges to this one."""
        return ancestors(predecessors((e.source, e.target) for e in self.edges), node_id)

    def to_dict(self) -> dict[str, Any]:
        """The file's content: defaults left out, keys in a fixed order."""
        return self.model_dump(mode="json", exclude_defaults=True) | {
            "format": self.format,
            "name": self.name,
        }

    def to_json(self) -> str:
        data = self.to_dict()
        ordered = {key: data[key] for key in Workflow.model_fields if key in data}
        return json.dumps(ordered, indent=2, ensure_ascii=False) + "\n"


def predecessors(edges: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Each node's direct sources, from (source, target) pairs."""
    found: dict[str, list[str]] = {}
    for source, target in edges:
        found.setdefault(target, []).append(source)
    return found


def ancestors(predecessors: Mapping[str, Iterable[str]], node_id: str) -> frozenset[str]:
    """Every node upstream of `node_id`: the one walk of the graph backwards that everything uses."""
    seen: set[str] = set()
    todo = list(predecessors.get(node_id, ()))
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(predecessors.get(node, ()))
    return frozenset(seen)


def parse_workflow(data: str | bytes | dict[str, Any], source: str = "") -> Workflow:
    """Validate a workflow from JSON text or a decoded dict; raise WorkflowError naming every bad field."""
    if isinstance(data, str | bytes):
        size = len(data.encode() if isinstance(data, str) else data)
        if size > MAX_FILE_BYTES:
            raise WorkflowError(
                [Problem("", f"the file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,} bytes")], source
            )
        try:
            data, refused = decode(data)
        except json.JSONDecodeError as exc:
            raise WorkflowError(
                [Problem(f"line {exc.lineno}, column {exc.colno}", f"not valid JSON ({exc.msg})")], source
            ) from None
        except (UnicodeDecodeError, RecursionError) as exc:
            raise WorkflowError([Problem("", f"not readable as JSON text ({type(exc).__name__})")], source) from None
    else:
        refused = refusals(data) if isinstance(data, dict) else []
    if not isinstance(data, dict):
        if refused:
            raise WorkflowError(refused_problems(refused), source)
        raise WorkflowError([Problem("", "a workflow file must be a JSON object ({...})")], source)
    problems = count_problems(data, {"nodes": MAX_NODES, "edges": MAX_EDGES, "inputs": MAX_INPUTS})
    if problems:
        raise WorkflowError(problems, source)
    if "format" not in data and not refused:
        raise WorkflowError([Problem("format", f'missing; add "format": {FORMAT_VERSION}')], source)
    try:
        workflow = Workflow.model_validate(data)
    except ValidationError as exc:
        # A refused value fails its field too: said once, by the reader, which knows where it is (pydantic names
        # only the object around a key with a lone surrogate, as string_unicode).
        places = {r.path for r in refused}
        problems = [
            field_problem(error)
            for error in exc.errors()
            if tuple(error["loc"]) not in places and not (refused and error["type"] == "string_unicode")
        ]
        raise WorkflowError(refused_problems(refused) + problems + _graph_problems(data), source) from None
    if refused:  # not reached while every refused value fails its field; kept so that none is ever let through
        raise WorkflowError(refused_problems(refused), source)
    return workflow


def read_workflow(path: Path) -> Workflow:
    """Read and validate a workflow file."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise WorkflowError(
                [Problem("", f"the file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,} bytes")], str(path)
            )
        text = path.read_bytes()
    except OSError as exc:
        raise WorkflowError([Problem("", f"cannot read the file ({exc.strerror})")], str(path)) from None
    return parse_workflow(text, str(path))


def workflow_json_schema() -> dict[str, Any]:
    """The JSON Schema of the workflow file format. A node's config is an agent's, or, for a node of type
    "approval", an approval's (pydantic sees only the field's declared type: the approval's is added here)."""
    schema = Workflow.model_json_schema()
    defs = schema["$defs"]
    approval = ApprovalConfig.model_json_schema(ref_template="#/$defs/{model}")
    defs.update(approval.pop("$defs", {}))
    for name in (*_AGENT_ONLY, "verdicts"):
        approval["properties"].pop(name, None)  # refused on an approval (see ApprovalConfig)
    defs["ApprovalConfig"] = approval
    defs["Node"]["properties"]["config"] = {
        "anyOf": [{"$ref": "#/$defs/AgentConfig"}, {"$ref": "#/$defs/ApprovalConfig"}],
        "description": "An agent's settings; for a node of type \"approval\", an approval's.",
    }
    return schema


def _graph_problems(data: dict[str, Any]) -> list[Problem]:
    """The graph's problems (a cycle, an unknown type, a dangling edge), found in what is valid of a file that
    has field errors too: a person fixing the file learns of every problem at once, not in rounds."""
    from flowdeck.engine.dag import build  # dag builds on this module

    nodes = [node for item in _items(data, "nodes") if (node := _salvaged_node(item)) is not None]
    edges = [edge for item in _items(data, "edges") if (edge := _valid(Edge, item)) is not None]
    inputs = [i for item in _items(data, "inputs") if (i := _valid(WorkflowInput, item)) is not None]
    if not nodes:
        return []  # nothing of the graph to check: the field errors say what is wrong
    try:
        # constructed, not validated: the workflow-wide checks (e.g. its tools) report on their own
        build(Workflow.model_construct(format=FORMAT_VERSION, name="checked", nodes=nodes, edges=edges, inputs=inputs))
    except WorkflowError as exc:
        return list(exc.problems)
    return []


def _items(data: dict[str, Any], key: str) -> list[Any]:
    items = data.get(key)
    return items if isinstance(items, list) else []


def _valid(model: type[M], item: Any) -> M | None:
    try:
        return model.model_validate(item)
    except ValidationError:
        return None


def _salvaged_node(item: Any) -> Node | None:
    """A node as the graph sees it: a node with bad settings still has its id and type (its settings are
    reported on their own); one without a usable id is left out."""
    node = _valid(Node, item)
    if node is not None or not isinstance(item, dict):
        return node
    kind = item.get("type")
    placeholder = {"id": item.get("id"), "type": kind if isinstance(kind, str) and kind else "custom"}
    return _valid(Node, placeholder)
