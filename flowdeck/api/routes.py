"""The headless HTTP API, mounted at /api/v1: run saved workflows, follow and cancel runs, read results.

Every request needs an API token (`Authorization: Bearer TOKEN`, see `flowdeck auth token create`); the
guard checks it before this app sees the request. Viewer tokens read; editor tokens also start and cancel.
The schema is served at /api/v1/openapi.json and printed by `flowdeck api schema`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from importlib.metadata import version
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPBearer

from flowdeck.api.compensation import add_compensation_routes
from flowdeck.api.effects import add_effect_routes
from flowdeck.api.followers import Followers
from flowdeck.api.protocol import keep_to_the_schema, problem_errors, unprocessable
from flowdeck.api.schemas import (
    MAX_SEQ,
    Approve,
    DecisionRequest,
    NodeResult,
    Problem,
    ResumeRequest,
    RunListItem,
    RunRequest,
    RunResult,
    WorkflowItem,
)
from flowdeck.engine.approvals import Decision
from flowdeck.engine.events import event_to_dict, event_to_json
from flowdeck.engine.identity import IDENTITY_LIMIT, template_identity
from flowdeck.engine.state import RunPhase, RunState, fold
from flowdeck.engine.workflow import Workflow
from flowdeck.errors import ModelError, ModelsNotReady, NotFoundError, NotWaitingError, StorageError, WorkflowError
from flowdeck.services import Services
from flowdeck.templates import load_template, template_names

PREFIX = "/api/v1"
_bearer = HTTPBearer(auto_error=False, description="An API token from `flowdeck auth token create NAME`.")
_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "No valid API token."},
    403: {"model": Problem, "description": "A viewer token cannot do this."},
    404: {"model": Problem, "description": "No such workflow or run."},
    413: {"model": Problem, "description": "The request's body is larger than this route takes (1 MiB)."},
    503: {"model": Problem, "description": "The database failed; the detail says why and what to do."},
}
# Links tell clients (and the schema's fuzzer) that a started run's id is what the run's own paths take.
_RUN_LINKS = {
    name: {"operationId": operation, "parameters": {"run_id": "$response.body#/id"}}
    for name, operation in (
        ("get", "get_run"),
        ("events", "get_events"),
        ("cancel", "cancel_run"),
        ("resume", "resume_run"),
    )
}
_NOT_WAITING: dict[int | str, dict[str, Any]] = {
    409: {
        "model": Problem,
        "description": "Nothing waits there: the run goes on, has ended, or the approval was decided already; or "
        "the models of what comes next are not ready.",
    }
}
_STARTED: dict[int | str, dict[str, Any]] = {
    200: {"model": RunResult, "description": "With wait: the run has ended.", "links": _RUN_LINKS},
    202: {"description": "The run has started.", "links": _RUN_LINKS},
}
_NOT_GOING: dict[int | str, dict[str, Any]] = {
    200: {"model": RunResult, "description": "The run was cancelled here: it has ended."},
    202: {
        "model": RunResult,
        "description": "Another process drives the run (e.g. `flowdeck runs approve`): it was asked to cancel it, "
        'and does within a second; status "cancelling".',
    },
    409: {"model": Problem, "description": "The run is not going: nothing to cancel."},
}
_NOT_RESUMABLE: dict[int | str, dict[str, Any]] = {
    409: {
        "model": Problem,
        "description": "Nothing to resume (every agent has its output), the run is still going, "
        "its models are not ready, or it has tool calls whose outcome is unknown and no choice (unknown) was given; "
        "the detail lists why.",
    }
}


def build_api(services: Services) -> FastAPI:
    """The API as an app of its own (mounted at PREFIX), so that its OpenAPI schema holds only the API."""
    api = FastAPI(
        title="flowdeck API",
        version=version("flowdeck"),
        description=__doc__,
        docs_url=None,  # Swagger UI would load its scripts from a CDN; the schema is enough
        redoc_url=None,
        openapi_url="/openapi.json",
        dependencies=[Depends(_bearer)],
        responses=_ERRORS,
        generate_unique_id_function=lambda route: route.name,  # operationIds as the functions: start_run, get_run...
    )
    keep_to_the_schema(api)
    followers = Followers()

    @api.exception_handler(StorageError)
    async def storage_failed(_request: Request, exc: StorageError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @api.get("/workflows", response_model=list[WorkflowItem], summary="Workflows that can be run")
    async def list_workflows() -> list[WorkflowItem]:
        saved = await asyncio.to_thread(lambda: [*services.workflows.list(), *services.workflows.list(templates=True)])
        items = [
            WorkflowItem(
                id=s.id,
                name=s.name,
                kind="template" if s.is_template else "saved",
                inputs=[i.name for i in s.workflow.inputs],
            )
            for s in saved
        ]
        for name in template_names():
            items.append(
                WorkflowItem(id=None, name=name, kind="builtin", inputs=[i.name for i in load_template(name).inputs])
            )
        return items

    @api.post("/runs", response_model=RunResult, status_code=202, summary="Start a run", responses=_STARTED)
    async def start_run(body: RunRequest, request: Request) -> JSONResponse:
        _editor(request)
        workflow, workflow_id = await _resolve(services, body.workflow)
        try:
            run_id = await services.runner.start(
                workflow, body.inputs, model=body.model, use_cache=body.use_cache, workflow_id=workflow_id
            )
        except WorkflowError as exc:
            field = "model" if isinstance(exc, ModelsNotReady) and body.model else "workflow"
            raise unprocessable(problem_errors(exc.problems, field)) from None
        except ModelError as exc:  # a model string no caller takes (e.g. an unknown scripted option)
            field = "model" if body.model is not None and exc.model == body.model else "workflow"
            raise unprocessable([(["body", field], str(exc))]) from None
        state = await services.runner.wait(run_id) if body.wait else RunState(status="pending")
        state.workflow_name = state.workflow_name or workflow.name
        state.workflow_id = state.workflow_id or workflow_id
        return JSONResponse(_result(run_id, state).model_dump(), status_code=200 if body.wait else 202)

    @api.get("/runs", response_model=list[RunListItem], summary="Recent runs, newest first")
    async def list_runs(
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        workflow: Annotated[
            str | None, Query(max_length=200, description="Only runs of workflows with this name.")
        ] = None,
        status: Annotated[RunPhase | None, Query(description="Only runs in this state.")] = None,
        workflow_id: Annotated[
            str | None, Query(max_length=IDENTITY_LIMIT, description="Only runs of the workflow with this identity.")
        ] = None,
    ) -> list[RunListItem]:
        rows = await asyncio.to_thread(
            services.runs.recent, limit=limit, workflow=workflow, status=status, workflow_id=workflow_id
        )
        return [
            RunListItem(
                id=r.id,
                workflow=r.workflow_name,
                workflow_id=r.workflow_id,
                status=r.status,
                started_at=r.started_at,
                duration=r.duration,
                tokens=r.prompt_tokens + r.completion_tokens,
                cost=r.cost,
                label=r.label,
            )
            for r in rows
        ]

    @api.get("/runs/{run_id}", response_model=RunResult, summary="A run's status, per-agent results and outputs")
    async def get_run(run_id: str) -> RunResult:
        state = await _state(services, run_id)
        return _result(state.run_id, state)

    @api.get(
        "/runs/{run_id}/events",
        summary="A run's events (JSON list), or with follow=true the live stream (JSON lines) until it ends",
        response_model=None,
        responses={
            200: {"content": {"application/json": {}, "application/x-ndjson": {}}},
            429: {"model": Problem, "description": "Too many event streams followed at once (see Retry-After)."},
        },
    )
    async def get_events(
        request: Request,
        run_id: str,
        after: Annotated[int, Query(ge=0, le=MAX_SEQ, description="Only events after this sequence number.")] = 0,
        follow: bool = False,
    ) -> StreamingResponse | list[dict[str, object]]:
        summary = await _summary(services, run_id)
        if not follow:
            if services.runner.unstored_end(summary) is not None:
                return [event_to_dict(e) for e in services.runner.recorded_so_far(summary) if e.seq > after]
            return [event_to_dict(e) for e in await asyncio.to_thread(services.runs.events, summary, after)]

        async def lines() -> AsyncIterator[str]:
            async for event in services.runner.subscribe(summary, after):
                yield event_to_json(event) + "\n"

        return followers.stream(request, lines())

    @api.post(
        "/runs/{run_id}/resume",
        response_model=RunResult,
        status_code=202,
        summary="Finish a stopped run (interrupted, failed or cancelled) as a new run: only the agents without an "
        "output run",
        responses={**_STARTED, **_NOT_RESUMABLE},
    )
    async def resume_run(
        run_id: str, request: Request, wait: bool = False, body: ResumeRequest | None = None
    ) -> JSONResponse:
        _editor(request)
        summary = await _summary(services, run_id)
        try:
            new_id = await services.runner.resume(summary, unknown=body.unknown if body is not None else None)
        except (WorkflowError, ModelError) as exc:
            problems = [str(p) for p in exc.problems] if isinstance(exc, WorkflowError) else [str(exc)]
            raise HTTPException(409, problems) from None
        state = await services.runner.wait(new_id) if wait else RunState(status="pending")
        return JSONResponse(_result(new_id, state).model_dump(), status_code=200 if wait else 202)

    @api.post(
        "/runs/{run_id}/cancel",
        response_model=RunResult,
        summary="Cancel a run that is going, or waits for approval, here or in another process on this database",
        responses=_NOT_GOING,
    )
    async def cancel_run(run_id: str, request: Request) -> JSONResponse:
        _editor(request)
        summary = await _summary(services, run_id)
        outcome = "cancelled" if services.runner.cancel(summary) else await services.runner.cancel_anywhere(summary)
        if outcome is None:
            raise HTTPException(409, f"run {summary} is not going; nothing to cancel")
        if outcome == "cancelling":  # another process drives it, and was asked to cancel it: it ends there
            result = _result(summary, await _state(services, summary)).model_copy(update={"status": "cancelling"})
            return JSONResponse(result.model_dump(), status_code=202)
        return JSONResponse(_result(summary, await services.runner.wait(summary)).model_dump())

    @api.post(
        "/runs/{run_id}/approvals/{node_id}",
        response_model=RunResult,
        status_code=202,
        summary="Decide an approval that waits (approve, edit and approve, or reject with a note); the run goes on",
        responses={**_STARTED, **_NOT_WAITING},
    )
    async def decide_approval(run_id: str, node_id: str, body: DecisionRequest, request: Request) -> JSONResponse:
        _editor(request, "deciding approvals")
        summary = await _summary(services, run_id)
        text = body.text if isinstance(body, Approve) else None
        decision = Decision(
            approve=isinstance(body, Approve), by="api", note=body.note, text=text, execution=body.execution
        )
        try:
            await services.runner.decide(summary, node_id, decision)
        except NotWaitingError as exc:
            raise HTTPException(409, str(exc)) from None
        except ModelsNotReady as exc:
            raise HTTPException(409, [str(p) for p in exc.problems]) from None
        except WorkflowError as exc:
            raise unprocessable([(["body", p.where], str(p)) for p in exc.problems]) from None
        state = await services.runner.wait(summary) if body.wait else RunState(status="running")
        return JSONResponse(_result(summary, state).model_dump(), status_code=200 if body.wait else 202)

    add_effect_routes(api, services, _summary)
    add_compensation_routes(api, services, _summary, _editor)
    return api


def _editor(request: Request, doing: str = "starting and cancelling runs") -> None:
    if getattr(request.state, "flowdeck_role", None) != "editor":
        raise HTTPException(403, f"this token is a viewer's; {doing} needs an editor token")


async def _resolve(services: Services, name: str) -> tuple[Workflow, str]:
    """A saved workflow by id or exact name (newest first), else a built-in template by name; with the identity its
    runs belong to."""
    found = await asyncio.to_thread(services.workflows.find, name)
    if found is not None:
        return found.workflow, found.id
    if name in template_names():
        return load_template(name), template_identity(name)
    known = sorted({*await asyncio.to_thread(services.workflows.names), *template_names()})
    raise HTTPException(404, f"no workflow named '{name}'; known: {', '.join(known)}")


async def _summary(services: Services, run_id: str) -> str:
    if services.runner.unstored_end(run_id) is not None:
        return run_id  # its storage failed: the runner tells what the log cannot
    try:
        return (await asyncio.to_thread(services.runs.get, run_id)).id
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None


async def _state(services: Services, run_id: str) -> RunState:
    full = await _summary(services, run_id)
    if services.runner.unstored_end(full) is not None:
        return fold(services.runner.recorded_so_far(full))
    return fold(await asyncio.to_thread(services.runs.events, full))


def _result(run_id: str, state: RunState) -> RunResult:
    nodes = []
    for node_id, node in state.nodes.items():
        ex = node.latest
        nodes.append(
            NodeResult(
                id=node_id,
                name=state.labels.get(node_id, node_id),
                status=node.status,
                summary=node.summary(),
                output=ex.output if ex else None,
                error_kind=ex.error_kind if ex else None,
                error=ex.error if ex else None,
                tokens=ex.usage.total_tokens if ex else 0,
                cost=ex.cost if ex else 0.0,
                duration=ex.duration if ex else None,
            )
        )
    return RunResult(
        id=run_id,
        workflow=state.workflow_name,
        workflow_id=state.workflow_id,
        status=state.status,
        started_at=state.started_at,
        duration=state.duration,
        tokens=state.usage.total_tokens,
        cost=state.cost,
        nodes=nodes,
        outputs=state.outputs(),
        events_url=f"{PREFIX}/runs/{run_id}/events",
    )
