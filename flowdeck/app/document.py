"""The workflow being edited: validated edits, undo and redo. Python owns it; the canvas only shows it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from flowdeck.app.edge_rules import graph_problems, refused, verdict_in_use
from flowdeck.app.workflow_settings import Applied, SettingsDraft, apply
from flowdeck.engine.agents import PRESETS, display_name, is_known_type
from flowdeck.engine.handlers import Handler
from flowdeck.engine.tool_config import MAX_AGENT_TOOLS
from flowdeck.engine.tools import MAX_TOOL_CALLS
from flowdeck.engine.workflow import (
    APPROVAL,
    FORMAT_VERSION,
    Condition,
    Edge,
    Loop,
    Node,
    Position,
    Workflow,
    WorkflowInput,
    ancestors,
    predecessors,
)
from flowdeck.errors import EditRefused

HISTORY_LIMIT = 200


# What each setting accepts, in the words of the properties panel (pydantic's own text names types, not fixes).
_APPROVAL_ACCEPTS = {  # an approval's own limits (a person may take days)
    "timeout": "Timeout must be more than 0 seconds and at most 30 days (2592000 s); leave it empty to wait",
    "on_timeout": "On timeout is approve or reject",
    "label": "The question is at most 200 characters",
}
_ACCEPTS = {
    "label": "Name must be at most 200 characters",
    "model": "Model must be a model name of 1 to 200 characters",
    "temperature": "Temperature must be between 0 and 2",
    "system_prompt": "System prompt must be at most 100,000 characters",
    "prompt_template": "Prompt template must be at most 100,000 characters",
    "max_tokens": "Max tokens must be a whole number from 1 to 200,000",
    "timeout": "Timeout must be more than 0 and at most 3600 seconds",
    "retries": "Retries must be a whole number from 0 to 10",
    "pinned_output": "A pinned output must be at most 100,000 characters",
    "tools": f"Tools: an agent lists each tool once, at most {MAX_AGENT_TOOLS}, from the tools this workflow has",
    "max_tool_calls": f"Max tool calls must be a whole number from 1 to {MAX_TOOL_CALLS}",
    "verdicts": "Verdicts must be words of letters, digits, - and _, starting with a letter (at most 40 characters)",
}


@dataclass
class Document:
    """A workflow plus its edit history. Every change returns the new workflow; nothing is half-applied."""

    workflow: Workflow
    app_model: str = "embedded"  # for agents that name no model, unless the workflow names its own
    _undo: list[Workflow] = field(default_factory=list)
    _redo: list[Workflow] = field(default_factory=list)
    saved: Workflow | None = None
    opened: Workflow | None = None  # the workflow as it was opened, when it was never saved; None: edited
    # The agents of the run shown with the workflow. A new agent takes none of their ids, nor the id of any agent this
    # document has had since it was opened: a run's state is keyed by agent id, and must stay with the agent it was.
    in_use: Callable[[], Iterable[str]] = lambda: ()
    _last_key: tuple[str, ...] | None = None
    edge_drafts: dict[str, dict[str, Any]] = field(default_factory=dict)  # a connection's refused fields, kept
    _retired: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.workflow = upgraded(self.workflow)  # the editor saves the newest format; it reads every older one
        self.saved = upgraded(self.saved) if self.saved is not None else None
        if self.saved is None and self.opened is None:
            self.opened = self.workflow
        self._retired = {n.id for n in self.workflow.nodes}

    @property
    def default_model(self) -> str:
        """The model of agents that name none: the workflow's default, else the app's."""
        return self.workflow.default_model or self.app_model

    @property
    def dirty(self) -> bool:
        return self.saved != self.workflow

    @property
    def save_state(self) -> Literal["saved", "new", "changed"]:
        """ "saved": what is shown is what was saved. "new": never saved, and not edited since it was opened (a
        template, a file, a workflow given by a script): nothing the person did would be lost. "changed": edits
        that are not saved."""
        if self.saved == self.workflow:
            return "saved"
        if self.saved is None and self.opened is not None and self.opened == self.workflow:
            return "new"
        return "changed"

    def _commit(self, workflow: Workflow, key: tuple[str, ...] | None = None) -> Workflow:
        """Apply a change. Consecutive changes with the same key (typing in one field) are one undo step."""
        if workflow != self.workflow:
            if key is None or key != self._last_key or not self._undo:
                self._undo.append(self.workflow)
                del self._undo[:-HISTORY_LIMIT]
            self._redo.clear()
            self.workflow = workflow
            self._retired.update(n.id for n in workflow.nodes)
        self._last_key = key
        return workflow

    def undo(self) -> bool:
        self._last_key = None
        if not self._undo:
            return False
        self._redo.append(self.workflow)
        self.workflow = self._undo.pop()
        return True

    def redo(self) -> bool:
        self._last_key = None
        if not self._redo:
            return False
        self._undo.append(self.workflow)
        self.workflow = self._redo.pop()
        return True

    def replace(self, workflow: Workflow, *, saved: bool = False, edited: bool = False) -> None:
        """Load another workflow; its history starts afresh. `edited`: it holds edits never saved (a draft)."""
        workflow = upgraded(workflow)
        self.workflow = workflow
        self._undo.clear()
        self._redo.clear()
        self._retired = {n.id for n in workflow.nodes}
        self.saved = workflow if saved else None
        self.opened = None if saved or edited else workflow

    # -- edits ------------------------------------------------------------------------------------------

    def free_spot(self) -> tuple[float, float]:
        """Where an agent added without a drop position goes: below the others, in the middle (close to
        everything it may be connected to)."""
        nodes = self.workflow.nodes
        if not nodes:
            return 0.0, 0.0
        xs = sorted(n.position.x for n in nodes)
        return xs[len(xs) // 2], max(n.position.y for n in nodes) + 140.0

    def add_node(self, agent_type: str, x: float, y: float) -> Node:
        if not is_known_type(agent_type):
            raise EditRefused(f"unknown agent type '{agent_type}'; use one of: {', '.join([*PRESETS, APPROVAL])}")
        title = PRESETS[agent_type].title if agent_type in PRESETS else "Approval"
        node = Node(
            id=self._new_id(agent_type),
            type=agent_type,
            label=self._new_label(title),
            position=Position(x=round(x, 1), y=round(y, 1)),
        )
        changes: dict[str, Any] = {"nodes": [*self.workflow.nodes, node]}
        if agent_type == APPROVAL:
            changes["format"] = max(self.workflow.format, 2)  # approvals are format 2
        self._commit(self.workflow.model_copy(update=changes))
        return node

    def makes_loop(self, source: str, target: str) -> bool:
        """Whether connecting source to target closes a cycle of ordinary edges (it would need to be a loop edge)."""
        plain = predecessors((e.source, e.target) for e in self.workflow.edges if e.loop is None)
        return source == target or target in ancestors(plain, source)

    def needs_loop(self, source: str, target: str) -> bool:
        """Whether a connection drawn from source to target can only be a loop edge (the editor asks how it loops)."""
        ids = {n.id for n in self.workflow.nodes}
        known = source in ids and target in ids
        taken = any(e.source == source and e.target == target for e in self.workflow.edges)
        return known and not taken and self.makes_loop(source, target)

    def connect(
        self, source: str, target: str, *, condition: Condition | None = None, loop: Loop | None = None
    ) -> Edge:
        """Add an edge; a loop edge (`loop`) goes back to an earlier agent. EditRefused says why one is refused,
        in the engine's words: a cycle that no loop edge bounds (named), a loop that breaks another, a bad cap."""
        ids = {n.id for n in self.workflow.nodes}
        if source not in ids or target not in ids:
            raise EditRefused("both ends of a connection must be agents on the canvas")
        if source == target and loop is None:
            raise EditRefused("an agent cannot be connected to itself")
        if any(e.source == source and e.target == target for e in self.workflow.edges):
            raise EditRefused("these agents are already connected")
        if loop is None and self.makes_loop(source, target):
            path = " -> ".join(self.name(n) for n in [*self._path(target, source), target])
            raise EditRefused(
                f"connecting {self.name(source)} to {self.name(target)} would make a loop ({path}) that no loop edge "
                "bounds; connect it as a loop edge, with at most a few rounds"
            )
        edge = Edge(id=self._new_edge_id(source, target), source=source, target=target, condition=condition, loop=loop)
        workflow = self.workflow.model_copy(update={"edges": [*self.workflow.edges, edge]})
        if condition is not None or loop is not None:
            problems = graph_problems(self.workflow, workflow, edge.id)
            if problems:
                raise refused(problems, condition, loop)
        self._commit(workflow)
        return edge

    def update_edge(self, edge_id: str, *, condition: Condition | None, loop: Loop | None) -> Edge:
        """Set (or clear, with None) an edge's condition and, for a loop edge, its loop settings."""
        old = next((e for e in self.workflow.edges if e.id == edge_id), None)
        if old is None:
            raise EditRefused("this connection is no longer on the canvas")
        if (old.loop is None) != (loop is None):
            raise EditRefused("a connection cannot become or stop being a loop edge; delete it and connect again")
        edge = old.model_copy(update={"condition": condition, "loop": loop})
        workflow = self.workflow.model_copy(
            update={"edges": [edge if e.id == edge_id else e for e in self.workflow.edges]}
        )
        problems = graph_problems(self.workflow, workflow, edge_id)
        if problems:
            raise refused(problems, condition, loop)
        # Typing a condition's text is one undo step; choosing another kind of condition is a step of its own.
        kind = type(condition).__name__ if not isinstance(condition, str) else condition
        self._commit(workflow, ("edge", edge_id, kind))
        return edge

    def _path(self, start: str, end: str) -> list[str]:
        """Agents on a path of ordinary edges from start to end, both included (the cycle a connection closes)."""
        nexts: dict[str, list[str]] = {}
        for e in self.workflow.edges:
            if e.loop is None:
                nexts.setdefault(e.source, []).append(e.target)
        came: dict[str, str] = {start: start}
        todo = [start]
        while todo and end not in came:
            node = todo.pop(0)
            for nxt in nexts.get(node, ()):
                if nxt not in came:
                    came[nxt] = node
                    todo.append(nxt)
        path = [end]
        while path[-1] != start:
            path.append(came[path[-1]])
        return path[::-1]

    def move(self, positions: dict[str, tuple[float, float]]) -> None:
        nodes = [
            n.model_copy(update={"position": Position(x=round(positions[n.id][0], 1), y=round(positions[n.id][1], 1))})
            if n.id in positions
            else n
            for n in self.workflow.nodes
        ]
        self._commit(self.workflow.model_copy(update={"nodes": nodes}))

    def delete(self, node_ids: set[str], edge_ids: set[str]) -> tuple[set[str], set[str]]:
        """Delete nodes (with their edges) and edges; return what was removed."""
        nodes = [n for n in self.workflow.nodes if n.id not in node_ids]
        kept = {n.id for n in nodes}
        edges = [e for e in self.workflow.edges if e.id not in edge_ids and e.source in kept and e.target in kept]
        removed_edges = {e.id for e in self.workflow.edges} - {e.id for e in edges}
        removed_nodes = {n.id for n in self.workflow.nodes} - kept
        self._commit(self.workflow.model_copy(update={"nodes": nodes, "edges": edges}))
        return removed_nodes, removed_edges

    def update_node(self, node_id: str, *, label: str | None = None, **config: Any) -> Node:
        """Change a node's label and config values; EditRefused naming the field if a value is invalid."""
        node = self.workflow.node(node_id)
        model = config.get("model")
        if isinstance(model, str) and any(ch.isspace() for ch in model):
            raise EditRefused(f"“{model}” is not a model name: model names have no spaces", "model")
        data = node.config.model_dump()
        if "question" in config:  # an approval's config "label" (its question): `label` here is the node's name
            config["label"] = config.pop("question")
        data.update(config)
        if isinstance(config.get("verdicts"), list) and (
            in_use := verdict_in_use(self.workflow, node_id, config["verdicts"])
        ):
            raise in_use
        try:
            new_config = type(node.config).model_validate(data)  # an approval's is an ApprovalConfig
            new_node = Node.model_validate(
                node.model_dump() | {"config": new_config.model_dump(), "label": node.label if label is None else label}
            )
        except ValidationError as exc:
            error = exc.errors()[0]
            field = next((str(p) for p in reversed(error["loc"]) if isinstance(p, str)), "config")
            if field == "verdicts" and error["type"] == "value_error":  # listed twice: the validator's own words
                raise EditRefused(f"Verdicts: {str(error['msg']).removeprefix('Value error, ')}", field) from None
            accepts = _APPROVAL_ACCEPTS if node.approval is not None else _ACCEPTS
            raise EditRefused(accepts.get(field, f"{field}: {error['msg']}"), field) from None
        nodes = [new_node if n.id == node_id else n for n in self.workflow.nodes]
        key = ("node", node_id, *sorted(config), *(["label"] if label is not None else []))
        self._commit(self.workflow.model_copy(update={"nodes": nodes}), key)
        return new_node

    def pin(self, node_id: str, output: str | None) -> Node:
        """Pin an agent's output (runs use it instead of calling the model), or unpin it with None."""
        node = self.workflow.node(node_id)
        try:
            new_node = Node.model_validate(node.model_dump() | {"pinned_output": output})
        except ValidationError:
            raise EditRefused(_ACCEPTS["pinned_output"], "pinned_output") from None
        nodes = [new_node if n.id == node_id else n for n in self.workflow.nodes]
        self._commit(self.workflow.model_copy(update={"nodes": nodes}))
        return new_node

    def copy(self, node_ids: set[str]) -> tuple[list[Node], list[Edge]]:
        """The selected nodes and the edges between them, for pasting later."""
        nodes = [n for n in self.workflow.nodes if n.id in node_ids]
        edges = [e for e in self.workflow.edges if e.source in node_ids and e.target in node_ids]
        return nodes, edges

    def paste(self, nodes: list[Node], edges: list[Edge], offset: float = 40.0) -> list[Node]:
        """Add copies of nodes (new ids and names, shifted) with the edges between them; return the copies."""
        current = self.workflow
        renamed: dict[str, str] = {}
        added: list[Node] = []
        for node in nodes:
            base = node.type if node.type in PRESETS else "agent"
            taken = self._taken() | {n.id for n in current.nodes}
            labels = {n.label for n in current.nodes}
            copy = node.model_copy(
                update={
                    "id": _unique(base, taken, "_", 1),
                    "label": _unique(node.label, labels, " ", 2) if node.label else node.label,
                    "position": Position(x=node.position.x + offset, y=node.position.y + offset),
                }
            )
            renamed[node.id] = copy.id
            added.append(copy)
            current = current.model_copy(update={"nodes": [*current.nodes, copy]})
        new_edges = [
            e.model_copy(
                update={
                    "id": f"{renamed[e.source]}->{renamed[e.target]}",
                    "source": renamed[e.source],
                    "target": renamed[e.target],
                }
            )
            for e in edges
            if e.source in renamed and e.target in renamed
        ]
        self._commit(current.model_copy(update={"edges": [*current.edges, *new_edges]}))
        return added

    def rename(self, name: str) -> None:
        name = name.strip()
        if not name:
            raise EditRefused("the workflow needs a name")
        if len(name) > 200:
            raise EditRefused("the name is longer than 200 characters")
        self._commit(self.workflow.model_copy(update={"name": name}), ("name",))

    def apply_settings(self, draft: SettingsDraft) -> Applied:
        """The Workflow settings dialog's changes, as one undo step; EditRefused naming the first bad field."""
        workflow, applied = apply(self.workflow, draft)
        self._commit(workflow)
        return applied

    def set_handlers(self, handlers: list[Handler]) -> None:
        """The workflow's compensation handlers (app/handlers_dialog.py checked them), as one undo step."""
        self._commit(self.workflow.model_copy(update={"handlers": handlers}))

    # -- helpers ----------------------------------------------------------------------------------------

    def name(self, node_id: str) -> str:
        """The agent's name as shown, or its id if there is no such agent."""
        try:
            return display_name(self.workflow.node(node_id))
        except KeyError:
            return node_id

    def _new_id(self, base: str) -> str:
        return _unique(re.sub(r"\W", "_", base) or "agent", self._taken(), "_", 1)

    def _taken(self) -> set[str]:
        """Ids a new agent must not take (see in_use)."""
        return {n.id for n in self.workflow.nodes} | self._retired | set(self.in_use())

    def _new_label(self, title: str) -> str:
        return _unique(title, {n.label for n in self.workflow.nodes}, " ", 2)

    def _new_edge_id(self, source: str, target: str) -> str:
        taken = {e.id for e in self.workflow.edges}
        base = f"{source}->{target}"
        index = 2
        candidate = base
        while candidate in taken:
            candidate = f"{base}:{index}"
            index += 1
        return candidate


def blank_workflow(taken: set[str]) -> Workflow:
    """A new, empty workflow named apart from `taken` (runs are listed by workflow name). It has one input, a
    task, as every agent's default prompt starts with the inputs: an agent dropped on it has something to do."""
    return Workflow(
        format=FORMAT_VERSION,
        name=_unique("Untitled workflow", taken, " ", 2),
        inputs=[WorkflowInput(name="task", label="Task", description="What the agents should do.")],
    )


def upgraded(workflow: Workflow) -> Workflow:
    """The workflow in the newest format (each older format's files are valid in it, as they are)."""
    return workflow if workflow.format >= FORMAT_VERSION else workflow.model_copy(update={"format": FORMAT_VERSION})


def _unique(base: str, taken: set[str], sep: str, start: int) -> str:
    """base if it is free, else base<sep>N with the first free N counting from `start`."""
    if base not in taken:
        return base
    index = start
    while f"{base}{sep}{index}" in taken:
        index += 1
    return f"{base}{sep}{index}"
