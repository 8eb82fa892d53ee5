"""The API's routes for undoing a run's side effects and for the approvals that let handlers run: compensate a run
(editors), read what it would do and what was done (viewers too), mark manual steps done, and approve, list or
revoke handlers by content hash (approving and revoking: editors)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

from flowdeck.api.schemas import Problem
from flowdeck.engine.handlers import Handler
from flowdeck.errors import NotFoundError, WorkflowError
from flowdeck.runner.compensating import trust_level
from flowdeck.services import Services
from flowdeck.storage.compensations import mark_done
from flowdeck.storage.trust import TrustStore, approve_handler


class AttemptItem(BaseModel):
    key: str = Field(description="The undone effect's key (see GET /runs/{id}/effects).")
    tool: str
    handler: str | None = Field(description="The handler's id; null when none undoes this kind of effect.")
    status: str = Field(description="ok, failed, manual, blocked, done before, or no handler.")
    message: str


class CompensationResult(BaseModel):
    run_id: str
    attempts: list[AttemptItem] = Field(description="Effect by effect, newest first.")


class PlannedItem(BaseModel):
    key: str
    tool: str
    status: str = Field(description="The effect's own status: ok or unknown.")
    handler: str | None
    trust: str | None = Field(description="system, approved or untrusted (null: no handler).")
    blocked: str | None = Field(description="Why its handler may not run, if it may not.")
    undone: bool
    reach: dict[str, list[str]] = Field(description="What its handler can call: domains, methods, files, secrets.")


class LoggedItem(BaseModel):
    seq: int
    key: str
    tool: str
    attempt: int
    status: str = Field(description="ok, failed, manual (steps for a person) or blocked.")
    handler: str
    message: str
    detail: dict[str, Any]
    ts: float


class CompensationView(BaseModel):
    run_id: str
    compensating: bool = Field(description="A compensation of this run goes on in the server now.")
    planned: list[PlannedItem] = Field(description="What compensating on demand would do, newest effect first.")
    log: list[LoggedItem] = Field(description="The attempts recorded, oldest first.")


class DoneRequest(BaseModel):
    by: str = Field(default="api", min_length=1, max_length=200, description="Who followed the steps.")


class ApproveRequest(BaseModel):
    handler: Handler = Field(description="The handler as the workflow lists it; its content hash is approved.")


class TrustItem(BaseModel):
    content_hash: str
    kind: str
    summary: dict[str, Any]
    approved_by: str
    approved_at: float


_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": Problem, "description": "The run is still going, or there is nothing of that kind to do."}
}


def add_compensation_routes(
    api: FastAPI,
    services: Services,
    summary: Callable[[Services, str], Awaitable[str]],
    editor: Callable[[Request, str], None],
) -> None:
    """POST /runs/{id}/compensate, GET /runs/{id}/compensation, POST /runs/{id}/compensation/{key}/done, and
    GET/POST /trust, DELETE /trust/{hash}."""

    # Read when a request comes, not now: the schema is also built with no services (`flowdeck api schema`).
    def runner() -> Any:
        return services.runner

    def trust() -> TrustStore:
        return TrustStore(services.engine)

    @api.post(
        "/runs/{run_id}/compensate",
        responses=_CONFLICT,
        response_model=CompensationResult,
        summary="Undo a finished run's side effects with its handlers (newest first, each once); editors only",
    )
    async def compensate_run(run_id: str, request: Request) -> CompensationResult:
        editor(request, "compensating runs")
        full = await summary(services, run_id)
        try:
            done = await runner().compensate(full, "demand")
        except WorkflowError as exc:
            raise HTTPException(409, [str(p) for p in exc.problems]) from None
        attempts = [
            AttemptItem(key=a.key, tool=a.tool, handler=a.handler, status=a.status, message=a.message)
            for a in done.attempts
        ]
        return CompensationResult(run_id=full, attempts=attempts)

    @api.get(
        "/runs/{run_id}/compensation",
        responses=_CONFLICT,
        response_model=CompensationView,
        summary="What compensating a run would do and the attempts recorded",
    )
    async def get_compensation(run_id: str) -> CompensationView:
        full = await summary(services, run_id)
        try:
            full, planned = await runner().plan_compensation(full)
            logged = await runner().compensation_log(full)
        except WorkflowError as exc:
            raise HTTPException(409, [str(p) for p in exc.problems]) from None
        store = trust()
        levels = await asyncio.to_thread(
            lambda: {p.handler.content_hash(): trust_level(p.handler, store) for p in planned if p.handler}
        )
        return CompensationView(
            run_id=full,
            compensating=runner().compensating(full),
            planned=[
                PlannedItem(
                    key=p.effect.key,
                    tool=p.effect.tool,
                    status=p.effect.status,
                    handler=p.handler.id if p.handler else None,
                    trust=levels[p.handler.content_hash()] if p.handler else None,
                    blocked=p.blocked,
                    undone=p.undone,
                    reach=p.handler.reach() if p.handler else {},
                )
                for p in planned
            ],
            log=[
                LoggedItem(
                    seq=e.seq,
                    key=e.key,
                    tool=e.tool,
                    attempt=e.attempt,
                    status=e.status,
                    handler=e.handler,
                    message=e.message,
                    detail=e.detail,
                    ts=e.ts,
                )
                for e in logged
            ],
        )

    @api.post(
        "/runs/{run_id}/compensation/{key}/done",
        responses=_CONFLICT,
        response_model=LoggedItem,
        summary="Mark an effect's manual compensation steps as done by a person; editors only",
    )
    async def mark_manual_done(run_id: str, key: str, body: DoneRequest, request: Request) -> LoggedItem:
        editor(request, "marking compensation steps done")
        full = await summary(services, run_id)
        try:
            e = await asyncio.to_thread(mark_done, services.engine, full, key, body.by)
        except NotFoundError as exc:
            raise HTTPException(409, str(exc)) from None
        return LoggedItem(seq=e.seq, key=e.key, tool=e.tool, attempt=e.attempt, status=e.status,
                          handler=e.handler, message=e.message, detail=e.detail, ts=e.ts)  # fmt: skip

    @api.get("/trust", response_model=list[TrustItem], summary="Approved handlers and MCP commands, newest first")
    async def list_trust() -> list[TrustItem]:
        entries = await asyncio.to_thread(trust().entries)
        return [TrustItem(content_hash=e.content_hash, kind=e.kind, summary=e.summary, approved_by=e.approved_by,
                          approved_at=e.approved_at) for e in entries]  # fmt: skip

    @api.post("/trust", response_model=TrustItem, summary="Approve a compensation handler (its exact content); editors")
    async def approve_trust(body: ApproveRequest, request: Request) -> TrustItem:
        editor(request, "approving handlers")
        e = await asyncio.to_thread(approve_handler, trust(), body.handler, "editor (API)")
        return TrustItem(content_hash=e.content_hash, kind=e.kind, summary=e.summary, approved_by=e.approved_by,
                         approved_at=e.approved_at)  # fmt: skip

    @api.delete("/trust/{content_hash}", summary="Revoke an approval: the handler is untrusted again; editors")
    async def revoke_trust(content_hash: str, request: Request) -> dict[str, bool]:
        editor(request, "revoking approvals")
        if not await asyncio.to_thread(trust().revoke, content_hash):
            raise HTTPException(404, f"no approval has the content hash {content_hash[:80]}; GET /trust lists them")
        return {"revoked": True}
