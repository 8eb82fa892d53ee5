"""An OpenAI-compatible HTTP server on loopback that answers as told: a stream, or a provider's failure.

Tests point a litellm provider at it (e.g. HOSTED_VLLM_API_BASE) to see real HTTP faults go through
litellm and flowdeck's translation, and to record exactly what was sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ERRORS = {
    "rate_limit": (429, "slow down", {"retry-after": "1"}),
    "server_error": (500, "internal failure", {}),
    "auth": (401, "invalid api key", {}),
    "not_found": (404, "The model `x` does not exist", {}),
    "context_length": (
        400,
        "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
        {},
    ),
}


class FakeProvider:
    """Answers each request with the next of `script` (the last one repeats); records what it received."""

    def __init__(self) -> None:
        self.script: list[str] = ["ok"]
        self.received: list[str] = []
        self.text = "Hello from the fake provider."
        self.url = ""

    def _next(self) -> str:
        return self.script.pop(0) if len(self.script) > 1 else self.script[0]


@contextmanager
def fake_provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            fake.received.append(
                f"{self.requestline}\n{self.headers}{self.rfile.read(length).decode(errors='replace')}"
            )
            mode = fake._next()
            if mode in ERRORS:
                status, message, headers = ERRORS[mode]
                body = json.dumps({"error": {"message": message, "type": mode}}).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("connection", "close")
            self.end_headers()
            if mode == "split_pair":
                # An emoji escaped as a UTF-16 pair (as json.dumps writes it), cut between its two halves.
                for part in ("smile \ud83d", "\ude00 done \udc00"):
                    self.wfile.write(_chunk({"content": part}))
                self.wfile.write(_chunk({}, finish="stop"))
                self.wfile.write(b"data: [DONE]\n\n")
                return
            if mode == "tool_calls":
                # Two calls, streamed as providers do: id and name first, then the arguments in fragments, the
                # fragments of the two calls interleaved (each delta names its call by index).
                self.wfile.write(_chunk({"content": "Let me look."}))
                for delta in TOOL_CALL_DELTAS:
                    self.wfile.write(_chunk({"tool_calls": [delta]}))
                    self.wfile.flush()
                self.wfile.write(_chunk({}, finish="tool_calls"))
                self.wfile.write(b"data: [DONE]\n\n")
                return
            words = fake.text.split(" ")
            for index, word in enumerate(words):
                self.wfile.write(_chunk({"content": word + (" " if index < len(words) - 1 else "")}))
                self.wfile.flush()
                if mode == "cut":
                    self.close_connection = True
                    return  # the stream ends after the first chunk, with no finish
                if mode == "malformed":
                    self.wfile.write(b"data: {this is not json\n\n")  # then the stream goes on normally
            self.wfile.write(_chunk({}, finish="stop"))
            self.wfile.write(b"data: [DONE]\n\n")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


TOOL_CALL_DELTAS: list[dict[str, Any]] = [
    {"index": 0, "id": "call_a", "type": "function", "function": {"name": "fetch", "arguments": ""}},
    {"index": 0, "function": {"arguments": '{"url": "https://exa'}},
    {"index": 1, "id": "call_b", "type": "function", "function": {"name": "write_file", "arguments": '{"path": '}},
    {"index": 0, "function": {"arguments": 'mple.org"}'}},
    {"index": 1, "function": {"arguments": '"a.md", "content": "hi"}'}},
]


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    payload = {"id": "1", "object": "chat.completion.chunk", "created": 1, "model": "x", "choices": [choice]}
    return f"data: {json.dumps(payload)}\n\n".encode()
