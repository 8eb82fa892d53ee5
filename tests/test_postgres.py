"""The same storage against a real PostgreSQL server (CI starts one; set FLOWDECK_TEST_POSTGRES_URL locally)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, text

from flowdeck.config import Settings
from flowdeck.engine.workflow import Workflow
from flowdeck.runner import recover_interrupted
from flowdeck.services import Services, open_services
from flowdeck.templates import load_template

ADMIN_URL = os.environ.get("FLOWDECK_TEST_POSTGRES_URL", "")


@pytest.fixture
async def pg_services(settings: Settings) -> AsyncIterator[Services]:
    if not ADMIN_URL:
        if os.environ.get("FLOWDECK_REQUIRE_POSTGRES"):
            pytest.fail("FLOWDECK_REQUIRE_POSTGRES is set but FLOWDECK_TEST_POSTGRES_URL is not")
        pytest.skip("no PostgreSQL server configured (FLOWDECK_TEST_POSTGRES_URL)")
    name = f"flowdeck_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    services = await asyncio.to_thread(open_services, replace(settings, database_url=url))
    try:
        yield services
    finally:
        await services.runner.close()
        services.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


async def test_runs_are_stored_and_replayed_gaplessly_on_postgres(pg_services: Services, chain: Workflow) -> None:
    runner = pg_services.runner
    run_id = await runner.start(load_template("fan-out-review"), model="scripted/delay=0.005")
    first = []
    async for event in runner.subscribe(run_id):
        first.append(event)
        if len(first) == 5:
            break
    rest = [e async for e in runner.subscribe(run_id, after_seq=first[-1].seq)]
    seqs = [e.seq for e in first + rest]
    assert seqs == list(range(1, len(seqs) + 1))
    summary = await asyncio.to_thread(pg_services.runs.get, run_id)
    assert summary.status == "succeeded"
    stored = await asyncio.to_thread(pg_services.runs.events, run_id)
    assert [e.seq for e in stored] == seqs
    outputs = await asyncio.to_thread(pg_services.runs.outputs, run_id)
    assert set(outputs) == {"researcher", "simple_coder", "fast_coder", "reviewer"}


async def test_workflows_round_trip_and_recovery_is_a_no_op_on_postgres(pg_services: Services) -> None:
    workflow = load_template("spec-code-tests")
    workflow_id = await asyncio.to_thread(pg_services.workflows.save, workflow)
    saved = await asyncio.to_thread(pg_services.workflows.get, workflow_id)
    assert saved.workflow == workflow
    assert await asyncio.to_thread(recover_interrupted, pg_services.runs) == []


async def test_runs_keep_the_longest_workflow_identity_after_migrating_on_postgres(pg_services: Services) -> None:
    from flowdeck.engine.identity import IDENTITY_LIMIT
    from flowdeck.storage import db

    with pg_services.engine.begin() as conn:  # as the database was before 0005
        conn.execute(text("ALTER TABLE runs ALTER COLUMN workflow_id TYPE VARCHAR(32)"))
        conn.execute(text("DELETE FROM migrations WHERE name = '0005_workflow_identities'"))
    assert await asyncio.to_thread(db.migrate, pg_services.engine) == ["0005_workflow_identities"]
    identity = "file:/" + "x" * (IDENTITY_LIMIT - 6)
    run_id = await pg_services.runner.start(load_template("spec-code-tests"), model="scripted", workflow_id=identity)
    assert (await pg_services.runner.wait(run_id)).status == "succeeded"
    assert await asyncio.to_thread(pg_services.runner.latest, identity) == run_id


async def test_a_database_from_before_0008_takes_compensation_attempts_on_postgres(pg_services: Services) -> None:
    from flowdeck.storage import db
    from flowdeck.storage.compensations import compensations_of, record
    from flowdeck.storage.trust import TrustStore

    with pg_services.engine.begin() as conn:  # as the database was before 0008: a 10-character phase, no trust table
        conn.execute(text("ALTER TABLE side_effects ALTER COLUMN phase TYPE VARCHAR(10)"))
        conn.execute(text("DROP TABLE trust"))
        conn.execute(text(f"DELETE FROM migrations WHERE name = '{db.TRUST_MIGRATION}'"))
    assert await asyncio.to_thread(db.migrate, pg_services.engine) == [db.TRUST_MIGRATION]

    effect = SimpleNamespace(key="r1:w:1:1", node_id="w", execution=1, tool="write_file")
    await asyncio.to_thread(record, pg_services.engine, "r1", effect, "blocked", {"reason": "untrusted"}, ())
    [entry] = await asyncio.to_thread(compensations_of, pg_services.engine, ["r1:w:1:1"])
    assert (entry.status, entry.message) == ("blocked", "untrusted")
    trust = TrustStore(pg_services.engine)
    await asyncio.to_thread(trust.approve, "a" * 64, "mcp_server", {"command": ["notes"]}, "ann")
    assert await asyncio.to_thread(trust.approved, "a" * 64)
