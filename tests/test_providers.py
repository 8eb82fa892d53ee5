"""Before a run: missing keys and unreachable servers are named with the agents affected. Saved provider keys
are write-only, masked, and only ever sent to their own provider's service."""

from __future__ import annotations

import json
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from flowdeck.engine.events import Message
from flowdeck.engine.llm import LiteLLMCaller
from flowdeck.engine.llm_types import ModelRequest
from flowdeck.errors import ConfigError, ModelError, ModelsNotReady
from flowdeck.services import Services
from flowdeck.storage.keys import ProviderKeys
from tests.appserver import free_port
from tests.conftest import make_workflow

CANARY = "sk-canary-3f1e9d0c7b5a4e2f"


@pytest.fixture
def no_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_API_BASE", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "HOSTED_VLLM_API_BASE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server that records every request (headers and body) and answers 400."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            seen.append(str(self.headers) + self.rfile.read(length).decode(errors="replace"))
            body = json.dumps({"error": {"message": "recorded", "type": "invalid_request_error"}}).encode()
            self.send_response(400)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    server.shutdown()
    server.server_close()


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
        "or save it in Settings → API keys (or `flowdeck keys set ANTHROPIC_API_KEY`)",
        "Coder: gpt-4o-mini: needs OPENAI_API_KEY; set it in the environment or .env, "
        "or save it in Settings → API keys (or `flowdeck keys set OPENAI_API_KEY`)",
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
    home: Path, no_provider_env: None, monkeypatch: pytest.MonkeyPatch, recorder: tuple[str, list[str]]
) -> None:
    base, seen = recorder
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
    assert seen, "the local server was called"
    assert not any(CANARY in record for record in seen)
