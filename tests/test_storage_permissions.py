"""A data folder this user cannot write, as a user that is not root (root ignores modes, so the other storage tests
make files immutable instead): `runs`, `runs show`, `run` and `doctor` each say what is wrong in clear lines, with no
traceback, and nothing stored is changed or lost.

As root, the commands run as `nobody` (setpriv); as another user, as that user, on a folder of its own."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.storagefaults import cli, cli_env

NOBODY = "nobody"


@dataclass(frozen=True)
class Folder:
    home: Path
    run_id: str
    others: bool  # the folder belongs to another user (not only made read-only by its own)


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temporary folder `nobody` can reach (pytest's own are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="flowdeck-perm-"))
    path.chmod(0o755)
    yield path
    for folder in [path, *path.rglob("*")]:  # as a user other than root, a folder made read-only stays so
        if folder.is_dir():
            folder.chmod(0o700)
    shutil.rmtree(path)


def _as_user() -> list[str]:
    """The command prefix that drops root, or nothing when this is not root."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv (util-linux) to become another user")
    return [setpriv, f"--reuid={NOBODY}", "--regid=nogroup", "--clear-groups"]


def _cli(folder: Folder, *args: str) -> tuple[int, str, str]:
    env = cli_env(folder.home, HOME=str(folder.home.parent))
    done = subprocess.run(
        [*_as_user(), sys.executable, "-m", "flowdeck.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )
    return done.returncode, done.stdout, done.stderr


def _state(home: Path) -> dict[str, str]:
    """Every file of the data folder and a digest of its bytes (as root: it may be unreadable to the user)."""
    return {
        str(path.relative_to(home)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(home.rglob("*"))
        if path.is_file()
    }


def _made(shared_tmp: Path, others: bool) -> Folder:
    home = shared_tmp / "home"
    code, _, err = cli(home, "run", "research-code-review", "-m", "scripted")
    assert code == 0, err
    _, out, _ = cli(home, "runs")
    run_id = out.splitlines()[1].split()[0]
    if os.geteuid() == 0 and not others:
        subprocess.run(["chown", "-R", f"{NOBODY}:nogroup", str(home)], check=True)
    for path in [home, *home.rglob("*")]:
        path.chmod(0o500 if path.is_dir() else 0o400)  # read-only to its owner; nothing to others
    return Folder(home=home, run_id=run_id, others=others)


@pytest.fixture
def read_only_own(shared_tmp: Path) -> Folder:
    """The user's own data folder, made read-only (chmod -R a-w)."""
    return _made(shared_tmp, others=False)


@pytest.fixture
def another_users(shared_tmp: Path) -> Folder:
    """A data folder of another user (root's), private to it: this user can neither read nor write it."""
    if os.geteuid() != 0:
        pytest.skip("not root: no other user's folder can be made here to test with")
    return _made(shared_tmp, others=True)


def test_a_read_only_data_folder_of_ones_own_reads_runs_refuses_new_ones_and_doctor_checks_it(
    read_only_own: Folder,
) -> None:
    folder = read_only_own
    before = _state(folder.home)
    code, out, err = _cli(folder, "runs")
    assert code == 0, err
    assert folder.run_id in out and "succeeded" in out
    code, out, err = _cli(folder, "runs", "show", folder.run_id)
    assert code == 0, err
    assert "=== reviewer ===" in out
    code, out, err = _cli(folder, "run", "research-code-review", "-m", "scripted")
    assert code == 2 and "Traceback" not in err, err
    assert err.count("error: ") == 1 and "cannot be written (read-only)" in err and "FLOWDECK_HOME" in err
    code, out, err = _cli(folder, "doctor")
    assert code == 1 and "Traceback" not in out + err, out + err
    lines = {line.split()[1]: line for line in out.splitlines() if line[:7] in ("ok     ", "warning", "PROBLEM")}
    assert lines["data"].startswith("PROBLEM") and "cannot be written by this user" in lines["data"]
    # The database is still checked, read-only: it is not itself a problem, and its events read back.
    assert lines["integrity"].startswith("ok") and "quick_check: ok" in lines["integrity"], out
    assert lines["events"].startswith("ok") and "read back" in lines["events"], out
    assert not any(line.startswith("PROBLEM  database") for line in out.splitlines()), out
    assert _state(folder.home) == before


def test_another_users_private_data_folder_is_said_in_one_line_without_a_traceback(another_users: Folder) -> None:
    folder = another_users
    before = _state(folder.home)
    for args in (["runs"], ["runs", "show", folder.run_id], ["run", "research-code-review", "-m", "scripted"]):
        code, out, err = _cli(folder, *args)
        assert code == 2 and "Traceback" not in err, (args, err)
        assert err.count("error: ") == 1, (args, err)
        assert f"cannot read {folder.home}, the folder that holds the database" in err, (args, err)
        assert "FLOWDECK_HOME" in err, (args, err)
        assert "owned by root" in err, (args, err)
    code, out, err = _cli(folder, "doctor")
    assert code == 1 and "Traceback" not in out + err, out + err
    assert f"PROBLEM  data folder  {folder.home} (dr-x------, owned by root) cannot be read by this user" in out, out
    assert _state(folder.home) == before
