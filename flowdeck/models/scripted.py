"""The scripted model: deterministic, role-aware replies with injectable faults, for tests and dry runs.

Model strings: "scripted" or "scripted/<options>", options comma-separated key=value pairs:
  latency=S      seconds before the first chunk (default 0)
  delay=S        seconds between chunks (default 0)
  chunks=N       how many chunks the reply streams in (default 12)
  fault=KIND     rate_limit | timeout | server_error | stream_cut | auth | bad_request | context_length | not_found
  times=N        fail only the first N calls with the same messages (default: every call)
  retry_after=S  the Retry-After a rate_limit fault advertises (default 1)
  ready=S        seconds each run waits for the model to get ready before it starts (default 0), as the first
                 run after a start waits for the model library's import or a local model server
  verdicts=A,B,C the verdicts an agent that decides (format 2) gives in its rounds 1, 2, 3 (the last one again
                 after that; default: its first verdict); a word it does not offer is an invalid verdict
  unclear=N      an agent that decides leaves the verdict out of its first N answers of a round (1: the engine's
                 correction gets it; 2: none does)
  tool_rounds=N  how many of its turns in an execution ask for its scripted tool calls (default 1; more: it asks
                 again after each result, e.g. to meet an agent's max_tool_calls)

Tool calls are scripted in the agent's system prompt, so that a workflow file alone runs them (templates, browser
tests): each line that starts with "CALL " names a tool and its JSON arguments,

  CALL write_file {"path": "report.md", "content": "# Report"}
  CALL fetch {"url": "http://127.0.0.1:8000/page"}

When the request offers tools (the agent lists them), the first answer of each execution asks for these calls, one
per line, in order (ids call_<turn>_<line>, arguments as written; the toolbox checks them), with the text
"Calling <tools>."; with tool_rounds=N its first N turns do. Once the results are back it answers as usual, then
quotes each result's first line: "- <tool>: <first line>". Without tools offered the CALL lines are only text.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from flowdeck.engine.events import Message, ToolCall, Usage
from flowdeck.engine.llm_types import Completion, ModelRequest
from flowdeck.errors import (
    ADVICE,
    AuthenticationFailed,
    BadRequest,
    ContextTooLong,
    ModelError,
    ModelNotFound,
    ModelTimeout,
    ProviderUnavailable,
    RateLimited,
    StreamInterrupted,
)

FAULT_KINDS = (
    "rate_limit",
    "timeout",
    "server_error",
    "stream_cut",
    "auth",
    "bad_request",
    "context_length",
    "not_found",
)


@dataclass(frozen=True, kw_only=True, slots=True)
class ScriptSpec:
    latency: float = 0.0
    delay: float = 0.0
    chunks: int = 12
    fault: str | None = None
    times: int | None = None
    retry_after: float = 1.0
    ready: float = 0.0  # seconds to get ready before a run (as a local server starting, or a first import)
    verdicts: tuple[str, ...] = ()
    unclear: int = 0
    tool_rounds: int = 1


@dataclass(frozen=True, kw_only=True, slots=True)
class Decision:
    """What a deciding agent's call asks of the scripted model: its verdicts and its round."""

    verdicts: tuple[str, ...]
    round: int = 1


MAX_SECONDS = 3600.0  # a test model's waits: an hour at most, never inf or NaN
MAX_COUNT = 100_000


def is_scripted(model: str) -> bool:
    return model == "scripted" or model.startswith("scripted/")


def parse_spec(model: str) -> ScriptSpec:
    """Read a scripted model string's options; raise BadRequest naming the bad option."""
    options = model.partition("/")[2]
    values: dict[str, float | int | str | tuple[str, ...] | None] = {}
    last = ""
    for item in filter(None, options.split(",")):
        key, sep, raw = item.partition("=")
        if not sep and last == "verdicts" and key.isidentifier():
            values["verdicts"] = (*values["verdicts"], key)  # type: ignore[misc]
            continue
        last = key
        try:
            if key in ("latency", "delay", "retry_after", "ready"):
                seconds = float(raw)
                if not 0.0 <= seconds <= MAX_SECONDS:  # NaN and inf fail this too: a run that never ends
                    raise ValueError
                values[key] = seconds
            elif key in ("chunks", "times", "unclear", "tool_rounds"):
                count = int(raw)
                if not 0 <= count <= MAX_COUNT:
                    raise ValueError
                values[key] = max(0 if key in ("times", "unclear", "tool_rounds") else 1, count)
            elif key == "verdicts":
                if not raw.isidentifier():
                    raise ValueError
                values[key] = (raw,)
            elif key == "fault":
                if raw not in FAULT_KINDS:
                    raise ValueError
                values[key] = raw
            else:
                raise KeyError(key)
        except (ValueError, KeyError):
            raise BadRequest(
                f"'{item}' is not a scripted model option",
                model=model,
                hint=(
                    "use latency=S, delay=S, chunks=N, fault=KIND, times=N, retry_after=S, ready=S, "
                    "verdicts=A,B,..., unclear=N or tool_rounds=N "
                    f"(S from 0 to {MAX_SECONDS:g} seconds, N from 0 to {MAX_COUNT:,})"
                ),
            ) from None
    return ScriptSpec(**values)  # type: ignore[arg-type]


class ScriptedModel:
    """Streams replies and injects faults; counts calls so that `times=N` faults stop after N."""

    def __init__(self) -> None:
        self._calls: Counter[tuple[str, str]] = Counter()
        # Tests of crash recovery point this at a file: one JSON line per completed call, written when the
        # last chunk has been handed over, so that a killed process leaves an exact record of what the model did.
        self.ledger: Path | None = None

    async def stream(
        self,
        model: str,
        messages: Sequence[Message],
        max_tokens: int | None = None,
        decision: Decision | None = None,
        reply: str | None = None,
    ) -> AsyncIterator[str]:
        """The reply in chunks, cut at max_tokens words; a fault raises our own ModelError (before the first
        chunk, or after it for stream_cut). `reply`: this text instead of its answer (a turn that calls tools)."""
        spec = parse_spec(model)
        key = (model, _digest(messages))
        failing = spec.fault is not None and (spec.times is None or self._calls[key] < spec.times)
        self._calls[key] += 1
        if spec.latency:
            await asyncio.sleep(spec.latency)
        if failing and spec.fault != "stream_cut":
            raise fault_error(spec, model)
        text = reply if reply is not None else answer(messages, max_tokens, decided(spec, messages, decision))[0]
        size = max(1, -(-len(text) // spec.chunks))
        for index in range(0, len(text), size):
            if failing and index:
                raise fault_error(spec, model)
            if spec.delay and index:
                await asyncio.sleep(spec.delay)
            yield text[index : index + size]
        if self.ledger is not None:
            system = next((m.content for m in messages if m.role == "system"), "")
            line = json.dumps({"pid": os.getpid(), "system": system[:80], "input": _digest(messages)})
            with self.ledger.open("a") as handle:
                handle.write(line + "\n")


class ScriptedCaller:
    """A ModelCaller that runs the scripted model in-process, without litellm."""

    def __init__(self, model: ScriptedModel | None = None) -> None:
        self._model = model or ScriptedModel()

    async def prepare(self, models: set[str]) -> None:
        return None

    async def call(self, request: ModelRequest, on_text: Callable[[str], None]) -> Completion:
        parts: list[str] = []
        decision = Decision(verdicts=request.verdicts, round=request.round) if request.structured else None
        spec = parse_spec(request.model)
        calls = tool_calls(spec, request.messages) if request.tools else ()
        reply = calling(calls) if calls else None
        async for chunk in self._model.stream(request.model, request.messages, request.max_tokens, decision, reply):
            parts.append(chunk)
            on_text(chunk)
        text = "".join(parts)
        if calls:
            return Completion(text=text, usage=usage_for(request.messages, text), cost=0.0, tool_calls=calls)
        cut = answer(request.messages, request.max_tokens, decided(spec, request.messages, decision))[1]
        return Completion(text=text, usage=usage_for(request.messages, text), cost=0.0, cut=cut)


def usage_for(messages: Sequence[Message], text: str) -> Usage:
    """Word counts standing in for token counts."""
    return Usage(prompt_tokens=sum(len(m.content.split()) for m in messages), completion_tokens=len(text.split()))


def fault_error(spec: ScriptSpec, model: str) -> ModelError:
    """Our own error class for a scripted fault (the litellm handler turns it into litellm's)."""
    kinds: dict[str, ModelError] = {
        "rate_limit": RateLimited("rate limited", model=model, hint=ADVICE["rate_limit"], retry_after=spec.retry_after),
        "timeout": ModelTimeout("timed out", model=model, hint=ADVICE["timeout"]),
        "server_error": ProviderUnavailable("server error 500", model=model, hint=ADVICE["transient"]),
        "stream_cut": StreamInterrupted("the stream ended early", model=model, hint=ADVICE["transient"]),
        "auth": AuthenticationFailed("invalid API key", model=model, hint=ADVICE["auth"]),
        "bad_request": BadRequest("bad request", model=model, hint=ADVICE["bad_request"]),
        "context_length": ContextTooLong("context window exceeded", model=model, hint=ADVICE["context_length"]),
        "not_found": ModelNotFound("no such model", model=model, hint=ADVICE["not_found"]),
    }
    return kinds[spec.fault or "server_error"]


def decided(spec: ScriptSpec, messages: Sequence[Message], decision: Decision | None) -> str | None:
    """The verdict line a deciding agent's reply ends with: "" for none (an unclear answer), None when the call is
    not a decision."""
    if decision is None or not decision.verdicts:
        return None
    if sum(m.role == "assistant" and not m.tool_calls for m in messages) < spec.unclear:
        return ""
    script = spec.verdicts or decision.verdicts[:1]
    return f"Verdict: {script[min(decision.round, len(script)) - 1]}"


def answer(messages: Sequence[Message], max_tokens: int | None, verdict: str | None = None) -> tuple[str, bool]:
    """The reply, and whether it was cut: a word counts as a token, as in usage_for. `verdict`: the line a deciding
    agent's reply ends with instead of its own (see decided())."""
    text = compose(messages)
    if verdict is not None:
        if any(m.role == "assistant" and not m.tool_calls for m in messages):
            text = verdict or "I have no verdict to give."  # asked again for the verdict alone
        else:
            kept = [line for line in text.split("\n") if not line.startswith("Verdict:")]
            text = "\n".join(kept).rstrip() + (f"\n\n{verdict}" if verdict else "")
    if max_tokens is None:
        return text, False
    words = list(re.finditer(r"\S+", text))
    if len(words) <= max_tokens:
        return text, False
    return text[: words[max_tokens - 1].end()], True


def tool_calls(spec: ScriptSpec, messages: Sequence[Message]) -> tuple[ToolCall, ...]:
    """The calls the system prompt's CALL lines script, if this turn of the execution asks for them."""
    turn = 1 + sum(bool(m.tool_calls) for m in messages)
    if turn > spec.tool_rounds:
        return ()
    system = next((m.content for m in messages if m.role == "system"), "")
    calls: list[ToolCall] = []
    for line in system.splitlines():
        if line.startswith("CALL "):
            name, _, arguments = line[5:].strip().partition(" ")
            calls.append(ToolCall(id=f"call_{turn}_{len(calls) + 1}", name=name, arguments=arguments.strip() or "{}"))
    return tuple(calls)


def calling(calls: Sequence[ToolCall]) -> str:
    """The text of a turn that asks for tools."""
    return f"Calling {', '.join(dict.fromkeys(c.name for c in calls))}."


def compose(messages: Sequence[Message]) -> str:
    """A deterministic, role-aware reply built from the system prompt and the user message; after tool calls, it
    quotes each result's first line."""
    if any(m.role == "tool" for m in messages):
        names = {c.id: c.name for m in messages for c in m.tool_calls}
        asked = [m for m in messages if m.role != "tool" and not m.tool_calls][:2]  # the system and user messages
        quoted = [
            f"- {names.get(m.tool_call_id or '', 'tool')}: {(m.content.strip().splitlines() or [''])[0][:200]}"
            for m in messages
            if m.role == "tool"
        ]
        return compose(asked) + "\n\nFrom the tools:\n" + "\n".join(quoted)
    system = next((m.content for m in messages if m.role == "system"), "").lower()
    user = next((m.content for m in reversed(messages) if m.role == "user"), "")
    task = " ".join(user.strip().splitlines()[0].split()[:24]) if user.strip() else "the task"
    tag = _digest(messages)[:6]
    if "review" in system:
        return (
            f"Review of the work on: {task}\n\n"
            "- The main path is handled and the code reads clearly.\n"
            "- Edge cases: empty input and mixed case are covered.\n"
            f"- Suggestion: add a test for the longest input (ref {tag}).\n\n"
            "Verdict: APPROVE"
        )
    if "engineer" in system or "code" in system:
        return (
            f"Implementation for: {task}\n\n"
            "```python\n"
            "def solve(value: str) -> bool:\n"
            '    cleaned = "".join(ch.lower() for ch in value if ch.isalnum())\n'
            "    return cleaned == cleaned[::-1]\n"
            "```\n\n"
            f"It normalises the input, then compares it with its reverse (ref {tag})."
        )
    if "research" in system:
        return (
            f"Research notes on: {task}\n\n"
            "- Key facts: define the inputs, the expected output and the constraints.\n"
            "- Edge cases: empty input, very long input, unusual characters.\n"
            f"- Recommended approach: the simplest correct one, then measure (ref {tag})."
        )
    return f"Answer to: {task}\n\nDone, carefully and concisely (ref {tag})."


def _digest(messages: Sequence[Message]) -> str:
    hasher = hashlib.sha256()
    for message in messages:
        hasher.update(message.role.encode())
        hasher.update(b"\0")
        hasher.update(message.content.encode())
        hasher.update(b"\0")
    return hasher.hexdigest()
