"""Settings from FLOWDECK_* environment variables and an optional .env file; the only reader of os.environ."""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs
from dotenv import dotenv_values

from flowdeck.errors import ConfigError

_PREFIX = "FLOWDECK_"


@dataclass(frozen=True, kw_only=True, slots=True)
class Settings:
    home: Path
    database_url: str
    default_model: str
    embedded_threads: int
    max_retry_wait: float
    busy_timeout: float = 10.0  # seconds a write waits for another program's lock on the SQLite database
    env_keys: frozenset[str] = frozenset()  # names of the *_API_KEY variables set (their values are not kept)
    ollama_base: str = "http://127.0.0.1:11434"
    # Benchmarks of flowdeck's own pipeline: the scripted model is called in-process, skipping litellm's
    # per-call work (bench/README.md). Off by default: tests and users go through litellm.
    scripted_direct: bool = False
    # Tests of litellm's path: the scripted model goes through litellm, as a provider's model would.
    scripted_via_litellm: bool = False
    # Crash-recovery tests: the scripted model records each completed call in this file.
    scripted_ledger: Path | None = None
    # Sharing on a LAN (see flowdeck.auth). Secrets are kept out of repr() so they never reach a log.
    editor_password: str | None = field(default=None, repr=False)
    viewer_password: str | None = field(default=None, repr=False)
    api_token: str | None = field(default=None, repr=False)
    allowed_hosts: tuple[str, ...] = ()

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def workspaces(self) -> Path:
        """The folder of the runs' workspaces (each run's tools read and write files in `<run id>/` there)."""
        return self.home / "workspaces"


def load_settings(env_file: Path | None = Path(".env")) -> Settings:
    """Read settings; environment variables win over .env. Raises ConfigError naming a bad variable."""
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        # Provider keys in .env (OPENAI_API_KEY, ...) are read by litellm from the environment.
        for key, value in values.items():
            if not key.startswith(_PREFIX):
                os.environ.setdefault(key, value)
    values.update(os.environ)

    home = Path(values.get(f"{_PREFIX}HOME") or platformdirs.user_data_dir("flowdeck")).expanduser()
    database_url = values.get(f"{_PREFIX}DATABASE_URL") or f"sqlite:///{home / 'flowdeck.db'}"
    if not database_url.startswith(("sqlite", "postgresql")):
        raise ConfigError(
            f"{_PREFIX}DATABASE_URL={database_url.split(':')[0]}:... is not supported; "
            "use sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST/DB"
        )
    return Settings(
        home=home,
        database_url=database_url,
        default_model=values.get(f"{_PREFIX}MODEL") or "embedded",
        embedded_threads=_int(values, "EMBEDDED_THREADS", 1, low=1, high=64),
        max_retry_wait=_float(values, "MAX_RETRY_WAIT", 60.0, low=0.0, high=3600.0),
        busy_timeout=_float(values, "BUSY_TIMEOUT", 10.0, low=0.0, high=3600.0),
        env_keys=frozenset(key for key, value in values.items() if key.endswith("_API_KEY") and value),
        ollama_base=values.get("OLLAMA_API_BASE") or "http://127.0.0.1:11434",
        scripted_direct=values.get(f"{_PREFIX}SCRIPTED_DIRECT", "") in ("1", "true", "yes"),
        scripted_via_litellm=values.get(f"{_PREFIX}SCRIPTED_VIA_LITELLM", "") in ("1", "true", "yes"),
        scripted_ledger=Path(values[f"{_PREFIX}SCRIPTED_LEDGER"]) if values.get(f"{_PREFIX}SCRIPTED_LEDGER") else None,
        editor_password=_secret(values, "PASSWORD", min_length=10),
        viewer_password=_secret(values, "VIEWER_PASSWORD", min_length=10),
        api_token=_secret(values, "API_TOKEN", min_length=24),
        allowed_hosts=tuple(
            h.strip().lower() for h in values.get(f"{_PREFIX}ALLOWED_HOSTS", "").split(",") if h.strip()
        ),
    )


def environment_has(variable: str) -> bool:
    """Whether an environment variable (a provider key, a provider's base URL) is set and not empty."""
    return bool(os.environ.get(variable))


def ensure_home(settings: Settings) -> Path:
    """Create the data directory, private to the user (0700); an existing one loses any access by others.

    A folder made read-only on purpose stays so (its runs can still be read); one that cannot be created is a
    ConfigError saying what to do."""
    home = settings.home
    try:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the data folder {home} ({exc.strerror or exc}); create it, make its parent writable, "
            f"or set {_PREFIX}HOME to a folder this user can write"
        ) from None
    mode = home.stat().st_mode & 0o777
    if mode & 0o077:
        with contextlib.suppress(OSError):  # not ours to change (another owner, immutable): `flowdeck doctor` says so
            home.chmod(mode & 0o700)
    return home


def write_private(path: Path, text: str) -> None:
    """Write a file only this user can read (0600), atomically, creating the private data dir if needed."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # A new file of a random name (O_EXCL, 0600): one planted at a fixed name (a symlink, a 0644 file) is never
    # written through or kept.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _secret(values: dict[str, str], name: str, *, min_length: int) -> str | None:
    raw = values.get(_PREFIX + name) or None
    if raw is not None and len(raw) < min_length:
        raise ConfigError(f"{_PREFIX}{name} is {len(raw)} characters long; use at least {min_length}")
    return raw


def _int(values: dict[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = values.get(_PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{_PREFIX}{name}={raw!r} is not a whole number; use e.g. {default}") from None
    if not low <= value <= high:
        raise ConfigError(f"{_PREFIX}{name}={value} is out of range; use {low} to {high}")
    return value


def _float(values: dict[str, str], name: str, default: float, *, low: float, high: float) -> float:
    raw = values.get(_PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{_PREFIX}{name}={raw!r} is not a number; use e.g. {default:g}") from None
    if not low <= value <= high:
        raise ConfigError(f"{_PREFIX}{name}={value:g} is out of range; use {low:g} to {high:g}")
    return value
