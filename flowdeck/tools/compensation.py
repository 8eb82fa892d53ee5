"""Undoing a run's side effects with its compensation handlers: newest effect first, each at most once, each
attempt recorded in the side-effect log. A handler runs only when its trust allows (system and user handlers; an
untrusted one once an editor approved its exact content); its HTTP goes through the egress guard like a tool's."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from flowdeck.engine.handler_templates import HandlerTemplateError, render
from flowdeck.engine.handlers import DeleteFileAction, Handler, HttpAction, ManualAction, WebhookAction, When
from flowdeck.tools.egress import Egress, EgressError
from flowdeck.tools.workspace import Workspace, WorkspaceError

AttemptStatus = Literal["ok", "failed", "manual", "blocked"]
# The handler flowdeck ships: a file a run wrote is deleted if it is still what the run wrote.
SYSTEM_HANDLERS = (
    Handler.model_validate(
        {
            "id": "delete_written_file",
            "label": "Delete a file the run wrote",
            "match": {"tool": "write_file"},
            "action": {"kind": "delete_file"},
            "on": ["demand"],  # a failed run's files are kept for a person to look at, until they ask
        }
    ),
)


class EffectView(Protocol):
    """A side effect as the log lists it (storage's Effect has these)."""

    @property
    def seq(self) -> int: ...
    @property
    def run_id(self) -> str: ...
    @property
    def node_id(self) -> str: ...
    @property
    def execution(self) -> int: ...
    @property
    def key(self) -> str: ...
    @property
    def tool(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def arguments(self) -> str: ...
    @property
    def detail(self) -> dict[str, Any]: ...
    @property
    def content(self) -> str: ...


class CompensationLog(Protocol):
    """Where attempts are recorded (storage provides it over the side-effect log)."""

    def undone(self, key: str) -> bool:
        """An earlier attempt undid this effect (ok, or manual steps a person marked done)."""
        ...

    def attempt(self, effect: EffectView, handler: Handler, status: AttemptStatus, detail: dict[str, Any]) -> None: ...


@dataclass(frozen=True, kw_only=True, slots=True)
class Attempt:
    key: str
    tool: str
    handler: str | None  # None: no handler matches this effect
    status: AttemptStatus | Literal["done before", "no handler"]
    message: str


@dataclass(kw_only=True, slots=True)
class Compensation:
    """What compensating a run did, effect by effect (newest first)."""

    attempts: list[Attempt] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(a.status in ("failed", "blocked") for a in self.attempts)


def handler_for(effect: EffectView, handlers: Sequence[Handler], when: When | None = None) -> Handler | None:
    """The first of the workflow's handlers that matches, else a system one; with `when`, only handlers that run
    then (a system handler runs on demand only: a failed run's files stay until a person asks)."""
    for handler in (*handlers, *SYSTEM_HANDLERS):
        if (when is None or when in handler.on) and handler.match.matches(effect.tool, effect.detail):
            return handler
    return None


async def compensate(
    effects: Sequence[EffectView],
    handlers: Sequence[Handler],
    *,
    blocked: Callable[[Handler], str | None],
    egress: Egress,
    workspace: Path,
    secrets: Callable[[str], str | None],
    log: CompensationLog,
    run: Mapping[str, Any],
    when: When | None = None,
) -> Compensation:
    """Undo what can be undone (with `when`: by the handlers that run then; None: any handler that matches).
    `blocked(handler)` says why a handler may not run (None: it may): an untrusted one not approved, or one whose
    domains the workflow does not allow."""
    report = Compensation()
    for effect in sorted(effects, key=lambda e: e.seq, reverse=True):
        if effect.status == "failed":
            continue  # it did not happen (or said so): nothing to undo
        handler = handler_for(effect, handlers, when)
        if handler is None:
            said = "no handler undoes this kind of effect" + ("" if when is None else f" on {when}")
            report.attempts.append(Attempt(key=effect.key, tool=effect.tool, handler=None, status="no handler",
                                           message=said))  # fmt: skip
            continue
        if log.undone(effect.key):
            report.attempts.append(Attempt(key=effect.key, tool=effect.tool, handler=handler.id, status="done before",
                                           message="already undone; not repeated"))  # fmt: skip
            continue
        reason = blocked(handler)
        if reason is not None:
            status: AttemptStatus = "blocked"
            detail: dict[str, Any] = {"reason": reason}
        else:
            status, detail = await _run(handler, effect, egress, Workspace(workspace), secrets, run)
        log.attempt(effect, handler, status, detail)
        message = str(detail.get("reason") or detail.get("message") or status)
        report.attempts.append(Attempt(key=effect.key, tool=effect.tool, handler=handler.id, status=status,
                                       message=message))  # fmt: skip
    return report


async def _run(
    handler: Handler,
    effect: EffectView,
    egress: Egress,
    workspace: Workspace,
    secrets: Callable[[str], str | None],
    run: Mapping[str, Any],
) -> tuple[AttemptStatus, dict[str, Any]]:
    action = handler.action
    data = _effect_data(effect)
    try:
        if isinstance(action, DeleteFileAction):
            path = str(effect.detail.get("path", ""))
            digest = str(effect.detail.get("sha256", ""))
            if not path or not digest:
                return "failed", {"reason": "the effect does not say which file it wrote"}
            removed = workspace.remove(path, digest)
            return "ok", {"message": f"deleted {removed}", "path": removed}
        if isinstance(action, ManualAction):
            steps = render(action.steps, data, run, lambda name: None)
            return "manual", {"steps": steps, "message": "steps for a person to follow"}
        if isinstance(action, WebhookAction):
            body = json.dumps({"run": dict(run), "effect": data}, ensure_ascii=False).encode()
            response = await egress.request("POST", action.url, headers={"Content-Type": "application/json"}, body=body)
            return _answered(response.status, "POST", action.url)
        if isinstance(action, HttpAction):
            url = render(action.url, data, run, secrets)
            headers = {name: render(value, data, run, secrets) for name, value in action.headers.items()}
            body_text = render(action.body, data, run, secrets) if action.body is not None else None
            response = await egress.request(
                action.method,
                url,
                headers=headers,
                body=body_text.encode() if body_text is not None else None,
                private_headers={name.lower() for name in headers},
            )
            return _answered(response.status, action.method, _without_query(url))
    except (HandlerTemplateError, EgressError, WorkspaceError) as exc:
        return "failed", {"reason": str(exc)}
    except Exception as exc:  # the sandbox's SecurityError and the like: recorded, the next effect is still undone
        return "failed", {"reason": f"{type(exc).__name__}: {exc}"}
    raise AssertionError(f"unknown action {action!r}")


def _answered(status: int, method: str, url: str) -> tuple[AttemptStatus, dict[str, Any]]:
    ok = 200 <= status < 300
    detail = {"method": method, "url": url, "status": status}
    return ("ok", detail | {"message": f"{method} {url}: {status}"}) if ok else (
        "failed", detail | {"reason": f"{method} {url} answered {status}"}
    )  # fmt: skip


def _without_query(url: str) -> str:
    return url.split("?", 1)[0]  # a rendered query may hold a secret: the log keeps the address only


def _effect_data(effect: EffectView) -> dict[str, Any]:
    try:
        arguments = json.loads(effect.arguments)
    except ValueError:
        arguments = {}
    return {
        "key": effect.key,
        "tool": effect.tool,
        "agent": effect.node_id,
        "round": effect.execution,
        "status": effect.status,
        "arguments": arguments,
        "detail": dict(effect.detail),
        "result": effect.content,
    }
