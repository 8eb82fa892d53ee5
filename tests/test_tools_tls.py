"""https through the egress guard: the connection goes to the address checked, while the certificate is verified
against the name in the URL (TLS server name), so pinning the address weakens nothing."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowdeck.engine.tools import ToolCall, ToolContext, ToolResult
from flowdeck.tools import BuiltinToolbox
from tests.toolserver import ToolServer, tool_server


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway CA and a certificate it signed for pinned.example only (made with the openssl command)."""
    where = tmp_path_factory.mktemp("tls")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=where, check=True, capture_output=True)

    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=flowdeck test CA")
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=pinned.example")
    (where / "san.ext").write_text("subjectAltName=DNS:pinned.example\n")
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "san.ext",
    )  # fmt: skip
    return where


@pytest.fixture
def server(certificates: Path) -> Iterator[ToolServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificates / "server.pem", certificates / "server.key")
    with tool_server(tls=context) as s:
        yield s


@pytest.fixture(autouse=True)
def names(monkeypatch: pytest.MonkeyPatch) -> None:
    """pinned.example and wrong.example resolve to loopback, where the test server listens."""
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("pinned.example", "wrong.example"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


async def fetch(certificates: Path, url: str) -> ToolResult:
    trusted = ssl.create_default_context(cafile=str(certificates / "ca.pem"))
    allowed = ("pinned.example", "wrong.example", "127.0.0.1")
    box = BuiltinToolbox(workspace=Path("/nonexistent"), allowed_domains=allowed, secrets=lambda _: None, tls=trusted)
    [spec] = box.specs(["fetch"])
    context = ToolContext(run_id="r1", node_id="a", execution=1, key="r1:a:1:1")
    return await box.call(ToolCall(id="c1", name="fetch", arguments=json.dumps({"url": url})), spec, context)


async def test_https_to_a_pinned_address_verifies_the_name(certificates: Path, server: ToolServer) -> None:
    result = await fetch(certificates, f"https://pinned.example:{server.port}/page")
    assert result.ok, result.content
    assert "First paragraph." in result.content
    assert server.seen[0].headers["Host"] == f"pinned.example:{server.port}"


async def test_a_certificate_for_another_name_is_refused(certificates: Path, server: ToolServer) -> None:
    # Same address, other name: were the address verified instead of the name, both would pass or both fail.
    for url in (f"https://wrong.example:{server.port}/page", f"https://127.0.0.1:{server.port}/page"):
        result = await fetch(certificates, url)
        assert not result.ok
        assert "could not connect to" in result.content and "certificate" in result.content.lower(), result.content
    assert server.seen == []
