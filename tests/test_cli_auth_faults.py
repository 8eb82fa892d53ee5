"""`flowdeck auth ...` when the database cannot be written (issue 20): one line saying what to do, no traceback, and
a changed password never leaves the old sessions logged in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from flowdeck.auth import Authenticator, CredentialStore
from flowdeck.config import ensure_home, load_settings
from flowdeck.storage import open_database
from flowdeck.storage.sessions import SessionStore
from tests.storagefaults import cli, cli_env, write_lock

OLD, NEW = "the old editor password", "the new editor password"


def _session(home: Path) -> tuple[SessionStore, str]:
    """A flowdeck with an editor password and one logged-in session (its cookie)."""
    done = subprocess.run(
        [sys.executable, "-m", "flowdeck.cli", "auth", "set-password", "--stdin"],
        input=OLD + "\n",
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    settings = load_settings(env_file=None)  # FLOWDECK_HOME is `home` (the fixture)
    ensure_home(settings)
    sessions = SessionStore(open_database(settings.database_url), CredentialStore(home).storage_secret())
    return sessions, sessions.create("editor")


def _set_password(home: Path, password: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flowdeck.cli", "auth", "set-password", "--stdin"],
        input=password + "\n",
        env=cli_env(home, FLOWDECK_BUSY_TIMEOUT="0.5"),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_set_password_on_a_locked_database_changes_nothing_and_says_what_to_do(home: Path) -> None:
    sessions, cookie = _session(home)
    with write_lock(home / "flowdeck.db"):
        done = _set_password(home, NEW)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.count("error: ") == 1 and "locked" in done.stderr and "try again" in done.stderr, done.stderr
    settings = load_settings(env_file=None)
    authenticator = Authenticator(settings, CredentialStore(home))
    assert authenticator.login(NEW) is None  # no change at all: the old password, and its sessions, still hold
    assert authenticator.login(OLD) == "editor"
    assert sessions.role_of(cookie) == "editor"
    done = _set_password(home, NEW)  # once the lock is gone, it works and ends the old sessions
    assert done.returncode == 0, done.stderr
    assert sessions.role_of(cookie) is None


def test_logout_all_on_a_locked_database_is_one_line(home: Path) -> None:
    sessions, cookie = _session(home)
    with write_lock(home / "flowdeck.db"):
        code, _, err = cli(home, "auth", "logout-all", env=cli_env(home, FLOWDECK_BUSY_TIMEOUT="0.5"))
    assert code == 2 and "Traceback" not in err, err
    assert err.count("error: ") == 1 and "locked" in err and "try again" in err, err
    assert sessions.role_of(cookie) == "editor"
