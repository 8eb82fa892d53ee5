"""A key saved in the app goes to its own provider's service only, whatever address variable litellm reads for that
provider (issue 20 item 3). Nothing here is hand-picked: the providers and their aliases come from litellm's own
list (those flowdeck would hand a saved key), the models from litellm's model list (one per way of calling), and the
variables from what litellm's code reads from the environment while it calls them. Each variable is then pointed
at a local server, which must never see a saved key. No call leaves this machine: names other than loopback ones
do not resolve, and connections to other addresses are refused."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowdeck.engine.events import Message
from flowdeck.engine.llm_types import ModelRequest
from flowdeck.errors import FlowdeckError
from flowdeck.models.keys import ProviderKeys
from flowdeck.models.llm import LiteLLMCaller
from flowdeck.models.providers import PROVIDERS, provider_of
from tests.fakeprovider import fake_provider

CANARY = "sk-canary-7d41c09e"
LOOPBACK = ("127.0.0.1", "::1", "localhost")
# An address's name, as litellm and the SDKs it uses spell them (OPENAI_BASE_URL, MISTRAL_AZURE_API_BASE, ...).
ADDRESS = re.compile(r"_(API_BASE|BASE_URL|URL|ENDPOINT|HOST)$")
WAYS = ("chat", "completion", "responses")  # litellm's modes that completion() serves, each by its own code


async def test_every_address_litellm_reads_for_a_keyed_provider_keeps_the_saved_key_home(
    home: Path, offline: None, reads: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import litellm

    keys = ProviderKeys(home)
    for item in PROVIDERS:
        keys.set(item.variable, f"{CANARY}-{item.variable}")
    caller = LiteLLMCaller(keys=keys)
    names = [str(getattr(p, "value", p)) for p in litellm.provider_list]  # enum members, and names added at run time
    keyed = [name for name in names if keys.for_provider(name) is not None]
    assert set(keyed) == {name for item in PROVIDERS for name in item.providers}  # none unknown to litellm
    assert {name: provider_of(litellm, f"{name}/probe-model") for name in keyed} == {n: n for n in keyed}

    checked: dict[str, set[str]] = {}
    leaks: list[str] = []
    with fake_provider() as fake:  # answers as an OpenAI-compatible server would (others fail to read it: fine)
        for model in _models_of(litellm, keyed):
            provider = provider_of(litellm, model)
            if provider is None or keys.for_provider(provider) is None:
                continue  # flowdeck sends no saved key with this model
            reads.clear()
            await _call(caller, model)  # nowhere to go: what litellm reads on its way is recorded
            for variable in sorted(name for name in reads if ADDRESS.search(name)):
                fake.received.clear()
                monkeypatch.setenv(variable, fake.url)
                await _call(caller, model)
                monkeypatch.delenv(variable)
                checked.setdefault(provider, set()).add(variable)
                leaks += [f"{model} via {variable}" for record in fake.received if CANARY in record]
    assert not leaks, f"a saved key reached an address set in the environment: {leaks}"
    assert set(checked) == set(keyed)  # every provider and alias was called, and read an address
    # The recording is real: it finds the variables that earlier attacks found by hand.
    assert {"MISTRAL_AZURE_API_BASE"} <= checked["mistral"]
    assert {"OPENAI_API_BASE", "OPENAI_BASE_URL"} <= checked["text-completion-openai"]
    assert {"COHERE_API_BASE"} <= checked["cohere_chat"]


def _models_of(litellm: Any, providers: list[str]) -> Iterator[str]:
    """Per provider: a model litellm does not list, and the first it lists of each way of calling (named so that
    litellm places it with that provider: "gemini-2.0-flash" alone would go to Vertex AI)."""
    for provider in providers:
        yield f"{provider}/probe-model"
        listed = sorted(litellm.models_by_provider.get(provider, ()))
        for way in WAYS:
            for model in (m for m in listed if litellm.model_cost.get(m, {}).get("mode") == way):
                named = next((n for n in (model, f"{provider}/{model}") if provider_of(litellm, n) == provider), None)
                if named is not None:
                    yield named
                    break


async def _call(caller: LiteLLMCaller, model: str) -> None:
    request = ModelRequest(
        model=model, messages=[Message(role="user", content="hi")], temperature=0, max_tokens=8, timeout=3
    )
    with contextlib.suppress(FlowdeckError):
        await caller.call(request, lambda _: None)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names other than loopback's do not resolve; connections to other addresses are refused."""
    resolve, connect = socket.getaddrinfo, socket.socket.connect

    def loopback_names(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in LOOPBACK:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} is not resolved in tests")
        return resolve(host, *args, **kwargs)

    def loopback_connect(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and address[0] not in LOOPBACK:
            raise ConnectionRefusedError(f"{address[0]} is not reached in tests")
        connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_names)
    monkeypatch.setattr(socket.socket, "connect", loopback_connect)
    # litellm counts some models' tokens with a tokenizer it fetches from Hugging Face: not tried, not retried.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in list(os.environ):
        if ADDRESS.search(name) or name.endswith("_API_KEY") or name == "USE_LITELLM_PROXY":
            monkeypatch.delenv(name)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The names of environment variables read by code other than flowdeck's (litellm, the SDKs it calls)."""
    seen: set[str] = set()
    plumbing = {"os", "_collections_abc", "collections.abc", "typing"}

    class Recording(os._Environ):  # type: ignore[type-arg,name-defined]
        def __getitem__(self, key: str) -> str:
            self._note(key)
            return str(super().__getitem__(key))

        def __contains__(self, key: object) -> bool:
            self._note(key)
            return bool(super().__contains__(key))

        def _note(self, key: object) -> None:
            frame = sys._getframe(2)
            while frame.f_back is not None and frame.f_globals.get("__name__") in plumbing:
                frame = frame.f_back
            if isinstance(key, str) and not str(frame.f_globals.get("__name__")).startswith("flowdeck"):
                seen.add(key)

    environ = os.environ
    # The same variables (the same dict beneath), read through a recorder.
    recorder = Recording(environ._data, environ.encodekey, environ.decodekey, environ.encodevalue, environ.decodevalue)
    monkeypatch.setattr(os, "environ", recorder)
    return seen
