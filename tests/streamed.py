"""Posting a large multipart body to the app slowly enough to see when it stops reading, from a raw socket (httpx
would stop at the first error and lose the answer), and measuring what the app spooled to its temporary folder."""

from __future__ import annotations

import json
import os
import select
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

BOUNDARY = "flowdeckattack"
PIECE = 64 * 1024
FIRST_ANSWER_WAIT = 2.0  # seconds: an app that refuses the body answers after the first piece


@dataclass(frozen=True)
class Sent:
    status: int | None  # None: the connection ended without an answer
    detail: str
    sent: int  # bytes of the body that left this side
    spooled: int  # the most seen in the app's temporary files meanwhile


def post_streamed(
    url: str,
    path: str,
    size: int,
    *,
    chunked: bool = True,
    field: str = "file",
    filename: str | None = "big.json",
    before: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    watch: Callable[[], int] | None = None,
) -> Sent:
    """POST a multipart form (the fields `before`, then one of `size` bytes, a file if it has a name) to `path`,
    chunked or with its length."""
    file = f'; filename="{filename}"\r\nContent-Type: application/json' if filename else ""
    small = "".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in (before or {}).items()
    )
    preamble = (small + f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"{file}\r\n\r\n').encode()
    ending = f"\r\n--{BOUNDARY}--\r\n".encode()
    address = urlsplit(url)
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {address.netloc}",
        f"Origin: {url}",
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
        "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(preamble) + size + len(ending)}",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    sent = spooled = 0
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        for index, piece in enumerate(_pieces(preamble, size, ending)):
            if select.select([sock], [], [], FIRST_ANSWER_WAIT if index in (0, 2) else 0)[0]:
                break  # it answered before the body ended
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            except OSError:  # it closed the connection (or stopped reading: the send timed out)
                break
            sent += len(piece)
            if watch is not None and index % 32 == 0:
                spooled = max(spooled, watch())
        else:
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        status, detail = _answer(sock)
    return Sent(status, detail, sent, spooled)


def spooled_bytes(home: Path, folder: Path) -> int:
    """Bytes in the files that the app started with FLOWDECK_HOME=home holds open in `folder`, deleted ones too."""
    total = 0
    for pid in _pids_with(f"FLOWDECK_HOME={home}"):
        try:
            descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in descriptors:
            try:
                if os.readlink(fd).startswith(str(folder)):
                    total += fd.stat().st_size
            except OSError:
                continue  # closed meanwhile
    return total


def _pieces(preamble: bytes, size: int, ending: bytes) -> Iterator[bytes]:
    yield preamble
    filler = b"x" * PIECE
    for start in range(0, size, PIECE):
        yield filler[: min(PIECE, size - start)]
    yield ending


def _answer(sock: socket.socket) -> tuple[int | None, str]:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            if body and b"content-length" in head.lower():
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(body) >= length:
                    break
    except OSError:
        pass
    if not data.startswith(b"HTTP/1.1 "):
        return None, ""
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        detail = str(json.loads(body)["detail"])
    except (ValueError, KeyError, TypeError):
        detail = body.decode(errors="replace")[:200]
    return int(head.split()[1]), detail


def _pids_with(variable: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if variable.encode() in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found
