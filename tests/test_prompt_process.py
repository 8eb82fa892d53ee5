"""Prompt templates rendered in a child process: the same text as in-process, and a hard bound on time and memory
that leaves the event loop free and gives way at once to a cancel."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator

import pytest

from flowdeck.engine.prompt_process import PromptProcess, render_isolated
from flowdeck.engine.prompts import UpstreamOutput, render_prompt
from flowdeck.errors import PromptError

UP = [UpstreamOutput(id="r", label="Researcher", output="notes\nmore notes")]
# 100 strings of 300,000 characters: ~30 MB, within every sandbox bound.
HUNGRY = "{% set l = [] %}{% for i in range(100) %}{% set _ = l.append('x' * 300000 ~ i) %}{% endfor %}{{ l|length }}"


@pytest.fixture
async def pool() -> AsyncIterator[PromptProcess]:
    process = PromptProcess(size=1)
    yield process
    process.close()


@pytest.mark.parametrize(
    "template",
    [
        "{{ inputs.task }} / {{ outputs.r }}{% if upstream %} ({{ upstream[0].label }}){% endif %}",
        "{% for u in upstream %}## {{ u.label|upper }}\n{{ u.output|indent(2) }}{% endfor %}{{ 'é' * 3 }}",
        "{% for i in range(100000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}done",
        "{{ 'a'|center(400000000) }}",
        "{{ inputs.task.__class__ }}",
    ],
)
async def test_a_template_renders_or_fails_the_same_in_the_child_as_here(template: str) -> None:
    def here() -> str:
        try:
            return render_prompt(template, {"task": "t"}, UP, {"r": "notes"}, agent="Coder")
        except PromptError as exc:
            return f"error: {exc}"

    try:
        isolated = await render_isolated(template, {"task": "t"}, UP, {"r": "notes"}, agent="Coder")
    except PromptError as exc:
        isolated = f"error: {exc}"
    assert isolated == here()


async def test_a_child_that_does_not_answer_in_time_is_killed_while_the_event_loop_goes_on(pool: PromptProcess) -> None:
    await pool.render("{{ 1 }}", {}, [], {})
    [stuck] = pool.pids
    os.kill(stuck, signal.SIGSTOP)  # as a render the sandbox cannot interrupt (one long call in C) looks from here
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        with pytest.raises(PromptError, match="the prompt template of agent 'Slow' took longer than 2 s to render"):
            await pool.render("{{ inputs|length }}", {}, [], {}, agent="Slow")
    finally:
        ticker.cancel()
    assert ticks >= 10, f"the event loop ran {ticks} times during a 3 s render"
    assert await pool.render("{{ [1, 2]|join('-') }}", {}, [], {}) == "1-2"
    assert stuck not in pool.pids and len(pool.pids) == 1  # killed, and a new child took over


async def test_a_cancelled_render_stops_its_child_at_once_and_the_next_one_works(pool: PromptProcess) -> None:
    await pool.render("{{ 1 }}", {}, [], {})
    [stuck] = pool.pids
    os.kill(stuck, signal.SIGSTOP)
    render = asyncio.create_task(pool.render("{{ inputs|length }}", {}, [], {}))
    await asyncio.sleep(0.3)
    render.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(render, 1.0)  # long before the 3 s deadline would have ended it
    assert await pool.render("{{ 'ok'|upper }}", {}, [], {}) == "OK"
    assert stuck not in pool.pids


async def test_a_render_that_needs_more_memory_than_the_child_has_fails_and_the_next_one_works() -> None:
    pool = PromptProcess(size=1, memory=16 << 20)
    try:
        with pytest.raises(PromptError, match="agent 'Big' needs more than 16 MB of memory to render"):
            await pool.render(HUNGRY, {}, [], {}, agent="Big")
        assert await pool.render("{{ 2 * 3 }}", {}, [], {}) == "6"
    finally:
        pool.close()
    roomy = PromptProcess(size=1)
    try:
        assert await roomy.render(HUNGRY, {}, [], {}) == "100"  # the default cap leaves room for it
    finally:
        roomy.close()
