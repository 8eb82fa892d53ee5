"""The editor's model list: a real (tiny) Ollama-compatible server on loopback, and an unreachable one."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from flowdeck.app.model_options import ModelChoices, model_choices, model_options
from flowdeck.config import Settings
from flowdeck.models.keys import ProviderKeys


class _Tags(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"models": [{"name": "llama3.2:latest"}, {"name": "qwen2.5"}]}).encode()
        self.send_response(200 if self.path == "/api/tags" else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def ollama() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Tags)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_models_of_a_reachable_ollama_are_offered(settings: Settings, ollama: str) -> None:
    options = await model_options(replace(settings, ollama_base=ollama))
    assert "ollama_chat/llama3.2:latest" in options
    assert "ollama_chat/qwen2.5" in options
    assert list(options)[:2] == ["embedded", "scripted"]


async def test_unreachable_ollama_offers_nothing_and_does_not_hang(settings: Settings) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    options = await model_options(replace(settings, ollama_base=f"http://127.0.0.1:{closed}"))
    assert not [name for name in options if name.startswith("ollama_chat/")]


async def test_provider_keys_present_suggest_their_models(settings: Settings) -> None:
    options = await model_options(
        replace(settings, env_keys=frozenset({"OPENAI_API_KEY"}), ollama_base="http://127.0.0.1:9")
    )
    assert "gpt-4o-mini" in options


async def test_a_known_server_is_answered_at_once_and_asked_again_in_the_background(
    settings: Settings, ollama: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page does not wait for Ollama once its models are known: it gets the last answer, and an answer older
    than 30 s is refreshed behind it, for the next page."""
    from flowdeck.app import model_options as module

    first = await module.ollama_models(ollama)
    assert first == ["llama3.2:latest", "qwen2.5"]
    asked = []

    async def slow_tags(base: str) -> list[str]:
        asked.append(base)
        await asyncio.sleep(0.2)
        module._found[base] = (time.monotonic(), ["new-model"])
        return ["new-model"]

    monkeypatch.setattr(module, "_tags", slow_tags)
    assert await asyncio.wait_for(module.ollama_models(ollama), 0.05) == first  # fresh: not asked again
    assert asked == []
    when, names = module._found[ollama]
    module._found[ollama] = (when - 31, names)  # 31 s old
    assert await asyncio.wait_for(module.ollama_models(ollama), 0.05) == first  # stale: answered at once...
    assert await asyncio.wait_for(module.ollama_models(ollama), 0.05) == first  # ...asked only once meanwhile
    await asyncio.sleep(0.3)
    assert asked == [ollama]
    assert await module.ollama_models(ollama) == ["new-model"]


def test_a_provider_model_without_its_key_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_API_BASE", "OPENAI_BASE_URL"):
        monkeypatch.delenv(variable, raising=False)
    choices = ModelChoices({})
    needed = {model: choices.missing_key(model) for model in ("gpt-4o-mini", "anthropic/claude-3-5-haiku-latest")}
    assert {model: item and item.variable for model, item in needed.items()} == {
        "gpt-4o-mini": "OPENAI_API_KEY",
        "anthropic/claude-3-5-haiku-latest": "ANTHROPIC_API_KEY",
    }
    for model in ("embedded", "scripted/latency=1", "ollama_chat/llama3.2", "my-local-model"):
        assert choices.missing_key(model) is None, model
    assert ModelChoices({}, frozenset({"OPENAI_API_KEY"})).missing_key("gpt-4o") is None  # saved in the app
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-0123456789")
    assert choices.missing_key("anthropic/claude-3-5-haiku-latest") is None
    monkeypatch.setenv("OPENAI_API_BASE", "http://127.0.0.1:8000/v1")  # a server of one's own needs no OpenAI key
    assert choices.missing_key("openai/my-model") is None


async def test_a_provider_name_litellm_does_not_know_is_hinted_with_the_nearest(settings: Settings) -> None:
    choices = await model_choices(settings, ProviderKeys(settings.home))
    assert {"openai", "anthropic", "ollama_chat", "groq"} <= choices.providers  # read without importing litellm
    hint = choices.unknown_provider("opnai/gpt-4o-mini")
    assert hint is not None and "“opnai” is not a provider" in hint and "did you mean openai" in hint
    assert "write provider/model" in (choices.unknown_provider("mycorp/model-1") or "")
    for model in ("openai/gpt-4o-mini", "OpenAI/gpt-4o", "scripted/latency=1", "embedded", "gpt-4o", "ollama_chat/x"):
        assert choices.unknown_provider(model) is None, model
    assert ModelChoices({}).unknown_provider("opnai/x") is None  # providers unknown: no hint rather than a wrong one
