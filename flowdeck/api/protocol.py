"""How the API answers what it refuses, as its OpenAPI schema says: request bodies read as strict JSON (no NaN,
Infinity, huge numbers or lone surrogates), 422s naming each field without echoing what was sent, 405s whose
Allow header lists every method of the path, and every path under the API answered by the API."""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from starlette.types import ASGIApp

from flowdeck.engine.strict_json import JsonRefused, loads, printable
from flowdeck.errors import Problem

Loc = list[str | int]


class ApiMount(Mount):
    """The API mounted at its prefix, for every path under it: Starlette's mount pattern stops at a newline (%0A in a
    run id), and the page app's HTML 404 answered instead of the API's JSON."""

    def __init__(self, path: str, app: ASGIApp) -> None:
        super().__init__(path, app=app)
        self.path_regex = re.compile(self.path_regex.pattern, re.DOTALL)


class StrictRoute(APIRoute):
    """A route whose request body is read by StrictRequest (FastAPI's documented way to change how bodies are read)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictRequest(request.scope, request.receive))

        return strict_handler


class StrictRequest(Request):
    """A request whose JSON body refuses, with a 422 naming the field, what the json module would let through."""

    async def json(self) -> Any:
        body = await self.body()
        try:
            return loads(body)  # text that is not JSON raises JSONDecodeError: FastAPI answers it (422, json_invalid)
        except JsonRefused as exc:
            raise unprocessable([(["body", *r.path], r.message) for r in exc.refusals]) from None
        except (UnicodeDecodeError, RecursionError) as exc:
            reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else "nested too deeply"
            raise unprocessable([(["body"], f"the body is {reason}; send a JSON object")]) from None


def unprocessable(errors: Iterable[tuple[Loc, str]], kind: str = "value_error") -> HTTPException:
    """A 422 in the shape of FastAPI's own (HTTPValidationError in the schema): each field's place and what is wrong."""
    return HTTPException(422, [{"type": kind, "loc": loc, "msg": message} for loc, message in errors])


def problem_errors(problems: Iterable[Problem], field: str) -> list[tuple[Loc, str]]:
    """A workflow's problems as 422 errors: an input's under body.inputs, the rest under `field`."""
    found: list[tuple[Loc, str]] = []
    for problem in problems:
        name = problem.where.removeprefix("input ")
        loc: Loc = ["body", "inputs", name] if name != problem.where else ["body", field]
        found.append((loc, str(problem)))
    return found


def keep_to_the_schema(api: FastAPI) -> None:
    """Bodies read strictly, and refusals answered as the schema documents them."""
    api.router.route_class = StrictRoute

    @api.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer echoes each bad value back ("input"): a 60 MB input would come back whole.
        errors = [{"type": e["type"], "loc": [_safe(p) for p in e["loc"]], "msg": _message(e)} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            # Starlette's Allow names the methods of the first route of the path only (POST of /runs, not GET).
            exc.headers = {**(exc.headers or {}), "Allow": ", ".join(_methods(api, request))}
        return await http_exception_handler(request, exc)


def _methods(api: FastAPI, request: Request) -> list[str]:
    found: set[str] = set()
    for route in api.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE and isinstance(route, APIRoute):
            found |= route.methods or set()
    return sorted(found)


def _safe(part: Any) -> Any:
    return printable(part) if isinstance(part, str) else part


def _message(error: dict[str, Any]) -> str:
    reason = error.get("ctx", {}).get("error")  # what is wrong with text that is not JSON: FastAPI keeps it apart
    return f"{error['msg']} ({reason})" if error["type"] == "json_invalid" and isinstance(reason, str) else error["msg"]
