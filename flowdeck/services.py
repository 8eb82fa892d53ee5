"""Wires settings, storage, the model caller and the Runner together (the one place that does)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from flowdeck.config import Settings, ensure_home, load_settings
from flowdeck.engine.llm_types import ModelCaller
from flowdeck.models import Caller, make_caller
from flowdeck.models.keys import ProviderKeys
from flowdeck.runner import Runner, recover_interrupted
from flowdeck.runner.tooling import RunTools
from flowdeck.storage import OutputCache, RunLog, WorkflowStore, open_database
from flowdeck.storage.secret_store import SecretStore
from flowdeck.storage.trust import TrustStore


@dataclass(frozen=True, kw_only=True, slots=True)
class Services:
    settings: Settings
    engine: Engine
    runs: RunLog
    workflows: WorkflowStore
    cache: OutputCache
    runner: Runner
    keys: ProviderKeys
    secrets: SecretStore
    tools: RunTools
    recovered: list[str]
    models: Caller | None = None  # the caller made here (closed at shutdown); None when one was handed in

    def close(self) -> None:
        self.cache.close()
        self.runs.close()
        self.engine.dispose()


def open_services(
    settings: Settings | None = None, *, caller: ModelCaller | None = None, model_process: bool = False
) -> Services:
    """Open the database (migrating it), mark runs of dead processes interrupted, build the Runner.

    With `model_process`, model calls run in a child process (see models/process.py): the app server
    does this, so that litellm's work never holds up the pages it serves.

    Blocking: inside a coroutine, call it through asyncio.to_thread.
    """
    settings = settings or load_settings()
    ensure_home(settings)
    engine = open_database(settings.database_url, busy_timeout=settings.busy_timeout)
    runs = RunLog(engine)
    cache = OutputCache(settings.cache_dir)
    keys = ProviderKeys(settings.home)
    secrets = SecretStore(settings.home)
    tools = RunTools(
        db=engine,
        workspaces=settings.workspaces,
        secret=secrets.value,
        secret_values=secrets.values,
        trusted=TrustStore(engine).approved,  # an MCP stdio command an editor approved (storage/trust.py)
    )
    check_models = None
    models = None
    if caller is None:
        caller = models = make_caller(settings, child_process=model_process)
        check_models = models.preflight
    runner = Runner(
        runs,
        caller,
        default_model=settings.default_model,
        cache=cache,
        max_retry_wait=settings.max_retry_wait,
        check_models=check_models,
        tools=tools,
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
        secrets=secrets,
        tools=tools,
        recovered=recovered,
        models=models,
    )
