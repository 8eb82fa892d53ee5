"""Storage faults for tests: the CLI in a process of its own, files made read-only, damaged, locked."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "FLOWDECK_"))}
    env.update(FLOWDECK_HOME=str(home), FLOWDECK_MODEL="scripted", LITELLM_LOCAL_MODEL_COST_MAP="True")
    env["FLOWDECK_SCRIPTED_DIRECT"] = "1"  # storage is under test, not litellm: skip loading it
    env.update(extra)
    return env


def cli(home: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 120) -> tuple[int, str, str]:
    """`flowdeck ARGS` in a process of its own (as a person runs it); its exit code, stdout and stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "flowdeck.cli", *args],
        env=dict(env or cli_env(home)),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done.returncode, done.stdout, done.stderr


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """The file or folder cannot be written, even by root: chattr +i as root (who ignores modes), else chmod."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        return
    mode = path.stat().st_mode
    path.chmod(0o500 if path.is_dir() else 0o400)
    try:
        yield
    finally:
        path.chmod(mode)


@contextmanager
def write_lock(database: Path) -> Iterator[None]:
    """Another program holding the database's write lock (as an open sqlite3 shell in a transaction does)."""
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def overwrite(path: Path, offset: int, data: bytes) -> None:
    with path.open("r+b") as handle:
        handle.seek(offset)
        handle.write(data)


def page_of(database: Path, table: str) -> int:
    """The byte offset of a table's root page in the file."""
    conn = sqlite3.connect(database)
    try:
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
        (size,) = conn.execute("PRAGMA page_size").fetchone()
    finally:
        conn.close()
    return int((root - 1) * size)
