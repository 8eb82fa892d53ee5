"""Starting the real app in a subprocess on a free loopback port (browser tests and HTTP tests share it)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def running_app(
    home: Path, log_path: Path, *, model: str = "scripted", env: Mapping[str, str | None] | None = None
) -> Iterator[str]:
    """`flowdeck serve` with its data in `home`; yields its base URL and stops it afterwards. `env` adds variables
    to the environment, or removes those given as None."""
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "FLOWDECK_"))}
    full_env.update(FLOWDECK_HOME=str(home), FLOWDECK_MODEL=model, LITELLM_LOCAL_MODEL_COST_MAP="True")
    for name, value in (env or {}).items():
        if value is None:
            full_env.pop(name, None)
        else:
            full_env[name] = value
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flowdeck.cli", "serve", "--port", str(port)], env=full_env, stdout=log, stderr=log
        )
        try:
            wait_for_port(port, proc)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the app did not start within 30 s")
