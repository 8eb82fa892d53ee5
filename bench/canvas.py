"""Editor performance in a real browser: app start, opening a large workflow, dragging a node on it.

    python bench/canvas.py [--nodes 1000] [--loops]

Prints, for the 3-agent template (baseline) and for an N-agent workflow side by side:
  start   seconds from launching `flowdeck serve` to the first page answered (and, as the floor, the same for
          a bare NiceGUI app with one label: NiceGUI's own import is most of it on a slow machine)
  open    milliseconds from navigation to every agent drawn on the canvas, in a fresh browser profile (nothing
          cached); as the floor, the same for the bare NiceGUI app's label (Vue and Quasar loaded and mounted)
  drag    frames per second while a node is dragged across the canvas (60 mouse moves)
Targets (issue 3): start < 1.5 s, open < 1 s at 1,000 agents, drag >= 50 fps.
With --loops (issue 21), the N agents again with a loop edge back in every row and a condition on every fourth
edge (each a labelled edge), opened as it fits (far out) and zoomed in to full detail ("near", where the labels
and the loop edges' paths are drawn), with the plain N agents zoomed in the same way beside them.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.server import launch
from flowdeck.config import load_settings
from flowdeck.engine.workflow import parse_workflow
from flowdeck.services import open_services

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def big_workflow(n: int, loops: bool = False) -> object:
    columns = 40
    nodes = [
        {"id": f"n{i}", "type": ("researcher", "coder", "reviewer", "custom")[i % 4], "label": f"Agent {i}",
         "position": {"x": (i % columns) * 260, "y": (i // columns) * 120}}
        for i in range(n)
    ]  # fmt: skip
    edges: list[dict[str, object]] = [
        {"id": f"e{i}", "source": f"n{i}", "target": f"n{i + 1}"} for i in range(n - 1) if (i + 1) % columns
    ]
    if not loops:
        return parse_workflow({"format": 1, "name": f"{n} agents", "nodes": nodes, "edges": edges})
    for edge in edges[::4]:
        edge["condition"] = {"contains": "billing"}
    back = [  # in each row, the fourth agent sends work back to the first, at most 3 rounds
        {"id": f"loop{r}", "source": f"n{r + 3}", "target": f"n{r}", "condition": {"contains": "again"},
         "loop": {"max_rounds": 3}}
        for r in range(0, n - 3, columns)
    ]  # fmt: skip
    return parse_workflow({"format": 2, "name": f"{n} agents", "nodes": nodes, "edges": edges + back})


def measure(nodes: int | None, loops: bool = False, near: bool = False) -> tuple[float, float, float]:
    home = Path(tempfile.mkdtemp(prefix="flowdeck-bench-canvas-"))
    expected = 3
    if nodes:
        os.environ["FLOWDECK_HOME"] = str(home)
        services = open_services(load_settings(env_file=None))
        services.workflows.save(big_workflow(nodes, loops))  # type: ignore[arg-type]
        services.close()
        expected = nodes
    t0 = time.perf_counter()
    proc, port = launch(FLOWDECK_HOME=str(home), FLOWDECK_MODEL="scripted")
    try:
        start = _first_page(port, t0)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")
            count = "document.querySelectorAll('.react-flow__node').length"
            page.wait_for_function(f"{count} >= {expected}", timeout=60_000)
            opened = page.evaluate("performance.now()")
            box = page.get_by_role("application", name="Workflow canvas").bounding_box()
            # A collapsed canvas renders almost nothing and would report a flattering frame rate.
            assert box and box["width"] > 600 and box["height"] > 500, f"canvas is {box}, not full size"
            if near:
                zoom_in = page.get_by_role("button", name="Zoom In")
                while page.locator(".fd-node-far").count():
                    zoom_in.click()
                page.locator(".react-flow__edge").first.wait_for(state="attached")
                page.wait_for_timeout(500)
            fps = _drag_fps(page)
            browser.close()
    finally:
        proc.terminate()
        proc.wait()
    return start, opened, fps


BARE_APP = """
import sys
from nicegui import ui

@ui.page("/")
def index() -> None:
    ui.label("hello")

ui.run(host="127.0.0.1", port=int(sys.argv[1]), show=False, reload=False, tailwind=False)
"""


def _bare_app() -> tuple[subprocess.Popen[bytes], int]:
    """The smallest NiceGUI app (one label), started on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    proc = subprocess.Popen(
        [sys.executable, "-c", BARE_APP, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return proc, port


def bare_nicegui_start() -> float:
    """Seconds from launch to first page of the smallest NiceGUI app: the floor for flowdeck's start."""
    t0 = time.perf_counter()
    proc, port = _bare_app()
    try:
        return _first_page(port, t0)
    finally:
        proc.terminate()
        proc.wait()


def bare_nicegui_open(rounds: int = 3) -> float:
    """Median milliseconds from navigation to the bare NiceGUI app's label shown: the floor for `open`."""
    proc, port = _bare_app()
    try:
        _first_page(port, time.perf_counter())
        times = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            for _ in range(rounds):
                context = browser.new_context(viewport={"width": 1440, "height": 900})
                page = context.new_page()
                page.goto(f"http://127.0.0.1:{port}/")
                page.get_by_text("hello").wait_for()
                times.append(page.evaluate("performance.now()"))
                context.close()
            browser.close()
        return float(statistics.median(times))
    finally:
        proc.terminate()
        proc.wait()


def _first_page(port: int, t0: float) -> float:
    import urllib.request

    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):
                return time.perf_counter() - t0
        except OSError:
            time.sleep(0.02)


def _drag_fps(page: Page) -> float:
    box = page.locator(".react-flow__node").first.bounding_box()
    assert box is not None
    x, y = box["x"] + 20, box["y"] + 10
    page.evaluate(
        "() => { window.__frames = 0;"
        " const tick = () => { window.__frames++; window.__raf = requestAnimationFrame(tick); };"
        " window.__raf = requestAnimationFrame(tick); }"
    )
    page.mouse.move(x, y)
    page.mouse.down()
    t0 = page.evaluate("performance.now()")
    frames0 = page.evaluate("window.__frames")
    for step in range(60):
        page.mouse.move(x + step * 5, y + step * 3)
    page.mouse.up()
    t1 = page.evaluate("performance.now()")
    frames1 = page.evaluate("window.__frames")
    return (frames1 - frames0) / ((t1 - t0) / 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--loops", action="store_true", help="also loop edges and conditions, far and near")
    args = parser.parse_args()
    bare = min(bare_nicegui_start() for _ in range(3))
    bare_open = bare_nicegui_open()
    rows = [("template (3)", measure(None)), (f"{args.nodes} agents", measure(args.nodes))]
    if args.loops:
        rows.append(("+ loops", measure(args.nodes, loops=True)))
        rows.append(("near", measure(args.nodes, near=True)))
        rows.append(("near + loops", measure(args.nodes, loops=True, near=True)))
    print(f"bare NiceGUI app (the floors): start {bare:.2f} s, open {bare_open:.0f} ms")
    print(f"{'workflow':<14} {'start s':>8} {'open ms':>9} {'drag fps':>9}")
    for name, (start, opened, fps) in rows:
        print(f"{name:<14} {start:>8.2f} {opened:>9.0f} {fps:>9.1f}")
    base, big = rows[0][1], rows[1][1]
    print(f"{'ratio':<14} {big[0] / base[0]:>8.2f} {big[1] / base[1]:>9.2f} {big[2] / base[2]:>9.2f}")


if __name__ == "__main__":
    main()
