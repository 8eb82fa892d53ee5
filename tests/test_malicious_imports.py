"""A corpus of malicious and malformed workflow files: each is refused with a clear error naming what is
wrong, or loads as inert text that nothing executes. Importing never writes anything."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from flowdeck.engine.dag import build
from flowdeck.engine.run import Run, drain
from flowdeck.engine.state import fold
from flowdeck.engine.workflow import parse_workflow
from flowdeck.errors import WorkflowError
from flowdeck.models.scripted import ScriptedCaller
from flowdeck.services import Services


def wf(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "format": 1,
        "name": "imported",
        "inputs": [{"name": "task", "default": "t"}],
        "nodes": [{"id": "a", "type": "researcher"}, {"id": "b", "type": "coder"}],
        "edges": [{"id": "a->b", "source": "a", "target": "b"}],
    }
    base.update(changes)
    return base


def node(**fields: Any) -> dict[str, Any]:
    return {"id": "a", "type": "researcher", **fields}


def text(data: Any) -> str:
    return data if isinstance(data, str) else json.dumps(data)


MRO = "{{ ''.__class__.__mro__ }}"
GLOBALS = "{{ cycler.__init__.__globals__ }}"
deep = "[" * 100_000 + "]" * 100_000
many_nodes = wf(nodes=[{"id": f"n{i}", "type": "custom"} for i in range(5_001)], edges=[])
huge = wf(description="x" * (6 * 1024 * 1024))

# (name, file text, fragment the error must contain)
REFUSED = [
    ("not json", "{nodes: [", "not valid JSON"),
    ("a json array", "[]", "must be a JSON object"),
    ("a json string", '"workflow"', "must be a JSON object"),
    ("empty object", "{}", 'format: missing; add "format": 2'),
    ("future format", wf(format=3), "format"),
    ("top-level code", wf(code="import os; os.system('id')"), "code: Extra inputs are not permitted"),
    ("top-level command", wf(command="rm -rf ~"), "command: Extra inputs are not permitted"),
    ("node command", wf(nodes=[node(command="curl evil")]), "nodes[0].command"),
    ("config api_base", wf(nodes=[node(config={"api_base": "http://evil"})]), "nodes[0].config.api_base"),
    ("config api_key", wf(nodes=[node(config={"api_key": "sk-x"})]), "nodes[0].config.api_key"),
    ("config python", wf(nodes=[node(config={"python": "print(1)"})]), "nodes[0].config.python"),
    ("dunder proto", wf(__proto__={"admin": True}), "__proto__"),
    ("too big", huge, "the limit is 5,242,880 bytes"),
    ("deeply nested", deep, "not readable as JSON text"),
    ("too many nodes", many_nodes, "5,001 entries; the limit is 5,000"),
    ("name too long", wf(name="n" * 10_000), "name"),
    ("prompt too long", wf(nodes=[node(config={"prompt_template": "p" * 100_001})]), "prompt_template"),
    ("path traversal id", wf(nodes=[node(id="../../etc/passwd")], edges=[]), "nodes[0].id"),
    ("script tag id", wf(nodes=[node(id="<script>")], edges=[]), "nodes[0].id"),
    ("unknown type", wf(nodes=[{"id": "a", "type": "shell"}], edges=[]), "unknown node type 'shell'"),
    ("temperature too hot", wf(nodes=[node(config={"temperature": 5})]), "temperature"),
    ("temperature text", wf(nodes=[node(config={"temperature": "hot"})]), "temperature"),
    ("negative tokens", wf(nodes=[node(config={"max_tokens": -1})]), "max_tokens"),
    ("nodes not a list", wf(nodes={"a": 1}), "nodes"),
    ("position text", wf(nodes=[node(position="here")]), "nodes[0].position"),
    ("infinite position", '{"format":1,"name":"x","nodes":[{"id":"a","type":"custom","position":{"x":1e999}}]}', "x"),
    ("nan position", '{"format":1,"name":"x","nodes":[{"id":"a","type":"custom","position":{"y":NaN}}]}',
     "nodes[0].position.y: NaN is not a number JSON allows"),
    ("huge integer", '{"format":1,"name":"x","nodes":[{"id":"a","type":"coder","config":{"retries":' + "1" * 9999
     + "}}]}", "nodes[0].config.retries: a number of 9,999 digits"),
    ("lone surrogate name", '{"format":1,"name":"\\udbff","nodes":[]}', "name: holds a lone surrogate (\\udbff)"),
    ("duplicate ids", wf(nodes=[node(), node()], edges=[]), "the id is used by 2 nodes"),
    ("dangling edge", wf(edges=[{"id": "e", "source": "a", "target": "ghost"}]), "ghost"),
    ("self loop", wf(edges=[{"id": "e", "source": "a", "target": "a"}]), "edge e"),
    ("cycle", wf(edges=[{"id": "1", "source": "a", "target": "b"}, {"id": "2", "source": "b", "target": "a"}]), "loop"),
    ("template mro", wf(nodes=[node(config={"prompt_template": MRO})], edges=[]), "node a"),
    ("template globals", wf(nodes=[node(config={"prompt_template": GLOBALS})], edges=[]), "node a"),
    ("template unknown output", wf(nodes=[node(config={"prompt_template": "{{ outputs.b }}"})]), "reads outputs.b"),
    ("template syntax", wf(nodes=[node(config={"prompt_template": "{% for %}"})], edges=[]), "node a"),
]  # fmt: skip

# Files that load: their text is data, shown as text, and nothing in them runs.
INERT = [
    ("script tag in name", wf(name="<script>alert(1)</script>")),
    ("javascript url", wf(description="[click](javascript:alert(1))")),
    ("img onerror in label", wf(nodes=[node(label='<img src=x onerror="alert(1)">'), {"id": "b", "type": "coder"}])),
    ("path traversal in name", wf(name="../../../etc/passwd")),
    ("control characters", wf(name="a\u0000b\u202ec")),
    ("template-looking name", wf(name="{{ ''.__class__ }}")),
]


@pytest.mark.parametrize(("case", "data", "fragment"), REFUSED, ids=[c[0] for c in REFUSED])
def test_malicious_or_malformed_files_are_refused_clearly(case: str, data: Any, fragment: str) -> None:
    with pytest.raises(WorkflowError) as info:
        build(parse_workflow(text(data), source="upload.json"))
    message = str(info.value)
    assert fragment in message, message
    assert "Traceback" not in message and len(message) < 5_000


@pytest.mark.parametrize(("case", "data"), INERT, ids=[c[0] for c in INERT])
async def test_hostile_text_loads_as_inert_data(case: str, data: dict[str, Any]) -> None:
    workflow = parse_workflow(text(data), source="upload.json")
    build(workflow)
    assert workflow.to_dict()["name"] == data["name"]  # kept as the text it is, not interpreted
    state = fold(await drain(Run(workflow, caller=ScriptedCaller(), default_model="scripted")))
    assert state.status == "succeeded"


async def test_a_runaway_template_fails_its_agent_and_nothing_else() -> None:
    loop = "{% for i in range(10**9) %}x{% endfor %}"
    workflow = parse_workflow(text(wf(nodes=[node(config={"prompt_template": loop})], edges=[])))
    state = fold(await drain(Run(workflow, caller=ScriptedCaller(), default_model="scripted")))
    assert state.status == "failed"
    ex = state.nodes["a"].latest
    assert ex is not None and ex.error_kind == "prompt" and ex.error


async def test_importing_never_writes(services: Services) -> None:
    before = services.workflows.list()
    for _case, data, _fragment in REFUSED[:10]:
        with pytest.raises(WorkflowError):
            parse_workflow(text(data))
    assert services.workflows.list() == before


def test_the_corpus_is_large_enough() -> None:
    assert len(REFUSED) + len(INERT) + 1 >= 30


def test_importing_makes_no_network_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("no network during import")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: attempts.append(a) or [])
    for _case, data, _fragment in REFUSED:
        with pytest.raises(WorkflowError):
            build(parse_workflow(text(data), source="upload.json"))
    for _case, data in INERT:
        build(parse_workflow(text(data), source="upload.json"))
    assert attempts == []
