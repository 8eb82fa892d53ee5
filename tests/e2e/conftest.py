"""Browser tests: the app in a subprocess, driven by Playwright in Debian's chromium, like a person would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.appserver import running_app

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Module scope: sync Playwright runs an event loop of its own, which must be gone before the async tests run.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing; install Debian's chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def app_model() -> str:
    """The model every agent uses by default (a module can override this fixture, e.g. to add latency)."""
    return "scripted"


@pytest.fixture
def app_home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def app_env() -> dict[str, str | None]:
    """Extra environment for the app, None to remove a variable (a module can override this fixture, e.g. to set
    passwords)."""
    return {}


@pytest.fixture
def app_url(
    tmp_path: Path, app_model: str, app_home: Path, app_env: dict[str, str | None], request: pytest.FixtureRequest
) -> Iterator[str]:
    log = tmp_path / "server.log"
    with running_app(app_home, log, model=app_model, env=app_env) as url:
        yield url
    call = getattr(request.node, "rep_call", None)
    if call is not None and call.failed:  # the app's side of a failure: shown under "Captured stdout teardown"
        print(f"--- {log} (last 200 lines) ---")
        print("\n".join(log.read_text(errors="replace").splitlines()[-200:]))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def page(browser: Browser, app_url: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(app_url)
    page.get_by_role("application", name="Workflow canvas").wait_for()
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    context.close()
