"""What went wrong with the database, in words a person can act on: the one place that reads the drivers' errors."""

from __future__ import annotations

import os
import pwd
import sqlite3
import stat
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from flowdeck.errors import StorageError

# (kind, words in the driver's message that show it, what it means). First match wins: "locked" before "read-only".
_KINDS: list[tuple[str, tuple[str, ...], str]] = [
    ("locked", ("database is locked", "database is busy", "database table is locked"), "the database is locked"),
    ("read_only", ("readonly database", "read-only", "readonly"), "the database cannot be written (read-only)"),
    ("full", ("database or disk is full", "no space left", "disk quota"), "the disk is full"),
    ("corrupt", ("malformed", "not a database", "could not decode", "corrupt"), "the database file is damaged"),
    ("io", ("disk i/o error", "input/output error", "file too large"), "the disk refused a read or write (I/O error)"),
    ("cannot_open", ("unable to open database", "could not connect", "connection refused"), "cannot open the database"),
]


def storage_error(exc: BaseException | str, url: str, *, doing: str) -> StorageError:
    """A StorageError for a driver's or SQLAlchemy's exception (or its message): what is wrong, while `doing` what,
    and what to do."""
    if isinstance(exc, StorageError):
        return exc
    cause = exc if isinstance(exc, str) else _cause(exc)
    low = cause.lower()
    kind, what = next(((k, w) for k, words, w in _KINDS if any(word in low for word in words)), ("other", ""))
    path = sqlite_path(url)
    where = str(path) if path is not None else redact(url)
    head = f"{what} while {doing}" if what else f"the database failed while {doing}"
    return StorageError(f"{head} ({where}: {cause}); {advice(kind, url)}", kind=kind)


def advice(kind: str, url: str) -> str:
    """What to do about a fault of this kind."""
    path = sqlite_path(url)
    folder = str(path.parent) if path is not None else "the database server's data folder"
    file = str(path) if path is not None else "the database"
    return {
        "locked": "another program holds its write lock (a second flowdeck, a backup, an open sqlite3 shell): "
        "close it or wait, then try again",
        "read_only": f"make {file} and its folder {folder} writable by this user (chmod u+w, chattr -i), "
        "or set FLOWDECK_HOME to a writable folder",
        "full": f"free some space on the disk that holds {folder} (see `flowdeck doctor`), then try again",
        "io": f"check the disk that holds {folder} (free space, file size limits such as `ulimit -f`, the system log)",
        "corrupt": f"nothing was changed; keep a copy of {file}, run `flowdeck doctor`, and restore a backup "
        "or recover it with `sqlite3 FILE .recover`",
        "cannot_open": f"check that {folder} exists and this user may read and write it (see `flowdeck doctor`)",
    }.get(kind, "run `flowdeck doctor` to check the data folder and the database")


def unreadable_folder(path: Path) -> StorageError | None:
    """A StorageError if this user cannot read the folder that holds `path` (another user's private data folder):
    found before anything looks inside it, where each look would fail with a bare PermissionError."""
    folder = path.parent
    if not folder.is_dir() or os.access(folder, os.R_OK | os.X_OK):
        return None
    return StorageError(
        f"cannot read {folder}, the folder that holds the database ({ownership(folder)}); "
        "run flowdeck as the user it belongs to, make it readable and writable by this user, "
        "or set FLOWDECK_HOME to a folder of this user's",
        kind="cannot_open",
    )


def ownership(path: Path) -> str:
    """Its mode, and its owner when that is not this user: e.g. "dr-x------, owned by root"."""
    info = path.stat()
    mode = stat.filemode(info.st_mode)
    if info.st_uid == os.geteuid():
        return mode
    try:
        owner = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        owner = f"user id {info.st_uid}"
    return f"{mode}, owned by {owner}"


def is_storage_fault(exc: BaseException) -> bool:
    """Whether `exc` came from the database or the disk (rather than from a bug)."""
    return isinstance(exc, StorageError | SQLAlchemyError | sqlite3.Error | OSError) or type(exc).__module__.startswith(
        "psycopg"
    )


def sqlite_path(url: str) -> Path | None:
    """The database file of an SQLite URL (None for PostgreSQL or an in-memory database)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if not parsed.drivername.startswith("sqlite") or not parsed.database or parsed.database == ":memory:":
        return None
    database = parsed.database.removeprefix("file:")
    return Path(database)


def redact(url: str) -> str:
    """The URL with any password masked."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        credentials, _, host = rest.rpartition("@")
        user = credentials.partition(":")[0]
        rest = f"{user}:***@{host}" if ":" in credentials else f"{user}@{host}"
    return f"{scheme}{sep}{rest}"


def _cause(exc: BaseException) -> str:
    """The driver's own message, without SQLAlchemy's SQL and background link."""
    original = getattr(exc, "orig", None)
    if isinstance(original, BaseException):
        exc = original
    text = str(exc).split("\n", 1)[0].strip()
    return (text[:200] + "…" if len(text) > 200 else text) or type(exc).__name__
