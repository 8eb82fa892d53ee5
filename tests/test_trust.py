"""The trust store (storage/trust.py) and the compensation rows of the side-effect log (storage/compensations.py),
through their Python API: approvals by content hash, bad input named, attempts numbered and redacted, and the log
still append-only for them."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from sqlalchemy import text

from flowdeck.engine.handlers import Handler
from flowdeck.services import Services
from flowdeck.storage.compensations import compensations_of, mark_done, record, undone
from flowdeck.storage.trust import TrustError, TrustStore, approve_handler

HANDLER = Handler.model_validate(
    {
        "id": "undo",
        "match": {"tool": "http_request"},
        "action": {"kind": "http", "method": "DELETE", "url": "https://api.example.org/items/{{ effect.key }}",
                   "headers": {"Authorization": "Bearer {{ secret('API_TOKEN') }}"}},
    }
)  # fmt: skip
EFFECT = SimpleNamespace(key=f"r1:w:1:{uuid.uuid4().hex}", node_id="w", execution=1, tool="http_request")


def test_an_approval_is_kept_by_content_hash_and_revoked(services: Services) -> None:
    trust = TrustStore(services.engine)
    before = [e.content_hash for e in trust.entries()]  # a database shared by the test run may hold others
    assert not trust.approved(HANDLER.content_hash())
    first = approve_handler(trust, HANDLER, "editor (page)")
    assert trust.approved(HANDLER.content_hash())
    assert first.summary == {"id": "undo", "label": "", "action": "http", "domains": ["api.example.org"],
                             "methods": ["DELETE"], "files": [], "secrets": ["API_TOKEN"]}  # fmt: skip
    again = approve_handler(trust, HANDLER, "someone else")  # the first approval stands
    assert (again.approved_by, again.approved_at) == (first.approved_by, first.approved_at)
    changed = HANDLER.model_copy(update={"label": "changed"})
    assert not trust.approved(changed.content_hash())
    assert [e.content_hash for e in trust.entries()] == [HANDLER.content_hash(), *before]
    assert trust.revoke(HANDLER.content_hash()) and not trust.revoke(HANDLER.content_hash())
    assert not trust.approved(HANDLER.content_hash())


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("abc", "handler", {}, "ann"), "content_hash: give the 64 lowercase hex digits"),
        (("a" * 64, "script", {}, "ann"), "kind: give one of handler, mcp_server"),
        (("a" * 64, "handler", {}, " "), "by: say who approves it"),
    ],
)
def test_bad_approvals_are_refused_naming_the_field(services: Services, args: tuple, said: str) -> None:
    trust = TrustStore(services.engine)
    before = trust.entries()
    with pytest.raises(TrustError, match=said):
        trust.approve(*args)
    assert trust.entries() == before


def test_attempts_are_numbered_redacted_and_append_only(services: Services) -> None:
    db = services.engine
    record(db, "r1", EFFECT, "failed", {"handler": "undo", "reason": "answered 500 for s3cret-value"}, ["s3cret-value"])
    record(db, "r1", EFFECT, "manual", {"handler": "undo", "steps": "by hand"}, [])
    assert not undone(db, EFFECT.key)
    done = mark_done(db, "r1", EFFECT.key, "ann")
    assert undone(db, EFFECT.key)
    entries = compensations_of(db, [EFFECT.key])
    assert [(e.attempt, e.status) for e in entries] == [(1, "failed"), (2, "manual"), (3, "ok")]
    assert entries[0].message == "answered 500 for [redacted]"
    assert (done.message, done.handler) == ("done by ann", "undo")
    with pytest.raises(Exception, match="append-only"), db.begin() as conn:
        conn.execute(text("UPDATE side_effects SET status = 'ok' WHERE phase = 'compensation'"))
