"""The workflow fields that give agents tools: an agent's tools and max_tool_calls, the workflow's allowed_domains."""

from __future__ import annotations

import json
from typing import Any

import pytest

from flowdeck.engine.tools import BUILTIN_TOOLS, MAX_TOOL_CALLS
from flowdeck.engine.workflow import parse_workflow, workflow_json_schema
from flowdeck.errors import WorkflowError
from flowdeck.templates import load_template, template_names


def workflow(config: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    node = {"id": "scout", "type": "researcher", "label": "Scout", "config": config or {}}
    return {"format": 2, "name": "w", "nodes": [node], **fields}


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(WorkflowError) as info:
        parse_workflow(json.dumps(data))
    return [str(p) for p in info.value.problems]


def test_tools_and_domains_load_and_save_in_the_file() -> None:
    data = workflow({"tools": ["fetch", "write_file"], "max_tool_calls": 4}, allowed_domains=["example.org"])
    loaded = parse_workflow(json.dumps(data))
    assert loaded.nodes[0].config.tools == ["fetch", "write_file"]
    assert loaded.nodes[0].config.max_tool_calls == 4
    assert loaded.allowed_domains == ["example.org"]
    text = loaded.to_json()
    assert list(json.loads(text))[-1] == "allowed_domains"  # after the edges: the file's key order is fixed
    assert parse_workflow(text) == loaded


def test_files_without_them_load_and_save_as_before() -> None:
    for name in set(template_names()) - {"file-report", "research-with-sources"}:  # the two with tools
        loaded = load_template(name)
        assert loaded.allowed_domains == []
        assert all(n.config.tools == [] and n.config.max_tool_calls == 10 for n in loaded.nodes)
        text = loaded.to_json()
        assert "tools" not in text and "allowed_domains" not in text


def test_an_unknown_tool_names_the_agent_and_the_known_tools() -> None:
    [problem] = problems_of(workflow({"tools": ["fetch", "browse"]}))
    assert "node scout ('Scout')" in problem and "'browse'" in problem and '"tools"' in problem
    assert all(name in problem for name in BUILTIN_TOOLS)


@pytest.mark.parametrize(
    ("tools", "expected"),
    [
        (["fetch", "fetch"], "'fetch' is listed twice; list each tool once"),
        (["rm -rf /"], "is not a tool name; use one of fetch"),
        ("fetch", 'a list is needed, not a text; write ["fetch"]'),
        ([f"t{i}" for i in range(33)], "at most 32"),
    ],
)
def test_bad_tool_lists_are_refused_at_the_field(tools: Any, expected: str) -> None:
    found = problems_of(workflow({"tools": tools}))
    assert any(p.startswith("nodes[0].config.tools") and expected in p for p in found), found


@pytest.mark.parametrize("value", [0, MAX_TOOL_CALLS + 1, True, "10", 2.5, None])
def test_max_tool_calls_is_a_whole_number_within_the_cap(value: Any) -> None:
    [problem] = problems_of(workflow({"max_tool_calls": value}))
    assert problem.startswith("nodes[0].config.max_tool_calls:")
    assert f"1 to {MAX_TOOL_CALLS}" in problem


def test_max_tool_calls_accepts_its_range() -> None:
    for value in (1, MAX_TOOL_CALLS):
        assert parse_workflow(json.dumps(workflow({"max_tool_calls": value}))).nodes[0].config.max_tool_calls == value


def test_an_approval_refuses_tools() -> None:
    data = workflow()
    data["nodes"].append({"id": "ok", "type": "approval", "config": {"tools": ["fetch"]}})
    found = problems_of(data)
    assert any(p.startswith("nodes[1].config") and '"tools" is an agent setting' in p for p in found), found
    data["nodes"][1]["config"] = {"max_tool_calls": 3}
    assert any('"max_tool_calls" is an agent setting' in p for p in problems_of(data))


@pytest.mark.parametrize(
    "entry", ["example.org", "*.example.org", "api.example.co.uk", "localhost", "127.0.0.1", "::1", "10.0.0.7"]
)
def test_allowed_domains_accept_hosts_wildcards_and_addresses(entry: str) -> None:
    assert parse_workflow(json.dumps(workflow(allowed_domains=[entry]))).allowed_domains == [entry]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("https://example.org/x", "has a scheme; write the host name alone, e.g. example.org"),
        ("example.org/path", "has a path; write the host name alone, e.g. example.org"),
        ("example.org:8080", "has a port; write the host name alone, e.g. example.org"),
        ("Example.ORG", "write it in lowercase: example.org"),
        ("[::1]", "without brackets, e.g. ::1"),
        ("*", "would allow every host"),
        ("*.org", "under a top-level domain; name a domain, e.g. *.example.org"),
        ("ex*ample.org", "is not a host name"),
        ("-bad-.org", "is not a host name"),
        ("bücher.de", "xn-- form"),
        ("user@example.org", "user name"),
        ("", "an empty entry"),
        (" example.org", "holds spaces"),
        ("exa mple.org", "without spaces, e.g. example.org"),
        ("169.254.169.254", "is a cloud metadata service; tools may never reach it: remove it"),
        ("fd00:ec2::254", "is a cloud metadata service"),
        ("127.1", "write an IP address in its usual form"),
        ("2130706433", "write an IP address in its usual form"),
        ("0x7f.0x1", "write an IP address in its usual form"),
        ("0:0:0:0:0:0:0:1", "write this address as ::1"),
        ("fe80::1%eth0", "has a zone"),
    ],
)
def test_bad_allowed_domains_say_how_to_write_them(entry: str, expected: str) -> None:
    [problem] = problems_of(workflow(allowed_domains=[entry]))
    assert problem.startswith("allowed_domains[0]:") and expected in problem, problem


def test_allowed_domains_refuse_duplicates_and_long_lists() -> None:
    [problem] = problems_of(workflow(allowed_domains=["example.org", "example.org"]))
    assert "listed twice" in problem
    [problem] = problems_of(workflow(allowed_domains=[f"h{i}.example.org" for i in range(101)]))
    assert problem.startswith("allowed_domains:") and "at most 100" in problem


def test_the_schema_offers_tools_to_agents_only() -> None:
    schema = workflow_json_schema()
    assert {"tools", "max_tool_calls"} <= set(schema["$defs"]["AgentConfig"]["properties"])
    assert not {"tools", "max_tool_calls"} & set(schema["$defs"]["ApprovalConfig"]["properties"])
    assert "allowed_domains" in schema["properties"]
