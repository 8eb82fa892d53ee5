"""`flowdeck doctor`: the data folder, the database and the versions checked, without changing anything."""

from __future__ import annotations

import os
import platform
import shutil
import sqlite3
import stat
import sys
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import click

from flowdeck.storage.faults import ownership
from flowdeck.storage.health import Finding, check_database

LOW_SPACE = 512 * 1024 * 1024  # below this, a warning: a few long runs and the cache fill it
NO_SPACE = 64 * 1024 * 1024  # below this, a problem: writes may fail any moment
PRIVATE_FILES = ("provider_keys.json", "auth.json", "storage_secret", "secrets.json")  # this user only (0600)
_MARK = {"ok": "ok     ", "warning": "warning", "problem": "PROBLEM"}


@click.command("doctor")
@click.option("--full", is_flag=True, help="A full integrity check (slower on a large database).")
def doctor_command(full: bool) -> None:
    """Check the data folder, the database and the versions; exit 1 if something is wrong (each says what to do)."""
    from flowdeck.config import load_settings

    settings = load_settings()
    findings: list[Finding] = []
    for finding in [*_versions(), *_folder(settings.home), *check_database(settings.database_url, full=full)]:
        findings.append(finding)
        click.echo(f"{_MARK[finding.level]}  {finding.topic:<12} {finding.text}")
    problems = sum(f.level == "problem" for f in findings)
    warnings = sum(f.level == "warning" for f in findings)
    click.echo(f"\n{problems} problem{'s' * (problems != 1)}, {warnings} warning{'s' * (warnings != 1)}")
    sys.exit(1 if problems else 0)


def _versions() -> Iterator[Finding]:
    # importlib.metadata, not imports: litellm takes seconds to import.
    found = [f"python {platform.python_version()}", f"sqlite {sqlite3.sqlite_version}"]
    for package in ("flowdeck", "nicegui", "litellm", "sqlalchemy", "sqlmodel"):
        try:
            found.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            found.append(f"{package} not installed")
    yield Finding(level="ok", topic="versions", text=", ".join(found))


def _folder(home: Path) -> Iterator[Finding]:
    if not home.exists():
        yield Finding(level="ok", topic="data folder", text=f"{home} does not exist yet: the first command makes it")
        return
    if not home.is_dir():
        yield Finding(
            level="problem", topic="data folder", text=f"{home} is not a folder: move it, or set FLOWDECK_HOME"
        )
        return
    mode = home.stat().st_mode
    shown = f"{home} ({ownership(home)})"
    if not os.access(home, os.R_OK | os.X_OK):
        yield Finding(
            level="problem",
            topic="data folder",
            text=f"{shown} cannot be read by this user: no run can be listed or made; run flowdeck as the user it "
            "belongs to, or set FLOWDECK_HOME to a folder of this user's",
        )
        return
    if not os.access(home, os.W_OK | os.X_OK):
        yield Finding(
            level="problem",
            topic="data folder",
            text=f"{shown} cannot be written by this user: runs can be read, not made; {_make_writable(home)}",
        )
    elif mode & 0o077:
        yield Finding(
            level="warning",
            topic="data folder",
            text=f"{shown} can be read by others: chmod 700 {home} (any command does)",
        )
    else:
        yield Finding(level="ok", topic="data folder", text=f"{shown} private and writable")
    yield _space(home)
    # SQLite's -wal and -shm files too: a read-only -shm left after `chmod u+w flowdeck.db` still stops every run.
    for name in ("flowdeck.db", "flowdeck.db-wal", "flowdeck.db-shm", "cache"):
        path = home / name
        if path.exists() and not os.access(path, os.W_OK):
            yield Finding(
                level="problem",
                topic="permissions",
                text=f"{path} ({ownership(path)}) cannot be written by this user: {_make_writable(path)}",
            )
    for name in PRIVATE_FILES:
        path = home / name
        if path.exists() and not os.access(path, os.R_OK):
            yield Finding(
                level="problem",
                topic="permissions",
                text=f"{path} ({ownership(path)}) cannot be read by this user; it is not damaged, do not delete it: "
                f"{_make_readable(path)}",
            )
        elif path.exists() and path.stat().st_mode & 0o077:
            yield Finding(
                level="problem",
                topic="permissions",
                text=f"{path} ({stat.filemode(path.stat().st_mode)}) holds secrets and can be read by others: "
                f"chmod 600 {path}",
            )
        elif path.exists():
            yield Finding(level="ok", topic="permissions", text=f"{path} ({stat.filemode(path.stat().st_mode)})")


def _make_writable(path: Path) -> str:
    """What to do about a file or folder this user cannot write: its owner can chmod it; others cannot."""
    if path.stat().st_uid == os.geteuid():
        return f"make it writable (chmod u+w {path}, chattr -i) or set FLOWDECK_HOME to a writable folder"
    return "it belongs to another user: run flowdeck as that user, or set FLOWDECK_HOME to a folder of this user's"


def _make_readable(path: Path) -> str:
    if path.stat().st_uid == os.geteuid():
        return f"chmod 600 {path}"
    return f"run flowdeck as the user it belongs to, or have its owner give it to this user (chown; chmod 600 {path})"


def _space(home: Path) -> Finding:
    free = shutil.disk_usage(home).free
    amount = f"{free / 1024**3:.1f} GB" if free >= 1024**3 else f"{free / 1024**2:.1f} MB"
    text = f"{amount} free on the disk that holds {home}"
    if free < NO_SPACE:
        return Finding(level="problem", topic="disk", text=f"{text}: free some space, or runs cannot be stored")
    if free < LOW_SPACE:
        return Finding(level="warning", topic="disk", text=f"{text}: free some space soon")
    return Finding(level="ok", topic="disk", text=text)
