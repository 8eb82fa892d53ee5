"""Prompt templates rendered in child processes, so that no template can hold the event loop or this process's memory.

The sandbox (flowdeck/engine/sandbox.py) stops a template that loops, calls or builds too much with a clear error.
This is the hard bound behind it: a render runs in a long-lived child (flowdeck/engine/prompt_worker.py) whose
address space is capped, the event loop only awaits its answer, and a child that overruns the deadline, or whose
render is cancelled (Ctrl+C, Cancel), is killed at once and replaced when next needed. Templates that only print
and compare the values they are given cannot do any of that, and render here without the round trip
(bench/prompts.py measures both).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from flowdeck.engine.prompts import MAX_RENDER_SECONDS, UpstreamOutput, render_prompt, template_of
from flowdeck.engine.sandbox import needs_isolation
from flowdeck.engine.verdicts import output_to_json
from flowdeck.errors import PromptError

MAX_RENDER_MEMORY = 256 << 20  # bytes a child may allocate beyond what it holds when it starts
GRACE_SECONDS = 1.0  # the child stops a slow render itself at MAX_RENDER_SECONDS; this is for when it cannot
START_SECONDS = 60.0  # a child's start, under heavy load
WORKER = (sys.executable, "-m", "flowdeck.engine.prompt_worker")


async def render_isolated(
    template: str | None,
    inputs: Mapping[str, str],
    upstream: Iterable[UpstreamOutput],
    ancestors: Mapping[str, str],
    *,
    agent: str = "",
) -> str:
    """render_prompt(), with a template that could take long or build much rendered in a child process."""
    if template is None or not needs_isolation(template):
        return render_prompt(template, inputs, upstream, ancestors, agent=agent)
    return await _default().render(template, inputs, upstream, ancestors, agent=agent)


class PromptProcess:
    """Renders templates in up to `size` child processes, each bounded by `deadline` seconds a render and
    `memory` bytes. Usable from any event loop and thread; close() stops the children."""

    def __init__(
        self,
        size: int = 2,
        *,
        deadline: float = MAX_RENDER_SECONDS + GRACE_SECONDS,
        memory: int = MAX_RENDER_MEMORY,
        command: Sequence[str] = WORKER,
    ) -> None:
        self._deadline = deadline
        self._command = (*command, str(memory))
        self._idle: list[_Child] = []
        self._children: set[_Child] = set()  # idle or busy
        self._closed = False
        self._lock = threading.Lock()
        self._threads = ThreadPoolExecutor(size, thread_name_prefix="flowdeck-prompt")  # one per busy child

    async def render(
        self,
        template: str,
        inputs: Mapping[str, str],
        upstream: Iterable[UpstreamOutput],
        ancestors: Mapping[str, str],
        *,
        agent: str = "",
    ) -> str:
        request = {
            "template": template,
            "inputs": dict(inputs),
            "upstream": [(u.id, u.label, u.output) for u in upstream],
            "outputs": {name: output_to_json(value) for name, value in ancestors.items()},
            "agent": agent,
        }
        job = _Job(orjson.dumps(request) + b"\n", agent)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._threads, self._exchange, job)
        except asyncio.CancelledError:
            job.cancel()  # kills the child if it is rendering this job: the thread then returns at once
            raise

    @property
    def pids(self) -> list[int]:
        """The process ids of the children that are running."""
        with self._lock:
            return sorted(child.pid for child in self._children if child.alive())

    def close(self) -> None:
        with self._lock:
            idle, self._idle, self._closed = self._idle, [], True
        for child in idle:
            child.stop()
        self._threads.shutdown(wait=False, cancel_futures=True)

    def _exchange(self, job: _Job) -> str:
        """In a worker thread: hand the job to an idle child (or a new one) and wait for its answer."""
        with self._lock:
            child = self._idle.pop() if self._idle else None
        if child is not None and not child.alive():  # killed from outside while idle
            child.stop()
            child = None
        try:
            child = child or self._start()
        except (OSError, TimeoutError) as exc:
            raise PromptError(f"the process that renders prompt templates did not start ({exc!r})") from None
        if not job.attach(child):  # cancelled while it waited: nobody reads what this returns
            self._give_back(child)
            return ""
        try:
            reply = child.ask(job.request, time.monotonic() + self._deadline)
        except TimeoutError:
            child.stop()
            raise PromptError(
                f"{template_of(job.agent)} took longer than {MAX_RENDER_SECONDS:g} s to render; "
                "simplify its loops and filters"
            ) from None
        except OSError as exc:  # the child died, or was killed because the job was cancelled
            child.stop()
            raise PromptError(
                f"the process rendering {template_of(job.agent)} stopped ({exc}); simplify the template, or try again"
            ) from None
        if reply.get("exit"):
            child.stop()
        else:
            self._give_back(child)
        if "error" in reply:
            raise PromptError(reply["error"])
        text: str = reply["ok"]
        return text

    def _start(self) -> _Child:
        child = _Child(self._command, self._forget)
        with self._lock:
            self._children.add(child)
        return child

    def _forget(self, child: _Child) -> None:
        with self._lock:
            self._children.discard(child)

    def _give_back(self, child: _Child) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(child)
                return
        child.stop()


class _Job:
    """One render request, and the child working on it (so that cancelling it can kill that child)."""

    def __init__(self, request: bytes, agent: str) -> None:
        self.request = request
        self.agent = agent
        self._lock = threading.Lock()
        self._child: _Child | None = None
        self._cancelled = False

    def attach(self, child: _Child) -> bool:
        with self._lock:
            self._child = child
            return not self._cancelled

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            if self._child is not None:
                self._child.kill()


class _Child:
    """One worker process, its pipes, and what it has sent that is not yet a whole line."""

    def __init__(self, command: Sequence[str], on_stop: Callable[[_Child], None]) -> None:
        self._on_stop = on_stop
        self._proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,
            start_new_session=True,  # the terminal's Ctrl+C goes to the parent, which decides
        )
        self._buffer = bytearray()
        try:
            self._read_line(time.monotonic() + START_SECONDS)  # {"ready": true}: its imports are done
        except (TimeoutError, OSError):
            self.stop()
            raise

    def ask(self, request: bytes, deadline: float) -> dict[str, Any]:
        assert self._proc.stdin is not None
        self._proc.stdin.write(request)
        reply: dict[str, Any] = orjson.loads(self._read_line(deadline))
        return reply

    @property
    def pid(self) -> int:
        return self._proc.pid

    def alive(self) -> bool:
        return self._proc.poll() is None

    def kill(self) -> None:
        """Any thread: the child stops at once; the thread waiting for it sees it gone."""
        if self._proc.returncode is None:
            self._proc.kill()

    def stop(self) -> None:
        """The owning thread: end the child and release its pipes."""
        self.kill()
        self._proc.wait()
        self._on_stop(self)
        for pipe in (self._proc.stdin, self._proc.stdout):
            if pipe is not None:
                pipe.close()

    def _read_line(self, deadline: float) -> bytes:
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while (end := self._buffer.find(b"\n")) < 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            if select.select([fd], [], [], remaining)[0]:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise OSError(f"exit code {self._proc.wait()}")
                self._buffer += chunk
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return line


_pool: PromptProcess | None = None
_pool_lock = threading.Lock()


def _default() -> PromptProcess:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = PromptProcess()
            atexit.register(_pool.close)
        return _pool
