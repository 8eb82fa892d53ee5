"""Model calls through litellm: the only module that imports it, and the one place its errors are translated."""

from __future__ import annotations

import asyncio
import gc
import importlib
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from flowdeck.config import environment_has
from flowdeck.engine.events import Usage
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
from flowdeck.models.embedded import EMBEDDED, EmbeddedModel, model_path
from flowdeck.models.providers import NO_KEY, PROVIDERS, KeySource, check_model, custom_base, provider_of
from flowdeck.models.scripted import ScriptedCaller, is_scripted, parse_spec
from flowdeck.models.scripted_litellm import SCRIPTED, scripted_handler
from flowdeck.models.streaming import WholeCharacters, forwarder
from flowdeck.models.tool_calls import (
    StreamedCalls,
    litellm_messages,
    litellm_tools,
    refuses_tools,
    tools_unsupported,
)
from flowdeck.models.verdict_schema import supports_schema, verdict_schema

# litellm fetches a price list from the internet at import unless told not to.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

_import_lock = asyncio.Lock()  # used on the model loop only
T = TypeVar("T")
_litellm: Any = None
# Advice on a transient failure, true whether retries are still to come (shown live) or ran out.
_MALFORMED = "malformed stream chunk"
_TRANSIENT = ADVICE["transient"]


class _ModelThread:
    """An event loop of its own, in a daemon thread, for every litellm call.

    litellm does a lot of Python work per streamed chunk (pydantic objects, logging hooks, cost lookups), enough
    to stall the app's event loop with many runs at once (bench/README.md). On its own loop, that work only
    competes for the GIL, which Python hands over every few milliseconds.
    The app server goes further and runs all of this in a child process (models/process.py).
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def _get(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="flowdeck-models", daemon=True).start()
                self._loop = loop
            return self._loop

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the model loop; cancelling the caller cancels it there too."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._get()))


_MODELS = _ModelThread()


class LiteLLMCaller:
    """The production ModelCaller: any litellm model string, plus "embedded" and "scripted[/options]".

    Calls run on a loop of their own (see _ModelThread); text deltas come back to the caller's loop.
    """

    def __init__(
        self,
        embedded: EmbeddedModel | None = None,
        *,
        keys: KeySource | None = None,
        ollama_base: str = "http://127.0.0.1:11434",
        scripted_via_litellm: bool = False,
    ) -> None:
        self._embedded = embedded or EmbeddedModel()
        self._keys = keys
        self._ollama_base = ollama_base
        # The scripted model goes through litellm only to test that path: otherwise a run on it (or on the
        # embedded model) would wait seconds for litellm's import, for nothing.
        self._scripted = None if scripted_via_litellm else ScriptedCaller(SCRIPTED)

    async def preflight(self, models: set[str], with_tools: frozenset[str] = frozenset()) -> dict[str, str]:
        """What stops each model from being called, found without calling it: an unknown provider, a missing
        API key, a local server that does not answer; for `with_tools` (models that agents with tools use), a
        model that cannot call tools. {} when every model looks usable."""
        return await _MODELS.run(self._preflight(models, with_tools))

    async def _preflight(self, models: set[str], with_tools: frozenset[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        if EMBEDDED in with_tools:  # known without litellm: SmolLM2 was not trained to call tools
            refused = tools_unsupported(EMBEDDED, "the embedded model cannot call tools")
            found[EMBEDDED] = f"{refused.detail}: {refused.hint}"
        if EMBEDDED in models and EMBEDDED not in found:
            try:
                model_path()
            except ModelNotFound as exc:
                found[EMBEDDED] = f"{exc.detail}; {exc.hint}"
        providers = sorted(m for m in models if m != EMBEDDED and not is_scripted(m))
        if not providers:
            return found  # nothing more to check: do not load litellm for it
        litellm = await _load_litellm()
        for model in providers:
            problem = await check_model(litellm, model, self._keys, self._ollama_base)
            if problem:
                found[model] = problem
        return found

    async def prepare(self, models: set[str]) -> None:
        """Import litellm and start the embedded model if a run will need them."""
        await _MODELS.run(self._prepare(models))

    async def call(self, request: ModelRequest, on_text: Callable[[str], None]) -> Completion:
        if request.model == EMBEDDED:
            if request.tools:  # SmolLM2 was not trained to call tools
                raise tools_unsupported(EMBEDDED, "the embedded model cannot call tools")
            return await _within(request, self._embedded.call(request, on_text))
        if self._scripted is not None and is_scripted(request.model):
            return await _within(request, self._scripted.call(request, on_text))
        return await _MODELS.run(self._call(request, forwarder(on_text)))

    async def close(self) -> None:
        """Nothing to release: the model thread and the embedded server live as long as the process."""

    def _needs_litellm(self, models: set[str]) -> bool:
        return any(m != EMBEDDED and not (self._scripted is not None and is_scripted(m)) for m in models)

    async def _prepare(self, models: set[str]) -> None:
        if self._needs_litellm(models):
            await _load_litellm()
        if EMBEDDED in models:
            self._embedded.load_soon()  # the run starts meanwhile: its first call waits for the model
        ready = max((parse_spec(m).ready for m in models if is_scripted(m)), default=0.0)
        if ready:
            await asyncio.sleep(ready)

    async def _call(self, request: ModelRequest, on_text: Callable[[str], None]) -> Completion:
        litellm = await _load_litellm()
        model = request.model
        if is_scripted(model):
            parse_spec(model)  # a bad option is the user's mistake: say so before calling
        extra: dict[str, Any] = {"model": model}
        if is_scripted(model):
            extra = {"model": "scripted/" + (model.partition("/")[2] or "default")}
        else:
            extra.update(self._where(litellm, model))
            if request.tools and refuses_tools(litellm, model):
                raise tools_unsupported(model, "this model cannot call tools (as litellm knows it)")
            # not with tools: a schema for the answer and tool calls conflict at some providers
            if request.structured and request.verdicts and not request.tools and supports_schema(litellm, model):
                extra["response_format"] = verdict_schema(request.verdicts)
        if request.tools:
            extra["tools"] = litellm_tools(request.tools)
            messages = litellm_messages(request.messages)
        else:
            messages = [{"role": m.role, "content": m.content} for m in request.messages]
        streamed = StreamedCalls()
        parts: list[str] = []
        usage = Usage()
        finished = False
        cut = False
        whole = WholeCharacters()
        try:
            async with asyncio.timeout(request.timeout):
                stream = await litellm.acompletion(
                    messages=messages,
                    temperature=request.temperature,
                    max_tokens=request.max_tokens,
                    stream=True,
                    stream_options={"include_usage": True},
                    timeout=request.timeout,
                    num_retries=0,
                    **extra,
                )
                async for chunk in stream:
                    if chunk.choices:
                        choice = chunk.choices[0]
                        delta = whole.take(choice.delta.content if choice.delta else None)
                        if delta:
                            parts.append(delta)
                            on_text(delta)
                        if choice.delta and choice.delta.tool_calls:
                            streamed.add(choice.delta.tool_calls)
                        finished = finished or bool(choice.finish_reason)
                        cut = cut or choice.finish_reason == "length"
                    reported = getattr(chunk, "usage", None)
                    if reported:
                        usage = Usage(
                            prompt_tokens=int(reported.prompt_tokens or 0),
                            completion_tokens=int(reported.completion_tokens or 0),
                        )
        except TimeoutError:
            raise _timeout(request) from None
        except ModelError:
            raise
        except Exception as exc:
            raise translate(exc, model, partial=bool(parts)) from None
        if not finished:
            raise StreamInterrupted("the response stream ended before the model finished", model=model, hint=_TRANSIENT)
        if tail := whole.rest():
            parts.append(tail)
            on_text(tail)
        calls = streamed.calls()
        return Completion(
            text="".join(parts), usage=usage, cost=_cost(litellm, model, usage), cut=cut, tool_calls=calls
        )

    def _where(self, litellm: Any, model: str) -> dict[str, str]:
        """Where this model's call goes, and with which key, beyond what litellm reads from the environment.

        A provider's own service gets the key saved in the app for it. A server of one's own never does: one
        whose address is saved in the app gets no real key at all (not the environment's either: the address
        was not set with it), one set in the environment gets the environment's key if there is one.
        """
        provider = provider_of(litellm, model)
        if provider is None:
            return {}
        custom = custom_base(provider, self._keys)
        if custom is None:
            found = self._keys.for_provider(provider) if self._keys is not None else None
            return {"api_key": found[1]} if found else {}
        variable, url = custom
        if not environment_has(variable):
            saved = self._keys.server_key(variable) if self._keys is not None else None
            return {"api_base": url, "api_key": saved or NO_KEY}
        own = next((item.variable for item in PROVIDERS if provider in item.providers), None)
        return {} if own is None or environment_has(own) else {"api_key": NO_KEY}


async def _within(request: ModelRequest, call: Coroutine[Any, Any, Completion]) -> Completion:
    try:
        async with asyncio.timeout(request.timeout):
            return await call
    except TimeoutError:
        raise _timeout(request) from None


def _timeout(request: ModelRequest) -> ModelTimeout:
    return ModelTimeout(
        f"no complete answer within {request.timeout:g} s",
        model=request.model,
        hint="raise the node's timeout or use a faster model",
    )


def translate(exc: Exception, model: str, *, partial: bool = False) -> ModelError:
    """Map a litellm/provider exception to flowdeck's error classes, with what to do about it."""
    litellm = _litellm
    original = getattr(exc, "original_exception", None)
    if litellm is not None and type(exc).__name__ == "MidStreamFallbackError" and isinstance(original, Exception):
        exc = original
    name = type(exc).__name__
    message = _first_line(str(exc)) or name
    if litellm is None:
        return ProviderUnavailable(message, model=model)
    if _MALFORMED in message:
        return StreamInterrupted("the provider sent a chunk that is not valid JSON", model=model, hint=_TRANSIENT)
    if isinstance(exc, litellm.ContextWindowExceededError):
        return ContextTooLong(
            "the messages do not fit the model's context window",
            model=model,
            hint=ADVICE["context_length"],
        )
    if isinstance(exc, litellm.RateLimitError):
        return RateLimited(
            "the provider is rate limiting requests",
            model=model,
            hint=ADVICE["rate_limit"],
            retry_after=_retry_after(exc),
        )
    if isinstance(exc, litellm.Timeout):
        return ModelTimeout("the provider did not answer in time", model=model, hint=ADVICE["timeout"])
    if isinstance(exc, litellm.AuthenticationError | litellm.PermissionDeniedError):
        provider = provider_of(litellm, model) or "the provider"
        return AuthenticationFailed(
            "the provider rejected the credentials",
            model=model,
            hint=f"check {provider.upper()}_API_KEY (in the environment, .env, or ⋮ → API keys…)",
        )
    if isinstance(exc, litellm.NotFoundError):
        return ModelNotFound("the provider does not know this model", model=model, hint=ADVICE["not_found"])
    if isinstance(exc, litellm.BadRequestError):
        if "LLM Provider NOT provided" in str(exc):
            return ModelNotFound(
                "no provider recognised in the model string",
                model=model,
                hint="use provider/model, e.g. openai/gpt-4o-mini or ollama_chat/llama3.2",
            )
        return BadRequest(message, model=model, hint=ADVICE["bad_request"])
    if isinstance(exc, litellm.APIConnectionError):
        if partial:
            return StreamInterrupted("the connection dropped mid-answer", model=model, hint=_TRANSIENT)
        return ProviderUnavailable(
            "could not reach the provider",
            model=model,
            hint="check the network, api_base or that the server runs",
        )
    lowered = message.lower()
    if "connection error" in lowered or "cannot connect" in lowered or "connection refused" in lowered:
        # litellm reports some refused connections as server errors
        return ProviderUnavailable(
            "could not reach the provider", model=model, hint="check the network, api_base or that the server runs"
        )
    status = getattr(exc, "status_code", None)
    if (isinstance(status, int) and status >= 500) or isinstance(exc, litellm.APIError):
        return ProviderUnavailable(f"the provider failed ({message})", model=model, hint=_TRANSIENT)
    return ModelError(f"unexpected {name}: {message}", model=model)


async def _load_litellm() -> Any:
    global _litellm
    if _litellm is None:
        async with _import_lock:
            if _litellm is None:
                # Full collections over the many objects the import makes would stall the event loop
                # (bench/README.md): collect once, afterwards.
                gc.disable()
                try:
                    module: Any = await asyncio.to_thread(importlib.import_module, "litellm")
                finally:
                    gc.enable()
                module.suppress_debug_info = True
                _refuse_malformed_chunks()
                module.custom_provider_map = [
                    *[p for p in module.custom_provider_map if p.get("provider") != "scripted"],
                    {"provider": "scripted", "custom_handler": scripted_handler(module)},
                ]
                # The first call imports more of litellm (tokenizers, logging, cost tables): make it here, to the
                # offline scripted model, not mid-run. Then freeze litellm's long-lived objects (its model and
                # price tables) out of the collector's way: full collections walking them stall the event loop
                # (bench/README.md).
                stream = await module.acompletion(
                    model="scripted/chunks=2", messages=[{"role": "user", "content": "warm up"}], stream=True
                )
                async for _chunk in stream:
                    pass
                gc.freeze()
                _litellm = module
    return _litellm


def _refuse_malformed_chunks() -> None:
    """Make a streamed chunk that is not JSON an error. litellm's parser for OpenAI-compatible streams drops
    such a chunk and carries on, so an answer would silently lose text and still look complete."""
    try:
        from litellm.llms.base_llm.base_model_iterator import BaseModelResponseIterator
    except ImportError:  # a litellm without this parser: nothing to tighten
        return
    lenient = BaseModelResponseIterator._string_to_dict_parser

    def strict(str_line: str) -> dict[str, Any] | None:
        parsed: dict[str, Any] | None = lenient(str_line)
        line = str_line.strip()
        if parsed is None and line.startswith("data:"):
            payload = line[5:].strip()
            if payload and payload != "[DONE]":
                raise ValueError(f"{_MALFORMED}: {payload[:80]}")
        return parsed

    BaseModelResponseIterator._string_to_dict_parser = staticmethod(strict)  # type: ignore[method-assign]


def _retry_after(exc: Exception) -> float | None:
    candidates = (
        getattr(exc, "litellm_response_headers", None),  # where litellm keeps the provider's real headers
        getattr(getattr(exc, "response", None), "headers", None),
        getattr(exc, "headers", None),
    )
    for headers in candidates:
        if headers:
            value = headers.get("retry-after")
            if value is not None:
                try:
                    return max(0.0, float(value))
                except ValueError:
                    return None
    return None


def _cost(litellm: Any, model: str, usage: Usage) -> float:
    if model == EMBEDDED or is_scripted(model) or not usage.total_tokens:
        return 0.0
    try:
        prompt, completion = litellm.cost_per_token(
            model=model, prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens
        )
        return float(prompt) + float(completion)
    except Exception:  # litellm raises plain Exception for models it has no price for
        return 0.0


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:300] if text.strip() else ""
