"""What the run panel reads besides a run's events (issue 22): the files in its workspace, and its side-effect log.
And the page route that downloads a file the run wrote: `/runs/{run id}/files/{path}`. A page route, not the API's:
when logins are required the API takes tokens, not the page's session; the guard in front of every route still
checks the session, and the workspace's own confinement (flowdeck/tools) refuses anything outside the run's folder."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import quote

from flowdeck.errors import FlowdeckError, NotFoundError
from flowdeck.storage.effects import Effect, effects_of

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.responses import Response

    from flowdeck.services import Services
    from flowdeck.tools import Artifact

FILES_ROUTE = "/runs/{run_id}/files/{path:path}"


@dataclass(frozen=True, slots=True)
class RunFiles:
    """A run's files and side effects, read from the data directory and the database. Blocking: call them in a
    thread."""

    services: Services

    def artifacts(self, run_id: str) -> Sequence[Artifact]:
        from flowdeck.tools import artifacts  # the tools package loads the egress guard's libraries: only when asked

        try:
            return artifacts(self.services.tools.workspace(run_id))
        except (FlowdeckError, OSError):
            return []  # the tab says "not in the run's folder" for each file the events name

    def effects(self, run_id: str) -> list[Effect]:
        return effects_of(self.services.engine, run_id)

    @staticmethod
    def link(run_id: str, path: str) -> str:
        return f"/runs/{quote(run_id, safe='')}/files/{quote(path)}"


def register_file_route(app: FastAPI, services: Services) -> None:
    """Downloads of the files runs wrote, for the pages (see the module's docstring)."""
    from starlette.responses import PlainTextResponse, Response

    @app.get(FILES_ROUTE, include_in_schema=False)
    async def run_file(run_id: str, path: str) -> Response:
        try:
            name, data = await asyncio.to_thread(_read, services, run_id, path)
        except FlowdeckError as exc:  # no such run or file, or a path the workspace refuses: said as it is
            return PlainTextResponse(str(exc), status_code=404)
        except OSError:  # its text would name the data directory
            return PlainTextResponse(f"{path[:200]} could not be read from the run's folder", status_code=404)
        filename = PurePosixPath(name).name
        return Response(
            data,
            media_type="application/octet-stream",  # saved, never shown: a written page must not run on this origin
            headers={
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
                "Content-Security-Policy": "sandbox; default-src 'none'",
                "Cache-Control": "no-store",
            },
        )


def _read(services: Services, run_id: str, path: str) -> tuple[str, bytes]:
    from flowdeck.tools import Workspace

    folder = services.tools.workspace(run_id)
    if not folder.is_dir():
        raise NotFoundError(f"run {run_id[:80]} wrote no files")
    return Workspace(folder).read(path)
