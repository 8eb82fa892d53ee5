"""Verdicts in runs (issue 21): asked for again once, then a clear failure; read by templates; held to a JSON schema
where the model supports it; recorded even when no edge routes on them."""

from __future__ import annotations

import json

import pytest

from flowdeck.engine.events import NodeFinished, NodeStarted
from flowdeck.engine.state import fold
from flowdeck.templates import load_template
from tests.test_loops import LOOP, edge, run, workflow


async def test_a_reply_without_a_verdict_is_asked_again_once() -> None:
    events = await run(load_template("review-loop"), "scripted/unclear=1")
    state = fold(events)
    assert state.status == "succeeded"
    starts = [e for e in events if isinstance(e, NodeStarted) and e.node_id == "reviewer"]
    assert [e.attempt for e in starts] == [1, 2]
    assert "your answer has no verdict" in starts[1].messages[-1].content
    output = state.outputs()["reviewer"]
    assert output.startswith("Review of the work on:") and output.endswith("\n\nVerdict: approve")


async def test_a_reply_without_a_verdict_even_when_asked_again_fails_the_agent() -> None:
    state = fold(await run(load_template("review-loop"), "scripted/unclear=2"))
    assert state.status == "failed"
    reviewer = state.nodes["reviewer"].latest
    assert reviewer is not None and reviewer.status == "failed"
    assert reviewer.error == "Reviewer answered without a verdict: expected approve or revise"


async def test_an_invalid_verdict_counts_as_none() -> None:
    state = fold(await run(load_template("review-loop"), "scripted/verdicts=maybe"))
    latest = state.nodes["reviewer"].latest
    assert latest is not None and latest.error_kind == "no_verdict"


async def test_templates_read_the_verdict_the_feedback_and_earlier_rounds() -> None:
    template = (
        "{% if outputs.r is defined %}verdict={{ outputs.r.verdict }} rounds={{ outputs.r.rounds | length }} "
        "feedback-has-line={{ 'Verdict:' in outputs.r.feedback }} whole-has-line={{ 'Verdict:' in outputs.r }}"
        "{% else %}first{% endif %}"
    )
    wf = workflow(
        [{"id": "c", "type": "coder", "config": {"prompt_template": template}}, {"id": "r", "type": "reviewer"}],
        [edge("c", "r"), edge("r", "c", **LOOP)],
    )
    events = await run(wf, "scripted/verdicts=revise,revise,approve")
    prompts = [e.messages[1].content for e in events if isinstance(e, NodeStarted) and e.node_id == "c"]
    assert prompts == [
        "first",
        "verdict=revise rounds=1 feedback-has-line=False whole-has-line=True",
        "verdict=revise rounds=2 feedback-has-line=False whole-has-line=True",
    ]


async def test_format_1_reviewers_are_not_held_to_a_verdict() -> None:
    events = await run(load_template("research-code-review"), "scripted/unclear=5")
    state = fold(events)
    assert state.status == "succeeded" and state.nodes["reviewer"].latest is not None
    assert state.nodes["reviewer"].latest.verdict is None
    assert all(isinstance(e, NodeFinished) is False or e.verdict is None for e in events)


async def test_an_agent_that_decides_asks_for_its_verdict_as_a_json_schema_where_the_model_supports_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flowdeck.engine.events import Message
    from flowdeck.engine.llm_types import ModelRequest
    from flowdeck.models.llm import LiteLLMCaller
    from tests.fakeprovider import fake_provider

    with fake_provider() as fake:
        monkeypatch.setenv("OPENAI_API_BASE", fake.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
        messages = [Message(role="user", content="review this")]
        ask = ModelRequest(
            model="openai/gpt-4o-mini",
            messages=messages,
            temperature=0,
            max_tokens=20,
            timeout=10,
            verdicts=("approve", "revise"),
            structured=True,
        )
        await LiteLLMCaller().call(ask, lambda _: None)
        plain = ModelRequest(model="openai/gpt-4o-mini", messages=messages, temperature=0, max_tokens=20, timeout=10)
        await LiteLLMCaller().call(plain, lambda _: None)
        monkeypatch.setenv("HOSTED_VLLM_API_BASE", fake.url)  # a model litellm knows no response schema for
        await LiteLLMCaller().call(
            ModelRequest(
                model="hosted_vllm/x",
                messages=messages,
                temperature=0,
                max_tokens=20,
                timeout=10,
                verdicts=("approve", "revise"),
                structured=True,
            ),
            lambda _: None,
        )
    bodies = [json.loads(sent.split("\r\n\r\n", 1)[-1].split("\n\n", 1)[-1]) for sent in fake.received]
    schema = bodies[0]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["verdict"] == {"type": "string", "enum": ["approve", "revise"]}
    assert "response_format" not in bodies[1] and "response_format" not in bodies[2]


async def test_an_agent_with_verdicts_and_no_edge_on_them_still_records_its_verdict() -> None:
    nodes = [
        {"id": "a", "type": "custom", "config": {"verdicts": ["good", "bad"]}},
        {"id": "b", "type": "custom", "config": {"prompt_template": "a said {{ outputs.a.verdict }}"}},
    ]
    events = await run(workflow(nodes, [edge("a", "b")]), "scripted/verdicts=bad")
    assert [e.verdict for e in events if isinstance(e, NodeFinished)] == ["bad", None]
    started = [e for e in events if isinstance(e, NodeStarted) and e.node_id == "b"]
    assert started[0].messages[1].content == "a said bad"
