"""read_file, write_file and list_files stay inside the run's workspace: traversal, absolute paths, symlinks planted
inside it, special files, odd names and oversized files are refused with a reason, and nothing outside is read,
written or created."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import stat
from pathlib import Path
from typing import Any

import pytest

from flowdeck.engine.tools import ToolCall, ToolContext, ToolResult
from flowdeck.tools import BuiltinToolbox, artifacts


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return tmp_path / "workspaces" / "r1"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file and a folder next to the workspace that no tool may touch."""
    (tmp_path / "outside").mkdir()
    secret = tmp_path / "outside" / "secret.txt"
    secret.write_text("outside secret")
    return secret


def toolbox(ws: Path) -> BuiltinToolbox:
    return BuiltinToolbox(workspace=ws, allowed_domains=(), secrets=lambda _: None)


def call(ws: Path, tool: str, **arguments: Any) -> ToolResult:
    """One call through the toolbox, as the engine makes it (synchronous tests: the set-up touches the disk)."""
    box = toolbox(ws)
    [spec] = box.specs([tool])
    context = ToolContext(run_id="r1", node_id="a", execution=1, key="r1:a:1:1")
    return asyncio.run(box.call(ToolCall(id="c1", name=tool, arguments=json.dumps(arguments)), spec, context))


def test_a_file_written_is_read_back_listed_and_an_artifact(ws: Path) -> None:
    written = call(ws, "write_file", path="notes/report.md", content="# Report\nAll good.\n")
    assert written.ok, written.content
    assert written.content == "wrote notes/report.md (19 bytes)"
    assert written.artifacts == ("notes/report.md",)
    digest = hashlib.sha256(b"# Report\nAll good.\n").hexdigest()
    assert written.detail == {"path": "notes/report.md", "bytes": 19, "sha256": digest}
    read = call(ws, "read_file", path="./notes//report.md")
    assert (read.ok, read.content) == (True, "# Report\nAll good.\n")
    listed = call(ws, "list_files")
    assert listed.content == "1 file in the workspace:\nnotes/report.md  (19 bytes)"
    [artifact] = artifacts(ws)
    assert (artifact.path, artifact.size) == ("notes/report.md", 19)
    assert [a.path for a in artifacts(ws.parent / "never-made")] == []


def test_writing_again_replaces_the_file(ws: Path) -> None:
    call(ws, "write_file", path="a.txt", content="first")
    call(ws, "write_file", path="a.txt", content="second")
    assert (ws / "a.txt").read_text() == "second"
    assert sorted(os.listdir(ws)) == ["a.txt"]  # no temporary file left behind


def test_an_empty_workspace_lists_nothing(ws: Path) -> None:
    result = call(ws, "list_files")
    assert (result.ok, result.content) == (True, "no files in the workspace")


PATHS = [
    ("../x", 'goes up with ".."'),
    ("notes/../../x", 'goes up with ".."'),
    ("/etc/passwd", "is an absolute path"),
    ("~/.ssh/id_rsa", "is an absolute path"),
    ("a\0b", "contains a control character (or NUL)"),
    ("a\nb.txt", "contains a control character (or NUL)"),
    ("a\\..\\b", "contains a backslash"),
    ("", "the path is empty"),
    (".", "names the workspace itself"),
    ("x" * 300, "a name in"),
    ("/".join(["d"] * 17) + "/f", "17 folders deep"),
    ("a/" * 300, "the argument 'path': String should have at most 512 characters"),
]


@pytest.mark.parametrize(("path", "reason"), PATHS)
def test_paths_that_leave_the_workspace_or_cannot_be_names_are_refused(
    ws: Path, outside: Path, path: str, reason: str
) -> None:
    for tool, extra in (("read_file", {}), ("write_file", {"content": "x"})):
        result = call(ws, tool, path=path, **extra)
        assert not result.ok
        assert reason in result.content, result.content
    assert outside.read_text() == "outside secret"
    assert not ws.exists() or list(ws.iterdir()) == []


def test_a_symlink_to_a_folder_outside_is_not_followed(ws: Path, outside: Path) -> None:
    ws.mkdir(parents=True)
    (ws / "etc").symlink_to("/etc")
    (ws / "out").symlink_to(outside.parent)
    for tool, path, extra in (
        ("read_file", "etc/passwd", {}),
        ("read_file", "out/secret.txt", {}),
        ("write_file", "out/new.txt", {"content": "planted"}),
        ("write_file", "out/secret.txt", {"content": "overwritten"}),
        ("list_files", "out", {}),
    ):
        result = call(ws, tool, path=path, **extra)
        assert not result.ok
        assert f"{path.split('/')[0]} is a symbolic link: file tools do not follow links" in result.content
    assert outside.read_text() == "outside secret"
    assert not (outside.parent / "new.txt").exists()


def test_a_symlink_to_a_file_outside_is_neither_read_nor_written_through(ws: Path, outside: Path) -> None:
    ws.mkdir(parents=True)
    (ws / "link.txt").symlink_to(outside)
    (ws / "passwd").symlink_to("/etc/passwd")
    for tool, path, extra in (
        ("read_file", "link.txt", {}),
        ("read_file", "passwd", {}),
        ("write_file", "link.txt", {"content": "overwritten"}),
    ):
        result = call(ws, tool, path=path, **extra)
        assert not result.ok
        assert f"{path} is a symbolic link: file tools do not follow links" in result.content
    assert outside.read_text() == "outside secret"
    assert (ws / "link.txt").is_symlink()
    listed = call(ws, "list_files")
    assert listed.content == "no files in the workspace"  # symlinks are not files of the run
    assert artifacts(ws) == []


def test_a_hard_link_to_a_file_outside_is_refused(ws: Path, outside: Path) -> None:
    ws.mkdir(parents=True)
    os.link(outside, ws / "hard.txt")
    for tool, extra in (("read_file", {}), ("write_file", {"content": "overwritten"})):
        result = call(ws, tool, path="hard.txt", **extra)
        assert "hard.txt has other hard links" in result.content
    assert outside.read_text() == "outside secret"


@pytest.mark.timeout(10)
def test_a_fifo_and_a_socket_are_refused_without_blocking(ws: Path) -> None:
    ws.mkdir(parents=True)
    os.mkfifo(ws / "pipe")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(ws / "sock"))
        for tool, extra in (("read_file", {}), ("write_file", {"content": "x"})):
            fifo = call(ws, tool, path="pipe", **extra)
            assert "pipe is a FIFO, not a regular file" in fifo.content
            unix = call(ws, tool, path="sock", **extra)
            assert "sock is a socket, not a regular file" in unix.content


def test_a_device_file_is_refused(ws: Path) -> None:
    ws.mkdir(parents=True)
    try:
        os.mknod(ws / "null", stat.S_IFCHR | 0o600, os.makedev(1, 3))  # /dev/null's numbers
    except PermissionError:
        pytest.skip("making a device file needs root (CAP_MKNOD)")
    for tool, extra in (("read_file", {}), ("write_file", {"content": "x"})):
        result = call(ws, tool, path="null", **extra)
        assert "null is a device file, not a regular file" in result.content
    assert stat.S_ISCHR(os.stat(ws / "null", follow_symlinks=False).st_mode)


def test_a_folder_is_not_a_file(ws: Path) -> None:
    call(ws, "write_file", path="d/f.txt", content="x")
    assert "d is a folder, not a file" in (call(ws, "read_file", path="d")).content
    assert "d is a folder, not a file" in (call(ws, "write_file", path="d", content="x")).content
    assert "d/f.txt is not a folder" in (call(ws, "write_file", path="d/f.txt/g", content="x")).content


def test_a_write_over_the_size_cap_is_refused_and_nothing_written(ws: Path) -> None:
    result = call(ws, "write_file", path="big.txt", content="x" * 10_000_000)
    assert not result.ok
    assert result.content == (
        "the content is 10,000,000 bytes, over the 1,000,000-byte limit of a file: write less, or split it into "
        "several files"
    )
    assert not (ws / "big.txt").exists()


def test_a_file_over_the_read_cap_or_not_text_is_refused(ws: Path) -> None:
    ws.mkdir(parents=True)
    (ws / "big.log").write_bytes(b"x" * 1_000_001)
    (ws / "image.png").write_bytes(bytes(range(256)))
    assert (
        "big.log is 1,000,001 bytes, over the 1,000,000-byte read limit"
        in (call(ws, "read_file", path="big.log")).content
    )
    assert "image.png is not UTF-8 text" in (call(ws, "read_file", path="image.png")).content


def test_a_long_file_is_given_to_the_model_cut(ws: Path) -> None:
    call(ws, "write_file", path="long.txt", content="y" * 50_000)
    result = call(ws, "read_file", path="long.txt")
    assert result.ok and result.content.endswith("[… cut at 20,000 characters of 50,000]")


def test_too_many_files_are_refused(ws: Path) -> None:
    ws.mkdir(parents=True)
    for i in range(1_000):
        (ws / f"f{i}.txt").write_text("x")
    result = call(ws, "write_file", path="one-more.txt", content="x")
    assert result.content == "the workspace already holds 1000 files and folders, the most a run may make"
    assert not (ws / "one-more.txt").exists()
    deep = call(ws, "write_file", path="new/deep/x.txt", content="x")
    assert "already holds 1000 files and folders" in deep.content
    assert not (ws / "new").exists()  # a refused write makes no folders either
    assert (call(ws, "write_file", path="f1.txt", content="replaced")).ok  # replacing one is fine
    listed = call(ws, "list_files")
    assert listed.content.startswith("1000 files in the workspace:") and listed.content.endswith("… and 500 more")


def test_missing_files_and_folders_say_how_to_find_what_is_there(ws: Path) -> None:
    call(ws, "write_file", path="a.txt", content="x")
    missing = call(ws, "read_file", path="nope/b.txt")
    assert missing.content == "nope does not exist in the workspace: list_files shows what is there"
