"""The import's 5 MB limit holds on the server, not only in the browser's file chooser."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from flowdeck.engine.workflow import MAX_FILE_BYTES
from tests.streamed import post_streamed

MIB = 1024 * 1024
# NiceGUI's page knows where its uploader posts; an attacker reads it the same way.
UPLOAD_URL = """Object.values(mounted_app.elements)
    .map((element) => String(element.props?.url ?? '')).find((url) => url.includes('/upload/'))"""


def test_an_upload_over_the_import_limit_is_refused_by_the_server(page: Page, app_url: str) -> None:
    # Found by an attack: the limit was only the browser's; a 300 MB upload was read into the server's memory.
    page.get_by_role("button", name="More workflow actions").click()
    page.get_by_role("menuitem", name="Import from file…").click()
    expect(page.get_by_text("Import a workflow file")).to_be_visible()
    upload_url = page.evaluate(UPLOAD_URL)
    assert "/upload/" in upload_url

    sent = post_streamed(app_url, upload_url, 64 * MIB)  # chunked: no length announced
    assert sent.status == 413, sent
    assert "an upload takes at most" in sent.detail
    assert sent.sent < 16 * MIB  # the server stopped reading past its cap

    # Just over the limit (and within what the server reads with the form around it): the import refuses it.
    assert post_streamed(app_url, upload_url, MAX_FILE_BYTES + 1, chunked=False).status == 200
    expect(
        page.get_by_text(f"the file is {MAX_FILE_BYTES + 1:,} bytes; the limit is {MAX_FILE_BYTES:,}")
    ).to_be_visible()
    expect(page.get_by_text("Import a workflow file")).to_be_visible()  # nothing was opened
