"""A loopback HTTP server that tools call in tests (it records every POST, and may hold the first one unanswered), and
the environment of a `flowdeck` command run on the scripted model."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Hook(ThreadingHTTPServer):
    """Records each POST's body and headers and answers 201 "created"; with `hold_first`, the first one gets no answer
    until `release` is set (a call in flight)."""

    def __init__(self, *, hold_first: bool = False) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: list[str] = []
        self.headers_seen: list[dict[str, str]] = []
        self.hold_first = hold_first
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _Handler(BaseHTTPRequestHandler):
    server: Hook

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        self.server.bodies.append(body)
        self.server.headers_seen.append(dict(self.headers))
        if self.server.hold_first and len(self.server.bodies) == 1:
            self.server.release.wait(120)
        self.send_response(201)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"created")

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def hook_server(*, hold_first: bool = False) -> Iterator[Hook]:
    server = Hook(hold_first=hold_first)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


def cli_env(home: Path) -> dict[str, str]:
    """The environment of a `flowdeck` command with its data in `home`, on the scripted model called in-process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "FLOWDECK_"))}
    env.update(FLOWDECK_HOME=str(home), FLOWDECK_MODEL="scripted", FLOWDECK_SCRIPTED_DIRECT="1")
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    return env


def flowdeck(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `flowdeck ARGS` to its end."""
    return subprocess.run(
        [sys.executable, "-m", "flowdeck.cli", *args],
        env=cli_env(home),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
