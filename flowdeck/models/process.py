"""Model calls in a process of their own: the app's event loop never waits for litellm's Python work.

litellm does Python work for every streamed chunk, and more when a stream ends (it rebuilds the whole
response to compute usage and cost). In the app's process that work competes for the GIL with the event loop
that serves every page, which then wakes late with many runs at once (bench/README.md). So the app server runs
litellm (and the embedded model's server) in a child process, through the same LiteLLMCaller
(flowdeck/models/worker.py), and talks to it with JSON lines on its stdin and stdout:

    to the child:   its settings (the first line), then
                    {"op": "call" | "prepare" | "preflight", "id": n, ...}   {"op": "cancel", "id": n}
    to the parent:  {"id": n, "text": delta}   {"id": n, "ok": result}   {"id": n, "error": {...}}

The child starts on first use and exits when its stdin closes (the app stopped, or died). If it dies, the
calls it had fail as ProviderUnavailable (retryable: the retry starts a new one). The settings never go on its
command line, which every process on the machine can read (a server address may hold a password).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import msgspec
import orjson

from flowdeck import errors
from flowdeck.engine.events import ToolCall, Usage
from flowdeck.engine.llm_types import Completion, ModelRequest

LINE_LIMIT = 1 << 28  # a whole answer comes back on one line


@dataclass(frozen=True, slots=True)
class ProcessSettings:
    """What the child needs to build its LiteLLMCaller (as open_services builds one in-process)."""

    home: Path
    embedded_threads: int = 1
    ollama_base: str = "http://127.0.0.1:11434"
    scripted_ledger: Path | None = None
    scripted_via_litellm: bool = False

    def to_json(self) -> str:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return orjson.dumps({k: v if v is None or isinstance(v, bool) else str(v) for k, v in values.items()}).decode()

    @classmethod
    def from_json(cls, text: str) -> ProcessSettings:
        raw = orjson.loads(text)
        return cls(
            home=Path(raw["home"]),
            embedded_threads=int(raw["embedded_threads"]),
            ollama_base=raw["ollama_base"],
            scripted_ledger=Path(raw["scripted_ledger"]) if raw["scripted_ledger"] else None,
            scripted_via_litellm=bool(raw.get("scripted_via_litellm")),
        )


@dataclass(slots=True)
class _Pending:
    future: asyncio.Future[Any]
    on_text: Callable[[str], None] | None = None


class ModelProcess:
    """A ModelCaller (plus preflight) whose calls run in a child process started with `command`, which reads
    the settings as JSON from the first line of its stdin (flowdeck/models/worker.py makes one)."""

    def __init__(self, settings: ProcessSettings, command: Sequence[str]) -> None:
        self._settings = settings
        self._command = tuple(command)
        self._proc: asyncio.subprocess.Process | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, _Pending] = {}
        self._next_id = 0
        self._starting: asyncio.Lock | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    async def prepare(self, models: set[str]) -> None:
        await self._ask("prepare", {"models": sorted(models)})

    async def preflight(self, models: set[str], with_tools: frozenset[str] = frozenset()) -> dict[str, str]:
        asked = {"models": sorted(models), "with_tools": sorted(with_tools)}
        found: dict[str, str] = await self._ask("preflight", asked)
        return found

    async def call(self, request: ModelRequest, on_text: Callable[[str], None]) -> Completion:
        payload = {
            "model": request.model,
            "messages": msgspec.to_builtins(request.messages),
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "timeout": request.timeout,
            "verdicts": list(request.verdicts),
            "structured": request.structured,
            "round": request.round,
            "tools": msgspec.to_builtins(request.tools),
        }
        result = await self._ask("call", {"request": payload}, on_text)
        usage = Usage(prompt_tokens=result["usage"][0], completion_tokens=result["usage"][1])
        return Completion(
            text=result["text"],
            usage=usage,
            cost=result["cost"],
            cut=bool(result.get("cut")),
            tool_calls=msgspec.convert(result.get("tool_calls") or (), tuple[ToolCall, ...]),
        )

    async def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 3.0)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        if self._reader is not None:
            self._reader.cancel()

    # -- the pipe -------------------------------------------------------------------------------------------

    async def _ask(self, op: str, fields: dict[str, Any], on_text: Callable[[str], None] | None = None) -> Any:
        proc = await self._running()
        self._next_id += 1
        call_id = self._next_id
        pending = self._pending[call_id] = _Pending(asyncio.get_running_loop().create_future(), on_text)
        try:
            if self._proc is not proc:  # it died while this call was being made: its reader has already left
                raise _gone(f"exit code {proc.returncode}")
            assert proc.stdin is not None
            proc.stdin.write(orjson.dumps({"op": op, "id": call_id, **fields}) + b"\n")
            await proc.stdin.drain()
            return await pending.future
        except asyncio.CancelledError:
            if call_id in self._pending and proc.returncode is None and proc.stdin is not None:
                with contextlib.suppress(OSError, RuntimeError):
                    proc.stdin.write(orjson.dumps({"op": "cancel", "id": call_id}) + b"\n")
            raise
        except (OSError, RuntimeError) as exc:  # the pipe broke: the child is gone
            raise _gone(str(exc)) from None
        finally:
            self._pending.pop(call_id, None)

    async def _running(self) -> asyncio.subprocess.Process:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a process's pipes belong to the loop that started it
            self._loop, self._proc, self._starting = loop, None, asyncio.Lock()
        assert self._starting is not None
        async with self._starting:
            if self._proc is None or self._proc.returncode is not None:
                self._proc = await asyncio.create_subprocess_exec(
                    *self._command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=LINE_LIMIT
                )
                assert self._proc.stdin is not None
                self._proc.stdin.write(self._settings.to_json().encode() + b"\n")
                self._reader = loop.create_task(self._read(self._proc), name="flowdeck model process")
        return self._proc

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        try:
            while line := await proc.stdout.readline():
                message = orjson.loads(line)
                pending = self._pending.get(message["id"])
                if pending is None or pending.future.done():
                    continue  # a call cancelled here
                if "text" in message:
                    if pending.on_text is not None:
                        pending.on_text(message["text"])
                elif "ok" in message:
                    pending.future.set_result(message["ok"])
                else:
                    pending.future.set_exception(error_from_json(message["error"]))
        finally:
            if self._proc is proc:
                self._proc = None  # the next call starts another
            for pending in list(self._pending.values()):
                if not pending.future.done():
                    pending.future.set_exception(_gone(f"exit code {proc.returncode}"))


def _gone(detail: str) -> errors.ModelError:
    return errors.ProviderUnavailable(
        f"the model process stopped ({detail})",
        hint="try again; if it keeps happening, see the app's error output",
    )


def error_to_json(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, errors.ModelError):
        return {
            "class": type(exc).__name__,
            "message": exc.detail,
            "model": exc.model,
            "hint": exc.hint,
            "retry_after": getattr(exc, "retry_after", None),
        }
    if isinstance(exc, errors.FlowdeckError):
        return {"class": "ConfigError", "message": str(exc)}
    return {"class": "ModelError", "message": f"internal error in the model process: {type(exc).__name__}: {exc}"}


def error_from_json(data: dict[str, Any]) -> errors.FlowdeckError:
    cls = getattr(errors, data["class"], None)
    if cls is errors.ConfigError:
        return errors.ConfigError(data["message"])
    if not (isinstance(cls, type) and issubclass(cls, errors.ModelError)):
        cls = errors.ModelError
    exc = cls(data["message"], model=data.get("model", ""), hint=data.get("hint", ""))
    if isinstance(exc, errors.RateLimited):
        exc.retry_after = data.get("retry_after")
    return exc
