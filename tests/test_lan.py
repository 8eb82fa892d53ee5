"""Sharing on a LAN: the real app in a subprocess, with passwords and tokens, probed over HTTP and websocket."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.appserver import running_app

EDITOR = "editor password 1"
VIEWER = "viewer password 1"
TOKEN = "fdk_test_token_0123456789abcdef"
NICEGUI_WS = "/_nicegui_ws/socket.io/?EIO=4&transport=websocket"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The app with editor and viewer passwords, an editor token from the env and a viewer token from the CLI."""
    root = tmp_path_factory.mktemp("lan")
    home = root / "home"
    viewer_token = _cli(home, "auth", "token", "create", "screen", "--viewer").stdout.strip()
    env = {"FLOWDECK_PASSWORD": EDITOR, "FLOWDECK_VIEWER_PASSWORD": VIEWER, "FLOWDECK_API_TOKEN": TOKEN}
    with running_app(home, root / "server.log", env=env) as url:
        yield url, viewer_token


@pytest.fixture
def url(shared: tuple[str, str]) -> str:
    return shared[0]


PROTECTED = [
    "/",
    "/runs",
    "/runs/compare",
    "/runs/abc",
    "/RUNS",
    "/%72uns",
    "//runs",
    "/login/../runs",
    "/login/",
    "/LOGIN",
    "/_nicegui/3.18.0/static/vue.global.prod.js",
    "/_nicegui_ws/socket.io/?EIO=4&transport=polling",
    "/favicon.ico",
    "/docs",
    "/openapi.json",
    "/no/such/page",
]


@pytest.mark.parametrize("path", PROTECTED)
def test_nothing_is_served_without_a_session(url: str, path: str) -> None:
    spoofed = {"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1", "X-Forwarded-Host": "localhost"}
    for headers in ({}, spoofed, {**spoofed, "Host": "localhost"}, {"Accept": "text/html"}):
        response = _raw_get(url, path, headers)
        assert response.status_code in (303, 401), (path, headers, response.status_code)
        if response.status_code == 303:
            assert response.headers["location"].startswith("/login?next=")
        assert b"<script" not in response.content


def test_logging_in_returns_to_the_page_with_its_query(url: str) -> None:
    """A shared link to a comparison (/runs/compare?a=..&b=..) still compares after the login it leads to."""
    page = "/runs/compare?a=run1&b=run2"
    redirect = _raw_get(url, page, {"Accept": "text/html"})
    assert redirect.status_code == 303
    form = httpx.get(url + redirect.headers["location"])
    assert 'name="next" value="/runs/compare?a=run1&amp;b=run2"' in form.text
    with httpx.Client(base_url=url, headers={"Origin": url}) as client:
        response = client.post("/login", data={"password": EDITOR, "next": "/runs/compare?a=run1&b=run2"})
        assert response.status_code == 303 and response.headers["location"] == page


def test_the_pages_files_come_compressed_from_memory_and_only_with_a_session(url: str) -> None:
    from nicegui import __version__

    asset = f"/_nicegui/{__version__}/static/vue.esm-browser.prod.js"
    with _logged_in(url, EDITOR) as client:
        answers = [client.get(asset)]  # the app's own answer, sent plain; then gzipped once, from memory
        for _ in range(100):
            answers.append(client.get(asset))
            if "content-encoding" in answers[-1].headers:
                break
            time.sleep(0.02)
        answers.append(client.get(asset))
        plain = client.get(asset, headers={"Accept-Encoding": "identity"})
    for answer in answers[-2:]:
        assert answer.status_code == 200 and answer.headers["content-encoding"] == "gzip"
        assert answer.content == plain.content == answers[0].content and b"createApp" in answer.content
        assert "immutable" in answer.headers["cache-control"] and answer.headers["x-frame-options"] == "DENY"
        assert "set-cookie" not in answer.headers and answer.headers["content-type"].startswith("text/javascript")
    assert "content-encoding" not in plain.headers
    refused = _raw_get(url, asset, {})  # in memory now, and still behind the guard
    assert refused.status_code == 401 and b"createApp" not in refused.content


def test_unknown_host_names_are_refused(url: str) -> None:
    response = httpx.get(url + "/login", headers={"Host": "attacker.example"})
    assert response.status_code == 421
    assert "FLOWDECK_ALLOWED_HOSTS" in response.json()["detail"]


def test_login_cookie_then_logout_ends_the_session_on_the_server(url: str) -> None:
    with httpx.Client(base_url=url, headers={"Origin": url}) as client:
        _login_then_logout(client, url)


def _login_then_logout(client: httpx.Client, url: str) -> None:
    wrong = client.post("/login", data={"password": "not it at all"})
    assert wrong.status_code == 401 and "Wrong password." in wrong.text
    response = client.post("/login", data={"password": EDITOR, "next": "/runs"})
    assert response.status_code == 303 and response.headers["location"] == "/runs"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("flowdeck_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    session = client.cookies["flowdeck_session"]
    page = client.get("/runs")
    assert page.status_code == 200 and page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert client.post("/logout").status_code == 303
    replayed = httpx.get(url + "/runs", cookies={"flowdeck_session": session})
    assert replayed.status_code in (303, 401)


def test_login_redirects_only_within_the_site(url: str) -> None:
    for target in ("//evil.example/x", "https://evil.example", "/\\evil.example", "javascript:alert(1)"):
        response = httpx.post(url + "/login", data={"password": EDITOR, "next": target}, headers={"Origin": url})
        assert response.headers["location"] == "/", target


def test_cross_origin_posts_and_websockets_are_refused(url: str) -> None:
    with _logged_in(url, EDITOR) as client:
        session = client.cookies["flowdeck_session"]
        assert client.post("/logout", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    evil = {"Origin": "http://evil.example"}
    assert httpx.post(url + "/login", data={"password": EDITOR}, headers=evil).status_code == 403
    cookie = f"flowdeck_session={session}"
    assert _websocket_status(url, {"Origin": "http://evil.example", "Cookie": cookie}) == 403
    assert _websocket_status(url, {"Origin": url}) == 403  # no session
    assert _websocket_status(url, {"Origin": url, "Cookie": cookie}) == 101


def test_viewer_watches_but_cannot_edit(url: str) -> None:
    with _logged_in(url, VIEWER) as viewer:
        editor_page = viewer.get("/")
        assert editor_page.status_code == 303 and editor_page.headers["location"] == "/runs"
        assert viewer.get("/runs").status_code == 200


def test_api_needs_a_token_and_runs_a_workflow(shared: tuple[str, str]) -> None:
    url, viewer_token = shared
    assert httpx.get(url + "/api/v1/runs").status_code == 401
    assert httpx.get(url + "/api/v1/runs", headers=_bearer("fdk_wrong")).status_code == 401
    with _logged_in(url, EDITOR) as editor_session:
        assert editor_session.get("/api/v1/runs").status_code == 401  # the API takes tokens, not cookies

    body = {"workflow": "research-code-review", "inputs": {"task": "Add two numbers"}, "wait": True}
    refused = httpx.post(url + "/api/v1/runs", json=body, headers=_bearer(viewer_token))
    assert refused.status_code == 403 and "editor token" in refused.json()["detail"]
    done = httpx.post(url + "/api/v1/runs", json=body, headers=_bearer(TOKEN), timeout=60)
    assert done.status_code == 200, done.text
    result = done.json()
    assert result["status"] == "succeeded"
    assert [n["status"] for n in result["nodes"]] == ["succeeded"] * 3
    assert "Add two numbers" in result["outputs"]["researcher"]

    again = httpx.get(f"{url}/api/v1/runs/{result['id']}", headers=_bearer(viewer_token)).json()
    assert again["outputs"] == result["outputs"]
    events = httpx.get(f"{url}/api/v1/runs/{result['id']}/events", headers=_bearer(viewer_token)).json()
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_finished"
    listed = httpx.get(url + "/api/v1/runs", headers=_bearer(viewer_token)).json()
    assert result["id"] in [r["id"] for r in listed]
    assert result["workflow_id"] == "template:research-code-review"  # the workflow it belongs to, not just a name
    for identity, found in (("template:research-code-review", [result["id"]]), ("0123456789ab", [])):
        query = {"workflow_id": identity}
        listed = httpx.get(url + "/api/v1/runs", params=query, headers=_bearer(viewer_token)).json()
        assert [r["id"] for r in listed] == found
        assert all(r["workflow_id"] == identity for r in listed)

    bad = httpx.post(url + "/api/v1/runs", json={**body, "code": "x"}, headers=_bearer(TOKEN))
    assert bad.status_code == 422 and "code" in bad.text
    missing = httpx.post(url + "/api/v1/runs", json={**body, "workflow": "nope"}, headers=_bearer(TOKEN))
    assert missing.status_code == 404 and "research-code-review" in missing.json()["detail"]


def test_api_schema_is_served_and_printed(url: str, tmp_path: Path) -> None:
    served = httpx.get(url + "/api/v1/openapi.json", headers=_bearer(TOKEN)).json()
    assert {"/runs", "/runs/{run_id}", "/runs/{run_id}/events", "/runs/{run_id}/cancel", "/workflows"} <= set(
        served["paths"]
    )
    assert "HTTPBearer" in served["components"]["securitySchemes"]
    printed = _cli(tmp_path / "home", "api", "schema").stdout
    assert '"/runs/{run_id}/events"' in printed


def test_failed_logins_are_rate_limited(tmp_path: Path) -> None:
    with running_app(tmp_path / "home", tmp_path / "server.log", env={"FLOWDECK_PASSWORD": EDITOR}) as url:
        statuses = [
            httpx.post(url + "/login", data={"password": f"guess {i}"}, headers={"Origin": url}).status_code
            for i in range(7)
        ]
        assert statuses == [401] * 5 + [429] * 2
        right = httpx.post(url + "/login", data={"password": EDITOR}, headers={"Origin": url})
        assert right.status_code == 429 and int(right.headers["retry-after"]) > 0


def _cli(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {"FLOWDECK_HOME": str(home), "PATH": "/usr/bin:/bin", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.run(
        [sys.executable, "-m", "flowdeck.cli", *args], env=env, capture_output=True, text=True, check=check, timeout=60
    )


@contextmanager
def _logged_in(url: str, password: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, headers={"Origin": url}) as client:
        assert client.post("/login", data={"password": password}).status_code == 303
        yield client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _raw_get(url: str, path: str, headers: dict[str, str]) -> httpx.Response:
    """GET the path exactly as written (httpx would normalise //runs or /login/../runs)."""
    with httpx.Client() as client:
        request = client.build_request("GET", url, headers=headers)
        request.url = request.url.copy_with(raw_path=path.encode())
        return client.send(request)


def _websocket_status(url: str, headers: dict[str, str]) -> int:
    """The HTTP status a websocket handshake to NiceGUI's socket gets (101: switched to a websocket)."""
    address = urlsplit(url)
    lines = [
        f"GET {NICEGUI_WS} HTTP/1.1",
        f"Host: {address.netloc}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status_line = sock.recv(1024).split(b"\r\n", 1)[0]
    return int(status_line.split()[1])
