"""What bounding prompt templates costs a render.

    python bench/prompts.py [--renders 2000]

Printed side by side, in microseconds a render (median of --renders renders of an already compiled template):
jinja2's stock sandbox (the baseline), flowdeck's bounded sandbox in this process (render_prompt), and a render
through the child process (PromptProcess, what a run does for templates that loop, call or filter; one at a
time, and 8 at once from one event loop). Then what a child costs: its start until it answers, its memory, and
how late the event loop that awaits a hostile render wakes.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from flowdeck.engine.prompt_process import PromptProcess, render_isolated
from flowdeck.engine.prompts import UpstreamOutput, render_prompt

UPSTREAM = [UpstreamOutput(id=f"n{i}", label=f"Agent {i}", output="Some findings.\n" * 40) for i in range(3)]
INPUTS = {"task": "Write a palindrome checker"}
OUTPUTS = {u.id: u.output for u in UPSTREAM}
TEMPLATES = {
    "plain (prints inputs and outputs)": "Task: {{ inputs.task }}\n\n{{ outputs.n0 }}\n\n{{ outputs.n1 }}",
    "a loop with filters": "{{ inputs.task|upper }}\n{% for u in upstream %}## {{ u.label }}\n"
    "{{ u.output|truncate(200)|indent(2) }}\n{% endfor %}",
    "1,000 iterations": "{% for i in range(1000) %}{{ i }}{% endfor %}",
}
HOSTILE = "{% for i in range(100000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}done"


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def stock(template: str, renders: int) -> float:
    compiled = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True).from_string(template)
    context = {"inputs": INPUTS, "outputs": OUTPUTS, "upstream": UPSTREAM}
    samples = []
    for _ in range(renders):
        t0 = time.perf_counter()
        compiled.render(context)
        samples.append(time.perf_counter() - t0)
    return median_us(samples)


def bounded(template: str, renders: int) -> float:
    samples = []
    for _ in range(renders):
        t0 = time.perf_counter()
        render_prompt(template, INPUTS, UPSTREAM, OUTPUTS)
        samples.append(time.perf_counter() - t0)
    return median_us(samples)


async def isolated(pool: PromptProcess, template: str, renders: int, at_once: int = 1) -> float:
    await pool.render(template, INPUTS, UPSTREAM, OUTPUTS)  # the child is up and has compiled it
    samples = []
    for _ in range(renders // at_once):
        t0 = time.perf_counter()
        await asyncio.gather(*(pool.render(template, INPUTS, UPSTREAM, OUTPUTS) for _ in range(at_once)))
        samples.append((time.perf_counter() - t0) / at_once)
    return median_us(samples)


def child_memory() -> str:
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"flowdeck.engine.prompt_worker" in path.read_bytes():
                status = (path.parent / "status").read_text()
                return next(line for line in status.splitlines() if line.startswith("VmRSS")).split(":")[1].strip()
        except OSError:
            continue
    return "?"


async def child_costs() -> None:
    pool = PromptProcess(size=1)
    t0 = time.perf_counter()
    await pool.render("{{ 1 }}", {}, [], {})
    print(f"\na child's start, until its first answer: {(time.perf_counter() - t0) * 1e3:.0f} ms")
    print(f"a child's memory: {child_memory()} resident")
    pool.close()
    late: list[float] = []

    async def tick() -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.005)
            late.append(time.perf_counter() - t - 0.005)

    ticker = asyncio.create_task(tick())
    t0 = time.perf_counter()
    try:
        await render_isolated(HOSTILE, {}, [], {})
    except Exception as exc:
        took = time.perf_counter() - t0
        print(f"the issue's nested-range template: refused after {took * 1e3:.0f} ms ({str(exc)[:60]}...)")
    ticker.cancel()
    print(f"the event loop meanwhile woke at most {max(late) * 1e3:.1f} ms late ({len(late)} wake-ups)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--renders", type=int, default=2000)
    args = parser.parse_args()
    pool = PromptProcess(size=2)
    print(f"{'us a render':36} {'stock jinja2':>12} {'bounded':>9} {'child':>9} {'child, 8 at once':>17}")
    for name, template in TEMPLATES.items():
        row = (
            stock(template, args.renders),
            bounded(template, args.renders),
            await isolated(pool, template, args.renders),
            await isolated(pool, template, args.renders, at_once=8),
        )
        print(f"{name:36} {row[0]:12.1f} {row[1]:9.1f} {row[2]:9.1f} {row[3]:17.1f}")
    pool.close()
    await child_costs()


if __name__ == "__main__":
    asyncio.run(main())
