"""The child process that makes the app server's model calls (see flowdeck/models/process.py): the same
LiteLLMCaller as in-process calls, with the provider keys saved in the data dir, behind JSON lines.

    python -m flowdeck.models.worker    (started by ModelProcess, never by hand; the settings come on stdin)
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import msgspec
import orjson

from flowdeck.engine.events import Message
from flowdeck.engine.llm_types import ModelRequest
from flowdeck.engine.tools import ToolSpec
from flowdeck.models.embedded import EmbeddedModel
from flowdeck.models.keys import ProviderKeys
from flowdeck.models.llm import LiteLLMCaller
from flowdeck.models.process import LINE_LIMIT, ModelProcess, ProcessSettings, error_to_json
from flowdeck.models.scripted_litellm import SCRIPTED


def model_process(settings: ProcessSettings) -> ModelProcess:
    """Model calls in a child process running this module."""
    return ModelProcess(settings, (sys.executable, "-m", "flowdeck.models.worker"))


async def _serve(out: Any) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    settings = ProcessSettings.from_json((await reader.readline()).decode())
    SCRIPTED.ledger = settings.scripted_ledger
    caller = LiteLLMCaller(
        EmbeddedModel(threads=settings.embedded_threads),
        keys=ProviderKeys(settings.home),
        ollama_base=settings.ollama_base,
        scripted_via_litellm=settings.scripted_via_litellm,
    )
    outgoing: list[bytes] = []

    def send(message: dict[str, Any]) -> None:
        if not outgoing:
            loop.call_soon(flush)  # one write for everything sent in this turn of the loop
        outgoing.append(orjson.dumps(message) + b"\n")

    def flush() -> None:
        out.write(b"".join(outgoing))
        out.flush()
        outgoing.clear()

    async def run(message: dict[str, Any]) -> None:
        call_id = message["id"]
        try:
            if message["op"] == "call":
                fields = message["request"]
                request = ModelRequest(
                    model=fields["model"],
                    messages=msgspec.convert(fields["messages"], list[Message]),
                    temperature=fields["temperature"],
                    max_tokens=fields["max_tokens"],
                    timeout=fields["timeout"],
                    verdicts=tuple(fields.get("verdicts") or ()),
                    structured=bool(fields.get("structured")),
                    round=int(fields.get("round") or 1),
                    tools=msgspec.convert(fields.get("tools") or (), tuple[ToolSpec, ...]),
                )
                completion = await caller.call(request, lambda text: send({"id": call_id, "text": text}))
                usage = completion.usage
                result: Any = {
                    "text": completion.text,
                    "usage": [usage.prompt_tokens, usage.completion_tokens],
                    "cost": completion.cost,
                    "cut": completion.cut,
                    "tool_calls": msgspec.to_builtins(completion.tool_calls),
                }
            elif message["op"] == "prepare":
                await caller.prepare(set(message["models"]))
                result = None
            else:
                result = await caller.preflight(set(message["models"]), frozenset(message.get("with_tools", ())))
            send({"id": call_id, "ok": result})
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # every failure goes back to the caller, classified
            send({"id": call_id, "error": error_to_json(exc)})
        finally:
            tasks.pop(call_id, None)

    tasks: dict[int, asyncio.Task[None]] = {}
    while line := await reader.readline():
        message = orjson.loads(line)
        if message["op"] == "cancel":
            task = tasks.get(message["id"])
            if task is not None:
                task.cancel()
        else:
            tasks[message["id"]] = loop.create_task(run(message))
    for task in tasks.values():
        task.cancel()


def main() -> None:
    # The pipe to the parent is a copy of stdout; stdout itself goes to stderr, so that nothing a library
    # prints (litellm, llama.cpp) can corrupt the messages.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C stops the app, which closes our stdin: we end then
    asyncio.run(_serve(out))


if __name__ == "__main__":
    main()
