from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from flowdeck.config import Settings, load_settings
from flowdeck.engine.workflow import Workflow, parse_workflow

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "home"
    monkeypatch.setenv("FLOWDECK_HOME", str(data))
    monkeypatch.setenv("FLOWDECK_MODEL", "scripted")
    if url := os.environ.get("FLOWDECK_TEST_DATABASE_URL"):
        monkeypatch.setenv("FLOWDECK_DATABASE_URL", url)
    else:
        monkeypatch.delenv("FLOWDECK_DATABASE_URL", raising=False)
    return data


@pytest.fixture
def settings(home: Path) -> Settings:
    return load_settings(env_file=None)


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[object]:
    import asyncio

    from flowdeck.services import open_services

    opened = await asyncio.to_thread(open_services, settings)
    try:
        yield opened
    finally:
        await opened.runner.close()
        opened.close()


def make_workflow(nodes: list[tuple[str, str]], edges: list[tuple[str, str]], **config: dict[str, object]) -> Workflow:
    """A workflow from (id, type) pairs and (source, target) pairs; config per node id by keyword."""
    return parse_workflow(
        {
            "format": 1,
            "name": "test",
            "inputs": [{"name": "task", "default": "check palindromes"}],
            "nodes": [{"id": i, "type": t, "config": config.get(i, {})} for i, t in nodes],
            "edges": [{"id": f"{s}->{t}", "source": s, "target": t} for s, t in edges],
        }
    )


@pytest.fixture
def chain() -> Workflow:
    return make_workflow([("r", "researcher"), ("c", "coder"), ("v", "reviewer")], [("r", "c"), ("c", "v")])
