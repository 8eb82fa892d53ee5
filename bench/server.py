"""Starting the app for a benchmark: `flowdeck serve` in a subprocess on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time


def launch(**env: str) -> tuple[subprocess.Popen[bytes], int]:
    """Start the app with these environment variables added (PYTEST_* removed); return it and its port."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    full.update(LITELLM_LOCAL_MODEL_COST_MAP="True", **env)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowdeck.cli", "serve", "--port", str(port)],
        env=full,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, port


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the app did not start")
