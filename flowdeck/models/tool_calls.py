"""Tools through litellm (issue 22): the tools and the tool traffic of a conversation in OpenAI's form, the tool calls
a model streams (in fragments, by index) read back whole, and which models cannot call tools."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flowdeck.engine.events import Message, ToolCall
from flowdeck.engine.tools import ToolSpec
from flowdeck.errors import ToolsUnsupported

TOOL_MODELS = "e.g. openai/gpt-4o-mini, anthropic/claude-3-5-haiku-latest or ollama_chat/qwen2.5"


def litellm_tools(specs: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    """The tools as litellm passes them on: OpenAI-style functions."""
    return [
        {"type": "function", "function": {"name": s.name, "description": s.description, "parameters": s.parameters}}
        for s in specs
    ]


def litellm_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """The messages in OpenAI's form: an assistant's tool calls, and a tool's result with the id it answers."""
    out: list[dict[str, Any]] = []
    for m in messages:
        item: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.tool_calls:
            item["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in m.tool_calls
            ]
            if not m.content:
                item["content"] = None  # some providers refuse an empty text beside tool calls
        if m.tool_call_id is not None:
            item["tool_call_id"] = m.tool_call_id
        out.append(item)
    return out


def messages_from_litellm(messages: Sequence[dict[str, Any]]) -> list[Message]:
    """litellm's messages as ours (the scripted model behind litellm reads them)."""
    typed = []
    for m in messages:
        calls = tuple(
            ToolCall(id=str(c.get("id")), name=str(c["function"]["name"]), arguments=str(c["function"]["arguments"]))
            for c in m.get("tool_calls") or ()
        )
        content = m.get("content")
        typed.append(
            Message(
                role=m["role"],
                content=content if isinstance(content, str) else "",
                tool_calls=calls,
                tool_call_id=m.get("tool_call_id"),
            )
        )
    return typed


class StreamedCalls:
    """The tool calls of a streamed answer, put together from their deltas: each delta names the call's index, and
    brings its id and name once and its arguments in fragments."""

    def __init__(self) -> None:
        self._calls: dict[int, list[str]] = {}  # index -> [id, name, arguments so far]

    def add(self, deltas: Sequence[Any]) -> None:
        for delta in deltas:
            index = _field(delta, "index")
            call = self._calls.setdefault(int(index) if index is not None else len(self._calls), ["", "", ""])
            function = _field(delta, "function")
            if ident := _field(delta, "id"):
                call[0] = str(ident)
            if function is not None:
                if name := _field(function, "name"):
                    call[1] = str(name)
                if fragment := _field(function, "arguments"):
                    call[2] += str(fragment)

    def calls(self) -> tuple[ToolCall, ...]:
        """The calls in index order; one without an id gets one made from its index."""
        return tuple(
            ToolCall(id=ident or f"call_{index}", name=name, arguments=arguments or "{}")
            for index, (ident, name, arguments) in sorted(self._calls.items())
        )


def refuses_tools(litellm: Any, model: str) -> bool:
    """Whether litellm knows this model cannot call tools. A model it does not know (a server of one's own) is let
    try: the provider's own refusal then says so."""
    try:
        info = litellm.get_model_info(model=model)
    except Exception:  # litellm raises plain Exception for models it does not know
        return False
    return info.get("supports_function_calling") is False


def tools_unsupported(model: str, why: str) -> ToolsUnsupported:
    return ToolsUnsupported(why, model=model, hint=f"choose a model that can call tools, {TOOL_MODELS}")


def _field(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, dict) else getattr(value, name, None)
