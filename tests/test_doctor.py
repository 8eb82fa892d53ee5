"""`flowdeck doctor`: each finding, and its exit code (1 when something is wrong)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowdeck.cli import main
from tests.storagefaults import overwrite, page_of, read_only, write_lock


def doctor(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["doctor", *args], catch_exceptions=False)
    return result.exit_code, result.stdout


def finding(out: str, topic: str) -> str:
    """The line(s) about `topic`."""
    return "\n".join(line for line in out.splitlines() if line.split()[1:2] == topic.split()[:1])


@pytest.fixture
def ran(home: Path) -> Path:
    """A data folder with one finished run."""
    result = CliRunner().invoke(main, ["run", "research-code-review", "-m", "scripted"], catch_exceptions=False)
    assert result.exit_code == 0
    return home


def test_a_healthy_data_folder_is_all_ok(ran: Path) -> None:
    code, out = doctor()
    assert code == 0, out
    assert "0 problems, 0 warnings" in out
    versions = finding(out, "versions")
    assert all(f"{name} " in versions for name in ("python", "flowdeck", "nicegui", "litellm", "sqlite"))
    assert "private and writable" in finding(out, "data folder") and "GB free" in finding(out, "disk")
    assert "quick_check: ok" in finding(out, "integrity")
    assert "all " in finding(out, "migrations") and "read back" in finding(out, "events")
    assert "free" in finding(out, "lock")
    code, out = doctor("--full")
    assert code == 0 and "integrity_check: ok" in out


def test_a_damaged_page_is_an_integrity_problem(ran: Path) -> None:
    db = ran / "flowdeck.db"
    overwrite(db, page_of(db, "event_batches") + 8, b"\xff" * 2000)
    code, out = doctor()
    assert code == 1
    assert finding(out, "integrity").startswith("PROBLEM") and "sqlite3 FILE .recover" in out


def test_damaged_event_data_is_found_by_reading_the_events_back(ran: Path) -> None:
    db = ran / "flowdeck.db"
    overwrite(db, db.read_bytes().index(b'"type":"node_finished"'), b"\xff" * 64)
    code, out = doctor()
    assert code == 1
    assert "quick_check: ok" in out  # SQLite's own check cannot see it
    assert finding(out, "events").startswith("PROBLEM") and "cannot read the events of run" in out


def test_a_secrets_file_others_can_read_is_a_problem(ran: Path) -> None:
    result = CliRunner().invoke(main, ["keys", "set", "OPENAI_API_KEY", "--stdin"], input="sk-test-0123456789\n")
    assert result.exit_code == 0
    keys = ran / "provider_keys.json"
    assert doctor()[0] == 0
    keys.chmod(0o644)
    code, out = doctor()
    assert code == 1
    assert f"chmod 600 {keys}" in finding(out, "permissions")


def test_a_saved_secrets_file_others_can_read_is_a_problem(ran: Path) -> None:
    result = CliRunner().invoke(main, ["secrets", "set", "HOOK_TOKEN", "--stdin"], input="tok-0123456789\n")
    assert result.exit_code == 0, result.output
    saved = ran / "secrets.json"
    assert doctor()[0] == 0
    saved.chmod(0o640)
    code, out = doctor()
    assert code == 1
    assert f"chmod 600 {saved}" in finding(out, "permissions")


def test_a_side_effect_log_whose_triggers_were_dropped_is_a_problem(ran: Path) -> None:
    assert "append-only" in finding(doctor()[1], "side effects")
    with sqlite3.connect(ran / "flowdeck.db") as conn:
        conn.execute("DROP TRIGGER side_effects_no_delete")
    code, out = doctor()
    assert code == 1
    assert "no longer append-only: its triggers side_effects_no_delete were dropped" in finding(out, "side effects")


def test_a_read_only_data_folder_is_a_problem(ran: Path) -> None:
    with read_only(ran):
        code, out = doctor()
    assert code == 1
    assert "cannot be written by this user" in finding(out, "data folder")


def test_a_data_folder_others_can_read_is_a_warning(ran: Path) -> None:
    ran.chmod(0o755)
    code, out = doctor()
    assert code == 0
    assert finding(out, "data folder").startswith("warning") and f"chmod 700 {ran}" in out


def test_a_lock_held_by_another_program_is_a_warning(ran: Path) -> None:
    with write_lock(ran / "flowdeck.db"):
        code, out = doctor()
    assert code == 0
    assert finding(out, "lock").startswith("warning") and "another program" in out


def test_a_nearly_full_disk_is_a_problem(ran: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    usage = shutil.disk_usage(ran)
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: usage._replace(free=10 * 1024 * 1024))
    code, out = doctor()
    assert code == 1
    assert finding(out, "disk").startswith("PROBLEM") and "free some space" in out


def test_a_database_from_a_newer_flowdeck_is_a_problem(ran: Path) -> None:
    with sqlite3.connect(ran / "flowdeck.db") as conn:
        conn.execute("INSERT INTO migrations (name, applied_at) VALUES ('0099_future', 0)")
    code, out = doctor()
    assert code == 1
    assert "0099_future" in finding(out, "migrations") and "upgrade flowdeck" in out


def test_the_database_url_is_shown_with_its_password_masked(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWDECK_DATABASE_URL", "postgresql+psycopg://fd:s3cret-pw@127.0.0.1:9/fd?connect_timeout=2")
    code, out = doctor()
    assert code == 1  # nothing listens there
    assert "fd:***@127.0.0.1:9/fd" in out and "s3cret" not in out
    assert finding(out, "database").count("PROBLEM") == 1
