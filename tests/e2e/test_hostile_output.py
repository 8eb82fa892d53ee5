"""Model output that tries to restyle or track the page (no script needed) is shown without styles, forms or remote
resources on every page that shows model text, and the pages' Content-Security-Policy stops what would slip past.

A listener on 127.0.0.2 stands for a foreign host: every request the browser makes is recorded, and none may go
there.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Response, expect

from tests.e2e.test_shared import EDITOR, TOKEN, VIEWER, log_in

FOREIGN_HOST = "127.0.0.2"


class _Foreign(ThreadingHTTPServer):
    hits: list[str]


class _Recorder(BaseHTTPRequestHandler):
    server: _Foreign

    def do_GET(self) -> None:
        self.server.hits.append(f"{self.command} {self.path}")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass  # the test reads the hits it recorded, not a log on stderr


@pytest.fixture
def foreign() -> Iterator[_Foreign]:
    server = _Foreign((FOREIGN_HOST, 0), _Recorder)
    server.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def app_env() -> dict[str, str]:
    return {"FLOWDECK_PASSWORD": EDITOR, "FLOWDECK_VIEWER_PASSWORD": VIEWER, "FLOWDECK_API_TOKEN": TOKEN}


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    yield context
    context.close()


def hostile(base: str) -> str:
    """One line (the scripted model answers with the task's first 24 words): a style sheet that hides the header,
    a password form, and five ways to make every viewer's browser fetch from `base`."""
    return (
        f'<style>@import"{base}/import.css";.q-header{{display:none!important}}</style>'
        f'<form action="{base}/form"><input type="password" name="pw"><button>Sign in</button></form>'
        f" ![pixel]({base}/markdown.png)"
        f' <img src="{base}/img.png" srcset="{base}/srcset.png 2x" alt="picture">'
        f' <span style="background:url({base}/css.png)">styled</span>'
        f' <link rel="stylesheet" href="{base}/link.css">'
    )


def test_hostile_output_is_shown_without_styles_forms_or_fetches(
    context: BrowserContext, app_url: str, foreign: _Foreign
) -> None:
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    base = f"http://{FOREIGN_HOST}:{foreign.server_address[1]}"
    task = hostile(base)
    page = context.new_page()
    log_in(page, app_url, EDITOR)
    page.get_by_role("application", name="Workflow canvas").wait_for()

    # The editor: the Output tab's card and the Inspector.
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_label("Task").fill(task)
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=30_000)
    look_at_outputs(page)
    page.get_by_label("Researcher (Researcher)", exact=True).click()
    look_at_inspector(page)

    api = {"Authorization": f"Bearer {TOKEN}"}
    first = httpx.get(app_url + "/api/v1/runs", headers=api, timeout=10).json()[0]["id"]
    body = {"workflow": "research-code-review", "inputs": {"task": task + " again"}, "wait": True}
    second = httpx.post(app_url + "/api/v1/runs", json=body, headers=api, timeout=60).json()["id"]

    # A run's page, the Live screen and the comparison of the two runs.
    page.goto(f"{app_url}/runs/{first}")
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=20_000)
    look_at_outputs(page)
    page.get_by_label("Researcher (Researcher)", exact=True).click()
    look_at_inspector(page)
    page.goto(f"{app_url}/live")
    expect(page.get_by_text(f"run {second} · read-only")).to_be_visible(timeout=10_000)
    look_at_outputs(page)
    page.goto(f"{app_url}/runs/compare?a={first}&b={second}")
    expect(page.get_by_role("region", name=f"Output of Researcher in run {second}")).to_contain_text("styled")
    assert_inert(page)

    page.wait_for_timeout(500)  # a fetch the page started has had time to arrive
    assert [url for url in requested if FOREIGN_HOST in url] == []
    assert foreign.hits == []


def test_every_page_loads_under_the_policy_without_a_violation(context: BrowserContext, app_url: str) -> None:
    """The policy forbids what NiceGUI, Quasar, Vue and the canvas do not need: no page breaks under it."""
    refused: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            refused.append(f"{message.page.url if message.page else ''}: {message.text}")

    context.on("console", watch)
    body = {"workflow": "research-code-review", "inputs": {"task": "Sort a list"}, "wait": True}
    api = {"Authorization": f"Bearer {TOKEN}"}
    runs = [httpx.post(app_url + "/api/v1/runs", json=body, headers=api, timeout=60).json()["id"] for _ in range(2)]
    page = context.new_page()
    answer = page.goto(app_url + "/login")
    assert answer is not None
    assert "img-src 'self' data: blob:" in answer.headers["content-security-policy"]
    assert _nonce(answer) is not None
    log_in(page, app_url, EDITOR)
    page.get_by_role("application", name="Workflow canvas").wait_for()
    for opener in ("Templates", "Open", "Workflow settings", "Keyboard shortcuts"):
        page.get_by_role("button", name=opener, exact=True).click()
        expect(page.get_by_role("dialog")).to_be_visible()
        page.keyboard.press("Escape")
        expect(page.get_by_role("dialog")).to_be_hidden()
    for item in ("API keys…", "Import from file…"):
        page.get_by_role("button", name="More workflow actions").click()
        page.get_by_role("menuitem", name=item).click()
        expect(page.get_by_role("dialog")).to_be_visible()
        page.keyboard.press("Escape")
        expect(page.get_by_role("dialog")).to_be_hidden()
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=30_000)
    page.get_by_label("Coder (Coder)", exact=True).click()
    for tab in ("Output", "Log", "Handoffs", "Timeline", "Inspector"):
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(200)
    page.get_by_role("button", name="Toggle dark theme").click()  # the page drawn again in the dark theme
    page.get_by_role("application", name="Workflow canvas").wait_for()
    look_at_outputs(page, hostile=False)
    for path, shown in (
        ("/runs", page.get_by_role("button", name="Compare selected")),
        (f"/runs/{runs[0]}", page.get_by_text("Succeeded: 3/3 agents")),
        ("/live", page.get_by_text("read-only")),
        (f"/runs/compare?a={runs[0]}&b={runs[1]}", page.get_by_text("agents' outputs differ")),
    ):
        page.goto(app_url + path)
        expect(shown).to_be_visible(timeout=20_000)
        page.wait_for_timeout(300)
    assert refused == []


def test_the_policy_stops_markup_that_slips_past_the_sanitizer(
    context: BrowserContext, app_url: str, foreign: _Foreign
) -> None:
    """Markup put straight into the page (as a sanitizer's bug would let through) still fetches nothing foreign."""
    base = f"http://{FOREIGN_HOST}:{foreign.server_address[1]}"
    refused: list[str] = []
    context.on("console", lambda message: refused.append(message.text))
    page = context.new_page()
    log_in(page, app_url, VIEWER)
    expect(page.get_by_role("button", name="Compare selected")).to_be_visible()
    page.evaluate(
        """(base) => {
            const box = document.createElement("div");
            box.innerHTML = `<img src="${base}/img.png"><link rel="stylesheet" href="${base}/link.css">` +
                `<style>@import url(${base}/import.css); body { background: url(${base}/css.png) }</style>` +
                `<div style="background-image: url(${base}/inline.png)">x</div>` +
                `<object data="${base}/object"></object><video poster="${base}/poster.png"></video>`;
            document.body.append(box);
            fetch(`${base}/fetch`).catch(() => {});
            new Image().src = `${base}/image.png`;
        }""",
        base,
    )
    page.evaluate(
        """(base) => {
            const form = document.createElement("form");
            form.action = `${base}/form`;
            form.method = "post";
            document.body.append(form);
            form.submit();
        }""",
        base,
    )
    page.wait_for_timeout(1500)
    assert foreign.hits == []
    assert page.url == app_url + "/runs"  # the form did not take the page away
    # Chromium says so in the console, as the test of every page above expects it to.
    assert any("Content Security Policy" in text and "/img.png" in text for text in refused)


def test_a_style_element_slipped_into_a_page_is_refused(context: BrowserContext, app_url: str) -> None:
    """A <style> element put into the page as markup (as a sanitizer's bug would let it through) is refused by the
    browser for want of the answer's nonce: a violation of style-src-elem, and the page's look unchanged. Each
    answer has a nonce of its own, so one seen before opens nothing."""
    page = context.new_page()
    seen_before = _nonce(page.goto(app_url + "/login")) or "bm9uY2Ugb2YgYmVmb3Jl"
    log_in(page, app_url, VIEWER)
    expect(page.get_by_role("button", name="Compare selected")).to_be_visible()
    for markup in (
        "<style>body { background-color: rgb(1, 2, 3) !important }</style>",
        f'<style nonce="{seen_before}">body {{ background-color: rgb(1, 2, 3) !important }}</style>',
    ):
        seen = page.evaluate(
            """(markup) => new Promise((resolve) => {
                const refused = [];
                document.addEventListener("securitypolicyviolation", (e) => refused.push(e.effectiveDirective));
                const before = getComputedStyle(document.body).backgroundColor;
                const box = document.createElement("div");
                box.innerHTML = markup;
                document.body.append(box);
                setTimeout(() => {
                    const after = getComputedStyle(document.body).backgroundColor;
                    box.remove();
                    resolve({ refused, before, after });
                }, 300);
            })""",
            markup,
        )
        assert seen["after"] == seen["before"] != "rgb(1, 2, 3)", seen
        assert seen["refused"] == ["style-src-elem"], seen
    nonces = {_nonce(page.goto(app_url + "/runs")), _nonce(page.goto(app_url + "/runs")), seen_before}
    assert None not in nonces and len(nonces) == 3


def _nonce(answer: Response | None) -> str | None:
    """The nonce of an answer's policy, which its <style> elements need."""
    assert answer is not None
    found = re.search(r"style-src-elem 'self' 'nonce-([\w-]{24})'(;|$)", answer.headers["content-security-policy"])
    return found[1] if found else None


def look_at_outputs(page: Page, *, hostile: bool = True) -> None:
    page.get_by_role("tab", name="Output").click()
    card = page.get_by_role("region", name="Output of Researcher")
    expect(card).to_contain_text("Research notes on:")
    if hostile:
        expect(card).to_contain_text("styled")  # the output is drawn as markup, not as its source text
        assert_inert(page)


def look_at_inspector(page: Page) -> None:
    page.get_by_role("tab", name="Inspector").click()
    panel = page.get_by_role("region", name="Run panel")
    expect(panel.get_by_text("Research notes on:").last).to_be_visible()
    assert_inert(page)


def assert_inert(page: Page) -> None:
    """The header and Log out are there, and nothing of the output is a form, a control or a resource."""
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.locator("header").first).to_be_visible()
    expect(page.locator("input[type=password]")).to_have_count(0)
    expect(page.locator("form")).to_have_count(0)
    expect(page.get_by_role("button", name="Sign in")).to_have_count(0)
    expect(
        page.locator(f"[src*='{FOREIGN_HOST}'], [srcset], [style*='url('], link[href*='{FOREIGN_HOST}']")
    ).to_have_count(0)
