"""What the prompt editor's server side costs a keystroke, by template size.

    python bench/prompt_check.py

Prints, for templates of 1,000 to 100,000 characters (references, filters and prose), the median milliseconds of
each step done per change: check_template (the run's own check), diagnose (its problems placed for the editor),
and the preview (render_prompt with the run's values, compiled anew: each keystroke is a new text). The editor
applies a change at once and runs these on a worker thread, for the latest text only (components/prompt_editor/
field.py); the figures say how often a long template can be checked while someone types in it.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flowdeck.components.prompt_editor.diagnostics import Scope, diagnose
from flowdeck.components.prompt_editor.preview import preview_values, render_preview
from flowdeck.engine.prompts import check_template
from flowdeck.templates import load_template

LINE = "Review {{ outputs.coder | code_block | first_lines(20) }} for {{ inputs.task }}; then some prose here.\n"


def median_ms(step: Callable[[str], object], sizes: str, repeat: int = 7) -> float:
    times = []
    for index in range(repeat):
        text = sizes + f" {index}"  # a new text each time, as each keystroke is
        start = time.perf_counter()
        step(text)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    workflow = load_template("research-code-review")
    scope = Scope(
        inputs={"task"}, upstream=workflow.upstream("reviewer"), agents={n.id: n.label for n in workflow.nodes}
    )
    values = preview_values(workflow, "reviewer", None)
    print(f"{'characters':>10} {'check_template':>15} {'diagnose':>10} {'preview':>10}   (ms, median of 7)")
    for size in (1_000, 10_000, 50_000, 100_000):
        text = (LINE * (size // len(LINE) + 1))[:size]
        figures = [
            median_ms(check_template, text),
            median_ms(lambda t: diagnose(t, scope), text),
            median_ms(lambda t: render_preview(values, t), text),
        ]
        print(f"{size:>10,} {figures[0]:>15.1f} {figures[1]:>10.1f} {figures[2]:>10.1f}")


if __name__ == "__main__":
    main()
