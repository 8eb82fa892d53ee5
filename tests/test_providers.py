"""Before a run: missing keys and unreachable servers are named with the agents affected. Saved provider keys
are write-only, masked, and only ever sent to their own provider's service."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from flowdeck.engine.events import Message
from flowdeck.engine.llm_types import ModelRequest
from flowdeck.errors import ConfigError, ModelError, ModelsNotReady
from flowdeck.models.keys import ProviderKeys
from flowdeck.models.llm import LiteLLMCaller
from flowdeck.services import Services
from tests.appserver import free_port
from tests.conftest import make_workflow
from tests.fakeprovider import fake_provider

CANARY = "sk-canary-3f1e9d0c7b5a4e2f"


@pytest.fixture
def no_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_API_BASE", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "HOSTED_VLLM_API_BASE"):
        monkeypatch.delenv(name, raising=False)


async def test_a_missing_key_is_named_before_anything_runs(services: Services, no_provider_env: None) -> None:
    workflow = make_workflow(
        [("r", "researcher"), ("c", "coder"), ("v", "reviewer")],
        [("r", "c"), ("c", "v")],
        c={"model": "gpt-4o-mini"},
        v={"model": "anthropic/claude-3-5-haiku-latest"},
    )
    with pytest.raises(ModelsNotReady) as caught:
        await services.runner.start(workflow, {})
    problems = [str(p) for p in caught.value.problems]
    assert problems == [
        "Reviewer: anthropic/claude-3-5-haiku-latest: needs ANTHROPIC_API_KEY; set it in the environment or .env, "
        "or save it in ⋮ → API keys… (or `flowdeck keys set ANTHROPIC_API_KEY`)",
        "Coder: gpt-4o-mini: needs OPENAI_API_KEY; set it in the environment or .env, "
        "or save it in ⋮ → API keys… (or `flowdeck keys set OPENAI_API_KEY`)",
    ]
    assert str(caught.value).startswith("the run cannot start (2 problems)")
    assert services.runs.recent() == []  # nothing was recorded


async def test_an_unreachable_local_server_and_an_unknown_provider_are_named(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = free_port()
    monkeypatch.setenv("OLLAMA_API_BASE", f"http://127.0.0.1:{closed}")
    workflow = make_workflow(
        [("r", "researcher"), ("c", "coder")], [("r", "c")], r={"model": "ollama_chat/llama3.2"}, c={"model": "gpt5x"}
    )
    with pytest.raises(ModelsNotReady) as caught:
        await services.runner.start(workflow, {})
    text = str(caught.value)
    assert f"Researcher: ollama_chat/llama3.2: Ollama does not answer at http://127.0.0.1:{closed}" in text
    assert "Coder: gpt5x: no provider recognised in the model string" in text


async def test_a_saved_key_satisfies_the_check_and_is_shown_masked(
    services: Services, no_provider_env: None, home: Path
) -> None:
    keys = ProviderKeys(home)
    keys.set("OPENAI_API_KEY", CANARY)
    assert keys.masked() == {"OPENAI_API_KEY": "…4e2f"}
    assert stat.S_IMODE(keys.path.stat().st_mode) == 0o600
    caller = LiteLLMCaller(keys=keys)
    assert await caller.preflight({"gpt-4o-mini", "scripted", "embedded"}) == {}
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        keys.set("OPENAI_API_KEY", "short")
    with pytest.raises(ConfigError, match="not a provider key"):
        keys.set("PATH", CANARY)
    assert keys.masked() == {"OPENAI_API_KEY": "…4e2f"}  # the bad input changed nothing


async def test_saved_keys_never_reach_a_custom_base_url(
    home: Path, no_provider_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_provider() as fake:
        fake.script = ["not_found"]
        await _call_custom_base(home, monkeypatch, fake.url)
    assert fake.received, "the local server was called"
    assert not any(CANARY in record for record in fake.received)


async def _call_custom_base(home: Path, monkeypatch: pytest.MonkeyPatch, base: str) -> None:
    keys = ProviderKeys(home)
    keys.set("OPENAI_API_KEY", CANARY)
    keys.set("ANTHROPIC_API_KEY", CANARY + "-anthropic")
    monkeypatch.setenv("OPENAI_API_BASE", base)
    monkeypatch.setenv("HOSTED_VLLM_API_BASE", base)
    caller = LiteLLMCaller(keys=keys)
    assert "HOSTED_VLLM_API_BASE" not in str(await caller.preflight({"hosted_vllm/local-model"}))
    for model in ("hosted_vllm/local-model", "openai/local-model"):
        request = ModelRequest(
            model=model, messages=[Message(role="user", content="hi")], temperature=0, max_tokens=8, timeout=10
        )
        with pytest.raises(ModelError):
            await caller.call(request, lambda _: None)
