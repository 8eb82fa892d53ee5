"""The run panel's tabs on a run with rounds, in a real browser: what showing each costs the page.

    python bench/round_panels.py [--repeat 3] [--code DIR]

Three runs are recorded by the command line (scripted model): the plain 3-agent template (research-code-review,
1 round), the Review loop in 3 rounds (revise, revise, approve) and the Review loop allowed 20 rounds that uses
them all. Each run's page (/runs/<id>, the replay opened at its end) is loaded `--repeat` times; each time, the
Log, Handoffs, Timeline and Inspector (the Coder selected) tabs are clicked in turn. Printed per run and tab: the
median ms from the click until the tab shows its content, and the elements in its panel then; and the ms the
replay's "Previous round" takes to show the start of the last round (where there are rounds).
`--code DIR` serves the app from another checkout (e.g. the commit before the rounds views) to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.server import launch, wait_for_port

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
TEMPLATES = Path(__file__).resolve().parents[1] / "flowdeck" / "templates"
SHOWN = "[...document.querySelectorAll('[role=tabpanel]')].find((p) => p.getClientRects().length)"


def record(home: Path, code: Path) -> dict[str, str]:
    """Record the three runs; their ids by name."""
    env = {**os.environ, "FLOWDECK_HOME": str(home), "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONPATH": str(code)}
    long_loop = json.loads((TEMPLATES / "review-loop.json").read_text())
    long_loop["edges"][2]["loop"]["max_rounds"] = 20
    path = home.parent / "long-loop.json"
    path.write_text(json.dumps(long_loop))
    runs = {
        "plain, 1 round": ["research-code-review", "--model", "scripted"],
        "loop, 3 rounds": ["review-loop", "--model", "scripted/verdicts=revise,revise,approve"],
        "loop, 20 rounds": [str(path), "--model", "scripted/verdicts=revise"],
    }
    ids = {}
    cli = [sys.executable, "-m", "flowdeck.cli"]
    for name, args in runs.items():
        subprocess.run([*cli, "run", *args], env=env, capture_output=True, check=False)
        out = subprocess.run([*cli, "runs", "-n", "1"], env=env, capture_output=True, text=True, check=True).stdout
        ids[name] = out.splitlines()[1].split()[0]
    return ids


def show(page: Page, tab: str) -> tuple[float, int]:
    """Click a tab; ms until it shows its content, and the elements in its panel."""
    ready = {
        "Log": ".fd-log-line",
        "Handoffs": "[role=list] button",
        "Timeline": "[role=img]",
        "Inspector": ".q-expansion-item",
    }[tab]
    start = time.perf_counter()
    page.get_by_role("tab", name=tab).click()
    page.wait_for_function(f"() => ({SHOWN})?.querySelector('{ready}')", timeout=30_000)
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
    took = (time.perf_counter() - start) * 1000
    return took, page.evaluate(f"() => ({SHOWN}).querySelectorAll('*').length")


def measure(url: str, run_id: str, repeat: int) -> tuple[dict[str, tuple[float, int]], float | None]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        times: dict[str, list[float]] = {}
        sizes: dict[str, int] = {}
        back: list[float] = []
        for _ in range(repeat):
            page.goto(f"{url}/runs/{run_id}")
            page.get_by_text(re.compile(r"^Succeeded: ")).wait_for(timeout=30_000)
            page.get_by_label("Coder (Coder)", exact=True).click()
            for tab in ("Log", "Handoffs", "Timeline", "Inspector"):
                took, size = show(page, tab)
                times.setdefault(tab, []).append(took)
                sizes[tab] = size
            previous = page.get_by_role("button", name="Previous round")
            if previous.count():
                position = page.get_by_text(re.compile(r"^event \d+ of \d+"))
                before = position.inner_text()
                start = time.perf_counter()
                previous.click()
                page.wait_for_function(
                    "(before) => ![...document.querySelectorAll('div')].some((d) => d.textContent === before)",
                    arg=before,
                )
                back.append((time.perf_counter() - start) * 1000)
        browser.close()
    result = {tab: (statistics.median(values), sizes[tab]) for tab, values in times.items()}
    return result, statistics.median(back) if back else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--code", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="flowdeck-bench-rounds-")) / "home"
    os.chdir(args.code.resolve())  # `python -m` puts the working directory first on the path: it must be the code's
    ids = record(home, args.code)
    proc, port = launch(FLOWDECK_HOME=str(home), FLOWDECK_MODEL="scripted", PYTHONPATH=str(args.code))
    try:
        wait_for_port(port)
        url = f"http://127.0.0.1:{port}"
        print(f"code: {args.code}; median of {args.repeat} page loads; ms from the click (elements in the panel)")
        print(
            f"{'run':<18}"
            + "".join(f"{tab:>18}" for tab in ("Log", "Handoffs", "Timeline", "Inspector"))
            + "  Previous round"
        )
        for name, run_id in ids.items():
            result, back = measure(url, run_id, args.repeat)
            cells = "".join(f"{f'{ms:.0f} ms ({size})':>18}" for ms, size in result.values())
            print(f"{name:<18}{cells}  {f'{back:.0f} ms' if back is not None else '-'}")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
