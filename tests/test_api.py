"""The HTTP API refuses bad input with a 4xx naming the field, and keeps to its own OpenAPI schema: the real app in a
subprocess, called with an API token as a client would."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from flowdeck.engine.workflow import MAX_INPUT_CHARS
from tests.appserver import running_app

TOKEN = "fdk_test_token_0123456789abcdef"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
GOOD = '"workflow": "research-code-review", "inputs": {"task": "Add two numbers"}'


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    root = tmp_path_factory.mktemp("api")
    with (
        running_app(root / "home", root / "server.log", env={"FLOWDECK_API_TOKEN": TOKEN}) as url,
        httpx.Client(base_url=url + "/api/v1", headers=HEADERS, timeout=60) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def finished_run(api: httpx.Client) -> str:
    done = api.post("/runs", json={"workflow": "research-code-review", "wait": True})
    assert done.status_code == 200, done.text
    return str(done.json()["id"])


# (case, raw JSON body, where the 422 must point, a fragment of its message)
REFUSED_BODIES = [
    ("lone surrogate input", '{"workflow": "research-code-review", "inputs": {"task": "a\\ud800"}}',
     ["body", "inputs", "task"], "lone surrogate (\\ud800)"),
    ("lone surrogate name", '{"workflow": "\\udc00"}', ["body", "workflow"], "lone surrogate (\\udc00)"),
    ("lone surrogate key", '{"workflow": "research-code-review", "inputs": {"\\ud800": "x"}}',
     ["body", "inputs", "\\ud800"], "the key holds a lone surrogate"),
    ("lone surrogate model", '{' + GOOD + ', "model": "scripted/\\udbff"}', ["body", "model"], "lone surrogate"),
    ("NaN input", '{"workflow": "research-code-review", "inputs": {"task": NaN}}', ["body", "inputs", "task"],
     "NaN is not a number JSON allows"),
    ("Infinity flag", '{' + GOOD + ', "use_cache": Infinity}', ["body", "use_cache"], "Infinity is not a number"),
    ("1e999 flag", '{' + GOOD + ', "wait": -1e999}', ["body", "wait"], "-1e999 is too large to be a number"),
    ("huge integer", '{' + GOOD + ', "wait": ' + "9" * 5000 + "}", ["body", "wait"], "a number of 5,000 digits"),
    ("unknown scripted option", '{' + GOOD + ', "model": "scripted/evil=1"}', ["body", "model"],
     "'evil=1' is not a scripted model option"),
    ("unknown input", '{' + GOOD[:-1] + ', "topic": "x"}}', ["body", "inputs", "topic"], "no such input"),
    ("zero for false", '{' + GOOD + ', "wait": 0}', ["body", "wait"], "valid boolean"),
    ("not UTF-8", b'{"workflow": "caf\xe9"}', ["body"], "not UTF-8"),
    ("nested too deep", '{"inputs": ' + "[" * 5000 + "]" * 5000 + "}", ["body"], "nested too deeply"),
    ("not JSON", '{"workflow": ', ["body", 13], "JSON decode error (Expecting value)"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "body", "loc", "fragment"), REFUSED_BODIES, ids=[c[0] for c in REFUSED_BODIES])
def test_a_body_that_cannot_be_kept_gets_422_naming_the_field_and_starts_nothing(
    api: httpx.Client, case: str, body: str | bytes, loc: list[Any], fragment: str
) -> None:
    before = len(api.get("/runs").json())
    answer = api.post("/runs", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422, answer.text
    errors = answer.json()["detail"]
    assert [e["loc"] for e in errors] == [loc], errors
    assert fragment in errors[0]["msg"]
    assert len(api.get("/runs").json()) == before  # nothing acknowledged, nothing started


def test_run_inputs_have_a_size_limit_named_in_the_answer_and_the_schema(api: httpx.Client) -> None:
    big = "x" * (MAX_INPUT_CHARS + 1)
    answer = api.post("/runs", json={"workflow": "research-code-review", "inputs": {"task": big}})
    assert answer.status_code == 422
    [error] = answer.json()["detail"]
    assert error["loc"] == ["body", "inputs", "task"] and f"at most {MAX_INPUT_CHARS} characters" in error["msg"]
    assert len(answer.content) < 1_000  # the input is not echoed back
    inputs = api.get("/openapi.json").json()["components"]["schemas"]["RunRequest"]["properties"]["inputs"]
    assert inputs["additionalProperties"]["maxLength"] == MAX_INPUT_CHARS
    assert f"{MAX_INPUT_CHARS:,} characters" in inputs["description"]
    limit = api.post("/runs", json={"workflow": "research-code-review", "inputs": {"task": big[:-1]}})
    assert limit.status_code == 202, limit.text
    assert api.get(f"/runs/{limit.json()['id']}").status_code == 200


@pytest.mark.parametrize(
    ("query", "loc"),
    [
        ({"after": 2**63}, ["query", "after"]),
        ({"after": "NaN"}, ["query", "after"]),
        ({"after": "1e999"}, ["query", "after"]),
        ({"after": "9" * 5000}, ["query", "after"]),
        ({"follow": "NaN"}, ["query", "follow"]),
    ],
)
def test_event_queries_out_of_range_get_422(
    api: httpx.Client, finished_run: str, query: dict[str, Any], loc: list[str]
) -> None:
    answer = api.get(f"/runs/{finished_run}/events", params=query)
    assert answer.status_code == 422, answer.text
    assert [e["loc"] for e in answer.json()["detail"]] == [loc]


def test_the_largest_sequence_number_is_answered(api: httpx.Client, finished_run: str) -> None:
    assert api.get(f"/runs/{finished_run}/events", params={"after": 2**63 - 1}).json() == []


@pytest.mark.parametrize(
    ("query", "loc"),
    [
        ({"limit": "NaN"}, ["query", "limit"]),
        ({"limit": 2**64}, ["query", "limit"]),
        ({"status": "bogus"}, ["query", "status"]),
        ({"workflow": "w" * 201}, ["query", "workflow"]),
        ({"workflow_id": "i" * 301}, ["query", "workflow_id"]),
    ],
)
def test_run_list_queries_out_of_range_get_422(api: httpx.Client, query: dict[str, Any], loc: list[str]) -> None:
    answer = api.get("/runs", params=query)
    assert answer.status_code == 422, answer.text
    assert [e["loc"] for e in answer.json()["detail"]] == [loc]


def test_lone_surrogates_in_a_query_or_path_are_not_errors_of_the_server(api: httpx.Client) -> None:
    # A URL carries bytes: %ED%A0%80 (a surrogate's UTF-8-like spelling) is not UTF-8, and is read as U+FFFD.
    assert api.get("/runs?workflow=%ED%A0%80").json() == []
    assert api.get("/runs/%ED%A0%80").status_code == 404


def test_a_run_id_longer_than_any_is_not_found_not_a_storage_fault(api: httpx.Client) -> None:
    for path in ("/runs/" + "a" * 50_001, "/runs/" + "a" * 50_001 + "/events", "/runs/" + "a" * 65):
        answer = api.get(path)
        assert answer.status_code == 404, (path[:20], answer.status_code, answer.text[:200])  # was 503, "run doctor"
        assert "no run with id" in answer.json()["detail"]


def test_scripted_waits_that_never_end_are_refused_naming_the_option(api: httpx.Client) -> None:
    for option in ("latency=inf", "delay=1e999", "ready=1e308", "latency=nan", "chunks=10000000"):
        answer = api.post("/runs", json={"workflow": "research-code-review", "model": f"scripted/{option}"})
        assert answer.status_code == 422, (option, answer.text)
        assert option in answer.text


def test_not_allowed_lists_every_method_of_the_path(api: httpx.Client) -> None:
    for method, path, allowed in (
        ("DELETE", "/runs", "GET, POST"),
        ("OPTIONS", "/runs", "GET, POST"),
        ("PUT", "/runs/abc", "GET"),
        ("GET", "/runs/abc/cancel", "POST"),
    ):
        answer = api.request(method, path)
        assert answer.status_code == 405
        assert answer.headers["allow"] == allowed, (method, path)


def test_a_path_with_a_newline_is_answered_by_the_api_in_json(api: httpx.Client) -> None:
    answer = api.get("/runs/.%0Aabc")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/json"
    assert "no run with id" in answer.json()["detail"]


def test_cancelling_a_finished_run_is_a_documented_conflict(api: httpx.Client, finished_run: str) -> None:
    answer = api.post(f"/runs/{finished_run}/cancel")
    assert answer.status_code == 409 and "nothing to cancel" in answer.json()["detail"]
    responses = api.get("/openapi.json").json()["paths"]["/runs/{run_id}/cancel"]["post"]["responses"]
    assert "409" in responses


def test_waiting_for_a_run_answers_a_documented_200(api: httpx.Client) -> None:
    responses = api.get("/openapi.json").json()["paths"]["/runs"]["post"]["responses"]
    assert {"200", "202", "422"} <= set(responses)
    assert json.dumps(responses["202"]["links"]["get"]) == json.dumps(
        {"operationId": "get_run", "parameters": {"run_id": "$response.body#/id"}}
    )


# Schemathesis (an OpenAPI fuzzer) with every check. Its positive-data check expects a request that fits the schema to
# be accepted; a model string or input name fits it and may still name no model or input the server knows, which is
# the 422 that names it.
SCHEMATHESIS_CONFIG = """
[generation]
database = "none"

[[operations]]
include-operation-id = "start_run"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]

# A handler's URL must start with a fixed host (engine/handlers.py), which its JSON Schema cannot say: 422 names it.
[[operations]]
include-operation-id = "approve_trust"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]
"""
EXAMPLES = 50  # per operation, as the issue ran it (bench/README.md has the time it takes)
SEED = 20  # fixed, so that a failure here is the same failure on every machine


def test_the_api_keeps_to_its_openapi_schema(api: httpx.Client, tmp_path: Path) -> None:
    # The first run naming a provider's model imports the model library (~3 s; 8-10 s on a loaded machine): done
    # here first, so that the fuzzer's response-time check (10 s) times answers, not that one import.
    warm = api.post("/runs", json={"workflow": "research-code-review", "model": "no-such-provider-model"})
    assert warm.status_code == 422, warm.text
    config = tmp_path / "schemathesis.toml"
    config.write_text(SCHEMATHESIS_CONFIG)
    # A process of its own: it sets up Hypothesis and warnings its own way, apart from this test run.
    command = [sys.executable, "-c", "from schemathesis.cli import schemathesis; schemathesis()"]
    options = ["--checks", "all", "--max-examples", str(EXAMPLES), "--seed", str(SEED), "--no-color"]
    result = subprocess.run(
        [
            *command,
            "--config-file",
            str(config),
            "run",
            str(api.base_url.join("openapi.json")),
            "--header",
            f"Authorization: Bearer {TOKEN}",
            *options,
            "--request-timeout",
            "30",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    generated = re.search(r"(\d+) generated", report)
    assert generated and int(generated.group(1)) >= 500, report  # it did test the API, across all seventeen operations
    assert "17 selected / 17 total" in report and "Tested: 17" in report, report
