"""Model calls in a child process (the app server's way): the same answers, errors and cancellation as
in-process calls, and a child that dies is replaced."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from flowdeck.engine.events import Message, NodeFinished, ToolCalled
from flowdeck.engine.llm_types import ModelRequest
from flowdeck.engine.run import Run, drain
from flowdeck.engine.workflow import parse_workflow
from flowdeck.errors import AuthenticationFailed, BadRequest, ModelError, ProviderUnavailable, RateLimited
from flowdeck.models.llm import LiteLLMCaller
from flowdeck.models.process import ModelProcess, ProcessSettings
from flowdeck.models.scripted import ScriptedCaller
from flowdeck.models.worker import model_process
from tests.toolfakes import MemoryToolbox


def request(model: str, task: str = "Reverse a string") -> ModelRequest:
    messages = [Message(role="system", content="You are a coder."), Message(role="user", content=task)]
    return ModelRequest(model=model, messages=messages, temperature=0.2, max_tokens=256, timeout=30)


@pytest.fixture
async def models(tmp_path: Path) -> AsyncIterator[ModelProcess]:
    process = model_process(ProcessSettings(home=tmp_path))
    yield process
    await process.close()


async def test_an_answer_streams_back_whole_and_the_same_as_in_process(models: ModelProcess) -> None:
    deltas: list[str] = []
    completion = await models.call(request("scripted/chunks=8,delay=0.05"), deltas.append)
    here = await LiteLLMCaller().call(request("scripted/chunks=8,delay=0.05"), lambda _: None)
    assert completion.text == here.text and completion.usage == here.usage
    assert len(deltas) > 1 and "".join(deltas) == completion.text


async def test_errors_come_back_classified_with_their_advice(models: ModelProcess) -> None:
    with pytest.raises(RateLimited) as limited:
        await models.call(request("scripted/fault=rate_limit,retry_after=7"), lambda _: None)
    assert limited.value.retry_after == 7 and limited.value.retryable
    assert limited.value.model == "scripted/fault=rate_limit,retry_after=7"
    with pytest.raises(AuthenticationFailed) as refused:
        await models.call(request("scripted/fault=auth"), lambda _: None)
    assert not refused.value.retryable and refused.value.hint
    with pytest.raises(BadRequest) as wrong:
        await models.call(request("scripted/flavour=mint"), lambda _: None)
    assert "flavour" in str(wrong.value) and wrong.value.hint
    assert await models.preflight({"scripted"}) == {}
    problems = await models.preflight({"nonexistent-provider/some-model"})
    assert "nonexistent-provider/some-model" in problems


async def test_a_cancelled_call_stops_in_the_child_and_others_go_on(models: ModelProcess) -> None:
    slow = asyncio.create_task(models.call(request("scripted/chunks=50,delay=0.2"), lambda _: None))
    await asyncio.sleep(1.0)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    completion = await models.call(request("scripted/chunks=3"), lambda _: None)
    assert completion.text


async def test_a_child_that_dies_fails_its_calls_as_retryable_and_is_replaced(models: ModelProcess) -> None:
    await models.prepare({"scripted"})
    pid = models.pid
    assert pid is not None
    call = asyncio.create_task(models.call(request("scripted/chunks=50,delay=0.2"), lambda _: None))
    await asyncio.sleep(0.5)
    os.kill(pid, signal.SIGKILL)  # as the OS might, out of memory
    with pytest.raises(ProviderUnavailable) as gone:
        await call
    assert isinstance(gone.value, ModelError) and gone.value.retryable
    assert "model process stopped" in str(gone.value)
    completion = await models.call(request("scripted/chunks=3"), lambda _: None)  # a new child answers
    assert completion.text
    assert models.pid not in (None, pid)


async def test_the_childs_command_line_holds_no_credential_of_a_server_address(tmp_path: Path) -> None:
    # Any process on the machine can read another's command line: the settings (an Ollama address with a user
    # name and password in it, say) go to the child another way, and still arrive.
    process = model_process(ProcessSettings(home=tmp_path, ollama_base="http://user:secret-pw@127.0.0.1:1/"))
    try:
        problems = await process.preflight({"ollama_chat/llama3.2"})
        pid = process.pid
        assert pid is not None
        command_line = await asyncio.to_thread(Path(f"/proc/{pid}/cmdline").read_bytes)
    finally:
        await process.close()
    assert b"flowdeck.models.worker" in command_line
    assert b"secret-pw" not in command_line and b"user:" not in command_line
    assert "does not answer at http://user:…@127.0.0.1:1/" in problems["ollama_chat/llama3.2"]  # it arrived


async def test_tools_and_their_calls_cross_to_the_child_and_back(models: ModelProcess) -> None:
    config = {"tools": ["fetch", "write_file"], "system_prompt": 'Scout.\nCALL write_file {"path": "a.md"}'}
    workflow = parse_workflow({"format": 2, "name": "w", "nodes": [{"id": "a", "type": "custom", "config": config}]})
    answers = []
    for caller in (models, ScriptedCaller()):
        toolbox = MemoryToolbox()
        events = await drain(Run(workflow, caller=caller, default_model="scripted", toolbox=toolbox))
        assert [e.tool for e in events if isinstance(e, ToolCalled)] == ["write_file"] and toolbox.files == {"a.md": ""}
        answers.append([e.output for e in events if isinstance(e, NodeFinished)])
    assert answers[0] == answers[1] and answers[0][0].endswith("- write_file: wrote a.md")
