"""Provider failures over real HTTP (a fake OpenAI-compatible server), through litellm and flowdeck."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flowdeck.engine.events import Message, NodeRetrying
from flowdeck.engine.llm_types import ModelRequest
from flowdeck.engine.state import fold
from flowdeck.errors import (
    AuthenticationFailed,
    ContextTooLong,
    ModelError,
    ModelNotFound,
    ProviderUnavailable,
    RateLimited,
    StreamInterrupted,
)
from flowdeck.models.llm import LiteLLMCaller
from flowdeck.services import Services
from tests.appserver import free_port
from tests.conftest import make_workflow
from tests.fakeprovider import FakeProvider, fake_provider

MODEL = "hosted_vllm/fake-model"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProvider]:
    with fake_provider() as server:
        monkeypatch.setenv("HOSTED_VLLM_API_BASE", server.url)
        yield server


def request() -> ModelRequest:
    messages = [Message(role="user", content="hi")]
    return ModelRequest(model=MODEL, messages=messages, temperature=0, max_tokens=20, timeout=10)


@pytest.mark.parametrize(
    ("mode", "error", "words"),
    [
        ("rate_limit", RateLimited, "rate limiting"),
        ("server_error", ProviderUnavailable, "internal failure"),
        ("auth", AuthenticationFailed, "HOSTED_VLLM_API_KEY"),
        ("not_found", ModelNotFound, "does not know this model"),
        ("context_length", ContextTooLong, "context window"),
        ("cut", StreamInterrupted, "dropped mid-answer"),
        ("malformed", StreamInterrupted, "a chunk that is not valid JSON"),
    ],
)
async def test_http_faults_become_errors_that_say_what_to_do(
    fake: FakeProvider, mode: str, error: type[ModelError], words: str
) -> None:
    fake.script = [mode]
    with pytest.raises(error) as caught:
        await LiteLLMCaller().call(request(), lambda _: None)
    assert words in str(caught.value) and MODEL in str(caught.value)
    if isinstance(caught.value, RateLimited):
        assert caught.value.retry_after == 1.0  # the provider's Retry-After header


async def test_connection_refused_says_the_provider_cannot_be_reached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTED_VLLM_API_BASE", f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(ProviderUnavailable, match="could not reach the provider"):
        await LiteLLMCaller().call(request(), lambda _: None)


async def test_rate_limit_waits_as_told_then_succeeds_and_cut_text_is_never_an_output(
    services: Services, fake: FakeProvider
) -> None:
    workflow = make_workflow(
        [("a", "researcher"), ("b", "coder")], [("a", "b")], a={"model": MODEL}, b={"model": MODEL}
    )
    fake.script = ["rate_limit", "ok", "cut", "cut", "cut"]
    run_id = await services.runner.start(workflow, {}, use_cache=True)
    state = await services.runner.wait(run_id)
    events = services.runs.events(run_id)
    [retry, *cut_retries] = [e for e in events if isinstance(e, NodeRetrying)]
    assert (retry.node_id, retry.error_kind, retry.wait, retry.attempt) == ("a", "rate_limit", 1.0, 2)
    partial = fold([e for e in events if e.seq < retry.seq + 1])
    assert partial.nodes["a"].summary() == "rate limited, retry 2/3 in 1.0 s"
    assert state.nodes["a"].status == "succeeded"
    assert state.outputs()["a"] == "Hello from the fake provider."
    assert [e.error_kind for e in cut_retries] == ["stream_cut", "stream_cut"]
    assert state.nodes["b"].status == "failed"
    assert "after 3 attempts" in state.nodes["b"].summary()
    assert "b" not in services.runs.outputs(run_id)  # the cut-off text was not kept as an output


async def test_an_emoji_cut_between_two_chunks_arrives_whole(fake: FakeProvider) -> None:
    # Lone UTF-16 halves cannot be stored (not valid UTF-8): the pair is joined; a stray half becomes U+FFFD.
    fake.script = ["split_pair"]
    deltas: list[str] = []
    completion = await LiteLLMCaller().call(request(), deltas.append)
    assert completion.text == "smile \U0001f600 done \ufffd"
    assert "".join(deltas) == completion.text
    completion.text.encode("utf-8")  # storable
