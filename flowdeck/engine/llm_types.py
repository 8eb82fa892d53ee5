"""What the engine asks of a model, and what a model caller gives back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Protocol

from flowdeck.engine.events import Message, Record, ToolCall, Usage
from flowdeck.engine.tools import ToolSpec


class ModelRequest(Record, frozen=True):
    model: str
    messages: list[Message]
    temperature: float
    max_tokens: int
    timeout: float
    verdicts: tuple[str, ...] = ()  # the verdicts the answer must end with, for models that can be held to it
    # Ask for the verdict as JSON ({"feedback", "verdict"}) where the model supports a response schema (format 2's
    # deciding agents; the engine reads either form).
    structured: bool = False
    round: int = 1  # which execution of its agent this call is for (a loop's round)
    tools: tuple[ToolSpec, ...] = ()  # the tools the model may ask for (engine/tool_loop.py runs them)


class Completion(Record, frozen=True):
    text: str
    usage: Usage
    cost: float
    cut: bool = False  # the model stopped at max_tokens, not because it had finished
    tool_calls: tuple[ToolCall, ...] = ()  # the tools it asked for, in order (then `text` is not its answer yet)


class ModelCaller(Protocol):
    """Calls a model, streaming text deltas to `on_text`; raises flowdeck.errors.ModelError subclasses."""

    async def prepare(self, models: set[str]) -> None:
        """Get ready to call these models (load libraries, start local servers) before a run starts."""
        ...

    async def call(self, request: ModelRequest, on_text: Callable[[str], None]) -> Completion: ...


def cache_key(request: ModelRequest) -> str:
    """What identifies a node's output: model, parameters, system prompt and rendered input."""
    parts: list[object] = [
        request.model,
        request.temperature,
        request.max_tokens,
        [(m.role, m.content) for m in request.messages],
    ]
    if request.structured:  # a verdict asked for as JSON is a different answer
        parts.append(list(request.verdicts))
    if request.tools:  # tools offered change the answer (the engine does not cache an agent with tools)
        parts.append([(t.name, t.description, t.parameters, t.effect) for t in request.tools])
    payload = json.dumps(parts, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


class OutputCache(Protocol):
    """Where node outputs are remembered between runs (storage provides one backed by diskcache)."""

    def get(self, key: str) -> Completion | None: ...

    def set(self, key: str, value: Completion) -> None: ...
