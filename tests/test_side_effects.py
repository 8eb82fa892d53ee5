"""The side-effect log (storage/effects.py): intents and outcomes, unknown outcomes, redaction of secrets, and a
database that refuses to change or delete an entry, on SQLite and on PostgreSQL (FLOWDECK_TEST_POSTGRES_URL)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from flowdeck.engine.events import ToolCall
from flowdeck.engine.tools import ToolContext, ToolResult, ToolSpec
from flowdeck.storage import open_database
from flowdeck.storage.effects import SqlJournal, effects_of, unknown_effects

ADMIN_URL = os.environ.get("FLOWDECK_TEST_POSTGRES_URL", "")
WRITE = ToolSpec(name="http_request", description="", parameters={"type": "object"}, effect="write")
SECRET = "s3cr3t-value-4711-abcdef"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = open_database(f"sqlite:///{tmp_path / 'flowdeck.db'}")
        yield engine
        engine.dispose()
        return
    if not ADMIN_URL:
        if os.environ.get("FLOWDECK_REQUIRE_POSTGRES"):
            pytest.fail("FLOWDECK_REQUIRE_POSTGRES is set but FLOWDECK_TEST_POSTGRES_URL is not")
        pytest.skip("no PostgreSQL server configured (FLOWDECK_TEST_POSTGRES_URL)")
    name = f"flowdeck_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = open_database(ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def context(run_id: str, n: int, node_id: str = "writer", execution: int = 1) -> ToolContext:
    return ToolContext(run_id=run_id, node_id=node_id, execution=execution, key=f"{run_id}:{node_id}:{execution}:{n}")


def call(arguments: dict[str, object] | str) -> ToolCall:
    return ToolCall(
        id="c1", name="http_request", arguments=arguments if isinstance(arguments, str) else json.dumps(arguments)
    )


def test_intents_and_outcomes_list_as_ok_failed_and_unknown(db: Engine) -> None:
    journal = SqlJournal(db, "run1")
    for n in (1, 2, 3):
        journal.intent(context("run1", n), WRITE, call({"method": "POST", "url": f"https://example.org/{n}"}))
    journal.outcome(context("run1", 1), ToolResult(content="201 Created", detail={"method": "POST", "status": 201}))
    journal.outcome(context("run1", 2), ToolResult(content="500 Server Error", ok=False))
    SqlJournal(db, "other").intent(context("other", 1), WRITE, call({"method": "PUT"}))

    effects = effects_of(db, "run1")
    assert [(e.key, e.status) for e in effects] == [
        ("run1:writer:1:1", "ok"),
        ("run1:writer:1:2", "failed"),
        ("run1:writer:1:3", "unknown"),
    ]
    first = effects[0]
    assert (first.tool, first.node_id, first.execution, first.attempt) == ("http_request", "writer", 1, 1)
    assert json.loads(first.arguments) == {"method": "POST", "url": "https://example.org/1"}
    assert first.detail == {"method": "POST", "status": 201}
    assert first.content == "201 Created"
    assert first.finished_at is not None and first.finished_at >= first.started_at
    assert effects[2].finished_at is None
    assert [e.key for e in unknown_effects(db, ["run1", "other"])] == ["run1:writer:1:3", "other:writer:1:1"]


def test_recorded_tells_a_done_call_from_an_unknown_one(db: Engine) -> None:
    journal = SqlJournal(db, "run1")
    assert journal.recorded("run1:writer:1:1") is None
    journal.intent(context("run1", 1), WRITE, call({"method": "POST"}))
    unknown = journal.recorded("run1:writer:1:1")
    assert unknown is not None and unknown.status == "unknown"
    # run again (a resume that chose retry): a second attempt, which closes
    journal.intent(context("run1", 1), WRITE, call({"method": "POST"}))
    journal.outcome(context("run1", 1), ToolResult(content="done"))
    done = journal.recorded("run1:writer:1:1")
    assert done is not None and (done.status, done.content) == ("ok", "done")
    assert [(e.attempt, e.status) for e in effects_of(db, "run1")] == [(1, "unknown"), (2, "ok")]


def test_a_resumed_run_finds_the_calls_of_the_run_it_continues(db: Engine) -> None:
    SqlJournal(db, "old").intent(context("old", 1), WRITE, call({"method": "POST"}))
    SqlJournal(db, "old").outcome(context("old", 1), ToolResult(content="posted"))
    SqlJournal(db, "old").intent(context("old", 2), WRITE, call({"method": "DELETE"}))
    resumed = SqlJournal(db, "new", continues=["old"])
    done = resumed.recorded("new:writer:1:1")
    assert done is not None and (done.key, done.status, done.content) == ("new:writer:1:1", "ok", "posted")
    unknown = resumed.recorded("new:writer:1:2")
    assert unknown is not None and unknown.status == "unknown"
    assert resumed.recorded("new:writer:1:3") is None
    assert SqlJournal(db, "new").recorded("new:writer:1:1") is None  # only the runs it says it continues


def test_an_outcome_without_an_intent_is_refused(db: Engine) -> None:
    from flowdeck.errors import StorageError

    with pytest.raises(StorageError, match="no intent"):
        SqlJournal(db, "run1").outcome(context("run1", 1), ToolResult(content="x"))
    assert effects_of(db, "run1") == []


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE side_effects SET status = 'ok'",
        "UPDATE side_effects SET arguments = '{}' WHERE phase = 'intent'",
        "DELETE FROM side_effects",
        "DELETE FROM side_effects WHERE phase = 'outcome'",
    ],
)
def test_the_database_refuses_to_change_or_delete_an_entry(db: Engine, statement: str) -> None:
    journal = SqlJournal(db, "run1")
    journal.intent(context("run1", 1), WRITE, call({"method": "POST"}))
    journal.outcome(context("run1", 1), ToolResult(content="ok"))
    journal.intent(context("run1", 2), WRITE, call({"method": "POST"}))
    before = _rows(db)
    with pytest.raises(DBAPIError, match="append-only"), db.begin() as conn:
        conn.execute(text(statement))
    assert _rows(db) == before


def test_an_entry_cannot_be_replaced_by_an_insert_either(db: Engine) -> None:
    journal = SqlJournal(db, "run1")
    journal.intent(context("run1", 1), WRITE, call({"method": "POST"}))
    before = _rows(db)
    columns = "seq, run_id, node_id, execution, key, attempt, tool, phase, status, arguments, detail, content, ts"
    values = "1, 'run1', 'writer', 1, 'run1:writer:1:1', 1, 'http_request', 'intent', NULL, '{}', '', '', 0"
    if db.dialect.name == "sqlite":
        replacing = [
            f"INSERT OR REPLACE INTO side_effects ({columns}) VALUES ({values})",
            f"REPLACE INTO side_effects ({columns}) VALUES ({values})",
            f"INSERT INTO side_effects ({columns}) VALUES ({values}) ON CONFLICT DO UPDATE SET arguments = '{{}}'",
        ]
    else:
        replacing = [
            f"INSERT INTO side_effects ({columns}) VALUES ({values}) ON CONFLICT (seq) DO UPDATE SET tool = 'x'",
            "TRUNCATE side_effects",
        ]
    for statement in replacing:
        with pytest.raises(DBAPIError), db.begin() as conn:
            conn.execute(text(statement))
        assert _rows(db) == before, statement


def test_secrets_are_redacted_before_anything_is_written(db: Engine) -> None:
    journal = SqlJournal(db, "run1", secrets=lambda: [SECRET])
    headers = {
        "Authorization": "Bearer literal-bearer-123456",
        "Cookie": "session=cookie-value-987",
        "X-Api-Key": "apikey-value-555",
        "X-Auth-Token": "token-value-777",
        "X-Client-Secret": "client-secret-888",
        "Accept": "text/plain",
    }
    arguments = {
        "method": "POST",
        "url": f"https://user:url-password-1@example.org/hook?api_key=query-key-222&page=2&q={SECRET}",
        "headers": headers,
        "body": f"the secret is {SECRET}",
    }
    journal.intent(context("run1", 1), WRITE, call(arguments))
    journal.outcome(
        context("run1", 1),
        ToolResult(
            content=f"echo: {SECRET}",
            detail={"method": "POST", "url": f"https://example.org/hook?token=tok-333&x={SECRET}", "status": 200},
        ),
    )
    journal.intent(
        context("run1", 2), WRITE, call(f'{{"headers": {{"Authorization": "Bearer bare-999"}}, "x": "{SECRET}" ')
    )

    raw = json.dumps(_rows(db))
    planted = [SECRET, "literal-bearer", "cookie-value", "apikey-value", "token-value", "client-secret-888"]
    planted += ["url-password", "query-key", "tok-333", "bare-999"]
    leaked = [s for s in planted if s in raw]
    assert leaked == []
    [first, second] = effects_of(db, "run1")
    logged = json.loads(first.arguments)
    assert logged["headers"] == {
        "Authorization": "[redacted]",
        "Cookie": "[redacted]",
        "X-Api-Key": "[redacted]",
        "X-Auth-Token": "[redacted]",
        "X-Client-Secret": "[redacted]",
        "Accept": "text/plain",
    }
    assert logged["url"] == "https://user:[redacted]@example.org/hook?api_key=[redacted]&page=2&q=[redacted]"
    assert logged["body"] == "the secret is [redacted]"
    assert first.content == "echo: [redacted]"
    assert first.detail == {
        "method": "POST",
        "url": "https://example.org/hook?token=[redacted]&x=[redacted]",
        "status": 200,
    }
    assert "[redacted]" in second.arguments  # not JSON: cleaned as text


def test_a_secret_saved_during_the_run_is_redacted_too(db: Engine) -> None:
    saved: list[str] = []
    journal = SqlJournal(db, "run1", secrets=lambda: saved)
    saved.append(SECRET)
    journal.intent(context("run1", 1), WRITE, call({"body": SECRET}))
    assert SECRET not in json.dumps(_rows(db))


def _rows(db: Engine) -> list[list[object]]:
    with db.connect() as conn:
        return [list(row) for row in conn.execute(text("SELECT * FROM side_effects ORDER BY seq")).all()]


async def test_a_run_with_tools_records_its_side_effects_in_this_database(db: Engine, tmp_path: Path) -> None:
    from flowdeck.engine.workflow import parse_workflow
    from flowdeck.models.scripted import ScriptedCaller
    from flowdeck.runner import Runner
    from flowdeck.runner.tooling import RunTools
    from flowdeck.storage import RunLog

    tools = RunTools(db=db, workspaces=tmp_path / "workspaces", secret=lambda _name: None, secret_values=tuple)
    log = RunLog(db)
    runner = Runner(log, ScriptedCaller(), default_model="scripted", tools=tools)
    calls = [f'CALL write_file {{"path": "part{n}.md", "content": "part {n}"}}' for n in (1, 2)]
    writer = {"system_prompt": "\n".join(calls), "tools": ["write_file"]}
    workflow = parse_workflow(
        {"format": 2, "name": "parts", "nodes": [{"id": "w", "type": "custom", "config": writer}], "edges": []}
    )
    try:
        run_id = await runner.start(workflow)
        assert (await runner.wait(run_id)).status == "succeeded"
    finally:
        await runner.close()
        log.close()
    effects = effects_of(db, run_id)
    assert [(json.loads(e.arguments)["path"], e.status, e.attempt) for e in effects] == [
        ("part1.md", "ok", 1),
        ("part2.md", "ok", 1),
    ]
    assert sorted(p.name for p in (tmp_path / "workspaces" / run_id).iterdir()) == ["part1.md", "part2.md"]


def test_doctor_says_whether_the_log_is_still_append_only(db: Engine) -> None:
    from flowdeck.storage.health import check_database

    url = db.url.render_as_string(hide_password=False)
    [ok] = [f for f in check_database(url) if f.topic == "side effects"]
    assert ok.level == "ok"
    dropped = "side_effects_no_replace" if db.dialect.name == "sqlite" else "side_effects_no_truncate"
    drop = f"DROP TRIGGER {dropped}" + ("" if db.dialect.name == "sqlite" else " ON side_effects")
    with db.begin() as conn:
        conn.execute(text(drop))
    [problem] = [f for f in check_database(url) if f.topic == "side effects"]
    assert problem.level == "problem" and f"its triggers {dropped} were dropped" in problem.text
