"""The workflow fields that give agents tools (issue 22): an agent's tools and its call limit, and the workflow's
allowed domains. Types with their validators, used by engine/workflow.py; each error names the value and the fix."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Iterable
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from flowdeck.engine.tools import BUILTIN_TOOLS, MAX_TOOL_CALLS

__all__ = [
    "DEFAULT_MAX_TOOL_CALLS",
    "MAX_AGENT_TOOLS",
    "MAX_ALLOWED_DOMAINS",
    "AllowedDomains",
    "MaxToolCalls",
    "ToolNames",
    "unknown_tools",
]

METADATA_ADDRESSES = frozenset({"169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200"})
MAX_AGENT_TOOLS = 32
MAX_ALLOWED_DOMAINS = 100
DEFAULT_MAX_TOOL_CALLS = 10

_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what a model may call a function (OpenAI's rule)
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _tool_name(name: str) -> str:
    if not _TOOL_NAME.match(name):
        raise ValueError(f"'{name[:80]}' is not a tool name; use one of {', '.join(BUILTIN_TOOLS)}")
    return name


def _tool_names(value: list[str]) -> list[str]:
    seen: set[str] = set()
    for name in value:
        if name in seen:
            raise ValueError(f"'{name}' is listed twice; list each tool once")
        seen.add(name)
    return value


def _whole_calls(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not a whole number; give one from 1 to {MAX_TOOL_CALLS}, e.g. 10")
    if not 1 <= value <= MAX_TOOL_CALLS:
        raise ValueError(
            f"{value} calls; an agent makes 1 to {MAX_TOOL_CALLS} tool calls per execution (the cap): choose one"
        )
    return value


def _domain(entry: str) -> str:
    """One allowed domain as written: a host name, "*." and a domain, an IP address, or "localhost"."""
    shown = entry[:100]
    if not entry:
        raise ValueError("an empty entry; remove it or write a host name such as example.org")
    if "://" in entry:
        host = entry.split("://", 1)[1].split("/", 1)[0]
        raise ValueError(f"'{shown}' has a scheme; write the host name alone, e.g. {host or 'example.org'}")
    if "/" in entry or "?" in entry or "#" in entry:
        raise ValueError(f"'{shown}' has a path; write the host name alone, e.g. {entry.split('/', 1)[0]}")
    if entry != entry.strip() or any(c.isspace() for c in entry):
        joined = "".join(entry.split()) or "example.org"
        raise ValueError(f"'{shown}' holds spaces; write the host name alone, without spaces, e.g. {joined}")
    if "@" in entry:
        raise ValueError(f"'{shown}' holds a user name; write the host name alone")
    if entry.startswith("[") and entry.endswith("]"):
        raise ValueError(f"'{shown}': write an IPv6 address without brackets, e.g. {entry[1:-1]}")
    if "%" in entry:
        raise ValueError(f"'{shown}' has a zone; write the address alone, e.g. {entry.split('%', 1)[0]}")
    try:
        address = ipaddress.ip_address(entry)
    except ValueError:
        pass
    else:
        if str(address) != entry:  # one spelling per address, so that the egress guard compares like with like
            raise ValueError(f"'{shown}': write this address as {address}")
        if entry in METADATA_ADDRESSES:  # a cloud's instance credentials: no workflow's tools may reach them
            raise ValueError(f"'{shown}' is a cloud metadata service; tools may never reach it: remove it")
        return entry  # an explicit address: the only way a private or loopback one becomes reachable
    if entry.count(":") == 1:
        raise ValueError(f"'{shown}' has a port; write the host name alone, e.g. {entry.split(':', 1)[0]}")
    if not entry.isascii():
        raise ValueError(f"'{shown}' is not ASCII; write an international name in its xn-- form (punycode)")
    if entry != entry.lower():
        raise ValueError(f"'{shown}' has capitals; write it in lowercase: {entry.lower()}")
    if entry == "*" or entry.startswith("*.*"):
        raise ValueError(f"'{shown}' would allow every host; list the domains, e.g. *.example.org")
    name = entry.removeprefix("*.")
    labels = name.split(".")
    if "*" in name or len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(
            f"'{shown}' is not a host name; write one like example.org, *.example.org (its subdomains), "
            "an IP address or localhost"
        )
    if labels[-1].isdigit() or labels[-1].startswith("0x"):  # 127.1, 2130706433, 0x7f.1: addresses in disguise
        raise ValueError(f"'{shown}' is not a host name; write an IP address in its usual form, e.g. 127.0.0.1")
    if entry.startswith("*.") and len(labels) < 2:
        raise ValueError(
            f"'{shown}' would allow every host under a top-level domain; name a domain, e.g. *.example.{name}"
        )
    return entry


def _domains(value: list[str]) -> list[str]:
    seen: set[str] = set()
    for entry in value:
        if entry in seen:
            raise ValueError(f"'{entry}' is listed twice; list each domain once")
        seen.add(entry)
    return value


def _before_list(value: Any) -> Any:
    if isinstance(value, str):  # a common slip: "fetch" for ["fetch"]
        raise ValueError(f'a list is needed, not a text; write ["{value[:60]}"]')
    return value


# An agent's tools: built-in names (MCP tools are "<server>__<tool>"); known names are checked by unknown_tools.
ToolNames = Annotated[
    list[Annotated[str, AfterValidator(_tool_name)]],
    BeforeValidator(_before_list),
    Field(max_length=MAX_AGENT_TOOLS),
    AfterValidator(_tool_names),
]
# An agent's limit on tool calls per execution (strict: a bool or a text is refused).
MaxToolCalls = Annotated[int, BeforeValidator(_whole_calls)]
# Where the workflow's tools may connect: empty, no network.
AllowedDomains = Annotated[
    list[Annotated[str, AfterValidator(_domain)]],
    BeforeValidator(_before_list),
    Field(max_length=MAX_ALLOWED_DOMAINS),
    AfterValidator(_domains),
]


def unknown_tools(agents: Iterable[tuple[str, str, list[str]]], servers: Collection[str] = ()) -> list[str]:
    """What is wrong with the tools that agents (id, name, tools) list: names that are no tool this workflow has.
    A listed MCP server's tools ("<server>__<tool>") are known only once it runs: they are checked when a run starts."""
    problems = []
    for node_id, name, tools in agents:
        unknown = [tool for tool in tools if tool not in BUILTIN_TOOLS and tool.split("__", 1)[0] not in servers]
        if unknown:
            listed = ", ".join(f"'{tool}'" for tool in unknown[:5])
            mcp = f", or <server>__<tool> for the MCP servers {', '.join(servers)}" if servers else ""
            problems.append(
                f"node {node_id} ('{name}') lists {listed} in \"tools\", which is no tool this workflow has; "
                f"use the known tools: {', '.join(BUILTIN_TOOLS)}{mcp}"
            )
    return problems
