"""A loopback HTTP server for the tools' tests: it records every request it receives (so a test can show that a
refused request reached nothing) and answers by path: /page (HTML), /echo (the request's headers and body back),
/redirect?to=URL&status=N&cookie=V (to=self: a loop), /huge?mb=N (streamed), /bomb (gzip that inflates to 50 MB),
/slow?s=N, /status?code=N, /binary, /hostile?kind=attr|nest|comment|tags."""

from __future__ import annotations

import contextlib
import json
import ssl
import threading
import time
import urllib.parse
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = (
    "<html><head><title>Tool page</title><style>p { color: red }</style><script>var secret = 1;</script></head>"
    "<body><h1>Hello</h1><p>First paragraph.</p><p>Second &amp; last.</p></body></html>"
)


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ToolServer:
    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        self.seen: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the guard stopped reading (caps)
                    server.answer(self, url.path, query, body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.host = host
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def url(self, path: str = "/page") -> str:
        return f"{self.scheme}://{self.host}:{self.port}{path}"

    def answer(self, h: BaseHTTPRequestHandler, path: str, query: dict[str, str], body: bytes) -> None:
        if path == "/page":
            _send(h, 200, PAGE.encode(), "text/html; charset=utf-8")
        elif path == "/echo":
            echoed = {"method": h.command, "headers": dict(h.headers.items()), "body": body.decode()}
            _send(h, 200, json.dumps(echoed).encode(), "application/json")
        elif path == "/redirect":
            h.send_response(int(query.get("status", "302")))
            h.send_header("Location", h.path if query["to"] == "self" else query["to"])
            if "cookie" in query:
                h.send_header("Set-Cookie", f"session={query['cookie']}; Path=/")
            h.send_header("Content-Length", "0")
            h.end_headers()
        elif path == "/huge":
            size = int(query.get("mb", "10")) * 1_000_000
            h.send_response(200)
            h.send_header("Content-Type", "text/plain")
            h.send_header("Content-Length", str(size))
            h.end_headers()
            chunk = b"x" * 65_536
            for _ in range(0, size, len(chunk)):
                h.wfile.write(chunk)
        elif path == "/bomb":
            _send(h, 200, _bomb(), "text/plain", {"Content-Encoding": "gzip"})
        elif path == "/slow":
            time.sleep(float(query.get("s", "3")))
            _send(h, 200, b"late", "text/plain")
        elif path == "/status":
            _send(h, int(query["code"]), b"status page", "text/plain")
        elif path == "/hostile":  # HTML that parsers choke on: unclosed attributes, deep nesting, a stray comment
            unit = {"attr": "<a b=", "nest": "<div>", "comment": "<!--", "tags": "<p>x"}[query["kind"]]
            _send(h, 200, (unit * (2_000_000 // len(unit))).encode(), "text/html")
        elif path == "/binary":
            _send(h, 200, bytes(range(256)), "image/png")
        else:
            _send(h, 404, b"not found", "text/plain")

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _send(
    h: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
) -> None:
    h.send_response(status)
    h.send_header("Content-Type", content_type)
    h.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        h.send_header(name, value)
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(body)


def _bomb() -> bytes:
    """50 MB of zeros gzipped (about 50 KB), made 1 MB at a time so the server's own memory stays small."""
    pack = zlib.compressobj(wbits=31)
    zeros = b"\0" * 1_000_000
    return b"".join(pack.compress(zeros) for _ in range(50)) + pack.flush()


@contextmanager
def tool_server(host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> Iterator[ToolServer]:
    server = ToolServer(host, tls)
    try:
        yield server
    finally:
        server.close()
