"""The run log's lines: one readable line per event, in order, naming the agent by its label."""

from __future__ import annotations

from flowdeck.components.log import as_text, log_line
from flowdeck.engine.events import Event
from flowdeck.engine.run import Run, drain
from flowdeck.engine.workflow import Workflow
from flowdeck.models.scripted import ScriptedCaller
from tests.conftest import make_workflow


async def test_every_event_of_a_failed_run_becomes_one_line(chain: Workflow) -> None:
    workflow = make_workflow(
        [("r", "researcher"), ("c", "coder"), ("v", "reviewer")],
        [("r", "c"), ("c", "v")],
        c={"model": "scripted/fault=auth", "retries": 0},
    )
    events: list[Event] = await drain(Run(workflow, caller=ScriptedCaller(), default_model="scripted/chunks=3"))
    labels = {"r": "Researcher", "c": "Coder", "v": "Reviewer"}
    lines = [log_line(e, labels, events[0].ts) for e in events]
    assert [line["seq"] for line in lines] == list(range(1, len(events) + 1))
    by_text = {(line["agent"], line["level"], line["text"].split(":")[0]) for line in lines}
    assert ("run", "info", "run started") in by_text
    assert ("Researcher", "debug", "tokens") in by_text
    assert any(line["text"].startswith("handed its output") and line["agent"] == "Researcher" for line in lines)
    assert ("Coder", "error", "auth") in by_text
    assert ("Reviewer", "warning", "skipped") in by_text
    assert lines[-1]["level"] == "error" and lines[-1]["text"].startswith("run failed in")
    assert lines[0]["time"] == "+0.000 s"
    text = as_text(lines)
    assert text.count("\n") == len(lines) and text.startswith("1\t+0.000 s\trun\tinfo\trun started")


def test_long_texts_are_cut_and_newlines_shown() -> None:
    from flowdeck.engine.events import Token

    line = log_line(Token(run_id="x", seq=3, ts=2.0, node_id="n", execution=1, attempt=1, text="a\nb" * 400), {}, 1.0)
    assert line["agent"] == "n" and line["time"] == "+1.000 s"
    assert len(line["text"]) == 400 and line["text"].endswith("…") and "⏎" in line["text"]


async def test_a_pinned_output_is_named_in_the_log(chain: Workflow) -> None:
    pinned = chain.model_copy(
        update={"nodes": [n.model_copy(update={"pinned_output": "notes"}) if n.id == "r" else n for n in chain.nodes]}
    )
    events: list[Event] = await drain(Run(pinned, caller=ScriptedCaller(), default_model="scripted"))
    texts = [line["text"] for line in (log_line(e, {"r": "Researcher"}, events[0].ts) for e in events)]
    assert "used its pinned output (the model was not called)" in texts


def test_a_tool_call_and_its_multi_line_result_are_one_line_each() -> None:
    from flowdeck.engine.events import ToolCalled, ToolFinished

    node = {"run_id": "x", "ts": 2.0, "node_id": "c", "execution": 1}
    called = ToolCalled(
        **node, seq=1, call_id="a", tool="write_file", arguments='{\n "path": "a.md"\n}', effect="write", key="k"
    )
    finished = ToolFinished(**node, seq=2, call_id="a", tool="list_files", ok=True, result="a.md\nb.md", duration=0.25)
    lines = [log_line(called, {"c": "Coder"}, 1.0), log_line(finished, {"c": "Coder"}, 1.0)]
    assert lines[0]["text"] == 'called write_file (side effect): {⏎ "path": "a.md"⏎}'
    assert lines[1]["text"] == "list_files ok in 0.25 s: a.md⏎b.md"
    assert as_text(lines).count("\n") == 2  # the downloaded log keeps one event a line
