"""⋮ → API keys… → Servers you run: Ollama's and an OpenAI-compatible server's addresses, saved with the keys and
used by runs; a saved key never goes to such a server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_settings import CANARY, model_choices, ollama, open_keys
from tests.fakeprovider import FakeProvider, fake_provider

__all__ = ["ollama"]  # a fixture of the API keys tests: pytest finds it here by its name


@pytest.fixture
def app_env() -> dict[str, str | None]:
    return {"OPENAI_API_KEY": None, "OPENAI_API_BASE": None, "OPENAI_BASE_URL": None, "OLLAMA_API_BASE": None}


@pytest.fixture
def server() -> Iterator[FakeProvider]:
    with fake_provider() as fake:
        fake.text = "Answered by the server you run."
        yield fake


def test_an_ollama_address_saved_brings_its_models(page: Page, ollama: str) -> None:
    assert not any("(Ollama)" in name for name in model_choices(page))
    open_keys(page)
    address = page.get_by_label("Ollama address (OLLAMA_API_BASE)")
    expect(address).to_have_attribute("placeholder", "http://127.0.0.1:11434")
    address.fill("127.0.0.1:11434")
    address.press("Enter")
    expect(page.get_by_text("OLLAMA_API_BASE must be an http:// or https:// address")).to_be_visible()
    expect(address).to_have_value("127.0.0.1:11434")  # kept, to correct in place
    address.fill(ollama)
    address.press("Enter")
    expect(page.get_by_text("OLLAMA_API_BASE saved")).to_be_visible()
    page.get_by_role("dialog").get_by_role("button", name="Close").click()
    assert "ollama_chat/llama3.2:1b (Ollama)" in model_choices(page)

    page.reload()
    open_keys(page)
    expect(page.get_by_label("Ollama address (OLLAMA_API_BASE)")).to_have_value(ollama)  # not secret: shown
    page.get_by_role("button", name="Remove the saved Ollama address").click()
    question = page.get_by_role("dialog").filter(has_text="Remove the saved Ollama address")
    expect(question).to_contain_text(ollama)
    question.get_by_role("button", name="Cancel").click()  # asked first, as for a key: nothing removed
    expect(page.get_by_label("Ollama address (OLLAMA_API_BASE)")).to_have_value(ollama)
    page.get_by_role("button", name="Remove the saved Ollama address").click()
    question.get_by_role("button", name="Remove").click()
    expect(page.get_by_label("Ollama address (OLLAMA_API_BASE)")).to_have_value("")


def test_a_run_goes_to_a_saved_openai_compatible_server_without_the_saved_key(page: Page, server: FakeProvider) -> None:
    open_keys(page)
    page.get_by_label("New OpenAI key (OPENAI_API_KEY)").fill(CANARY)
    page.get_by_role("button", name="Save OpenAI key").click()
    expect(page.get_by_text("saved · …bb99")).to_be_visible()
    page.get_by_label("OpenAI-compatible server address (OPENAI_API_BASE)").fill(server.url)
    page.get_by_role("button", name="Save OpenAI-compatible server address").click()
    expect(page.get_by_text("OPENAI_API_BASE saved")).to_be_visible()
    page.get_by_role("dialog").get_by_role("button", name="Close").click()

    page.get_by_role("button", name="Run", exact=True).click()
    dialog = page.get_by_role("dialog").filter(has_text="Start run")
    model = dialog.get_by_label("Model for every agent")
    model.fill("openai/local-model")
    model.press("Enter")
    dialog.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=60_000)
    output = page.get_by_role("tabpanel")
    expect(output.get_by_text("Answered by the server you run.")).to_have_count(3)
    assert len(server.received) == 3
    assert not any(CANARY in request for request in server.received)


def test_an_address_typed_while_a_key_is_saved_is_kept_and_saved(page: Page, server: FakeProvider) -> None:
    open_keys(page)
    key = page.get_by_label("New OpenAI key (OPENAI_API_KEY)")
    key.fill(CANARY)
    key.press("Enter")  # saved from the keyboard; the address typed at once, without waiting for the save to show
    address = page.get_by_label("OpenAI-compatible server address (OPENAI_API_BASE)")
    address.fill(server.url)
    expect(page.get_by_text("saved · …bb99")).to_be_visible()
    expect(key).to_have_value("")  # the key saved is not kept in its field
    expect(address).to_have_value(server.url)  # what was typed meanwhile is still there
    address.press("Enter")
    expect(page.get_by_text("OPENAI_API_BASE saved")).to_be_visible()
    # Typed into the address's own key field while another key is saved with the mouse: kept too.
    server_key = page.get_by_label("OpenAI-compatible server key", exact=True)
    page.get_by_label("New Anthropic key (ANTHROPIC_API_KEY)").fill("sk-ant-e2e-4321")
    page.get_by_role("button", name="Save Anthropic key").click()
    server_key.fill("vllm-local-7170")
    expect(page.get_by_text("saved · …4321")).to_be_visible()
    expect(server_key).to_have_value("vllm-local-7170")
    page.get_by_role("dialog").get_by_role("button", name="Close").click()
    open_keys(page)  # all of it stored
    expect(page.get_by_label("OpenAI-compatible server address (OPENAI_API_BASE)")).to_have_value(server.url)
    expect(page.get_by_text("saved · …bb99")).to_be_visible()


def test_a_server_of_ones_own_gets_its_own_key_and_no_other(page: Page, server: FakeProvider) -> None:
    open_keys(page)
    page.get_by_label("New OpenAI key (OPENAI_API_KEY)").fill(CANARY)
    page.get_by_role("button", name="Save OpenAI key").click()
    expect(page.get_by_label("OpenAI-compatible server key", exact=True)).to_have_count(0)  # no address: no key
    page.get_by_label("OpenAI-compatible server address (OPENAI_API_BASE)").fill(server.url)  # not waiting
    expect(page.get_by_text("saved · …bb99")).to_be_visible()
    page.get_by_role("button", name="Save OpenAI-compatible server address").click()
    expect(page.get_by_text("no key (most need none)")).to_be_visible()  # the row drawn again, with its key field
    key = page.get_by_label("OpenAI-compatible server key", exact=True)
    key.fill("vllm-local-5150")
    expect(key).to_have_value("vllm-local-5150")
    key.press("Enter")
    expect(page.get_by_text("key saved · …5150")).to_be_visible()
    expect(key).to_have_value("")  # write-only, like the providers' keys
    page.get_by_role("dialog").get_by_role("button", name="Close").click()

    page.get_by_role("button", name="Run", exact=True).click()
    dialog = page.get_by_role("dialog").filter(has_text="Start run")
    model = dialog.get_by_label("Model for every agent")
    model.fill("openai/local-model")
    model.press("Enter")
    dialog.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("Succeeded: 3/3 agents")).to_be_visible(timeout=60_000)
    assert len(server.received) == 3, server.received
    assert all("Bearer vllm-local-5150" in request for request in server.received), server.received
    assert not any(CANARY in request for request in server.received)

    open_keys(page)
    page.get_by_role("button", name="Remove the saved OpenAI-compatible server key").click()
    question = page.get_by_role("dialog").filter(has_text="Remove the saved OpenAI-compatible server key")
    question.get_by_role("button", name="Remove").click()
    expect(page.get_by_text("no key (most need none)")).to_be_visible()
    key.fill("vllm-local-6160")
    page.get_by_role("button", name="Save OpenAI-compatible server key").click()
    expect(page.get_by_text("key saved · …6160")).to_be_visible()
    page.get_by_role("button", name="Remove the saved OpenAI-compatible server address").click()
    question = page.get_by_role("dialog").filter(has_text="Remove the saved OpenAI-compatible server address")
    expect(question).to_contain_text("and its key")
    question.get_by_role("button", name="Remove").click()
    expect(page.get_by_label("OpenAI-compatible server key", exact=True)).to_have_count(0)
