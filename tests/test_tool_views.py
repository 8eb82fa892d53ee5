"""What the run panel shows of tools (issue 22), folded from a real run's events on the scripted model with the
built-in toolbox: the Side effects and Artifacts rows, and the Inspector's line for each call, also for a run whose
process died between a call and its outcome."""

from __future__ import annotations

import re
from pathlib import Path

from flowdeck.components.artifacts import artifact_rows, size_text
from flowdeck.components.effects import effect_rows
from flowdeck.components.inspector import pretty_json, tool_call_title
from flowdeck.engine.events import Event, RunInterrupted, ToolCalled, ToolFinished
from flowdeck.engine.run import Run, drain
from flowdeck.engine.state import fold
from flowdeck.engine.tools import EffectStatus
from flowdeck.engine.workflow import Workflow, parse_workflow
from flowdeck.models.scripted import ScriptedCaller
from flowdeck.storage.effects import Effect
from flowdeck.tools import artifacts, make_toolbox

LABELS = {"scout": "Scout", "writer": "Writer"}


def workflow() -> Workflow:
    system = "\n".join(
        [
            "Write it down.",
            'CALL write_file {"path": "notes/a.md", "content": "alpha"}',
            "CALL list_files {}",
            'CALL write_file {"path": "b.txt", "content": "bee"}',
        ]
    )
    return parse_workflow(
        {
            "format": 2,
            "name": "tools",
            "nodes": [
                {
                    "id": "scout",
                    "type": "custom",
                    "label": "Scout",
                    "config": {"system_prompt": system, "tools": ["write_file", "list_files"]},
                },
                {"id": "writer", "type": "custom", "label": "Writer"},
            ],
            "edges": [{"id": "e", "source": "scout", "target": "writer"}],
        }
    )


async def run(tmp_path: Path) -> list[Event]:
    toolbox = make_toolbox(workflow(), tmp_path, lambda _: None)
    return await drain(Run(workflow(), caller=ScriptedCaller(), default_model="scripted", run_id="r1", toolbox=toolbox))


async def test_side_effects_and_artifacts_of_a_run_as_the_tabs_list_them(tmp_path: Path) -> None:
    events = await run(tmp_path)
    state = fold(events)

    rows = effect_rows(state, LABELS)
    assert [(r.tool, r.agent, r.status) for r in rows] == [("write_file", "Scout", "ok")] * 2  # list_files only reads
    assert '"path": "notes/a.md"' in rows[0].arguments and rows[0].when is not None

    files = artifact_rows(state, LABELS, artifacts(tmp_path))
    assert [(f.path, f.size, f.written_by) for f in files] == [("b.txt", 3, ("Scout",)), ("notes/a.md", 5, ("Scout",))]
    assert size_text(files[0].size) == "3 bytes" and size_text(None) == "not in the run's folder"
    # Without the folder (a page with no access to it) the events alone still name the files.
    assert [(f.path, f.size) for f in artifact_rows(state, LABELS)] == [("b.txt", None), ("notes/a.md", None)]

    calls = state.nodes["scout"].executions[0].tool_calls
    assert [re.sub(r" · \d+\.\d\d s", "", tool_call_title(c, "succeeded")) for c in calls] == [
        "write_file · ok · side effect",
        "list_files · ok",
        "write_file · ok · side effect",
    ]
    assert pretty_json(calls[0].call.arguments) == '{\n  "path": "notes/a.md",\n  "content": "alpha"\n}'
    assert pretty_json('{"cut": "in the mid') == '{"cut": "in the mid'  # not JSON: shown as written


async def test_a_call_whose_process_died_shows_outcome_unknown_and_the_log_adds_what_events_lack(
    tmp_path: Path,
) -> None:
    events = await run(tmp_path)
    first = next(e for e in events if isinstance(e, ToolCalled))
    # The process died after the first call's ToolCalled was stored, before its ToolFinished.
    cut = [*events[: events.index(first) + 1]]
    died = RunInterrupted(run_id="r1", seq=cut[-1].seq + 1, ts=cut[-1].ts + 1, running=["scout"])
    state = fold([*cut, died])
    assert [(r.tool, r.status) for r in effect_rows(state, LABELS)] == [("write_file", "outcome unknown")]
    made = state.nodes["scout"].executions[0].tool_calls[0]
    assert tool_call_title(made, "interrupted") == "write_file · no outcome · side effect"
    # While the run goes on, a call without a result is running, not unknown.
    going = fold(cut)
    assert [r.status for r in effect_rows(going, LABELS, going=True)] == ["running"]

    # The log's entries: its redacted arguments replace the events'; an intent no event names is listed too.
    logged = [
        _entry(first.key, '{"path": "notes/a.md", "content": "[redacted]"}', "unknown", first.ts),
        _entry("r1:scout:1:9", '{"path": "late.md"}', "unknown", first.ts + 0.5),
    ]
    rows = effect_rows(state, LABELS, logged)
    assert [(r.arguments, r.status) for r in rows] == [
        ('{"path": "notes/a.md", "content": "[redacted]"}', "outcome unknown"),
        ('{"path": "late.md"}', "outcome unknown"),
    ]
    assert not any(isinstance(e, ToolFinished) for e in cut)


def _entry(key: str, arguments: str, status: EffectStatus, ts: float) -> Effect:
    return Effect(
        seq=1,
        run_id="r1",
        node_id="scout",
        execution=1,
        key=key,
        attempt=1,
        tool="write_file",
        status=status,
        arguments=arguments,
        started_at=ts,
    )
