"""Compensation handlers as a workflow lists them (format 2): data that says how to undo a kind of side effect,
never code. Each matches effects (tool, method, URL or path pattern) and does one thing: an HTTP call, a webhook,
deleting a file the run wrote, or steps shown to a person. Templates render in the sandbox with the effect entry as
data. The domains a handler can reach are fixed in its text (a template never chooses the host), so the approval
dialog can list exactly what it can call."""

from __future__ import annotations

import fnmatch
import hashlib
import json
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Discriminator, Field, field_validator, model_validator

from flowdeck.engine.handler_templates import HandlerTemplateError, secrets_in

MAX_HANDLERS = 50
HandlerId = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
Template = Annotated[str, Field(max_length=10_000)]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
Trust = Literal["system", "user", "untrusted"]
When = Literal["failure", "cancel", "demand"]  # a run that failed, a run cancelled, a person's Compensate


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _literal_origin(url: str, field: str) -> str:
    """The scheme and host a URL template starts with, written out: the host is never a template's choice."""
    head = url.split("{", 1)[0]
    parts = urlsplit(head)
    if parts.scheme not in ("http", "https") or not parts.hostname or "/" not in head[len(parts.scheme) + 3 :]:
        raise ValueError(
            f"{field} must start with a fixed http(s) address and a path, e.g. https://api.example.org/ — "
            "templates ({{ }}) may only follow the host's first /"
        )
    if parts.username or parts.password:
        raise ValueError(f"{field} must not carry a user name or password")
    return parts.hostname.lower()


class EffectMatch(_Strict):
    """Which effects a handler undoes: every condition given must hold (fnmatch patterns, case-sensitive)."""

    tool: Annotated[str, Field(min_length=1, max_length=100)]  # a tool's name, e.g. http_request or notes__add_note
    method: list[Method] | None = None  # for http_request: the methods it undoes
    url: Annotated[str, Field(max_length=2_000)] | None = None  # e.g. https://api.example.org/items/*
    path: Annotated[str, Field(max_length=500)] | None = None  # for write_file: e.g. reports/*.md

    def matches(self, tool: str, detail: dict[str, object]) -> bool:
        if tool != self.tool:
            return False
        if self.method is not None and str(detail.get("method", "")).upper() not in self.method:
            return False
        if self.url is not None and not fnmatch.fnmatchcase(str(detail.get("url", "")), self.url):
            return False
        return self.path is None or fnmatch.fnmatchcase(str(detail.get("path", "")), self.path)


class HttpAction(_Strict):
    kind: Literal["http"]
    method: Method
    url: Template
    headers: Annotated[dict[str, Template], Field(max_length=20)] = {}  # may reference secrets: {{ secret('NAME') }}
    body: Template | None = None

    @field_validator("url")
    @classmethod
    def _fixed_host(cls, value: str) -> str:
        _literal_origin(value, "url")
        return value

    @model_validator(mode="after")
    def _templates(self) -> HttpAction:
        for field, source in self.templates().items():
            try:
                secrets_in(source)
            except HandlerTemplateError as exc:
                raise ValueError(f"{field}: {exc}") from None
        return self

    def templates(self) -> dict[str, str]:
        found = {"url": self.url, **{f"headers.{name}": value for name, value in self.headers.items()}}
        return found | ({"body": self.body} if self.body is not None else {})


class WebhookAction(_Strict):
    """POSTs the effect entry as JSON to a fixed URL (a person's or a system's own undo)."""

    kind: Literal["webhook"]
    url: Annotated[str, Field(max_length=2_000)]

    @field_validator("url")
    @classmethod
    def _fixed(cls, value: str) -> str:
        if "{" in value:
            raise ValueError("a webhook's url is fixed: no templates")
        _literal_origin(value if urlsplit(value).path else value + "/", "url")
        return value


class DeleteFileAction(_Strict):
    """Deletes the file a write_file effect wrote, if it is still the file that effect wrote (same SHA-256)."""

    kind: Literal["delete_file"]


class ManualAction(_Strict):
    """Steps a person follows; shown on the run with the effect's data, and marked done by them."""

    kind: Literal["manual"]
    steps: Annotated[str, Field(min_length=1, max_length=10_000)]

    @field_validator("steps")
    @classmethod
    def _template(cls, value: str) -> str:
        try:
            if secrets_in(value):
                raise HandlerTemplateError("steps shown to a person never include a secret")
        except HandlerTemplateError as exc:
            raise ValueError(f"steps: {exc}") from None
        return value


Action = Annotated[HttpAction | WebhookAction | DeleteFileAction | ManualAction, Discriminator("kind")]


class Handler(_Strict):
    id: HandlerId
    label: Annotated[str, Field(max_length=200)] = ""
    match: EffectMatch
    action: Action
    on: Annotated[list[When], Field(min_length=1, max_length=3)] = ["failure", "cancel", "demand"]

    @model_validator(mode="after")
    def _fits(self) -> Handler:
        if isinstance(self.action, DeleteFileAction) and self.match.tool != "write_file":
            raise ValueError(f"handler '{self.id}': delete_file undoes write_file effects only (match.tool)")
        return self

    def content_hash(self) -> str:
        """What an approval is kept against: any change to the handler needs a new approval."""
        data = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(data.encode()).hexdigest()

    def reach(self) -> dict[str, list[str]]:
        """Exactly what it can call, touch or read, for the approval dialog: domains, methods, files, secrets."""
        action = self.action
        none: list[str] = []
        if isinstance(action, HttpAction):
            secrets = sorted({name for source in action.templates().values() for name in secrets_in(source)})
            domain = _literal_origin(action.url, "url")
            return {"domains": [domain], "methods": [action.method], "files": none, "secrets": secrets}
        if isinstance(action, WebhookAction):
            domain = urlsplit(action.url).hostname or ""
            return {"domains": [domain], "methods": ["POST"], "files": none, "secrets": none}
        if isinstance(action, DeleteFileAction):
            files = [self.match.path or "any file the run wrote"]
            return {"domains": none, "methods": none, "files": files, "secrets": none}
        return {"domains": none, "methods": none, "files": none, "secrets": none}


def check_handlers(handlers: list[Handler]) -> list[str]:
    """Problems a list of handlers has as a whole (ids are unique)."""
    seen: set[str] = set()
    problems = []
    for handler in handlers:
        if handler.id in seen:
            problems.append(f"handler id '{handler.id}' is used twice; give each handler its own id")
        seen.add(handler.id)
    return problems
