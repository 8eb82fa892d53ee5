"""Everything that calls a model: the litellm caller, providers and their keys, the embedded and scripted
models, and the child process the app server calls them from. `make_caller` is the one way to get a caller."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from flowdeck.config import Settings
from flowdeck.engine.llm_types import Completion, ModelCaller, ModelRequest
from flowdeck.models.embedded import EmbeddedModel
from flowdeck.models.keys import ProviderKeys
from flowdeck.models.llm import LiteLLMCaller
from flowdeck.models.process import ProcessSettings
from flowdeck.models.scripted import ScriptedCaller, is_scripted
from flowdeck.models.scripted_litellm import SCRIPTED

__all__ = ["Caller", "make_caller"]


class Caller(ModelCaller, Protocol):
    """A ModelCaller that can also say, without calling, what stops models from being called, and be closed."""

    async def preflight(self, models: set[str], with_tools: frozenset[str] = frozenset()) -> dict[str, str]: ...

    async def close(self) -> None: ...


def make_caller(settings: Settings, *, child_process: bool = False) -> Caller:
    """The caller for these settings, with the provider keys saved in the data dir.

    With `child_process`, calls run in a child process (models/process.py): the app server does this, so that
    litellm's work never holds up the pages it serves. Settings.scripted_direct keeps scripted models in this process.
    """
    SCRIPTED.ledger = settings.scripted_ledger
    real: Caller
    if child_process:
        from flowdeck.models.worker import model_process  # not at the top: `python -m` runs that module

        real = model_process(
            ProcessSettings(
                home=settings.home,
                embedded_threads=settings.embedded_threads,
                ollama_base=settings.ollama_base,
                scripted_ledger=settings.scripted_ledger,
                scripted_via_litellm=settings.scripted_via_litellm,
            )
        )
    else:
        real = LiteLLMCaller(
            EmbeddedModel(threads=settings.embedded_threads),
            keys=ProviderKeys(settings.home),
            ollama_base=settings.ollama_base,
            scripted_via_litellm=settings.scripted_via_litellm,
        )
    return _DirectScripted(real) if settings.scripted_direct else real


class _DirectScripted:
    """Scripted models in-process, everything else through `other` (see Settings.scripted_direct)."""

    def __init__(self, other: Caller) -> None:
        self._other = other
        self._scripted = ScriptedCaller(SCRIPTED)

    async def prepare(self, models: set[str]) -> None:
        if others := _not_scripted(models):
            await self._other.prepare(others)

    async def preflight(self, models: set[str], with_tools: frozenset[str] = frozenset()) -> dict[str, str]:
        others = _not_scripted(models)
        return await self._other.preflight(others, with_tools & others) if others else {}

    async def call(self, request: ModelRequest, on_text: Callable[[str], None]) -> Completion:
        caller = self._scripted if is_scripted(request.model) else self._other
        return await caller.call(request, on_text)

    async def close(self) -> None:
        await self._other.close()


def _not_scripted(models: set[str]) -> set[str]:
    return {m for m in models if not is_scripted(m)}
