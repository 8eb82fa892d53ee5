"""Approval nodes (format 2): a run waits for a person, as a state in its log, and goes on with the decision."""

from __future__ import annotations

from typing import Any

import pytest

from flowdeck.engine.approvals import Decision, decided_event
from flowdeck.engine.dag import build
from flowdeck.engine.events import (
    ApprovalDecided,
    ApprovalRequested,
    Event,
    NodeFinished,
    NodeSkipped,
    NodeStarted,
    RunFinished,
    RunWaiting,
)
from flowdeck.engine.run import Run, drain
from flowdeck.engine.state import fold
from flowdeck.engine.workflow import Workflow, parse_workflow
from flowdeck.errors import NotWaitingError, WorkflowError
from flowdeck.models.scripted import ScriptedCaller


def workflow(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> Workflow:
    return parse_workflow(
        {"format": 2, "name": "t", "inputs": [{"name": "task", "default": "write it"}], "nodes": nodes, "edges": edges}
    )


def edge(source: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"id": f"{source}->{target}", "source": source, "target": target} | extra


SIGN = {"id": "sign", "type": "approval", "label": "Sign-off", "config": {"label": "Publish this?"}}
LINE = workflow(
    [{"id": "w", "type": "coder"}, SIGN, {"id": "p", "type": "custom"}],
    [edge("w", "sign"), edge("sign", "p", condition={"verdict": "approved"})],
)


async def until_waiting(wf: Workflow, **kwargs: Any) -> tuple[Run, list[Event]]:
    run = Run(wf, caller=ScriptedCaller(), default_model="scripted", **kwargs)
    events = await drain(run)
    assert run.suspended and isinstance(events[-1], RunWaiting)
    return run, events


async def continued(wf: Workflow, prior: list[Event], decide: tuple[str, Decision]) -> list[Event]:
    """The run continued from its log with a decision, as the runner does it (in any process, after a restart too):
    the decision is stored first (that claims it), then the run replays its log and goes on."""
    decided = decided_event(prior, *decide)
    run = Run(wf, caller=ScriptedCaller(), default_model="scripted", run_id=prior[0].run_id, prior=[*prior, decided])
    return [decided, *await drain(run)]


async def test_a_run_waits_at_an_approval_with_the_text_to_approve() -> None:
    _, events = await until_waiting(LINE)
    [asked] = [e for e in events if isinstance(e, ApprovalRequested)]
    writer = next(e for e in events if isinstance(e, NodeFinished) and e.node_id == "w")
    assert asked.text == writer.output and asked.label == "Publish this?" and asked.received_from == ["w"]
    state = fold(events)
    assert state.status == "waiting" and state.waiting() == ["sign"]
    assert state.nodes["sign"].summary() == "Waiting for approval"
    assert state.nodes["p"].status == "queued"
    assert not any(isinstance(e, RunFinished) for e in events)


SLOW = {"id": "slow", "type": "custom", "config": {"model": "scripted/latency=0.5"}}


async def test_approve_hands_the_text_on_and_the_run_succeeds() -> None:
    """Decided while another agent still works: the run has not stopped, and takes the decision at once."""
    wf = workflow(
        [{"id": "w", "type": "coder"}, SIGN, {"id": "p", "type": "custom"}, SLOW],
        [edge("w", "sign"), edge("sign", "p", condition={"verdict": "approved"})],
    )
    run = Run(wf, caller=ScriptedCaller(), default_model="scripted")
    run.start()
    events: list[Event] = []
    while not run.waiting:
        events += await run.next_batch()
    run.decide("sign", Decision(approve=True, by="editor"))
    events += await drain(run)
    state = fold(events)
    assert state.status == "succeeded"
    sign = state.nodes["sign"].latest
    assert sign is not None and sign.verdict == "approved" and sign.output == state.outputs()["w"]
    assert sign.decision is not None and sign.decision.by == "editor"
    assert state.nodes["p"].status == "succeeded"


async def test_edit_and_approve_hands_on_the_edited_text() -> None:
    _, prior = await until_waiting(LINE)
    events = prior + await continued(LINE, prior, ("sign", Decision(approve=True, by="ed", text="the edited text")))
    state = fold(events)
    assert state.status == "succeeded" and state.gaps == 0
    assert state.outputs()["sign"] == "the edited text"
    [decided] = [e for e in events if isinstance(e, ApprovalDecided)]
    assert decided.text == "the edited text" and decided.decision == "approved"
    p_call = next(e for e in events if isinstance(e, NodeStarted) and e.node_id == "p")
    assert "the edited text" in p_call.messages[-1].content


async def test_reject_without_a_rejected_path_ends_the_run_rejected() -> None:
    _, prior = await until_waiting(LINE)
    events = prior + await continued(LINE, prior, ("sign", Decision(approve=False, by="ed", note="too long")))
    state = fold(events)
    assert state.status == "rejected"
    sign = state.nodes["sign"].latest
    assert sign is not None and sign.verdict == "rejected" and sign.output == "too long"
    assert state.nodes["p"].status == "skipped" and state.nodes["p"].latest is not None
    assert state.nodes["p"].latest.skip_reason == "Sign-off was rejected"
    assert [e.status for e in events if isinstance(e, RunFinished)] == ["rejected"]


async def test_reject_follows_a_rejected_loop_back_with_the_note_as_feedback() -> None:
    wf = workflow(
        [{"id": "w", "type": "coder"}, SIGN, {"id": "p", "type": "custom"}],
        [
            edge("w", "sign"),
            edge("sign", "p", condition={"verdict": "approved"}),
            edge("sign", "w", condition={"verdict": "rejected"}, loop={"max_rounds": 2}),
        ],
    )
    _, prior = await until_waiting(wf)
    second = await continued(wf, prior, ("sign", Decision(approve=False, by="ed", note="use shorter names")))
    assert isinstance(second[-1], RunWaiting)  # the writer wrote round 2, and the approval asks again
    redo = next(e for e in second if isinstance(e, NodeStarted) and e.node_id == "w")
    assert redo.execution == 2 and "use shorter names" in redo.messages[-1].content
    so_far = prior + second
    asked = [e for e in so_far if isinstance(e, ApprovalRequested)]
    assert [e.execution for e in asked] == [1, 2]
    third = await continued(wf, so_far, ("sign", Decision(approve=True, by="ed")))
    state = fold(so_far + third)
    assert state.status == "succeeded" and state.gaps == 0
    assert [ex.index for ex in state.nodes["w"].executions] == [1, 2]


async def test_a_rejection_when_the_loop_has_no_rounds_left_ends_the_run_rejected() -> None:
    wf = workflow(
        [{"id": "w", "type": "coder"}, SIGN],
        [edge("w", "sign"), edge("sign", "w", condition={"verdict": "rejected"}, loop={"max_rounds": 1})],
    )
    _, prior = await until_waiting(wf)
    events = prior + await continued(wf, prior, ("sign", Decision(approve=False, by="ed", note="no")))
    assert fold(events).status == "rejected"


async def test_a_continued_run_calls_no_model_for_what_its_log_holds() -> None:
    _, prior = await until_waiting(LINE)
    after = await continued(LINE, prior, ("sign", Decision(approve=True, by="ed")))
    assert [e.node_id for e in after if isinstance(e, NodeStarted)] == ["p"]
    assert after[0].seq == prior[-1].seq + 1  # numbered on from the log, the replay's events not repeated
    assert not [e for e in after if isinstance(e, NodeFinished) and e.node_id == "w"]


async def test_cancel_while_waiting_skips_the_approval_and_ends_cancelled() -> None:
    run = Run(
        workflow([{"id": "w", "type": "coder"}, SIGN, SLOW], [edge("w", "sign")]),
        caller=ScriptedCaller(),
        default_model="scripted",
    )
    run.start()
    events: list[Event] = []
    while not run.waiting:
        events += await run.next_batch()
    run.cancel()
    events += await drain(run)
    state = fold(events)
    assert state.status == "cancelled"
    sign = state.nodes["sign"].latest
    assert sign is not None and sign.status == "skipped" and "waited" in (sign.skip_reason or "")
    with pytest.raises(NotWaitingError):
        run.decide("sign", Decision(approve=True, by="ed"))


async def test_a_decision_for_an_agent_that_does_not_wait_is_refused() -> None:
    run = Run(LINE, caller=ScriptedCaller(), default_model="scripted")
    run.start()
    with pytest.raises(NotWaitingError, match="'Coder' is not waiting"):
        run.decide("w", Decision(approve=True, by="ed"))
    await drain(run)


def test_a_bad_decision_names_the_field() -> None:
    with pytest.raises(WorkflowError) as info:
        Run(LINE, caller=ScriptedCaller(), default_model="scripted").decide(
            "sign", Decision(approve=False, by="ed", text="x", note="\ud800")
        )
    assert [p.where for p in info.value.problems] == ["note", "text"]


def test_an_approval_config_is_checked_field_by_field() -> None:
    with pytest.raises(WorkflowError) as info:
        workflow(
            [{"id": "a", "type": "approval", "config": {"timeout": -1, "on_timeout": "maybe", "model": "gpt-4o"}}], []
        )
    text = str(info.value)
    assert 'nodes[0].config: "model" is an agent setting; an approval has none: remove it' in text
    with pytest.raises(WorkflowError) as info:
        workflow([{"id": "a", "type": "approval", "config": {"timeout": 0, "on_timeout": "maybe"}}], [])
    fields = [p.where for p in info.value.problems]
    assert fields == ["nodes[0].config.timeout", "nodes[0].config.on_timeout"]


def test_an_edge_out_of_an_approval_routes_on_approved_or_rejected_only() -> None:
    with pytest.raises(WorkflowError, match="its verdicts: approved, rejected"):
        build(workflow([SIGN, {"id": "p", "type": "custom"}], [edge("sign", "p", condition={"verdict": "approve"})]))


def test_an_approval_needs_format_2() -> None:
    with pytest.raises(WorkflowError, match='node sign is an approval: these need "format": 2'):
        parse_workflow({"format": 1, "name": "t", "nodes": [SIGN]})


async def test_an_approval_with_nothing_before_it_asks_about_the_inputs() -> None:
    _, events = await until_waiting(workflow([SIGN], []))
    [asked] = [e for e in events if isinstance(e, ApprovalRequested)]
    assert asked.text == "write it"


async def test_skipped_approval_on_a_path_not_taken_does_not_wait() -> None:
    wf = workflow(
        [{"id": "r", "type": "reviewer"}, SIGN, {"id": "p", "type": "custom"}],
        [edge("r", "sign", condition={"verdict": "revise"}), edge("r", "p", condition={"verdict": "approve"})],
    )
    events = await drain(Run(wf, caller=ScriptedCaller(), default_model="scripted/verdicts=approve"))
    state = fold(events)
    assert state.status == "succeeded" and state.nodes["sign"].status == "skipped"
    assert not any(isinstance(e, NodeSkipped) and e.node_id == "p" for e in events)


def test_the_editor_adds_an_approval_and_edits_its_question_and_timeout() -> None:
    from flowdeck.app.document import Document, blank_workflow
    from flowdeck.errors import EditRefused

    doc = Document(workflow=blank_workflow(set()).model_copy(update={"format": 1}), app_model="scripted")
    node = doc.add_node("approval", 0, 0)
    assert node.label == "Approval" and doc.workflow.format == 2
    doc.update_node(node.id, label="Sign-off", question="Ship it?", timeout=60, on_timeout="approve")
    saved = parse_workflow(doc.workflow.to_json())
    approval = saved.node(node.id).approval
    assert approval is not None and (approval.label, approval.timeout, approval.on_timeout) == (
        "Ship it?",
        60,
        "approve",
    )
    assert saved.node(node.id).label == "Sign-off"
    with pytest.raises(EditRefused) as info:
        doc.update_node(node.id, timeout=-5)
    assert info.value.field == "timeout"


async def test_the_review_loop_runs_offline_on_the_embedded_model_up_to_its_sign_off() -> None:
    from flowdeck.models.llm import LiteLLMCaller
    from flowdeck.templates import load_template

    events = await drain(Run(load_template("review-loop"), caller=LiteLLMCaller(), default_model="embedded"))
    state = fold(events)
    assert state.status == "waiting", [n.summary() for n in state.nodes.values()]
    assert state.waiting() == ["approval"]
    reviewer = state.nodes["reviewer"].latest
    assert reviewer is not None and reviewer.verdict in ("approve", "revise")
    [asked] = [e for e in events if isinstance(e, ApprovalRequested)]
    assert asked.text.startswith("## From Coder\n") and "## From Reviewer\n" in asked.text


def test_the_schema_knows_an_approvals_config() -> None:
    import json

    from flowdeck.engine.workflow import workflow_json_schema

    schema = workflow_json_schema()
    approval = schema["$defs"]["ApprovalConfig"]
    assert set(approval["properties"]) == {"timeout", "label", "on_timeout"}
    assert approval["properties"]["on_timeout"]["enum"] == ["approve", "reject"]
    assert '"#/$defs/ApprovalConfig"' in json.dumps(schema["$defs"]["Node"])
