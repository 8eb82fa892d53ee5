"""Engine overhead and scheduling quality, beside a minimal reference executor and LangGraph.

    python bench/engine.py [--quick] [--loops [--cpu]]

Prints three tables:
  1. per-node overhead in microseconds at latency 0 (no tokens, and 20 streamed tokens per node):
     flowdeck's engine alone, flowdeck with the durable event log (Runner + SQLite), the reference, LangGraph;
  2. wall time / critical-path time with 50 ms per node (fixed, and 50 ms x a seeded factor in 0.2-1.8);
  3. loops (format 2): the engine's cost per agent execution of a chain whose last agent sends the work back to
     its first for N rounds, beside a plain chain with as many agents as the loop has executions, beside the
     same chain with a condition on each edge (routed, no loop), and beside it on the routed path without conditions
     (a loop edge of 1 round from its end: the engine's routed path, which every loop runs on).
All executors run in this process on the same graphs with the same fake model (sleep + token callbacks).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import operator
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Any, TypedDict

import networkx as nx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flowdeck.app.server import SWITCH_INTERVAL
from flowdeck.engine.dag import build
from flowdeck.engine.events import Usage
from flowdeck.engine.llm_types import Completion, ModelRequest
from flowdeck.engine.run import Run, drain
from flowdeck.engine.workflow import parse_workflow
from flowdeck.runner import Runner
from flowdeck.storage import RunLog, open_database

Graph = nx.DiGraph


# -- shapes -------------------------------------------------------------------------------------------


def chain(n: int = 50) -> Graph:
    return nx.path_graph(n, create_using=nx.DiGraph)


def fan(width: int = 20) -> Graph:
    g = nx.DiGraph()
    for i in range(1, width + 1):
        g.add_edge(0, i)
        g.add_edge(i, width + 1)
    return g


def layers(depth: int = 5, width: int = 10) -> Graph:
    g = nx.DiGraph()
    for d in range(depth - 1):
        for a in range(width):
            for b in range(width):
                g.add_edge(d * width + a, (d + 1) * width + b)
    return g


def random_dag(n: int = 200, seed: int = 7) -> Graph:
    rng = random.Random(seed)
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    for j in range(1, n):
        for i in rng.sample(range(j), k=min(j, rng.randint(1, 3))):
            g.add_edge(i, j)
    return g


def uneven() -> Graph:
    g = nx.DiGraph()
    g.add_node(0)  # the slow one (4x)
    nx.add_path(g, [1, 2, 3, 4])
    return g


SHAPES: dict[str, Callable[[], Graph]] = {
    "chain-50": chain,
    "fan-1-20-1": fan,
    "layers-5x10": layers,
    "random-200": random_dag,
    "uneven": uneven,
}


def latencies(g: Graph, shape: str, base: float, jitter: bool, seed: int = 11) -> dict[int, float]:
    rng = random.Random(seed)
    lat = {n: base * (rng.uniform(0.2, 1.8) if jitter else 1.0) for n in g.nodes}
    if shape == "uneven":
        lat[0] = 4 * base * (rng.uniform(0.2, 1.8) if jitter else 1.0)
    return lat


def critical_path(g: Graph, lat: dict[int, float]) -> float:
    finish: dict[int, float] = {}
    for n in nx.topological_sort(g):
        finish[n] = max((finish[p] for p in g.predecessors(n)), default=0.0) + lat[n]
    return max(finish.values())


# -- the fake model, shared by every executor -----------------------------------------------------------


async def fake_model(latency: float, tokens: int, on_token: Callable[[str], None]) -> str:
    if latency:
        await asyncio.sleep(latency)
    for _ in range(tokens):
        on_token("tok ")
    return "out"


class BenchCaller:
    """flowdeck ModelCaller for the model string 'bench/<latency>/<tokens>' (read once per model string, as the
    reference executor gets each node's latency from a dict)."""

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[float, int]] = {}

    async def prepare(self, models: set[str]) -> None:
        for model in models:
            _, latency, tokens = model.split("/")
            self._parsed[model] = (float(latency), int(tokens))

    async def call(self, request: ModelRequest, on_text: Callable[[str], None]) -> Completion:
        latency, tokens = self._parsed[request.model]
        text = await fake_model(latency, tokens, on_text)
        return Completion(text=text, usage=Usage(prompt_tokens=1, completion_tokens=tokens), cost=0.0)


# -- executors ----------------------------------------------------------------------------------------


def to_workflow(g: Graph, lat: dict[int, float], tokens: int) -> Any:
    """The graph as a validated flowdeck Dag (validation is setup, not per-node overhead, so it is untimed)."""
    return build(
        parse_workflow(
            {
                "format": 1,
                "name": "bench",
                "inputs": [{"name": "task", "default": "t"}],
                "nodes": [
                    {"id": f"n{n}", "type": "custom", "config": {"model": f"bench/{lat[n]!r}/{tokens}"}}
                    for n in g.nodes
                ],
                "edges": [{"id": f"e{u}-{v}", "source": f"n{u}", "target": f"n{v}"} for u, v in g.edges],
            }
        )
    )


async def run_flowdeck(g: Graph, lat: dict[int, float], tokens: int) -> float:
    workflow = to_workflow(g, lat, tokens)
    caller = BenchCaller()
    await caller.prepare({f"bench/{lat[n]!r}/{tokens}" for n in g.nodes})
    t0 = time.perf_counter()
    events = await drain(Run(workflow, caller=caller))
    assert events[-1].status == "succeeded"  # type: ignore[union-attr]
    return time.perf_counter() - t0


def loop_workflow(length: int, rounds: int, conditions: bool = False, routed: bool = False) -> Any:
    """A chain of `length` agents whose last sends the work back to its first, `rounds` rounds in all (a loop edge
    without a condition: taken until the rounds run out). `routed` with 1 round: the loop edge is there all the same,
    so that the chain runs on the routed path."""
    edges: list[dict[str, Any]] = [
        {"id": f"e{i}", "source": f"n{i}", "target": f"n{i + 1}"}
        | ({"condition": {"contains": "out"}} if conditions else {})
        for i in range(length - 1)
    ]
    if rounds > 1 or routed:
        edges.append({"id": "back", "source": f"n{length - 1}", "target": "n0", "loop": {"max_rounds": rounds}})
    nodes = [{"id": f"n{i}", "type": "custom", "config": {"model": "bench/0.0/0"}} for i in range(length)]
    return build(parse_workflow({"format": 2, "name": "loop", "nodes": nodes, "edges": edges}))


async def run_dag(dag: Any) -> float:
    caller = BenchCaller()
    await caller.prepare({"bench/0.0/0"})
    t0 = time.perf_counter()
    events = await drain(Run(dag, caller=caller))
    assert events[-1].status == "succeeded"  # type: ignore[union-attr]
    return time.perf_counter() - t0


async def cpu_dag(dag: Any) -> float:
    """The CPU time of a run of the engine alone (other programs' load on the machine is left out)."""
    caller = BenchCaller()
    await caller.prepare({"bench/0.0/0"})
    t0 = time.process_time()
    events = await drain(Run(dag, caller=caller))
    assert events[-1].status == "succeeded"  # type: ignore[union-attr]
    return time.process_time() - t0


async def run_flowdeck_durable(g: Graph, lat: dict[int, float], tokens: int, runner: Runner) -> float:
    workflow = to_workflow(g, lat, tokens)
    t0 = time.perf_counter()
    state = await runner.wait(await runner.start(workflow))
    assert state.status == "succeeded"
    return time.perf_counter() - t0


async def run_reference(g: Graph, lat: dict[int, float], tokens: int) -> float:
    """The smallest correct executor: a task per node awaiting its predecessors' futures."""
    t0 = time.perf_counter()
    loop = asyncio.get_running_loop()
    done: dict[int, asyncio.Future[str]] = {n: loop.create_future() for n in g.nodes}
    received: list[str] = []

    async def node(n: int) -> None:
        inputs = [await done[p] for p in g.predecessors(n)]
        done[n].set_result(await fake_model(lat[n], tokens, received.append) + str(len(inputs)))

    await asyncio.gather(*(node(n) for n in g.nodes))
    return time.perf_counter() - t0


def build_langgraph(g: Graph, lat: dict[int, float], tokens: int) -> Any:
    from langgraph.config import get_stream_writer
    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        outputs: Annotated[dict[int, str], operator.or_]

    builder = StateGraph(State)

    def make(n: int) -> Callable[[State], Any]:
        async def fn(state: State) -> dict[str, dict[int, str]]:
            writer = get_stream_writer()
            return {"outputs": {n: await fake_model(lat[n], tokens, writer)}}

        return fn

    for n in g.nodes:
        builder.add_node(f"n{n}", make(n))
    for n in g.nodes:
        preds = [f"n{p}" for p in g.predecessors(n)]
        if not preds:
            builder.add_edge(START, f"n{n}")
        elif len(preds) == 1:
            builder.add_edge(preds[0], f"n{n}")
        else:
            builder.add_edge(preds, f"n{n}")  # wait for all inputs
        if not list(g.successors(n)):
            builder.add_edge(f"n{n}", END)
    return builder.compile()


async def run_langgraph(g: Graph, lat: dict[int, float], tokens: int) -> float:
    graph = build_langgraph(g, lat, tokens)
    t0 = time.perf_counter()
    async for _ in graph.astream({"outputs": {}}, stream_mode="custom", config={"recursion_limit": 10_000}):
        pass
    return time.perf_counter() - t0


# -- the tables ----------------------------------------------------------------------------------------


async def measure(fns: list[Callable[[], Any]], repeats: int) -> list[float]:
    """The median time of each function, run in turn (a, b, c, a, b, c, ...): a machine that slows down or
    speeds up during the measurement affects them all alike, so that their ratios hold."""
    for fn in fns:
        await fn()  # warm-up
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, each in zip(fns, times, strict=True):
            each.append(await fn())
    return [statistics.median(each) for each in times]


async def measure_best(fns: list[Callable[[], Any]], repeats: int) -> list[float]:
    """The least time of each function, run in turn: on a loaded machine, the run that others disturbed least."""
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            best[i] = min(best[i], await fn())
    return best


async def main(quick: bool, loops_only: bool = False, cpu: bool = False) -> None:
    # The process as the app server runs it (flowdeck/app/server.py): what is imported is frozen out of the
    # garbage collector's scans, and threads (the event log's writer) hand over the GIL every millisecond.
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL)
    repeats = 3 if quick else 7
    if loops_only:
        await loop_table(repeats, cpu)
        return
    tmp = Path(tempfile.mkdtemp(prefix="flowdeck-bench-"))
    log = RunLog(open_database(f"sqlite:///{tmp / 'bench.db'}"))
    runner = Runner(log, BenchCaller(), default_model="bench/0/0")

    print("Per-node overhead at latency 0, microseconds (median of", repeats, "runs)")
    header = f"{'shape':<12} {'nodes':>5} {'tokens':>6} | {'flowdeck':>9} {'+durable':>9} | "
    header += f"{'reference':>9} {'langgraph':>9}"
    header += f" | {'fd/ref':>7} {'dur/ref':>7} {'fd/lg':>6}"
    print(header)
    print("-" * len(header))
    for name, make in SHAPES.items():
        g = make()
        n = g.number_of_nodes()
        for tokens in (0, 20):
            lat = latencies(g, name, 0.0, False)
            fns = [
                partial(run_flowdeck, g, lat, tokens),
                partial(run_flowdeck_durable, g, lat, tokens, runner),
                partial(run_reference, g, lat, tokens),
                partial(run_langgraph, g, lat, tokens),
            ]
            fd, dur, ref, lg = (t / n * 1e6 for t in await measure(fns, repeats))
            print(
                f"{name:<12} {n:>5} {tokens:>6} | {fd:>9.1f} {dur:>9.1f} | {ref:>9.1f} {lg:>9.1f} | "
                f"{fd / ref:>7.1f} {dur / ref:>7.1f} {fd / lg:>6.2f}"
            )
    print(
        "Issue 2's targets, <= 15 us and <= 40 us a node, were set where the reference costs ~5 us a node:"
        " 3x and 8x the reference (fd/ref, dur/ref)."
    )

    print()
    print("Wall time / critical-path time, 50 ms per node (1.00 is perfect)")
    header = f"{'shape':<12} {'latency':<9} | {'flowdeck':>9} {'+durable':>9} {'reference':>9} {'langgraph':>9}"
    print(header)
    print("-" * len(header))
    for name, make in SHAPES.items():
        g = make()
        for jitter in (False, True):
            lat = latencies(g, name, 0.05, jitter)
            cp = critical_path(g, lat)
            fns = [
                partial(run_flowdeck, g, lat, 20),
                partial(run_flowdeck_durable, g, lat, 20, runner),
                partial(run_reference, g, lat, 20),
                partial(run_langgraph, g, lat, 20),
            ]
            ratios = [t / cp for t in await measure(fns, 1 if quick else 3)]
            label = "jittered" if jitter else "fixed"
            print(f"{name:<12} {label:<9} | " + " ".join(f"{r:>9.3f}" for r in ratios))

    print()
    await loop_table(repeats)


async def loop_table(repeats: int, cpu: bool = False) -> None:
    if cpu:
        print(f"Loops: engine CPU time per agent execution at latency 0, microseconds (best of {repeats * 8} runs)")
    else:
        print("Loops: engine cost per agent execution at latency 0, microseconds (median of", repeats, "runs)")
    header = (
        f"{'chain':>5} {'rounds':>6} {'executions':>10} | {'plain chain':>11} {'routed':>9} {'routed, no cond.':>16} "
    )
    header += f"{'loop':>9} | {'loop/plain':>10} {'loop/routed':>11}"
    print(header)
    print("-" * len(header))
    for length, rounds in ((10, 3), (10, 10), (50, 3), (5, 20)):
        executions = length * rounds
        dags = [
            loop_workflow(executions, 1),
            loop_workflow(executions, 1, conditions=True),
            loop_workflow(executions, 1, routed=True),
            loop_workflow(length, rounds),
        ]
        if cpu:
            times = await measure_best([partial(cpu_dag, dag) for dag in dags], repeats * 8)
        else:
            times = await measure([partial(run_dag, dag) for dag in dags], repeats)
        plain, routed, unconditional, looped = (t / executions * 1e6 for t in times)
        print(
            f"{length:>5} {rounds:>6} {executions:>10} | {plain:>11.1f} {routed:>9.1f} {unconditional:>16.1f} "
            f"{looped:>9.1f} | {looped / plain:>10.2f} {looped / unconditional:>11.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--loops", action="store_true", help="only the loops table")
    parser.add_argument("--cpu", action="store_true", help="loops table: the best CPU time (for a loaded machine)")
    parsed = parser.parse_args()
    asyncio.run(main(parsed.quick, parsed.loops, parsed.cpu))
