"""http_request: methods, headers, bodies and saved secrets referred to by name. A secret's value reaches the
server it is meant for and nowhere else: not the result, its detail, an error, or another origin after a redirect."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowdeck.engine.tools import ToolCall, ToolContext, ToolResult
from flowdeck.tools import BuiltinToolbox
from tests.toolserver import ToolServer, tool_server

SECRET = "s3cr3t-canary-7f1d0c2e"
SAVED = {
    "API_TOKEN": SECRET,
    "BROKEN": "line\r\nX-Injected: 1",
    "CONTROL": "ctl-first-half\x01second-half",
    "ACCENT": SECRET + "é",
}


@pytest.fixture
def server() -> Iterator[ToolServer]:
    with tool_server() as s:
        yield s


@pytest.fixture
def other() -> Iterator[ToolServer]:
    with tool_server("127.0.0.2") as s:
        yield s


def toolbox(tmp_path: Path, *allowed: str) -> BuiltinToolbox:
    return BuiltinToolbox(workspace=tmp_path / "ws", allowed_domains=allowed, secrets=SAVED.get)


async def call(box: BuiltinToolbox, tool: str, **arguments: Any) -> ToolResult:
    [spec] = box.specs([tool])
    context = ToolContext(run_id="r1", node_id="a", execution=1, key="r1:a:1:1")
    return await box.call(ToolCall(id="c1", name=tool, arguments=json.dumps(arguments)), spec, context)


def shown(result: ToolResult) -> str:
    """Everything of a result that leaves the tool: what the model, the log and the journal get."""
    return result.content + json.dumps(result.detail)


async def test_a_post_sends_its_headers_and_body_and_reports_the_status(tmp_path: Path, server: ToolServer) -> None:
    result = await call(
        toolbox(tmp_path, "127.0.0.1"),
        "http_request",
        method="POST",
        url=server.url("/echo"),
        headers={"Content-Type": "application/json", "X-Trace": "t1"},
        body='{"name": "x"}',
    )
    assert result.ok, result.content
    assert result.content.splitlines()[:2] == [
        f"HTTP 200 OK from {server.url('/echo')}",
        "content-type: application/json",
    ]
    assert result.detail == {"method": "POST", "url": server.url("/echo"), "status": 200}
    [seen] = server.seen
    assert (seen.method, seen.body, seen.headers["X-Trace"]) == ("POST", b'{"name": "x"}', "t1")
    assert "Cookie" not in seen.headers and seen.headers["Host"] == f"127.0.0.1:{server.port}"


async def test_a_secret_is_sent_by_name_and_its_value_never_shown(tmp_path: Path, server: ToolServer) -> None:
    # /echo sends the request's headers back: the server's answer itself carries the secret
    result = await call(
        toolbox(tmp_path, "127.0.0.1"),
        "http_request",
        url=server.url("/echo"),
        headers={"Authorization": "Bearer {{secret:API_TOKEN}}", "X-Key": "{{ secret:API_TOKEN }}"},
    )
    assert result.ok, result.content
    assert server.seen[0].headers["Authorization"] == f"Bearer {SECRET}"
    assert server.seen[0].headers["X-Key"] == SECRET
    assert SECRET not in shown(result)
    assert '"Authorization": "Bearer [redacted]"' in result.content


async def test_secret_references_that_cannot_be_used_are_refused_before_sending(
    tmp_path: Path, server: ToolServer
) -> None:
    box = toolbox(tmp_path, "127.0.0.1")
    url = server.url("/echo")
    cases = [
        (
            {"headers": {"Authorization": "{{secret:MISSING}}"}},
            "no saved secret is named MISSING: save it first (`flowdeck secrets set MISSING`)",
        ),
        ({"headers": {"Authorization": "{{secret:BROKEN}}"}}, "the saved secret BROKEN has a line break"),
        ({"headers": {"Authorization": "{{secret:CONTROL}}"}}, "the saved secret CONTROL has a line break, a control"),
        ({"headers": {"Authorization": "{{secret:ACCENT}}"}}, "or a non-ASCII character: it cannot be sent"),
        ({"headers": {"Authorization": "{{secrets.API_TOKEN}}"}}, "write {{secret:NAME}}"),
        ({"headers": {"Authorization": "{{secret:API-TOKEN}}"}}, "write {{secret:NAME}}"),
        ({"url": url + "?key={{secret:API_TOKEN}}"}, "secrets can only be used in header values"),
        ({"method": "POST", "body": "{{secret:API_TOKEN}}"}, "secrets can only be used in header values"),
    ]
    for arguments, reason in cases:
        result = await call(box, "http_request", **{"url": url, **arguments})
        assert not result.ok
        assert reason in result.content, result.content
        assert SECRET not in shown(result) and "X-Injected" not in shown(result)
        assert "first-half" not in shown(result) and "second-half" not in shown(result)
    assert server.seen == []


async def test_a_secret_does_not_follow_a_redirect_to_another_origin(
    tmp_path: Path, server: ToolServer, other: ToolServer
) -> None:
    box = toolbox(tmp_path, "127.0.0.1", "127.0.0.2")
    result = await call(
        box,
        "http_request",
        url=server.url(f"/redirect?status=307&to={other.url('/echo')}"),
        headers={"X-Key": "{{secret:API_TOKEN}}", "Authorization": "Basic abc", "X-Plain": "kept"},
    )
    assert result.ok, result.content
    assert server.seen[0].headers["X-Key"] == SECRET
    [moved] = other.seen
    assert "X-Key" not in moved.headers and "Authorization" not in moved.headers
    assert moved.headers["X-Plain"] == "kept"
    assert result.detail["final_url"] == other.url("/echo")


async def test_a_post_redirected_with_303_becomes_a_get_without_its_body(tmp_path: Path, server: ToolServer) -> None:
    result = await call(
        toolbox(tmp_path, "127.0.0.1"),
        "http_request",
        method="POST",
        url=server.url("/redirect?status=303&to=/echo"),
        body="payload",
    )
    assert result.ok
    assert [(s.method, s.body) for s in server.seen] == [("POST", b"payload"), ("GET", b"")]


async def test_headers_the_tool_sets_itself_are_refused(tmp_path: Path, server: ToolServer) -> None:
    box = toolbox(tmp_path, "127.0.0.1")
    for headers, reason in (
        ({"Host": "example.org"}, "the header Host is set by the tool"),
        ({"Content-Length": "5"}, "the header Content-Length is set by the tool"),
        ({"Transfer-Encoding": "chunked"}, "the header Transfer-Encoding is set by the tool"),
        ({"Accept-Encoding": "br"}, "the header Accept-Encoding is set by the tool"),
        ({"X-A": "a\r\nX-B: b"}, "the header X-A has a line break, a control character or a non-ASCII"),
        ({"X-A": "café"}, "the header X-A has a line break, a control character or a non-ASCII"),
        ({"X-A": "x" * 8_001}, "the header X-A is over 8,000 characters"),
        ({"Bad Name": "x"}, "'Bad Name' is not a valid header name"),
    ):
        result = await call(box, "http_request", url=server.url("/echo"), headers=headers)
        assert reason in result.content, result.content
    get_with_body = await call(box, "http_request", url=server.url("/echo"), body="x")
    assert "a GET request has no body: use POST, PUT or PATCH" in get_with_body.content
    assert server.seen == []


async def test_a_request_body_over_the_cap_is_refused(tmp_path: Path, server: ToolServer) -> None:
    result = await call(
        toolbox(tmp_path, "127.0.0.1"), "http_request", method="PUT", url=server.url("/echo"), body="x" * 1_000_001
    )
    assert not result.ok
    assert "the argument 'body': String should have at most 1000000 characters" in result.content
    multibyte = await call(
        toolbox(tmp_path, "127.0.0.1"), "http_request", method="PUT", url=server.url("/echo"), body="é" * 600_000
    )
    assert "the request body is 1,200,000 bytes, over the 1,000,000-byte limit" in multibyte.content
    assert server.seen == []


async def test_a_failed_status_is_a_failed_result(tmp_path: Path, server: ToolServer) -> None:
    result = await call(
        toolbox(tmp_path, "127.0.0.1"), "http_request", method="DELETE", url=server.url("/status?code=404")
    )
    assert not result.ok
    assert result.detail == {"method": "DELETE", "url": server.url("/status?code=404"), "status": 404}


async def test_cookies_a_server_sets_are_not_kept(tmp_path: Path, server: ToolServer) -> None:
    box = toolbox(tmp_path, "127.0.0.1")
    await call(box, "http_request", url=server.url("/redirect?to=/echo&cookie=abc"))
    await call(box, "http_request", url=server.url("/echo"))
    assert [s.path for s in server.seen] == ["/redirect?to=/echo&cookie=abc", "/echo", "/echo"]
    assert all("Cookie" not in s.headers for s in server.seen)
