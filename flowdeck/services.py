"""Wires settings, storage, the model caller and the Runner together (the one place that does)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from flowdeck.config import Settings, ensure_home, load_settings
from flowdeck.engine.embedded import EmbeddedModel
from flowdeck.engine.llm import LiteLLMCaller
from flowdeck.engine.llm_types import ModelCaller
from flowdeck.runner import Runner, recover_interrupted
from flowdeck.storage import OutputCache, RunLog, WorkflowStore, open_database


@dataclass(frozen=True, kw_only=True, slots=True)
class Services:
    settings: Settings
    engine: Engine
    runs: RunLog
    workflows: WorkflowStore
    cache: OutputCache
    runner: Runner
    recovered: list[str]

    def close(self) -> None:
        self.cache.close()
        self.engine.dispose()


def open_services(settings: Settings | None = None, *, caller: ModelCaller | None = None) -> Services:
    """Open the database (migrating it), mark runs of dead processes interrupted, build the Runner.

    Blocking: inside a coroutine, call it through asyncio.to_thread.
    """
    settings = settings or load_settings()
    ensure_home(settings)
    engine = open_database(settings.database_url)
    runs = RunLog(engine)
    cache = OutputCache(settings.cache_dir)
    caller = caller or LiteLLMCaller(EmbeddedModel(threads=settings.embedded_threads))
    runner = Runner(
        runs,
        caller,
        default_model=settings.default_model,
        cache=cache,
        max_retry_wait=settings.max_retry_wait,
    )
    recovered = recover_interrupted(runs)
    return Services(
        settings=settings,
        engine=engine,
        runs=runs,
        workflows=WorkflowStore(engine),
        cache=cache,
        runner=runner,
        recovered=recovered,
    )
