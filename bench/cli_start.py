"""How soon `flowdeck run` starts its first agent, from the moment the command is typed.

    python bench/cli_start.py [--repeat 3]

Runs `flowdeck run research-code-review --json` in a fresh process and times the first node_started line.
Printed side by side: the scripted model called directly (today), the same through litellm (as every run did
before: litellm imported before the first agent), the embedded model, and `python -c "import litellm"` alone.
Target (issue 18): the first agent starts within 1 s of the command for the scripted and embedded models.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def first_agent(model: str, **env: str) -> float:
    """Seconds from starting the command to its first node_started event."""
    home = tempfile.mkdtemp(prefix="flowdeck-bench-cli-")
    full = {**os.environ, "FLOWDECK_HOME": home, "LITELLM_LOCAL_MODEL_COST_MAP": "True", **env}
    command = [sys.executable, "-m", "flowdeck.cli", "run", "research-code-review", "--json", "--model", model]
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, env=full, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if '"type":"node_started"' in line.replace(" ", ""):
                return time.perf_counter() - started
        raise RuntimeError(f"{model}: no agent started (exit {proc.wait()})")
    finally:
        proc.kill()
        proc.wait()


def import_litellm() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import litellm"], env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = {
        "scripted, direct": lambda: first_agent("scripted"),
        "scripted, through litellm (before)": lambda: first_agent("scripted", FLOWDECK_SCRIPTED_VIA_LITELLM="1"),
        "embedded": lambda: first_agent("embedded"),
        "python -c 'import litellm'": import_litellm,
    }
    samples: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(args.repeat):
        for name, measure in rows.items():  # in turn, so that a busy moment of the machine hits every row
            samples[name].append(measure())
    print(f"{'first agent started after':<36} {'median':>8} {'min':>8} {'max':>8}")
    for name, values in samples.items():
        print(f"{name:<36} {statistics.median(values):>7.2f}s {min(values):>7.2f}s {max(values):>7.2f}s")


if __name__ == "__main__":
    main()
