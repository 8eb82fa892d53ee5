"""Model calls through the real litellm path, with the scripted model's faults."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowdeck.engine.events import Message
from flowdeck.engine.llm_types import ModelRequest
from flowdeck.errors import (
    AuthenticationFailed,
    BadRequest,
    ContextTooLong,
    ModelError,
    ModelNotFound,
    ModelTimeout,
    ProviderUnavailable,
    RateLimited,
    StreamInterrupted,
)
from flowdeck.models.llm import LiteLLMCaller


def request(model: str, timeout: float = 10) -> ModelRequest:
    return ModelRequest(
        model=model,
        messages=[
            Message(role="system", content="You are a coder"),
            Message(role="user", content="palindrome"),
        ],
        temperature=0.2,
        max_tokens=100,
        timeout=timeout,
    )


async def test_scripted_model_streams_through_litellm_with_usage() -> None:
    chunks: list[str] = []
    completion = await LiteLLMCaller(scripted_via_litellm=True).call(
        request("scripted/chunks=4,delay=0.05"), chunks.append
    )
    assert len(chunks) >= 3 and "".join(chunks) == completion.text
    assert "```python" in completion.text
    assert completion.usage.completion_tokens > 0 and completion.cost == 0.0


@pytest.mark.parametrize(
    ("fault", "error", "retryable"),
    [
        ("rate_limit", RateLimited, True),
        ("timeout", ModelTimeout, True),
        ("server_error", ProviderUnavailable, True),
        ("stream_cut", StreamInterrupted, True),
        ("auth", AuthenticationFailed, False),
        ("bad_request", BadRequest, False),
        ("context_length", ContextTooLong, False),
        ("not_found", ModelNotFound, False),
    ],
)
async def test_provider_faults_become_our_error_classes(fault: str, error: type[ModelError], retryable: bool) -> None:
    with pytest.raises(error) as info:
        await LiteLLMCaller(scripted_via_litellm=True).call(
            request(f"scripted/fault={fault},retry_after=7"), lambda _: None
        )
    assert info.value.retryable is retryable
    assert info.value.model.startswith("scripted")
    if isinstance(info.value, RateLimited):
        assert info.value.retry_after == 7


async def test_slow_model_times_out_at_the_node_timeout() -> None:
    with pytest.raises(ModelTimeout, match="raise the node's timeout"):
        await LiteLLMCaller(scripted_via_litellm=True).call(request("scripted/latency=2", timeout=0.2), lambda _: None)


async def test_unknown_provider_says_how_to_write_a_model_string() -> None:
    with pytest.raises(ModelNotFound, match="provider/model"):
        await LiteLLMCaller(scripted_via_litellm=True).call(request("definitely-not-a-model-xyz"), lambda _: None)


async def test_bad_scripted_option_is_named() -> None:
    with pytest.raises(BadRequest, match="'speed=9' is not a scripted model option"):
        await LiteLLMCaller(scripted_via_litellm=True).call(request("scripted/speed=9"), lambda _: None)


async def test_a_scripted_model_can_take_a_while_to_get_ready() -> None:
    caller = LiteLLMCaller(scripted_via_litellm=True)
    await caller.prepare({"scripted"})  # the model library imported once, outside the figure below
    started = time.perf_counter()
    await caller.prepare({"scripted/ready=0.3", "scripted"})
    assert time.perf_counter() - started >= 0.3
    with pytest.raises(BadRequest, match="'ready=soon' is not a scripted model option"):
        await caller.prepare({"scripted/ready=soon"})


async def test_embedded_model_answers_offline() -> None:
    chunks: list[str] = []
    completion = await LiteLLMCaller(scripted_via_litellm=True).call(
        ModelRequest(
            model="embedded",
            messages=[Message(role="user", content="Say hello.")],
            temperature=0.0,
            max_tokens=8,
            timeout=60,
        ),
        chunks.append,
    )
    assert completion.text.strip()
    assert "".join(chunks) == completion.text
    assert completion.usage.completion_tokens > 0


async def test_an_answer_stopped_at_max_tokens_is_marked_cut_on_every_path() -> None:
    def asking(model: str) -> ModelRequest:
        counting = [Message(role="user", content="Count from 1 to 100, one number a line.")]
        return ModelRequest(model=model, messages=counting, temperature=0.0, max_tokens=4, timeout=60)

    through_litellm = LiteLLMCaller(scripted_via_litellm=True)
    assert (await through_litellm.call(asking("scripted"), lambda _: None)).cut
    assert (await LiteLLMCaller().call(asking("scripted"), lambda _: None)).cut
    assert (await LiteLLMCaller().call(asking("embedded"), lambda _: None)).cut
    whole = await LiteLLMCaller().call(request("scripted"), lambda _: None)
    assert not whole.cut


def test_scripted_and_embedded_runs_never_import_litellm(tmp_path: Path) -> None:
    # litellm takes seconds to import: a run on the models that do not need it must not wait for it.
    script = (
        "import asyncio, sys\n"
        "import flowdeck\n"
        "state = flowdeck.run('research-code-review', {'task': 'Reverse a list'}, model='scripted')\n"
        "assert state.status == 'succeeded', state.status\n"
        "print('litellm' in sys.modules)\n"
    )
    env = {**os.environ, "FLOWDECK_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


async def test_embedded_model_says_when_the_prompt_is_too_long() -> None:
    long = "word " * 20_000
    with pytest.raises(ContextTooLong) as too_long:
        await LiteLLMCaller().call(
            ModelRequest(
                model="embedded",
                messages=[Message(role="user", content=long)],
                temperature=0.0,
                max_tokens=8,
                timeout=60,
            ),
            lambda _: None,
        )
    assert too_long.value.model == "embedded" and too_long.value.hint
