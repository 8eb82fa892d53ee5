"""Settings → API keys: write-only, masked to the last 4 characters, bad input named and kept."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

CANARY = "sk-canary-e2e-55aa77bb99"


@pytest.fixture
def app_env() -> dict[str, str]:
    return {"OPENAI_API_KEY": ""}


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
