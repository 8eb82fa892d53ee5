"""Tools through the real model path: litellm passes them to an OpenAI-compatible server (tests/fakeprovider.py) and
reads back the tool calls it streams; models that cannot call tools are refused before any call."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from flowdeck.engine.events import Message, NodeFailed, ToolCall, ToolCalled
from flowdeck.engine.llm_types import ModelRequest
from flowdeck.engine.run import Run, drain
from flowdeck.engine.workflow import parse_workflow
from flowdeck.errors import ToolsUnsupported
from flowdeck.models.llm import LiteLLMCaller
from tests.fakeprovider import FakeProvider, fake_provider
from tests.toolfakes import SPECS, MemoryToolbox

MODEL = "hosted_vllm/fake-model"
TOOLS = (SPECS["fetch"], SPECS["write_file"])


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProvider]:
    with fake_provider() as server:
        monkeypatch.setenv("HOSTED_VLLM_API_BASE", server.url)
        monkeypatch.setenv("DEEPSEEK_API_BASE", server.url)  # were a refusal to fail, nothing leaves this machine
        yield server


def request(model: str = MODEL, messages: list[Message] | None = None) -> ModelRequest:
    return ModelRequest(
        model=model,
        messages=messages or [Message(role="user", content="find it")],
        temperature=0,
        max_tokens=50,
        timeout=10,
        tools=TOOLS,
    )


def body(received: str) -> dict[str, Any]:
    sent: dict[str, Any] = json.loads(received[received.index("\n\n") + 2 :])
    return sent


async def test_streamed_tool_calls_are_read_whole_in_order(fake: FakeProvider) -> None:
    fake.script = ["tool_calls"]
    chunks: list[str] = []
    completion = await LiteLLMCaller().call(request(), chunks.append)
    assert completion.text == "Let me look." and "".join(chunks) == "Let me look."
    assert completion.tool_calls == (
        ToolCall(id="call_a", name="fetch", arguments='{"url": "https://example.org"}'),
        ToolCall(id="call_b", name="write_file", arguments='{"path": "a.md", "content": "hi"}'),
    )
    sent = body(fake.received[0])
    assert sent["tools"] == [
        {"type": "function", "function": {"name": s.name, "description": s.description, "parameters": s.parameters}}
        for s in TOOLS
    ]


async def test_the_tool_traffic_is_sent_in_openais_form(fake: FakeProvider) -> None:
    call = ToolCall(id="call_a", name="fetch", arguments='{"url": "https://example.org"}')
    messages = [
        Message(role="user", content="find it"),
        Message(role="assistant", content="", tool_calls=(call,)),
        Message(role="tool", content="the page", tool_call_id="call_a"),
    ]
    completion = await LiteLLMCaller().call(request(messages=messages), lambda _: None)
    assert completion.text == "Hello from the fake provider." and completion.tool_calls == ()
    sent = body(fake.received[0])["messages"]
    assert sent[1]["role"] == "assistant" and not sent[1].get("content")
    assert sent[1]["tool_calls"] == [
        {
            "id": "call_a",
            "type": "function",
            "function": {"name": "fetch", "arguments": '{"url": "https://example.org"}'},
        }
    ]
    assert sent[2] == {"role": "tool", "content": "the page", "tool_call_id": "call_a"}


async def test_a_request_without_tools_sends_none(fake: FakeProvider) -> None:
    plain = ModelRequest(
        model=MODEL, messages=[Message(role="user", content="hi")], temperature=0, max_tokens=5, timeout=10
    )
    await LiteLLMCaller().call(plain, lambda _: None)
    assert "tools" not in body(fake.received[0])


async def test_the_embedded_model_is_refused_tools_before_any_call() -> None:
    with pytest.raises(ToolsUnsupported, match="the embedded model cannot call tools — choose a model that can"):
        await LiteLLMCaller().call(request("embedded"), lambda _: None)


def tools_workflow(model: str) -> Any:
    config = {"model": model, "tools": ["fetch"], "system_prompt": "Look it up."}
    return parse_workflow(
        {"format": 2, "name": "w", "nodes": [{"id": "a", "type": "custom", "label": "Scout", "config": config}]}
    )


@pytest.mark.parametrize("model", ["embedded", "deepseek/deepseek-reasoner"])
async def test_an_agent_with_tools_on_a_model_without_them_fails_at_start_by_name(
    fake: FakeProvider, model: str
) -> None:
    events = await drain(Run(tools_workflow(model), caller=LiteLLMCaller(), toolbox=MemoryToolbox()))
    [failed] = [e for e in events if isinstance(e, NodeFailed)]
    assert failed.error_kind == "tools_unsupported" and not failed.retryable
    assert (
        failed.message.startswith("'Scout' uses tools; ")
        and "choose a model that can call tools, e.g." in failed.message
    )
    assert fake.received == []


async def test_the_scripted_model_calls_tools_through_litellm_too() -> None:
    workflow = tools_workflow("scripted")
    node = workflow.nodes[0]
    scripted = node.model_copy(
        update={"config": node.config.model_copy(update={"system_prompt": 'CALL fetch {"url": "https://example.org"}'})}
    )
    workflow = workflow.model_copy(update={"nodes": [scripted]})
    toolbox = MemoryToolbox()
    events = await drain(Run(workflow, caller=LiteLLMCaller(scripted_via_litellm=True), toolbox=toolbox))
    [called] = [e for e in events if isinstance(e, ToolCalled)]
    assert called.tool == "fetch" and called.call_id == "call_1_1"
    assert toolbox.calls == [("fetch", '{"url": "https://example.org"}', called.key)]
    assert events[-1].type == "run_finished" and events[-1].status == "succeeded"  # type: ignore[union-attr]
