"""Wires settings, storage, the model caller and the Runner together (the one place that does)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from flowdeck.config import Settings, ensure_home, load_settings
from flowdeck.engine.embedded import EmbeddedModel
from flowdeck.engine.llm import LiteLLMCaller
from flowdeck.engine.llm_types import Completion, ModelCaller, ModelRequest
from flowdeck.engine.model_process import ModelProcess, ProcessSettings
from flowdeck.engine.scripted import ScriptedCaller, is_scripted
from flowdeck.engine.scripted_litellm import SCRIPTED
from flowdeck.model_worker import model_process as start_model_process
from flowdeck.runner import Runner, recover_interrupted
from flowdeck.storage import OutputCache, RunLog, WorkflowStore, open_database
from flowdeck.storage.keys import ProviderKeys


@dataclass(frozen=True, kw_only=True, slots=True)
class Services:
    settings: Settings
    engine: Engine
    runs: RunLog
    workflows: WorkflowStore
    cache: OutputCache
    runner: Runner
    keys: ProviderKeys
    recovered: list[str]
    models: ModelProcess | None = None  # the process model calls run in, if they do not run in this one

    def close(self) -> None:
        self.cache.close()
        self.runs.close()
        self.engine.dispose()


class DirectScripted:
    """Scripted models in-process, everything else through `other` (see Settings.scripted_direct)."""

    def __init__(self, other: ModelCaller) -> None:
        self._other = other
        self._scripted = ScriptedCaller(SCRIPTED)

    async def prepare(self, models: set[str]) -> None:
        others = {m for m in models if not is_scripted(m)}
        if others:
            await self._other.prepare(others)

    async def call(self, request: ModelRequest, on_text: Callable[[str], None]) -> Completion:
        caller = self._scripted if is_scripted(request.model) else self._other
        return await caller.call(request, on_text)


def open_services(
    settings: Settings | None = None, *, caller: ModelCaller | None = None, model_process: bool = False
) -> Services:
    """Open the database (migrating it), mark runs of dead processes interrupted, build the Runner.

    With `model_process`, model calls run in a child process (see engine/model_process.py): the app server
    does this, so that litellm's work never holds up the pages it serves.

    Blocking: inside a coroutine, call it through asyncio.to_thread.
    """
    settings = settings or load_settings()
    ensure_home(settings)
    engine = open_database(settings.database_url)
    runs = RunLog(engine)
    cache = OutputCache(settings.cache_dir)
    keys = ProviderKeys(settings.home)
    SCRIPTED.ledger = settings.scripted_ledger
    check_models = None
    models = None
    if caller is None:
        real: LiteLLMCaller | ModelProcess
        if model_process:
            real = models = start_model_process(
                ProcessSettings(
                    home=settings.home,
                    embedded_threads=settings.embedded_threads,
                    ollama_base=settings.ollama_base,
                    scripted_ledger=settings.scripted_ledger,
                )
            )
        else:
            real = LiteLLMCaller(
                EmbeddedModel(threads=settings.embedded_threads), keys=keys, ollama_base=settings.ollama_base
            )
        check_models = real.preflight
        caller = DirectScripted(real) if settings.scripted_direct else real
    runner = Runner(
        runs,
        caller,
        default_model=settings.default_model,
        cache=cache,
        max_retry_wait=settings.max_retry_wait,
        check_models=check_models,
    )
    recovered = recover_interrupted(runs)
    return Services(
        settings=settings,
        engine=engine,
        runs=runs,
        workflows=WorkflowStore(engine),
        cache=cache,
        runner=runner,
        keys=keys,
        recovered=recovered,
        models=models,
    )
