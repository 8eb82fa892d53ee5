"""Compensation handlers as data (engine/handlers.py): what a file may say, what it can reach, how it renders."""

from __future__ import annotations

import re
from typing import Any

import pytest
from jinja2.exceptions import SecurityError

from flowdeck.engine.handler_templates import HandlerTemplateError, render
from flowdeck.engine.handlers import Handler, check_handlers

EFFECT = {
    "tool": "http_request",
    "agent": "Coder",
    "detail": {"method": "POST", "url": "https://api.example.org/items", "status": 201, "id": "{{ 7*7 }}"},
    "result": '{"id": "abc"}',
}


def http(url: str = "https://api.example.org/items/{{ effect.detail.id|urlencode }}", **action: Any) -> dict:
    return {
        "id": "undo_item",
        "match": {"tool": "http_request", "method": ["POST"], "url": "https://api.example.org/items*"},
        "action": {"kind": "http", "method": "DELETE", "url": url, **action},
    }


def test_an_http_handler_matches_renders_and_lists_its_reach() -> None:
    handler = Handler.model_validate(
        http(headers={"Authorization": "Bearer {{ secret('API_TOKEN') }}"}, body='{"reason": "run {{ run.id }}"}')
    )
    assert handler.match.matches("http_request", EFFECT["detail"])
    assert not handler.match.matches("http_request", {**EFFECT["detail"], "method": "PUT"})
    assert not handler.match.matches("fetch", EFFECT["detail"])
    assert handler.reach() == {
        "domains": ["api.example.org"],
        "methods": ["DELETE"],
        "files": [],
        "secrets": ["API_TOKEN"],
    }
    action = handler.action
    assert (
        render(action.url, EFFECT, {"id": "r1"}, lambda name: None)
        == "https://api.example.org/items/%7B%7B%207%2A7%20%7D%7D"
    )
    assert render(action.headers["Authorization"], EFFECT, {}, {"API_TOKEN": "t0k"}.get) == "Bearer t0k"
    assert render(action.body or "", EFFECT, {"id": "r1"}, lambda name: None) == '{"reason": "run r1"}'


def test_a_missing_secret_is_an_error_not_an_empty_header() -> None:
    with pytest.raises(HandlerTemplateError, match="no saved secret is named 'GONE'"):
        render("Bearer {{ secret('GONE') }}", EFFECT, {}, lambda name: None)


def test_effect_data_is_never_evaluated_as_a_template() -> None:
    assert render("{{ effect.detail.id }}", EFFECT, {}, lambda name: None) == "{{ 7*7 }}"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://{{ effect.detail.host }}/x", "must start with a fixed http(s) address"),
        ("{{ effect.detail.url }}", "must start with a fixed http(s) address"),
        ("https://api.example.org", "must start with a fixed http(s) address and a path"),
        ("ftp://api.example.org/x", "must start with a fixed http(s) address"),
        ("https://user:pw@api.example.org/x", "must not carry a user name or password"),
        ("https://api.example.org/{{ ''.__class__.__mro__ }}", None),  # parses; the sandbox refuses it at render
        ("https://api.example.org/{% for x in effect %}{{ x }}{% endfor %}", "not For"),
        ("https://api.example.org/{{ cycler }}", "not 'cycler'"),
        ("https://api.example.org/{{ lipsum(100000) }}", "the only call"),
        ("https://api.example.org/{{ 'a'|center(400000000) }}", "not |center"),
        ("https://api.example.org/{{ '%s'|format(effect) }}", "not |format"),
        ("https://api.example.org/{{ secret(effect.detail.id) }}", "the only call"),
        ("https://api.example.org/{{ 9**9**9 }}", "not Pow"),
        ("https://api.example.org/{% set x = 1 %}", "not Assign"),
        ("https://api.example.org/{% include 'x' %}", "not Include"),
        ("https://api.example.org/{{ unclosed", "does not parse"),
    ],
)
def test_a_hostile_or_unclear_template_is_refused_when_the_file_is_read(url: str, message: str | None) -> None:
    if message is None:
        handler = Handler.model_validate(http(url=url))
        with pytest.raises(SecurityError):
            render(handler.action.url, EFFECT, {}, lambda name: None)  # type: ignore[union-attr]
        return
    with pytest.raises(ValueError, match=re.escape(message)):
        Handler.model_validate(http(url=url))


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        ({"id": "x", "match": {"tool": "fetch"}, "action": {"kind": "delete_file"}}, "undoes write_file effects only"),
        (
            {"id": "x", "match": {"tool": "t"}, "action": {"kind": "webhook", "url": "https://h.org/{{ run.id }}"}},
            "no templates",
        ),
        (
            {"id": "x", "match": {"tool": "t"}, "action": {"kind": "shell", "command": "rm -rf /"}},
            "does not match any of the expected tags",
        ),
        (
            {"id": "x", "match": {"tool": "t"}, "action": {"kind": "manual", "steps": "Call {{ secret('PIN') }}"}},
            "never include a secret",
        ),
        (
            {"id": "x", "match": {"tool": "t"}, "action": {"kind": "manual", "steps": "x"}, "code": "import os"},
            "Extra inputs are not permitted",
        ),
        (
            {"id": "x", "match": {"tool": "t", "method": ["TRACE"]}, "action": {"kind": "manual", "steps": "x"}},
            "method",
        ),
    ],
)
def test_other_actions_are_checked(handler: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Handler.model_validate(handler)


def test_file_and_manual_handlers_list_what_they_touch() -> None:
    delete = Handler.model_validate(
        {"id": "rm", "match": {"tool": "write_file", "path": "reports/*.md"}, "action": {"kind": "delete_file"}}
    )
    assert delete.reach() == {"domains": [], "methods": [], "files": ["reports/*.md"], "secrets": []}
    assert delete.match.matches("write_file", {"path": "reports/a.md"})
    assert not delete.match.matches("write_file", {"path": "notes/a.md"})
    hook = Handler.model_validate(
        {"id": "h", "match": {"tool": "t"}, "action": {"kind": "webhook", "url": "https://hooks.example.org/undo"}}
    )
    assert hook.reach()["domains"] == ["hooks.example.org"]


def test_any_change_to_a_handler_needs_a_new_approval() -> None:
    one = Handler.model_validate(http())
    assert one.content_hash() == Handler.model_validate(http()).content_hash()
    assert one.content_hash() != Handler.model_validate(http(body="x")).content_hash()
    assert one.content_hash() != Handler.model_validate({**http(), "label": "other"}).content_hash()


def test_ids_are_unique() -> None:
    one = Handler.model_validate(http())
    assert check_handlers([one, one]) == ["handler id 'undo_item' is used twice; give each handler its own id"]
