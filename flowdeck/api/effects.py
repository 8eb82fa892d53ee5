"""The API's routes for what a run's tools did: its side effects (the append-only log) and its artifacts (the files
in its workspace), listed and downloaded. Reading: viewer tokens may use them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException
from fastapi.responses import Response
from pydantic import BaseModel, Field

from flowdeck.engine.events import RunStarted
from flowdeck.services import Services
from flowdeck.storage.effects import Effect, effects_of

# Served as text (never as HTML, which would run in the API's origin); anything else is bytes to save. The guard in
# front of the API adds "X-Content-Type-Options: nosniff" to every answer, so a browser does not guess otherwise.
TEXT_SUFFIXES = frozenset({".txt", ".md", ".csv", ".tsv", ".json", ".jsonl", ".log", ".yaml", ".yml", ".toml", ".xml"})


class EffectItem(BaseModel):
    seq: int = Field(description="Its place in the side-effect log.")
    tool: str
    agent: str = Field(description="The agent's name as the run showed it.")
    node_id: str
    round: int = Field(description="The agent's execution (round) that made the call.")
    attempt: int = Field(description="1, or more when a resume ran a call with an unknown outcome again.")
    status: str = Field(description="ok, failed, or unknown (the process stopped while the call ran).")
    arguments: Any = Field(description="The call's arguments, secrets redacted.")
    detail: dict[str, Any] = Field(description="What the tool reported (method, url, status, path...), redacted.")
    result: str = Field(description="What the model was given, redacted.")
    key: str = Field(description="The call's idempotency key.")
    started_at: float
    finished_at: float | None


class ArtifactItem(BaseModel):
    path: str = Field(description="Relative to the run's workspace; download it from .../artifacts/{path}.")
    size: int
    modified: float


def add_effect_routes(api: FastAPI, services: Services, summary: Callable[[Services, str], Awaitable[str]]) -> None:
    """GET /runs/{id}/effects, /runs/{id}/artifacts and /runs/{id}/artifacts/{path}. `summary`: a run's full id from
    an id or a unique prefix (404 otherwise)."""

    @api.get("/runs/{run_id}/effects", response_model=list[EffectItem], summary="A run's side effects, oldest first")
    async def get_effects(run_id: str) -> list[EffectItem]:
        full = await summary(services, run_id)
        effects, labels = await asyncio.to_thread(_effects, services, full)
        return [_item(e, labels) for e in effects]

    @api.get("/runs/{run_id}/artifacts", response_model=list[ArtifactItem], summary="The files a run's tools wrote")
    async def list_artifacts(run_id: str) -> list[ArtifactItem]:
        full = await summary(services, run_id)
        from flowdeck.tools import artifacts

        found = await asyncio.to_thread(artifacts, services.tools.workspace(full))
        return [ArtifactItem(path=a.path, size=a.size, modified=a.modified) for a in found]

    @api.get(
        "/runs/{run_id}/artifacts/{path:path}",
        summary="Download one of a run's files (as an attachment); 404 for a path that leaves its workspace",
        response_class=Response,
        responses={200: {"content": {"application/octet-stream": {}, "text/plain": {}}}},
    )
    async def get_artifact(run_id: str, path: str) -> Response:
        full = await summary(services, run_id)
        from flowdeck.tools import Workspace, WorkspaceError

        try:  # a path that leaves the workspace, a symlink, a folder: no file of the run's to give
            name, data = await asyncio.to_thread(Workspace(services.tools.workspace(full)).read, path)
        except WorkspaceError as exc:
            detail = f"run {full} has no such file to download: {exc}; `GET .../artifacts` lists them"
            raise HTTPException(404, detail) from None
        filename = name.rsplit("/", 1)[-1]
        suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        text = suffix in TEXT_SUFFIXES and _is_utf8(data)
        headers = {
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename, safe='')}",
            "Content-Security-Policy": "sandbox; default-src 'none'",
        }
        media = "text/plain; charset=utf-8" if text else "application/octet-stream"
        return Response(data, media_type=media, headers=headers)


def _effects(services: Services, run_id: str) -> tuple[list[Effect], dict[str, str]]:
    first = services.runs.events(run_id, 0, limit=1)
    labels = first[0].labels if first and isinstance(first[0], RunStarted) else {}
    return effects_of(services.engine, run_id), labels


def _item(effect: Effect, labels: dict[str, str]) -> EffectItem:
    try:
        arguments: Any = json.loads(effect.arguments)
    except ValueError:
        arguments = effect.arguments  # the model's text was not JSON: kept (redacted) as it came
    return EffectItem(
        seq=effect.seq,
        tool=effect.tool,
        agent=labels.get(effect.node_id, effect.node_id),
        node_id=effect.node_id,
        round=effect.execution,
        attempt=effect.attempt,
        status=effect.status,
        arguments=arguments,
        detail=effect.detail,
        result=effect.content,
        key=effect.key,
        started_at=effect.started_at,
        finished_at=effect.finished_at,
    )


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
