"""The engine's own cost per agent of a plain DAG, precise enough to compare two checkouts of flowdeck.

    python bench/overhead.py [--tree DIR] [--repeats N]

Runs the plain-DAG shapes of bench/engine.py (latency 0, no tokens) on the engine alone, N times each in turn, and
prints the fastest run's microseconds per agent: on a shared machine, the minimum is what the code costs, the
median what the neighbours cost too. `--tree` measures another checkout (e.g. main's) with its own engine.py, so
that a change shows as the difference between two runs of this script made one after the other.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from pathlib import Path

SHAPES = ("chain-50", "fan-1-20-1", "layers-5x10", "random-200")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1], help="a flowdeck checkout")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    tree = args.tree.resolve()
    sys.path[:0] = [str(tree / "bench"), str(tree)]
    import engine  # the checkout's own bench/engine.py, with its own flowdeck

    gc.freeze()
    graphs = {name: engine.SHAPES[name]() for name in SHAPES}
    best: dict[str, float] = {}

    async def measure() -> None:
        for round_ in range(args.repeats + 2):  # two rounds of warm-up
            for name, g in graphs.items():
                seconds = await engine.run_flowdeck(g, engine.latencies(g, name, 0.0, False), 0)
                us = seconds / g.number_of_nodes() * 1e6
                if round_ >= 2:
                    best[name] = min(best.get(name, us), us)

    asyncio.run(measure())
    print(f"{tree.name}: " + "  ".join(f"{name} {us:.2f}" for name, us in best.items()) + "  (us per agent, min)")


if __name__ == "__main__":
    main()
