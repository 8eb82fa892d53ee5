"""⋮ → API keys…: write-only, masked to the last 4 characters, bad input named and kept, removal asked first; the
Model box holds the model string typed or picked, offers the models of the providers configured and of a reachable
Ollama server, and says which key a provider's model still needs."""

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
    """What the Model box's list shows for each model (its first line; the second is the model string)."""
    page.get_by_label("Coder (Coder)", exact=True).click()
    page.get_by_label("Model").click()
    options = page.get_by_role("option")
    options.first.wait_for()
    names = [text.strip().splitlines()[0] for text in options.all_inner_texts()]
    page.keyboard.press("Escape")
    return names


def open_keys(page: Page) -> None:
    page.get_by_role("button", name="More workflow actions").click()
    page.get_by_role("menuitem", name="API keys…").click()


def test_the_model_box_offers_what_is_configured_and_takes_any_model_string(page: Page) -> None:
    before = model_choices(page)
    assert "Embedded demo model (offline)" in before and "Scripted test model (no LLM)" in before
    assert "ollama_chat/llama3.2:1b (Ollama)" in before and "ollama_chat/qwen2.5:0.5b (Ollama)" in before
    assert "gpt-4o-mini" not in before  # no OpenAI key yet

    open_keys(page)
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
    open_keys(page)
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
    open_keys(page)
    expect(page.get_by_text("saved · …bb99")).to_be_visible()
    assert CANARY not in page.content()

    page.get_by_role("button", name="Remove the saved OpenAI key").click()  # asks first
    question = page.get_by_role("dialog").filter(has_text="Remove the saved OpenAI key (…bb99)?")
    question.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text("saved · …bb99")).to_be_visible()
    page.get_by_role("button", name="Remove the saved OpenAI key").click()
    question.get_by_role("button", name="Remove").click()
    expect(page.get_by_text("saved · …bb99")).to_have_count(0)


def test_the_model_box_holds_the_model_typed_or_picked(page: Page) -> None:
    coder = page.get_by_label("Coder (Coder)", exact=True)
    coder.click()
    model = page.get_by_label("Model")
    expect(model).to_have_value("")  # the default model: named by the placeholder, not as text to type after
    expect(model).to_have_attribute("placeholder", "Default (scripted)")
    model.click()
    page.keyboard.press("End")
    page.keyboard.type("scripted/latency=1")
    page.keyboard.press("Enter")
    expect(model).to_have_value("scripted/latency=1")
    expect(coder).to_contain_text("scripted/latency=1")

    page.get_by_label("System prompt").click()
    model.click()  # coming back, what it holds is selected: typing replaces it
    page.keyboard.type("scripted")
    page.keyboard.press("Enter")  # the list shows "scripted/latency=1" too: Enter keeps what was typed
    expect(model).to_have_value("scripted")
    expect(coder).not_to_contain_text("latency")

    page.keyboard.press("ArrowDown")  # opens the list
    page.keyboard.press("Control+a")
    page.keyboard.press("Backspace")  # every suggestion again
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")  # the second one
    expect(page.get_by_role("option", selected=True)).to_contain_text("Embedded demo model (offline)")
    page.keyboard.press("Enter")
    expect(model).to_have_value("embedded")
    expect(coder).to_contain_text("embedded")
    demo = page.get_by_role("status").filter(has_text="small demo model")
    expect(demo).to_contain_text("expect rough answers")  # said where the embedded model is chosen
    model.click()
    page.get_by_role("option", name="Default (scripted)").click()
    expect(model).to_have_value("")
    expect(coder).not_to_contain_text("embedded")
    expect(demo).to_have_count(0)

    model.fill("Default (scripted)scripted")  # what typing after QSelect's label used to make, silently
    expect(page.get_by_text("“Default (scripted)scripted” is not a model name")).to_be_visible()
    expect(model).to_have_attribute("aria-invalid", "true")
    expect(coder).not_to_contain_text("Default")


def test_a_provider_name_nobody_knows_is_said_while_typing(page: Page) -> None:
    page.get_by_label("Coder (Coder)", exact=True).click()
    model = page.get_by_label("Model")
    model.fill("opnai/gpt-4o-mini")
    hint = page.get_by_role("status").filter(has_text="is not a provider")
    expect(hint).to_contain_text("“opnai” is not a provider flowdeck can call (did you mean openai?)")
    model.fill("openai/gpt-4o-mini")
    expect(hint).to_have_count(0)


def test_a_provider_model_without_its_key_says_which_key_and_where_and_the_list_follows_the_keys(page: Page) -> None:
    page.get_by_label("Coder (Coder)", exact=True).click()
    model = page.get_by_label("Model")
    model.fill("gpt-4o-mini")
    hint = page.get_by_role("status").filter(has_text="needs OPENAI_API_KEY")
    expect(hint).to_contain_text("gpt-4o-mini needs OPENAI_API_KEY, the OpenAI API key: add it in ⋮ → API keys…")
    model.fill("ollama_chat/llama3.2:1b")  # no key needed
    expect(hint).to_have_count(0)
    model.fill("gpt-4o-mini")
    expect(hint).to_be_visible()

    hint.get_by_role("button", name="Add OpenAI key…").click()
    key = page.get_by_label("New OpenAI key (OPENAI_API_KEY)")
    expect(key).to_be_focused()
    page.keyboard.type(CANARY)
    page.keyboard.press("Enter")
    expect(page.get_by_text("saved · …bb99")).to_be_visible()
    page.get_by_role("dialog").get_by_role("button", name="Close").click()
    expect(hint).to_have_count(0)
    page.get_by_label("Model").click()  # no reload: the list offers OpenAI's models now
    expect(page.get_by_role("option", name="gpt-4o", exact=True)).to_be_visible()
    page.keyboard.press("Escape")

    open_keys(page)
    page.get_by_role("button", name="Remove the saved OpenAI key").click()
    page.get_by_role("dialog").filter(has_text="Remove the saved").get_by_role("button", name="Remove").click()
    expect(page.get_by_text("saved · …bb99")).to_have_count(0)
    page.get_by_role("dialog").get_by_role("button", name="Close").click()
    expect(page.get_by_role("status").filter(has_text="needs OPENAI_API_KEY")).to_be_visible()
