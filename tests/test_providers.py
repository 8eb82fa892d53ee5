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
from flowdeck.models.providers import custom_base
from flowdeck.services import Services
from tests.appserver import free_port
from tests.conftest import make_workflow
from tests.fakeprovider import fake_provider

CANARY = "sk-canary-3f1e9d0c7b5a4e2f"


@pytest.fixture
def no_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_API_BASE",
        "OPENAI_BASE_URL",
        "ANTHROPIC_API_KEY",
        "HOSTED_VLLM_API_BASE",
        "COHERE_API_KEY",
        "COHERE_API_BASE",
        "MISTRAL_API_KEY",
        "MISTRAL_AZURE_API_BASE",
    ):
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


@pytest.mark.parametrize(
    ("model", "variable", "key"),
    [
        ("cohere_chat/command-r", "COHERE_API_BASE", "COHERE_API_KEY"),
        ("mistral/mistral-small-latest", "MISTRAL_AZURE_API_BASE", "MISTRAL_API_KEY"),
    ],
)
async def test_saved_keys_never_reach_an_address_a_provider_alias_reads(
    home: Path, no_provider_env: None, monkeypatch: pytest.MonkeyPatch, model: str, variable: str, key: str
) -> None:
    # Found by an attack: litellm sends these aliases to variables other than <ALIAS>_API_BASE.
    with fake_provider() as fake:
        fake.script = ["not_found"]
        ProviderKeys(home).set(key, CANARY)
        monkeypatch.setenv(variable, fake.url)
        with pytest.raises(ModelError):
            await LiteLLMCaller(keys=ProviderKeys(home)).call(_request(model), lambda _: None)
    assert not any(CANARY in record for record in fake.received)


@pytest.mark.parametrize("variable", ["OPENAI_BASE_URL", "OPENAI_API_BASE"])
def test_the_text_completion_alias_counts_openais_address_as_its_own(
    no_provider_env: None, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    # litellm sends text-completion-openai/ (and gpt-3.5-turbo-instruct) to OpenAI's address variables; its client
    # leaves sockets open when a call fails, so this case is checked where the caller decides, not by a call.
    monkeypatch.setenv(variable, "http://127.0.0.1:9/v1")
    assert custom_base("text-completion-openai") == (variable, "http://127.0.0.1:9/v1")


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


def _request(model: str) -> ModelRequest:
    return ModelRequest(
        model=model, messages=[Message(role="user", content="hi")], temperature=0, max_tokens=8, timeout=10
    )


@pytest.fixture
def no_server_env(no_provider_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_API_BASE", raising=False)


def test_server_addresses_are_checked_and_saved_with_the_keys(home: Path, no_server_env: None) -> None:
    keys = ProviderKeys(home)
    keys.set("OPENAI_API_KEY", CANARY)
    keys.set_base("OPENAI_API_BASE", " http://127.0.0.1:8000/v1/ ")
    keys.set_base("OLLAMA_API_BASE", "http://gpu-box:11434")
    assert keys.bases() == {"OPENAI_API_BASE": "http://127.0.0.1:8000/v1", "OLLAMA_API_BASE": "http://gpu-box:11434"}
    assert keys.masked() == {"OPENAI_API_KEY": "…4e2f"}  # addresses are not keys
    assert stat.S_IMODE(keys.path.stat().st_mode) == 0o600
    for bad in ("127.0.0.1:8000", "ftp://host/v1", "http://", "http://host:port", "http://a b", "http://u:pw@host"):
        with pytest.raises(ConfigError, match="OPENAI_API_BASE"):
            keys.set_base("OPENAI_API_BASE", bad)
    with pytest.raises(ConfigError, match="not a server address"):
        keys.set_base("PATH", "http://host")
    assert keys.base_url("OPENAI_API_BASE") == "http://127.0.0.1:8000/v1"  # the bad ones changed nothing
    assert keys.remove("OLLAMA_API_BASE") and keys.base_url("OLLAMA_API_BASE") is None


async def test_a_saved_address_is_where_calls_go_and_no_real_key_goes_there(
    home: Path, no_server_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = ProviderKeys(home)
    keys.set("OPENAI_API_KEY", CANARY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", CANARY + "-env")  # another provider's key, in the environment
    caller = LiteLLMCaller(keys=keys)
    with fake_provider() as fake:
        fake.text = "local answer"
        keys.set_base("OPENAI_API_BASE", fake.url)
        assert await caller.preflight({"openai/local-model", "gpt-4o-mini"}) == {}  # a server may need no key
        completion = await caller.call(_request("openai/local-model"), lambda _: None)
        assert completion.text == "local answer"
        monkeypatch.setenv("OPENAI_API_KEY", CANARY + "-env")  # a key in the environment is not sent there either
        assert (await caller.call(_request("gpt-4o-mini"), lambda _: None)).text == "local answer"
    assert len(fake.received) == 2
    assert all("Bearer no-key" in record for record in fake.received)
    assert not any(CANARY in record for record in fake.received)


async def test_a_saved_servers_own_key_goes_to_its_address_alone(
    home: Path, no_server_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = ProviderKeys(home)
    keys.set("OPENAI_API_KEY", CANARY)
    with pytest.raises(ConfigError, match=r"address .*first"):
        keys.set_server_key("OPENAI_API_BASE", "vllm-secret-1")  # a key with nowhere to go is not kept
    with pytest.raises(ConfigError, match="not a server that takes a key"):
        keys.set_server_key("OLLAMA_API_BASE", "x")
    caller = LiteLLMCaller(keys=keys)
    with fake_provider() as fake:
        keys.set_base("OPENAI_API_BASE", fake.url)
        keys.set_server_key("OPENAI_API_BASE", " vllm-secret-1 ")
        assert keys.masked() == {"OPENAI_API_KEY": "…4e2f"}  # a server's key is not a provider's
        assert keys.masked_server_keys() == {"OPENAI_API_BASE": "…et-1"}
        await caller.call(_request("openai/local-model"), lambda _: None)
        monkeypatch.setenv("OPENAI_API_BASE", fake.url)  # the environment's address: the saved key is not for it
        await caller.call(_request("openai/local-model"), lambda _: None)
    assert "Bearer vllm-secret-1" in fake.received[0]
    assert "vllm-secret-1" not in fake.received[1] and CANARY not in "".join(fake.received)
    monkeypatch.delenv("OPENAI_API_BASE")
    assert keys.remove("OPENAI_API_BASE")  # the address takes its key with it
    assert keys.masked_server_keys() == {} and keys.server_key("OPENAI_API_BASE") is None
    assert "vllm-secret-1" not in keys.path.read_text()


async def test_a_saved_address_that_does_not_answer_is_named_and_the_environment_wins(
    home: Path, no_server_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    keys = ProviderKeys(home)
    keys.set_base("OPENAI_API_BASE", closed + "/v1")
    keys.set_base("OLLAMA_API_BASE", closed)
    caller = LiteLLMCaller(keys=keys, ollama_base="http://127.0.0.1:1")
    found = await caller.preflight({"openai/local-model", "ollama_chat/llama3.2"})
    assert found == {
        "openai/local-model": f"no server answers at {closed}/v1 (from OPENAI_API_BASE); start it or correct "
        "OPENAI_API_BASE (in the environment, or in ⋮ → API keys…)",
        "ollama_chat/llama3.2": f"Ollama does not answer at {closed}; start it (`ollama serve`) or change "
        "OLLAMA_API_BASE (in the environment, or in ⋮ → API keys…)",
    }
    with fake_provider() as fake:
        monkeypatch.setenv("OLLAMA_API_BASE", fake.url.removesuffix("/v1"))
        assert await caller.preflight({"ollama_chat/llama3.2"}) == {}
        with pytest.raises(ModelError):  # the fake speaks OpenAI's protocol, not Ollama's: it was called, though
            await caller.call(_request("ollama_chat/llama3.2"), lambda _: None)
        called = len(fake.received)
        monkeypatch.delenv("OLLAMA_API_BASE")
        keys.set_base("OLLAMA_API_BASE", fake.url.removesuffix("/v1"))
        with pytest.raises(ModelError):
            await caller.call(_request("ollama_chat/llama3.2"), lambda _: None)
    assert 0 < called < len(fake.received)


@pytest.mark.parametrize("planted", ["world-readable file", "symlink"])
def test_saved_keys_stay_private_whatever_waits_at_the_temporary_name(
    home: Path, no_provider_env: None, tmp_path: Path, planted: str
) -> None:
    # Found by an attack: a file planted where the keys were first written made them world-readable, or a
    # symlink there had them written elsewhere.
    home.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("untouched")
    stale = home / "provider_keys.tmp"
    if planted == "symlink":
        stale.symlink_to(elsewhere)
    else:
        stale.write_text("{}")
        stale.chmod(0o644)
    keys = ProviderKeys(home)
    keys.set("OPENAI_API_KEY", CANARY)
    assert keys.masked() == {"OPENAI_API_KEY": "…4e2f"}
    assert not keys.path.is_symlink()
    assert stat.S_IMODE(keys.path.stat().st_mode) == 0o600
    assert elsewhere.read_text() == "untouched"
    leaked = [p.name for p in home.iterdir() if p.is_file() and CANARY in p.read_text() and p != keys.path]
    assert not leaked
