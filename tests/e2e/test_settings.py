"""⋮ → API keys…: write-only, masked to the last 4 characters, bad input named and kept; the Model
combobox offers the models of the providers configured and of a reachable Ollama server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page, expect

CANARY = "sk-canary-e2e-55aa77bb99"


class _Ollama(BaseHTTPRequestHandler):
    """Just enough of Ollama's API for the editor to learn its models."""

    def do_GET(self) -> None:
        body = json.dumps({"models": [{"name": "llama3.2:1b"}, {"name": "qwen2.5:0.5b"}]}).encode()
        self.send_response(200 if self.path == "/api/tags" else 404)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def ollama() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ollama)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def app_env(ollama: str) -> dict[str, str]:
    return {"OPENAI_API_KEY": "", "OLLAMA_API_BASE": ollama}


def model_choices(page: Page) -> list[str]:
    page.get_by_label("Coder (Coder)", exact=True).click()
    page.get_by_label("Model").click()
    options = page.get_by_role("option")
    options.first.wait_for()
    names = [text.strip() for text in options.all_inner_texts()]
    page.keyboard.press("Escape")
    return names


def test_the_model_box_offers_what_is_configured_and_takes_any_model_string(page: Page) -> None:
    before = model_choices(page)
    assert "Embedded demo model (offline)" in before and "Scripted test model (no LLM)" in before
    assert "ollama_chat/llama3.2:1b (Ollama)" in before and "ollama_chat/qwen2.5:0.5b (Ollama)" in before
    assert "gpt-4o-mini" not in before  # no OpenAI key yet

    page.get_by_role("button", name="More workflow actions").click()
    page.get_by_text("API keys…").click()
    page.get_by_label("New OpenAI key (OPENAI_API_KEY)").fill(CANARY)
    page.get_by_role("button", name="Save OpenAI key").click()
    expect(page.get_by_text("saved · …bb99")).to_be_visible()
    page.reload()
    assert "gpt-4o-mini" in model_choices(page)

    field = page.get_by_label("Model")  # free text: any litellm model string
    model = "openrouter/meta-llama/llama-3.1-8b-instruct"
    field.fill(model)
    field.press("Enter")
    expect(page.get_by_label("Coder (Coder)", exact=True)).to_contain_text(model)


def test_api_keys_are_write_only_and_masked(page: Page) -> None:
    page.get_by_role("button", name="More workflow actions").click()
    page.get_by_text("API keys…").click()
    field = page.get_by_label("New OpenAI key (OPENAI_API_KEY)")
    expect(field).to_have_attribute("type", "password")

    field.fill("too short")
    page.get_by_role("button", name="Save OpenAI key").click()
    expect(page.get_by_text("that does not look like a OPENAI_API_KEY")).to_be_visible()
    expect(field).to_have_value("too short")  # nothing lost: correct it in place

    field.fill(CANARY)
    page.get_by_role("button", name="Save OpenAI key").click()
    expect(page.get_by_text("saved · …bb99")).to_be_visible()
    expect(field).to_have_value("")
    assert CANARY not in page.content()

    page.reload()
    page.get_by_role("button", name="More workflow actions").click()
    page.get_by_text("API keys…").click()
    expect(page.get_by_text("saved · …bb99")).to_be_visible()
    assert CANARY not in page.content()
    page.get_by_role("button", name="Remove the saved OpenAI key").click()
    expect(page.get_by_text("saved · …bb99")).to_have_count(0)
