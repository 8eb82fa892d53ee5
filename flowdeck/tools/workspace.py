"""A run's workspace folder, the only place file tools read and write.

Paths are relative and plain (no "..", no absolute paths, no control characters, bounded length and depth). Every
folder on the way is opened relative to the previous one with O_NOFOLLOW, so a symlink anywhere in the path,
including one planted inside the workspace that points outside, is refused rather than followed; the file itself
must be a regular file with one link (no devices, FIFOs, sockets or hard links to files elsewhere). Writes go to a
temporary file renamed into place, within size and file-count caps."""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from flowdeck.engine.events import Record
from flowdeck.errors import FlowdeckError

__all__ = ["Artifact", "Workspace", "WorkspaceError", "artifacts"]

MAX_FILE_BYTES = 1_000_000  # a file read or written by a tool
MAX_FILES = 1_000  # files in one run's workspace
MAX_WORKSPACE_BYTES = 100_000_000
MAX_PATH_CHARS = 512
MAX_NAME_BYTES = 255
MAX_DEPTH = 16
_TEMP = ".flowdeck-tmp-"  # a write in progress; never listed
# Confinement needs each step opened relative to the last without following links (Linux, macOS, the BSDs).
_CONFINED = hasattr(os, "O_NOFOLLOW") and hasattr(os, "O_DIRECTORY") and os.open in os.supports_dir_fd
_DIR = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_EXAMPLE = "write a path inside the run's workspace, like notes/report.md"


class WorkspaceError(FlowdeckError):
    """A file tool refused a path or a file: outside the workspace, a symlink, not a regular file, too big."""


class Artifact(Record, frozen=True):
    """A file in a run's workspace, as listings and downloads show it."""

    path: str  # relative to the workspace, with "/" between folders
    size: int  # bytes
    modified: float  # seconds since the epoch


def artifacts(workspace: Path) -> list[Artifact]:
    """The files in a run's workspace (regular files only; symlinks are not followed), sorted by path."""
    if not workspace.is_dir():
        return []
    return Workspace(workspace).files()


class Workspace:
    """Confined file access under `root` (the run's workspace folder, created by the runner or on first write)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()  # the file-count cap holds when agents write in parallel

    def read(self, path: str) -> tuple[str, bytes]:
        """(the cleaned relative path, the file's bytes)."""
        parts = clean_path(path)
        with self._folder(parts[:-1], create=False) as folder:
            info = _lstat(folder, parts[-1], path)
            if info is None:
                raise WorkspaceError(f"{path} does not exist in the workspace: list_files shows what is there")
            _check_file(info, path)
            if info.st_size > MAX_FILE_BYTES:
                raise WorkspaceError(f"{path} is {info.st_size:,} bytes, over the {MAX_FILE_BYTES:,}-byte read limit")
            fd = _open(parts[-1], os.O_RDONLY | os.O_NONBLOCK, folder, path)
            try:
                _same(info, os.fstat(fd), path)
                with os.fdopen(fd, "rb", closefd=False) as file:
                    data = file.read(MAX_FILE_BYTES + 1)
            finally:
                os.close(fd)
        if len(data) > MAX_FILE_BYTES:
            raise WorkspaceError(f"{path} grew over the {MAX_FILE_BYTES:,}-byte read limit while it was read")
        return "/".join(parts), data

    def write(self, path: str, data: bytes) -> str:
        """Write (or replace) a file; its cleaned relative path."""
        parts = clean_path(path)
        if len(data) > MAX_FILE_BYTES:
            raise WorkspaceError(
                f"the content is {len(data):,} bytes, over the {MAX_FILE_BYTES:,}-byte limit of a file: write less, "
                "or split it into several files"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock:
            entries, total = self._usage()
            if entries >= MAX_FILES and self._size_of(parts) is None:
                raise WorkspaceError(
                    f"the workspace already holds {entries} files and folders, the most a run may make"
                )
            with self._folder(parts[:-1], create=True) as folder:
                info = _lstat(folder, parts[-1], path)
                if info is not None:
                    _check_file(info, path)
                if total - (info.st_size if info else 0) + len(data) > MAX_WORKSPACE_BYTES:
                    raise WorkspaceError(f"the workspace would pass {MAX_WORKSPACE_BYTES:,} bytes with this file")
                try:
                    _replace(folder, parts[-1], data)
                except OSError as e:
                    raise WorkspaceError(f"{path} could not be written ({os.strerror(e.errno or 0)})") from None
        return "/".join(parts)

    def remove(self, path: str, sha256: str) -> str:
        """Delete a file if it is still the one with this SHA-256 (what a compensation undoes); its cleaned path."""
        parts = clean_path(path)
        with self._lock, self._folder(parts[:-1], create=False) as folder:
            info = _lstat(folder, parts[-1], path)
            if info is None:
                raise WorkspaceError(f"{path} is no longer in the workspace: nothing to delete")
            _check_file(info, path)
            fd = _open(parts[-1], os.O_RDONLY | os.O_NONBLOCK, folder, path)
            try:
                _same(info, os.fstat(fd), path)
                with os.fdopen(fd, "rb", closefd=False) as file:
                    found = hashlib.sha256(file.read(MAX_FILE_BYTES + 1)).hexdigest()
            finally:
                os.close(fd)
            if found != sha256:
                raise WorkspaceError(f"{path} changed after the run wrote it: it was left as it is")
            os.unlink(parts[-1], dir_fd=folder)
        return "/".join(parts)

    def files(self, path: str = "") -> list[Artifact]:
        """Regular files under `path` (the whole workspace by default), sorted; symlinks are not followed."""
        parts = clean_path(path) if path.strip(" ./") else ()
        if not parts and not self.root.is_dir():
            return []  # nothing written yet
        found: list[Artifact] = []
        with self._folder(parts, create=False) as folder:
            for top, _dirs, names, top_fd in os.fwalk(".", dir_fd=folder, follow_symlinks=False):
                for name in names:
                    if name.startswith(_TEMP):
                        continue
                    info = _lstat(top_fd, name, name)
                    if info is not None and stat.S_ISREG(info.st_mode):
                        relative = os.path.normpath(os.path.join(*parts, top, name))
                        found.append(Artifact(path=relative, size=info.st_size, modified=info.st_mtime))
        return sorted(found, key=lambda a: a.path)

    def _usage(self) -> tuple[int, int]:
        """(files and folders, bytes of the files) in the whole workspace."""
        folders = 0
        with self._folder((), create=False) as folder:
            for _top, dirs, _names, _fd in os.fwalk(".", dir_fd=folder, follow_symlinks=False):
                folders += len(dirs)
        files = self.files()
        return len(files) + folders, sum(f.size for f in files)

    def _size_of(self, parts: tuple[str, ...]) -> int | None:
        """The size of an existing regular file at `parts`, None when there is none (or its folder is missing)."""
        try:
            with self._folder(parts[:-1], create=False) as folder:
                info = _lstat(folder, parts[-1], "/".join(parts))
        except WorkspaceError:
            return None
        return info.st_size if info is not None and stat.S_ISREG(info.st_mode) else None

    @contextmanager
    def _folder(self, parts: tuple[str, ...], *, create: bool) -> Iterator[int]:
        """A descriptor of the folder `parts` inside the workspace, each step opened with O_NOFOLLOW."""
        if not _CONFINED:
            raise WorkspaceError("file tools are off on this system: it cannot open files without following links")
        try:
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise WorkspaceError("the run's workspace has no files yet: nothing has been written") from None
        try:
            for i, part in enumerate(parts):
                shown = "/".join(parts[: i + 1])
                if create and _lstat(fd, part, shown) is None:
                    with suppress(FileExistsError):  # another agent's write made it first
                        os.mkdir(part, 0o755, dir_fd=fd)
                step = _open(part, _DIR, fd, shown)
                os.close(fd)
                fd = step
            yield fd
        finally:
            os.close(fd)


def _replace(folder: int, name: str, data: bytes) -> None:
    """Write `data` to a new temporary file, then rename it over `name`: a reader never sees half a file."""
    temp = f"{_TEMP}{secrets.token_hex(8)}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=folder)
    try:
        with os.fdopen(fd, "wb", closefd=False) as file:
            file.write(data)
            file.flush()
            os.fsync(fd)
        os.replace(temp, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp, dir_fd=folder)
        raise
    finally:
        os.close(fd)


def clean_path(path: str) -> tuple[str, ...]:
    """The folders and name of a workspace-relative path, or WorkspaceError naming what is wrong with it."""
    if not isinstance(path, str) or not path.strip():
        raise WorkspaceError(f"the path is empty: {_EXAMPLE}")
    if len(path) > MAX_PATH_CHARS:
        raise WorkspaceError(f"the path is {len(path)} characters long, over {MAX_PATH_CHARS}: use a shorter one")
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise WorkspaceError(f"the path {path!r} contains a control character (or NUL): use plain characters")
    if "\\" in path:
        raise WorkspaceError(f"the path {path!r} contains a backslash: separate folders with /")
    if path.startswith(("/", "~")):
        raise WorkspaceError(f"{path} is an absolute path: file tools only reach the run's workspace; {_EXAMPLE}")
    parts = tuple(p for p in path.split("/") if p not in ("", "."))
    if ".." in parts:
        raise WorkspaceError(f'{path} goes up with "..": file tools only reach the run\'s workspace; {_EXAMPLE}')
    if not parts:
        raise WorkspaceError(f"{path!r} names the workspace itself, not a file: {_EXAMPLE}")
    if len(parts) - 1 > MAX_DEPTH:
        raise WorkspaceError(f"{path} is {len(parts) - 1} folders deep, over {MAX_DEPTH}: use fewer folders")
    for part in parts:
        if len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            raise WorkspaceError(f"a name in {path} is longer than {MAX_NAME_BYTES} bytes")
        if part.startswith(_TEMP):
            raise WorkspaceError(f"names starting with {_TEMP} are reserved for writes in progress")
    return parts


def _open(name: str, flags: int, folder: int, shown: str) -> int:
    try:
        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
    except FileNotFoundError:
        raise WorkspaceError(f"{shown} does not exist in the workspace: list_files shows what is there") from None
    except OSError as e:
        info = _lstat(folder, name, shown)
        if e.errno == errno.ELOOP or (info is not None and stat.S_ISLNK(info.st_mode)):
            raise WorkspaceError(f"{shown} is a symbolic link: file tools do not follow links") from None
        if e.errno == errno.ENOTDIR:
            raise WorkspaceError(f"{shown} is not a folder in the workspace") from None
        raise WorkspaceError(f"{shown} cannot be opened ({os.strerror(e.errno or 0)})") from None


def _lstat(folder: int, name: str, shown: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise WorkspaceError(f"{shown} cannot be read ({os.strerror(e.errno or 0)})") from None


def _check_file(info: os.stat_result, shown: str) -> None:
    """A regular file with a single link; anything else is refused before it is opened."""
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        raise WorkspaceError(f"{shown} is a symbolic link: file tools do not follow links")
    if stat.S_ISDIR(mode):
        raise WorkspaceError(f"{shown} is a folder, not a file: list_files shows what is in it")
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device file"
        raise WorkspaceError(f"{shown} is {kind}, not a regular file: file tools only read and write regular files")
    if info.st_nlink > 1:
        raise WorkspaceError(f"{shown} has other hard links (it may be a file outside the workspace): refused")


def _same(before: os.stat_result, after: os.stat_result, shown: str) -> None:
    if (before.st_dev, before.st_ino) != (after.st_dev, after.st_ino) or not stat.S_ISREG(after.st_mode):
        raise WorkspaceError(f"{shown} changed while it was opened: try again")
