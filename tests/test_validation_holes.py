"""What used to pass validation and fail later (the issue 21 attack): a condition calling a string method outside the
sandbox's list, a loop's "max_rounds": true, an approval's "timeout": "5", and an edit-and-approve with an empty text.
Each is refused up front, naming the field (or edge) and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from flowdeck.cli.main import main
from flowdeck.engine.approvals import Decision
from flowdeck.engine.dag import build
from flowdeck.engine.workflow import parse_workflow
from flowdeck.errors import WorkflowError
from flowdeck.services import Services
from tests.test_runner_approvals import signed

ALLOWED = "casefold, count, endswith, find, isdigit, lower, lstrip, rstrip, startswith, strip, upper"


def looping(loop: dict[str, Any], timeout: object = 60, expression: str = "'x' in output") -> dict[str, Any]:
    return {
        "format": 2,
        "name": "t",
        "nodes": [
            {"id": "a", "type": "coder"},
            {"id": "b", "type": "reviewer"},
            {"id": "ok", "type": "approval", "config": {"timeout": timeout}},
        ],
        "edges": [
            {"id": "a->b", "source": "a", "target": "b"},
            {"id": "b->a", "source": "b", "target": "a", "condition": {"verdict": "revise"}, "loop": loop},
            {"id": "b->ok", "source": "b", "target": "ok", "condition": {"expression": expression}},
        ],
    }


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(WorkflowError) as caught:
        build(parse_workflow(data))
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize("method", ["split", "replace", "format", "join"])
def test_a_condition_calling_a_method_off_the_sandbox_list_is_refused_naming_edge_and_method(method: str) -> None:
    found = problems(looping({"max_rounds": 3}, expression=f"output.{method}('a') != ''"))
    assert found == [f"edge b->ok: calls '{method}'; a condition may call only these string methods: {ALLOWED}"]


def test_conditions_calling_listed_methods_still_pass() -> None:
    build(parse_workflow(looping({"max_rounds": 3}, expression="output.strip().lower().startswith('ok')")))


@pytest.mark.parametrize(
    ("loop", "timeout", "where", "said"),
    [
        ({"max_rounds": True}, 60, "edges[1].loop.max_rounds", "true is a yes/no value, not a number"),
        ({"max_rounds": "3"}, 60, "edges[1].loop.max_rounds", '"3" is text, not a number; write it without quotes: 3'),
        ({"max_rounds": 3}, "5", "nodes[2].config.timeout", '"5" is text, not a number; write it without quotes: 5'),
        ({"max_rounds": 3}, False, "nodes[2].config.timeout", "false is a yes/no value, not a number"),
    ],
)
def test_a_bool_is_not_an_int_and_a_string_is_not_a_number(
    loop: dict[str, Any], timeout: object, where: str, said: str
) -> None:
    [found] = problems(looping(loop, timeout))
    assert found.startswith(f"{where}: {said}")


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("max_tokens", "5", '"5" is text, not a number; write it without quotes: 5'),
        ("max_tokens", True, "true is a yes/no value, not a number"),
        ("timeout", "30", '"30" is text, not a number; write it without quotes: 30'),
        ("retries", False, "false is a yes/no value, not a number"),
        ("temperature", "0.5", '"0.5" is text, not a number; write it without quotes: 0.5'),
    ],
)
def test_an_agents_numbers_are_json_numbers(field: str, value: object, said: str) -> None:
    workflow = looping({"max_rounds": 3})
    workflow["nodes"][0]["config"] = {field: value}
    [found] = problems(workflow)
    assert found.startswith(f"nodes[0].config.{field}: {said}")


def test_a_position_is_json_numbers() -> None:
    workflow = looping({"max_rounds": 3})
    workflow["nodes"][0]["position"] = {"x": "10", "y": 0}
    [found] = problems(workflow)
    assert found.startswith('nodes[0].position.x: "10" is text, not a number')


def test_whole_numbers_written_as_numbers_still_pass() -> None:
    wf = parse_workflow(looping({"max_rounds": 3.0}, 5))
    assert wf.edges[1].loop is not None and wf.edges[1].loop.max_rounds == 3
    assert wf.nodes[2].approval is not None and wf.nodes[2].approval.timeout == 5.0


@pytest.mark.parametrize("text", ["", "   \n\t"])
async def test_an_edit_and_approve_with_an_empty_text_is_refused(services: Services, text: str) -> None:
    run_id = await services.runner.start(signed(), model="scripted")
    assert (await services.runner.wait(run_id)).status == "waiting"
    with pytest.raises(WorkflowError, match="text: the edited text is empty; give the text to approve"):
        await services.runner.decide(run_id, "ok", Decision(approve=True, by="editor", text=text))
    assert (await services.runner.wait(run_id)).status == "waiting"  # nothing lost: it still waits


def test_the_cli_refuses_an_empty_edited_text(home: Path) -> None:
    result = CliRunner().invoke(main, ["run", "review-loop", "--no-input", "-m", "scripted/verdicts=approve"])
    assert result.exit_code == 3
    run_id = result.stderr.split("error: run ")[1].split()[0]
    refused = CliRunner().invoke(main, ["runs", "approve", run_id, "--text", " "])
    assert refused.exit_code == 2
    assert "text: the edited text is empty; give the text to approve, or approve without editing" in refused.stderr
    assert "waiting" in CliRunner().invoke(main, ["runs"]).stdout


def test_the_api_refuses_an_empty_edited_text(tmp_path: Path) -> None:
    from tests.test_approval_server import decide, start_waiting
    from tests.test_server_faults import AUTH, server

    with server(tmp_path / "home", tmp_path / "server.log") as (api, _):
        run_id = start_waiting(api)
        for text in ("", " \n"):
            refused = decide(api, run_id, {"decision": "approve", "text": text})
            assert refused.status_code == 422, refused.text
            [detail] = refused.json()["detail"]
            assert detail["loc"][-1] == "text" and "the edited text is empty" in detail["msg"]
        assert httpx.get(f"{api}/runs/{run_id}", headers=AUTH).json()["status"] == "waiting"


def nested(outer: int, inner: int) -> dict[str, Any]:
    return {
        "format": 2,
        "name": "nested",
        "nodes": [{"id": n, "type": "custom"} for n in "abcd"],
        "edges": [
            {"id": "a->b", "source": "a", "target": "b"},
            {"id": "b->c", "source": "b", "target": "c"},
            {"id": "c->d", "source": "c", "target": "d"},
            {"id": "c->b", "source": "c", "target": "b", "condition": {"expression": "round > 0"},
             "loop": {"max_rounds": inner}},
            {"id": "d->a", "source": "d", "target": "a", "condition": {"expression": "round > 0"},
             "loop": {"max_rounds": outer}},
        ],
    }  # fmt: skip


def test_loops_inside_loops_are_refused_when_together_they_run_an_agent_too_often() -> None:
    [found] = problems(nested(20, 20))
    assert found.startswith("edge d->a: its loop and the loops inside it could run an agent 400 times (20 × 20)")
    assert "at most 100" in found
    for outer, inner in ((10, 10), (20, 5)):
        assert build(parse_workflow(nested(outer, inner))).loops.bound("b") == outer * inner
