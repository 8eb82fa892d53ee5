"""The scripted model as a litellm custom provider, so that tests of flowdeck's real model path (litellm and
the translation of its errors) run offline: a scripted fault is raised as the litellm error a provider's
failure would produce."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from flowdeck.errors import ModelError
from flowdeck.models.scripted import ScriptedModel, answer, calling, parse_spec, tool_calls, usage_for
from flowdeck.models.tool_calls import messages_from_litellm

SCRIPTED = ScriptedModel()


def scripted_handler(litellm: Any) -> Any:
    """A litellm CustomLLM that streams the scripted model's replies (registered as provider "scripted")."""
    import httpx

    class ScriptedHandler(litellm.CustomLLM):  # type: ignore[misc]
        async def astreaming(self, model: str, messages: list[dict[str, Any]], **kwargs: Any) -> AsyncIterator[Any]:
            full = "scripted" if model == "default" else f"scripted/{model}"
            typed = messages_from_litellm(messages)
            parts: list[str] = []
            optional = kwargs.get("optional_params") or {}
            try:
                calls = tool_calls(parse_spec(full), typed) if optional.get("tools") else ()
                limit = optional.get("max_tokens")
                async for chunk in SCRIPTED.stream(full, typed, limit, reply=calling(calls) if calls else None):
                    parts.append(chunk)
                    yield {"text": chunk, "is_finished": False, "finish_reason": "", "usage": None, "index": 0}
            except ModelError as exc:
                raise as_litellm_error(litellm, httpx, exc, full) from None
            for index, call in enumerate(calls):
                function = {"name": call.name, "arguments": call.arguments}
                use = {"id": call.id, "type": "function", "function": function, "index": index}
                yield {
                    "text": "",
                    "tool_use": use,
                    "is_finished": False,
                    "finish_reason": "",
                    "usage": None,
                    "index": 0,
                }
            usage = usage_for(typed, "".join(parts))
            totals = {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
            }
            reason = "tool_calls" if calls else "length" if answer(typed, limit)[1] else "stop"
            yield {"text": "", "is_finished": True, "finish_reason": reason, "usage": totals, "index": 0}

        async def acompletion(self, *args: Any, **kwargs: Any) -> Any:
            raise litellm.BadRequestError("the scripted model only streams", kwargs.get("model", ""), "scripted")

    return ScriptedHandler()


def as_litellm_error(litellm: Any, httpx: Any, error: ModelError, model: str) -> Exception:
    """What a real provider's failure looks like to litellm, so that the scripted model tests translate()."""
    request = httpx.Request("POST", "http://scripted.invalid/v1/chat/completions")

    def response(status: int, headers: dict[str, str] | None = None) -> Any:
        return httpx.Response(status, headers=headers or {}, request=request)

    retry_after = getattr(error, "retry_after", None) or 1.0
    faults: dict[str, Callable[[], Exception]] = {
        "rate_limit": lambda: litellm.RateLimitError(
            "rate limited", "scripted", model, response=response(429, {"retry-after": f"{retry_after:g}"})
        ),
        "timeout": lambda: litellm.Timeout("timed out", model, "scripted"),
        "unavailable": lambda: litellm.InternalServerError("server error", "scripted", model, response(500)),
        "stream_cut": lambda: litellm.APIConnectionError("stream cut by the scripted model", "scripted", model),
        "auth": lambda: litellm.AuthenticationError("invalid api key", "scripted", model, response(401)),
        "bad_request": lambda: litellm.BadRequestError("bad request", model, "scripted", response(400)),
        "context_length": lambda: litellm.ContextWindowExceededError("too long", model, "scripted", response(400)),
        "not_found": lambda: litellm.NotFoundError("no such model", model, "scripted", response(404)),
    }
    return faults.get(error.kind, faults["unavailable"])()
