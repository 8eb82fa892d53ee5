"""What the embedded model (SmolLM2-135M) writes for the built-in templates, with llama.cpp's default sampling
and no loop guard (before) and with flowdeck's sampling and loop guard (after).

    python bench/embedded.py [--template NAME ...]

Prints, for each template and agent, side by side: tokens written, whether the answer was cut at max_tokens,
how often its most repeated line occurs, and for reviewers whether a verdict (APPROVE / REQUEST CHANGES) was
given. Answers depend on sampling: compare the columns, and run it more than once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from flowdeck.engine.run import Run, drain
from flowdeck.engine.state import RunState, fold
from flowdeck.models.embedded import EmbeddedModel
from flowdeck.models.llm import LiteLLMCaller
from flowdeck.templates import load_template, template_names

VERDICT = re.compile(r"APPROVE|REQUEST CHANGES", re.IGNORECASE)


async def run(template: str, caller: LiteLLMCaller) -> tuple[RunState, float]:
    started = time.perf_counter()
    events = await drain(Run(load_template(template), caller=caller, default_model="embedded"))
    return fold(events), time.perf_counter() - started


def describe(state: RunState, node_id: str) -> str:
    node = state.nodes[node_id]
    ex = node.latest
    if ex is None or ex.output is None:
        return f"{node.status:<28}"
    lines = Counter(line.strip() for line in ex.output.splitlines() if len(line.strip()) >= 8)
    repeated = max(lines.values(), default=0)
    verdict = ""
    if "review" in node_id:
        verdict = " verdict" if VERDICT.search(ex.output) else " NO verdict"
    cut = " cut" if ex.cut else ""
    return f"{ex.usage.completion_tokens:>4} tok{cut:<4} line x{repeated:<2}{verdict:<11}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--template", action="append", choices=template_names())
    args = parser.parse_args()
    before = LiteLLMCaller(EmbeddedModel(sampling={}, repeats=None))
    after = LiteLLMCaller(EmbeddedModel())
    print(f"{'template / agent':<36} {'before':<32} {'after':<32}")
    for template in args.template or template_names():
        (old, old_s), (new, new_s) = await run(template, before), await run(template, after)
        print(f"{template} ({old_s:.0f} s / {new_s:.0f} s)")
        for node_id in old.nodes:
            print(f"  {node_id:<34} {describe(old, node_id)} {describe(new, node_id)}")


if __name__ == "__main__":
    asyncio.run(main())
