"""A request filed in real headless Chromium: the form with a real file upload, the emailed
confirmation link, the status page; no accessibility violation on the way.

The live server's database is not rolled back between tests: each test uses its own addresses
and deletes its requests at the end.
"""

from __future__ import annotations

import io
import re
import secrets
from collections.abc import Iterator

import pytest
from PIL import Image
from sqlalchemy import delete, select
from test_browser_policy import AXE, axe_violations

from privacy_center.extensions import db as database
from privacy_center.mail import read_outbox
from privacy_center.models import IdentityDocument, PrivacyRequest

pytestmark = pytest.mark.browser

CONFIRM_LINK = re.compile(r"http://127\.0\.0\.1:\d+/rights/requests/confirm/[^\s\"<>]+")


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (20, 90, 160)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def documents(app, tmp_path, monkeypatch):
    directory = tmp_path / "documents"
    monkeypatch.setitem(app.config, "IDENTITY_DOCUMENT_DIR", str(directory))
    return directory


@pytest.fixture
def requester(app) -> Iterator[str]:
    """A fresh email address; its requests are deleted after the test."""
    email = f"browser-{secrets.token_hex(6)}@example.org"
    yield email
    with app.app_context():
        database.session.execute(delete(PrivacyRequest).where(PrivacyRequest.email == email))
        database.session.commit()


@pytest.fixture
def tab(browser):
    """A tab where axe-core can be injected despite the page's strict CSP."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make test` runs `npm ci`")
    context = browser.new_context(bypass_csp=True)
    yield context.new_page()
    context.close()


def dismiss_banner(tab) -> None:
    tab.locator(".pc-banner").wait_for()
    tab.locator('.pc-banner [data-pc-action="reject-all"]').click()
    tab.locator(".pc-banner").wait_for(state="detached")


def test_filing_with_an_upload_confirming_and_following_a_request(
    live_server, tab, app, outbox, documents, requester
):
    tab.goto(f"{live_server}/rights/requests/new/rectification?lang=en")
    tab.locator(".pc-banner").wait_for()  # audited with the consent banner shown
    assert axe_violations(tab) == []
    dismiss_banner(tab)

    # Sent empty, the form comes back with its errors linked to the fields.
    tab.get_by_role("button", name="Send my request").click()
    tab.locator(".error-summary").wait_for()
    assert tab.get_attribute("#name", "aria-invalid") == "true"
    assert axe_violations(tab) == []

    tab.get_by_label("Your full name").fill("Camille Browser")
    tab.get_by_label("Your email address").fill(requester)
    tab.get_by_label("Language of our replies").select_option("en")
    tab.get_by_label("Which data is wrong?").select_option("last_name")
    tab.get_by_label("What should it be?").fill("Martin-Dupont")
    tab.get_by_label("Anything else we should know (optional)").fill("Married in June.")

    # A file over the limit is refused in the page, before anything is sent or lost.
    tab.locator("#document").set_input_files(
        files=[{"name": "scan.png", "mimeType": "image/png", "buffer": b"\x00" * (10 * 2**20 + 1)}]
    )
    tab.locator("#document-error").wait_for()
    assert "larger than 10 MB" in tab.locator("#document-error").inner_text()
    tab.get_by_role("button", name="Send my request").click()
    assert "/rights/requests/new/rectification" in tab.url
    assert tab.get_by_label("What should it be?").input_value() == "Martin-Dupont"

    tab.locator("#document").set_input_files(
        files=[{"name": "passport.png", "mimeType": "image/png", "buffer": png_bytes()}]
    )
    assert tab.locator("#document-error").is_hidden()
    tab.get_by_role("button", name="Send my request").click()
    tab.wait_for_url("**/rights/requests/sent**")
    with app.app_context():
        filed = database.session.scalars(
            select(PrivacyRequest).where(PrivacyRequest.email == requester)
        ).one()
        reference, state = filed.reference, filed.state
        stored = database.session.scalars(
            select(IdentityDocument.stored_name).where(IdentityDocument.request_id == filed.id)
        ).all()
    assert state == "awaiting_confirmation"
    assert reference in tab.locator("main").inner_text()
    assert axe_violations(tab) == []
    assert [path.name for path in documents.iterdir()] == stored

    (mail,) = [message for message in read_outbox(outbox) if message["To"] == requester]
    text = mail.get_body(preferencelist=("plain",)).get_content()
    tab.goto(CONFIRM_LINK.search(text).group(0))
    assert axe_violations(tab) == []
    tab.get_by_role("button", name="Confirm my request").click()
    tab.wait_for_url(f"**/rights/requests/{reference}/**")

    main = tab.locator("main").inner_text()
    assert reference in main and "In progress" in main and "Martin-Dupont" in main
    assert tab.locator("h1").inner_text() == f"Your request {reference}"
    assert axe_violations(tab) == []

    # The withdrawal asks first.
    tab.get_by_role("link", name="Withdraw this request").click()
    assert axe_violations(tab) == []
    tab.get_by_role("button", name="Yes, withdraw my request").click()
    tab.wait_for_url(f"**/rights/requests/{reference}/**")
    assert "Withdrawn" in tab.locator(".rights-state").inner_text()
    assert axe_violations(tab) == []


def test_the_entry_and_find_pages_are_accessible(live_server, tab):
    for path in ("/rights?lang=fr", "/rights?lang=de", "/rights/requests/find?lang=es"):
        tab.goto(live_server + path)
        tab.locator(".pc-banner").wait_for()
        assert axe_violations(tab) == []
