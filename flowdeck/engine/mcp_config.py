"""An MCP server as a workflow lists it (format 2): a stdio command or a streamable-HTTP URL. Data only: a command
from a file never runs until an editor of this server approves it (flowdeck/tools/mcp.py, by content hash)."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_MCP_SERVERS = 10
# "<server>__<tool>" must fit a model's 64-character function name; a server name this short leaves room for tools.
ServerName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,23}$")]
Argument = Annotated[str, Field(min_length=1, max_length=1_000, pattern=r"^[^\x00-\x1f\x7f]*$")]


class McpServer(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: ServerName
    command: Annotated[list[Argument], Field(min_length=1, max_length=50)] | None = None  # argv, never a shell line
    url: Annotated[str, Field(min_length=8, max_length=2_000)] | None = None
    timeout: Annotated[float, Field(gt=0, le=600)] = 30.0  # seconds for each call
    start_timeout: Annotated[float, Field(gt=0, le=600)] = 30.0  # seconds to start it and list its tools

    @model_validator(mode="after")
    def _one_way_to_reach_it(self) -> McpServer:
        if (self.command is None) == (self.url is None):
            raise ValueError(f"MCP server '{self.name}': give either a command (stdio) or a url (streamable HTTP)")
        if self.url is not None:
            parts = urlsplit(self.url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"MCP server '{self.name}': url must be http:// or https:// with a host name")
            if parts.username or parts.password:
                raise ValueError(f"MCP server '{self.name}': url must not carry a user name or password")
        return self

    def content_hash(self) -> str:
        """What an approval of this server is kept against: any change to it needs a new approval."""
        data = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(data.encode()).hexdigest()


def tool_name(server: str, tool: str) -> str:
    """The name a model is offered for an MCP server's tool."""
    return f"{server}__{tool}"
