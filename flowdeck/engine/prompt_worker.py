"""The child process that renders prompt templates for flowdeck/engine/prompt_process.py, with its memory capped.

    python -m flowdeck.engine.prompt_worker MEMORY_BYTES    (started by PromptProcess, never by hand)

It answers "ready" once started, then one line for each request line: {"ok": text} or {"error": message}, with
"exit": true when it stops after answering (it ran out of memory: what is left of it is not to be trusted).
"""

from __future__ import annotations

import signal
import sys
from typing import Any

import orjson

from flowdeck.engine.prompts import UpstreamOutput, render_prompt, template_of
from flowdeck.engine.verdicts import output_from_json
from flowdeck.errors import PromptError


def limit_memory(extra: int) -> None:
    """Cap this process's address space at what it uses now plus `extra` bytes (where the system allows it)."""
    try:
        import resource

        with open("/proc/self/statm") as statm:
            used = int(statm.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (used + extra, used + extra))
    except (ImportError, OSError, ValueError):  # not Linux: the render's own bounds and the deadline remain
        pass


def answer(request: dict[str, Any], extra: int) -> dict[str, Any]:
    agent = request["agent"]
    try:
        upstream = [UpstreamOutput(id=i, label=label, output=output) for i, label, output in request["upstream"]]
        outputs = {name: output_from_json(value) for name, value in request["outputs"].items()}
        text = render_prompt(request["template"], request["inputs"], upstream, outputs, agent=agent)
        return {"ok": text}
    except PromptError as exc:
        return {"error": str(exc)}
    except MemoryError:
        return {
            "error": f"{template_of(agent)} needs more than {extra >> 20} MB of memory to render; "
            "build smaller strings and lists",
            "exit": True,
        }
    except Exception as exc:  # a bug in flowdeck fails the agent with what happened
        return {"error": f"{template_of(agent)} failed to render: internal error: {type(exc).__name__}: {exc}"}


def main() -> None:
    extra = int(sys.argv[1])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C reaches the parent, which cancels the render
    limit_memory(extra)
    out = sys.stdout.buffer
    out.write(b'{"ready":true}\n')
    out.flush()
    for line in sys.stdin.buffer:
        reply = answer(orjson.loads(line), extra)
        out.write(orjson.dumps(reply) + b"\n")
        out.flush()
        if reply.get("exit"):
            return


if __name__ == "__main__":
    main()
