"""What the canvas is sent: its nodes and edges as the browser draws them, and the patches that change them.

Each patch is built by one function here, so a misspelt op or field is a type error, not a silent no-op in the
browser (src/index.jsx and src/status.js apply them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypedDict

from flowdeck.engine.agents import PRESETS, display_name, resolve
from flowdeck.engine.workflow import Condition, Edge, Node, Workflow

APPROVAL = "approval"  # a person's step (contract 3): drawn with a person icon and no model line


class Position(TypedDict):
    x: float
    y: float


class CanvasNode(TypedDict):
    id: str
    label: str
    type: str
    typeTitle: str
    icon: str
    model: str
    position: Position
    pinned: bool


class CanvasEdge(TypedDict):
    id: str
    source: str
    target: str
    label: str
    condition: dict[str, str] | str | None  # as in the workflow file (format 2)
    loop: dict[str, Any] | None
    caption: str  # drawn on the edge: "approve", "contains: billing", "revise · ≤ 3"


class RoundMarks(TypedDict, total=False):
    round: int  # the execution index (>= 1) of an agent, or the round a loop edge sent work into
    rounds: int  # the most rounds its loops allow
    tool_calls: int  # the tools an agent's current execution called (its card's badge); 0: none


class NodeStatus(RoundMarks):
    state: str
    text: str


class _Replace(TypedDict):
    op: Literal["replace"]
    nodes: list[CanvasNode]
    edges: list[CanvasEdge]


class _NodeOp(TypedDict):
    op: Literal["add_node", "update_node"]
    node: CanvasNode


class _EdgeOp(TypedDict):
    op: Literal["add_edge", "update_edge"]
    edge: CanvasEdge


class _Ids(TypedDict):
    op: Literal["remove_nodes", "remove_edges", "select"]
    ids: list[str]


class _Bare(TypedDict):
    op: Literal["fit", "layout", "clear_status"]


class _Reveal(TypedDict):
    op: Literal["reveal"]
    x: float
    y: float


class _Theme(TypedDict):
    op: Literal["theme"]
    dark: bool


class _Status(TypedDict):
    op: Literal["status"]
    updates: dict[str, NodeStatus]
    since: float | None


class _Handoffs(TypedDict):
    op: Literal["handoffs"]
    delivered: dict[str, int]
    animate: bool


Patch = _Replace | _NodeOp | _EdgeOp | _Ids | _Bare | _Reveal | _Theme | _Status | _Handoffs


# -- the graph as drawn ------------------------------------------------------------------------------------------


def canvas_node(node: Node, default_model: str) -> CanvasNode:
    if node.type == APPROVAL:
        return {
            "id": node.id,
            "label": node.label or "Approval",
            "type": node.type,
            "typeTitle": "Approval",
            "icon": "person",
            "model": "",
            "position": {"x": node.position.x, "y": node.position.y},
            "pinned": False,
        }
    preset = PRESETS.get(node.type)
    return {
        "id": node.id,
        "label": display_name(node),
        "type": node.type,
        "typeTitle": preset.title if preset else node.type,
        "icon": preset.icon if preset else "help",
        "model": resolve(node, default_model).model if preset else "",
        "position": {"x": node.position.x, "y": node.position.y},
        "pinned": node.pinned_output is not None,
    }


def canvas_nodes(workflow: Workflow, default_model: str) -> list[CanvasNode]:
    return [canvas_node(n, default_model) for n in workflow.nodes]


def canvas_edges(workflow: Workflow) -> list[CanvasEdge]:
    names = {n.id: display_name(n) for n in workflow.nodes}
    return [canvas_edge(e, names) for e in workflow.edges]


def canvas_edge(edge: Edge, names: Mapping[str, str]) -> CanvasEdge:
    condition = edge.condition
    return {
        "id": edge.id,
        "source": edge.source,
        "target": edge.target,
        "label": f"{names.get(edge.source, edge.source)} to {names.get(edge.target, edge.target)}",
        "condition": condition if isinstance(condition, str | None) else condition.model_dump(),
        "loop": edge.loop.model_dump() if edge.loop is not None else None,
        "caption": caption(edge),
    }


def describe(condition: Condition | None) -> str:
    """A condition in a few words: "approve", "contains: billing", "otherwise", "if round > 1"."""
    if condition is None or condition == "otherwise":
        return condition or ""
    kind, value = next(iter(condition.model_dump().items()))
    if kind == "verdict":
        return str(value)
    text = value if len(value) <= 24 else f"{value[:23]}…"
    return f"contains: {text}" if kind == "contains" else f"if {text}"


def caption(edge: Edge) -> str:
    """An edge's label on the canvas: its condition, and for a loop edge its bound ("revise · ≤ 3")."""
    said = describe(edge.condition)
    if edge.loop is None:
        return said
    return f"{said or 'loop'} · ≤ {edge.loop.max_rounds}"


def patches_between(before: Workflow, after: Workflow, app_model: str) -> list[Patch]:
    """Patches that turn what `before` showed into `after` (for undo, redo, loads). `app_model`: the model of
    agents that name none, where the workflow names no default model of its own."""
    old_model = before.default_model or app_model
    default_model = after.default_model or app_model
    old_nodes = {n.id: n for n in before.nodes}
    new_nodes = {n.id: n for n in after.nodes}
    old_edges = {e.id: e for e in before.edges}
    new_edges = {e.id: e for e in after.edges}
    ops: list[Patch] = []
    gone_edges = [i for i, e in old_edges.items() if new_edges.get(i) != e]
    if gone_edges:
        ops.append(remove_edges(gone_edges))
    gone_nodes = [i for i in old_nodes if i not in new_nodes]
    if gone_nodes:
        ops.append(remove_nodes(gone_nodes))
    for node_id, node in new_nodes.items():
        if node_id not in old_nodes:
            ops.append(add_node(canvas_node(node, default_model)))
        elif old_nodes[node_id] != node or (old_model != default_model and node.config.model is None):
            ops.append(update_node(canvas_node(node, default_model)))
    edge_data = {e["id"]: e for e in canvas_edges(after)}
    for edge_id, edge in new_edges.items():
        if old_edges.get(edge_id) != edge:
            ops.append(add_edge(edge_data[edge_id]))
    return ops


# -- patches -----------------------------------------------------------------------------------------------------


def replace(nodes: list[CanvasNode], edges: list[CanvasEdge]) -> Patch:
    return {"op": "replace", "nodes": nodes, "edges": edges}


def add_node(node: CanvasNode) -> Patch:
    return {"op": "add_node", "node": node}


def update_node(node: CanvasNode) -> Patch:
    return {"op": "update_node", "node": node}


def add_edge(edge: CanvasEdge) -> Patch:
    return {"op": "add_edge", "edge": edge}


def update_edge(edge: CanvasEdge) -> Patch:
    """An edge's condition or loop changed: redrawn in place (it stays selected)."""
    return {"op": "update_edge", "edge": edge}


def remove_nodes(ids: list[str]) -> Patch:
    return {"op": "remove_nodes", "ids": ids}


def remove_edges(ids: list[str]) -> Patch:
    return {"op": "remove_edges", "ids": ids}


def select(ids: list[str]) -> Patch:
    return {"op": "select", "ids": ids}


def fit() -> Patch:
    return {"op": "fit"}


def layout() -> Patch:
    """Arrange the agents by data flow (dagre, in the browser: it knows each card's size)."""
    return {"op": "layout"}


def reveal(x: float, y: float) -> Patch:
    """Move the view so that this point shows."""
    return {"op": "reveal", "x": x, "y": y}


def theme(dark: bool) -> Patch:
    return {"op": "theme", "dark": dark}


def status(updates: Mapping[str, NodeStatus], since: float | None) -> Patch:
    """Agents' run states; `since`: the time of the first event they reflect (for the packet animation)."""
    return {"op": "status", "updates": dict(updates), "since": since}


def handoffs(delivered: Mapping[str, int], animate: bool) -> Patch:
    """How many handoffs each edge has delivered so far."""
    return {"op": "handoffs", "delivered": dict(delivered), "animate": animate}


def clear_status() -> Patch:
    return {"op": "clear_status"}
