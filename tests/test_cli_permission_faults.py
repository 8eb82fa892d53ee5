"""Files of the data folder this user may not read or write (issue 20): `auth ...`, `keys list` and `doctor` say what
is wrong in one line, with no traceback, and never advise deleting a file that is only unreadable.

As root, the commands run as `nobody` (setpriv), as in tests/test_storage_permissions.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowdeck.cli import main
from tests.storagefaults import cli, cli_env


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temporary folder `nobody` can reach (pytest's own are private to root)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv (util-linux) to make files of one user and read them as another")
    path = Path(tempfile.mkdtemp(prefix="flowdeck-perm-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def _as_nobody(home: Path, *args: str) -> tuple[int, str, str]:
    done = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable, "-m", "flowdeck.cli", *args],
        env=cli_env(home, HOME=str(home.parent)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


def _made(shared_tmp: Path) -> Path:
    """A data folder with a password and a provider key, made by root and given to nobody."""
    home = shared_tmp / "home"
    env = cli_env(home)
    for args, text in (
        (["auth", "set-password", "--stdin"], "a long enough password"),
        (["keys", "set", "OPENAI_API_KEY", "--stdin"], "sk-test-1234"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "flowdeck.cli", *args], input=text + "\n", env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
    code, _, err = cli(home, "auth", "logout-all")
    assert code == 0, err
    subprocess.run(["chown", "-R", "nobody:nogroup", str(home)], check=True)
    return home


def _one_line(code: int, err: str) -> None:
    assert code == 2 and "Traceback" not in err, err
    assert err.count("error: ") == 1, err


def test_auth_commands_in_a_read_only_data_folder_say_so_in_one_line(shared_tmp: Path) -> None:
    home = _made(shared_tmp)
    for path in [home, *home.rglob("*")]:
        path.chmod(0o500 if path.is_dir() else 0o400)  # readable, not writable, by its owner
    code, out, err = _as_nobody(home, "auth", "status")
    assert code == 0 and "Traceback" not in err, err
    assert "editor password: set (auth.json)" in out
    code, _, err = _as_nobody(home, "auth", "token", "create", "ci")
    _one_line(code, err)
    assert "permission denied" in err and str(home) in err and "FLOWDECK_HOME" in err, err
    code, _, err = _as_nobody(home, "auth", "logout-all")
    _one_line(code, err)
    assert "cannot be written" in err and "FLOWDECK_HOME" in err, err


def test_an_unreadable_storage_secret_is_one_line(shared_tmp: Path) -> None:
    home = _made(shared_tmp)
    secret = home / "storage_secret"
    subprocess.run(["chown", "root:root", str(secret)], check=True)
    secret.chmod(0o600)
    code, _, err = _as_nobody(home, "auth", "logout-all")
    _one_line(code, err)
    assert f"permission denied: {secret} (-rw-------, owned by root)" in err, err


def test_an_unreadable_keys_file_is_not_called_damaged_and_doctor_reports_it(shared_tmp: Path) -> None:
    home = _made(shared_tmp)
    keys = home / "provider_keys.json"
    subprocess.run(["chown", "root:root", str(keys)], check=True)
    keys.chmod(0o600)
    before = keys.read_bytes()
    code, _, err = _as_nobody(home, "keys", "list")
    _one_line(code, err)
    assert "damaged" not in err and "delete it and" not in err, err
    assert f"cannot read {keys} (-rw-------, owned by root)" in err and "do not delete it" in err, err
    code, out, err = _as_nobody(home, "doctor")
    assert code == 1 and "Traceback" not in out + err, out + err
    assert f"PROBLEM  permissions  {keys} (-rw-------, owned by root) cannot be read by this user" in out, out
    assert keys.read_bytes() == before


def test_doctor_names_a_read_only_shm_file_left_after_the_database_was_fixed(shared_tmp: Path) -> None:
    home = _made(shared_tmp)
    shm = home / "flowdeck.db-shm"
    shm.write_bytes(b"")
    shutil.chown(shm, "nobody", "nogroup")
    shm.chmod(0o444)  # as the tester found it after the advised `chmod u+w flowdeck.db`
    code, out, err = _as_nobody(home, "doctor")
    assert code == 1 and "Traceback" not in out + err, out + err
    assert f"PROBLEM  permissions  {shm} (-r--r--r--) cannot be written by this user: " in out, out
    assert f"chmod u+w {shm}" in out, out


def test_doctor_shows_megabytes_when_under_a_gigabyte_is_free(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home.mkdir(mode=0o700)
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real(path)._replace(free=2_000_000))
    result = CliRunner().invoke(main, ["doctor"])
    assert f"PROBLEM  disk         1.9 MB free on the disk that holds {home}" in result.output, result.output
