"""The built-in tools' arguments: one strict pydantic model each, the JSON schema the model is offered made from it,
and what the model is told when its arguments are not valid JSON or do not fit."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flowdeck.tools.egress import EgressLimits
from flowdeck.tools.workspace import MAX_FILE_BYTES, MAX_PATH_CHARS

__all__ = [
    "ArgumentsError",
    "FetchArgs",
    "HttpRequestArgs",
    "ListFilesArgs",
    "ReadFileArgs",
    "ToolArguments",
    "WriteFileArgs",
    "parse_arguments",
    "schema_of",
]

MAX_URL_CHARS = 4_000
MAX_HEADERS = 50
Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
_PATH = "A path inside the run's workspace folder, relative, with / between folders, e.g. notes/report.md."


class ToolArguments(BaseModel):
    """Arguments as the model sends them (JSON); each subclass's json_schema_extra holds a valid example."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class FetchArgs(ToolArguments):
    model_config = ConfigDict(json_schema_extra={"example": '{"url": "https://example.org/page"}'})
    url: str = Field(
        max_length=MAX_URL_CHARS,
        description="The http:// or https:// URL to GET. Only hosts on the workflow's allowed domains can be reached.",
    )


class HttpRequestArgs(ToolArguments):
    model_config = ConfigDict(
        json_schema_extra={
            "example": '{"method": "POST", "url": "https://api.example.org/items", "headers": {"Authorization": '
            '"Bearer {{secret:EXAMPLE_TOKEN}}"}, "body": "{\\"name\\": \\"x\\"}"}'
        }
    )
    method: Method = Field(default="GET", description="The HTTP method.")
    url: str = Field(
        max_length=MAX_URL_CHARS,
        description="The http:// or https:// URL. Only hosts on the workflow's allowed domains can be reached.",
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        max_length=MAX_HEADERS,
        description="Request headers. A saved secret is used by name, never by value: write {{secret:NAME}} inside "
        'a header value, e.g. {"Authorization": "Bearer {{secret:GITHUB_TOKEN}}"}. Secrets cannot be used in the '
        "URL or the body.",
    )
    body: str = Field(
        default="",
        max_length=EgressLimits().max_request_bytes,
        description="The request body as text (for POST, PUT, PATCH); set Content-Type in headers, e.g. "
        "application/json.",
    )


class ReadFileArgs(ToolArguments):
    model_config = ConfigDict(json_schema_extra={"example": '{"path": "notes/report.md"}'})
    path: str = Field(max_length=MAX_PATH_CHARS, description=_PATH)


class WriteFileArgs(ToolArguments):
    model_config = ConfigDict(json_schema_extra={"example": '{"path": "report.md", "content": "# Report\\n..."}'})
    path: str = Field(max_length=MAX_PATH_CHARS, description=_PATH + " Folders are created as needed.")
    content: str = Field(
        description=f"The whole text of the file (UTF-8, at most {MAX_FILE_BYTES:,} bytes); replaces what was there."
    )


class ListFilesArgs(ToolArguments):
    model_config = ConfigDict(json_schema_extra={"example": '{"path": ""}'})
    path: str = Field(
        default="",
        max_length=MAX_PATH_CHARS,
        description="A folder inside the run's workspace; empty for the whole workspace.",
    )


A = TypeVar("A", bound=ToolArguments)


class ArgumentsError(Exception):
    """The model's arguments for a tool cannot be used; the message says which and how to fix them."""


def parse_arguments(tool: str, model: type[A], text: str) -> A:
    """The arguments, checked; ArgumentsError naming each bad argument and showing a valid call otherwise."""
    example = _example(model)
    try:
        return model.model_validate_json(text or "{}")
    except ValidationError as e:
        errors = e.errors(include_url=False, include_input=False)
        if any(err["type"] == "json_invalid" for err in errors):
            raise ArgumentsError(
                f"the arguments of {tool} are not valid JSON ({errors[0]['msg']}): send a JSON object like {example}"
            ) from None
        problems = [_problem(tool, model, err) for err in errors[:5]]
        raise ArgumentsError(
            f"{tool} cannot use these arguments: {'; '.join(problems)}. A valid call: {example}"
        ) from None


def schema_of(model: type[ToolArguments]) -> dict[str, Any]:
    """The JSON schema offered to the model: pydantic's, without titles and the example (descriptions stay)."""
    schema: dict[str, Any] = _strip(model.model_json_schema())
    return schema


def _problem(tool: str, model: type[ToolArguments], err: Any) -> str:
    where = ".".join(str(part) for part in err["loc"])
    fields = ", ".join(model.model_fields)
    if err["type"] == "missing":
        return f"the argument {where!r} is missing"
    if err["type"] == "extra_forbidden":
        return f"{where!r} is not an argument of {tool} (its arguments: {fields})"
    if not where:
        return f"the arguments must be a JSON object with {fields}"
    return f"the argument {where!r}: {err['msg']}"


def _example(model: type[ToolArguments]) -> str:
    extra = model.model_config.get("json_schema_extra")
    return str(extra.get("example", "{}")) if isinstance(extra, dict) else "{}"


def _strip(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip(v) for k, v in schema.items() if k not in ("title", "example")}
    if isinstance(schema, list):
        return [_strip(v) for v in schema]
    return schema
