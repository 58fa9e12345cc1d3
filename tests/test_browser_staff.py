"""A staff member works a request in real headless Chromium: signs in with a TOTP code, opens
the request, views the identity document, confirms the identity, sends the acknowledgement,
completes the request (its letter goes with it) and downloads the acknowledgement, whose text
carries the reference and the due date written in the request's language.

The live server's database is not rolled back: the test uses its own addresses, deletes its
staff member and its letters at the end and leaves its request closed (see ``filed``).
"""

from __future__ import annotations

import io
import re
import secrets
import subprocess
from collections.abc import Iterator

import pyotp
import pytest
from babel.dates import format_date
from PIL import Image
from sqlalchemy import delete, select
from test_browser_policy import AXE, axe_violations

from privacy_center.accounts.passwords import hash_password
from privacy_center.content import get_content
from privacy_center.extensions import db as database
from privacy_center.models import Letter, OutgoingMail, PrivacyRequest, StaffMember
from privacy_center.models.types import utcnow
from privacy_center.rights.confirmation import confirm_request
from privacy_center.rights.filing import file_request
from privacy_center.staff.auth.totp import encrypt_totp_secret
from privacy_center.workflow import RequestState

pytestmark = pytest.mark.browser

PASSWORD = "a long staff password for the browser"


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (20, 90, 160)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def tab(browser):
    """A tab where axe-core can be injected despite the console's strict CSP."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make test` runs `npm ci`")
    context = browser.new_context(bypass_csp=True, accept_downloads=True)
    yield context.new_page()
    context.close()


@pytest.fixture
def documents(app, tmp_path, monkeypatch):
    directory = tmp_path / "documents"
    monkeypatch.setitem(app.config, "IDENTITY_DOCUMENT_DIR", str(directory))
    return directory


@pytest.fixture
def member(app) -> Iterator[tuple[str, str]]:
    """An enrolled agent (email, TOTP key), deleted after the test."""
    email = f"agent-{secrets.token_hex(6)}@operator.example"
    key = pyotp.random_base32()
    with app.app_context():
        staff = StaffMember(
            email=email,
            name="Browser Agent",
            role="agent",
            password_hash=hash_password(PASSWORD),
        )
        database.session.add(staff)
        database.session.flush()
        staff.totp_secret = encrypt_totp_secret(app.config["SECRET_KEY"], staff.id, key)
        staff.totp_enrolled_at = utcnow()
        database.session.commit()
    yield email, key
    with app.app_context():
        database.session.execute(delete(StaffMember).where(StaffMember.email == email))
        database.session.commit()


@pytest.fixture
def filed(app, documents, outbox) -> Iterator[str]:
    """A rectification request in German with a PNG identity document, confirmed by email.

    Its letters are deleted afterwards, but the request is left in the database, closed:
    deleting it would rewrite its audit events' request (ON DELETE SET NULL) and break the
    audit log's hash chain for every later test."""
    email = f"browser-{secrets.token_hex(6)}@example.org"
    with app.app_context():
        session = database.session
        today = get_content().operator.today()
        new = file_request(
            session,
            kind="rectification",
            email=email,
            name="Jonas Weber",
            language="de",
            details="Mein Nachname ist falsch geschrieben.",
            specifics={"data_item": "last_name", "new_value": "Weber-Schmidt"},
            account=None,
            document=("ausweis.png", png_bytes()),
            today=today,
            settings=app.config,
        )
        confirmed = confirm_request(session, token=new.confirmation_token, today=today)
        assert confirmed is not None and confirmed.request.state == RequestState.IN_PROGRESS
        reference, request_id = confirmed.request.reference, confirmed.request.id
    yield reference
    with app.app_context():
        database.session.execute(delete(OutgoingMail).where(OutgoingMail.request_id == request_id))
        database.session.execute(delete(Letter).where(Letter.request_id == request_id))
        database.session.commit()


def sign_in_in_browser(page, live_server: str, member: tuple[str, str]) -> None:
    """Sign the ``member`` fixture's agent in through the pages (password, then a TOTP code);
    ends on the queue. The console shows no visitors' cookie banner, not even on its sign-in
    page (staff/_layout.html)."""
    email, key = member
    page.goto(f"{live_server}/staff/sign-in?lang=en")
    assert page.locator(".pc-banner").count() == 0
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/staff/sign-in/code"))
    page.fill("#code", pyotp.TOTP(key).now())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/staff/?$"))


def test_a_request_worked_from_sign_in_to_the_letters(
    live_server, tab, app, member, filed, tmp_path
):
    page = tab
    sign_in_in_browser(page, live_server, member)
    assert axe_violations(page) == []

    # The queue lists the request; its page opens from there.
    page.get_by_role("link", name=filed).click()
    page.wait_for_url(re.compile(rf"/staff/requests/{filed}$"))
    assert page.locator("h1").inner_text() == f"Request {filed}"
    assert axe_violations(page) == []

    # The identity document: its page as an image rendered on the server, never the file
    # itself, never cached.
    page.get_by_role("link", name=re.compile(r"View document 1")).click()
    page.wait_for_url(re.compile(rf"/staff/requests/{filed}/documents/\d+$"))
    image = page.get_by_role("img", name="Page 1 of 1")
    image.wait_for()
    page.wait_for_function(
        "() => { const image = document.querySelector('#document-page-1');"
        " return image.complete && image.naturalWidth > 0; }"
    )
    assert page.locator("iframe, embed, object").count() == 0
    assert axe_violations(page) == []
    shown = page.goto(f"{live_server}{image.get_attribute('src')}")
    assert shown.status == 200 and shown.headers["content-type"] == "image/png"
    assert shown.headers["cache-control"] == "no-store"
    assert shown.headers["x-content-type-options"] == "nosniff"
    with Image.open(io.BytesIO(shown.body())) as rendered:
        assert rendered.format == "PNG" and rendered.size == (40, 30)
    page.goto(f"{live_server}/staff/requests/{filed}")

    # Confirm the identity: the document is deleted.
    page.get_by_label("Type of document checked").select_option("identity_card")
    page.get_by_role("button", name="Confirm identity and delete the documents").click()
    page.get_by_text("Identity confirmed; the documents were deleted.").wait_for()
    assert page.get_by_role("link", name=re.compile(r"View document 1")).count() == 0

    # The acknowledgement, from the letters.
    page.locator("summary", has_text="Acknowledgement of receipt").click()
    page.get_by_role("button", name="Send Acknowledgement of receipt").click()
    page.get_by_text("The letter was sent.").wait_for()

    # Complete: the completion letter goes with it.
    page.get_by_label("What was done").fill("Der Nachname wurde in Weber-Schmidt berichtigt.")
    page.get_by_role("button", name="Complete and send the letter").click()
    page.get_by_text("The request is completed; the letter was sent.").wait_for()
    assert "could not be sent" not in page.content()

    with app.app_context():
        request = database.session.scalar(
            select(PrivacyRequest).where(PrivacyRequest.reference == filed)
        )
        assert request.state == RequestState.COMPLETED
        assert request.identity_outcome == "confirmed"
        kinds = database.session.scalars(
            select(Letter.kind).where(Letter.request_id == request.id).order_by(Letter.id)
        ).all()
        assert kinds == ["acknowledgement", "completion"]
        due_in_german = format_date(request.due_on, "long", locale="de")

    link = page.get_by_role("link", name=re.compile(r"^Acknowledgement of receipt, sent on"))
    with page.expect_download() as download:
        link.click()
    pdf = tmp_path / "acknowledgement.pdf"
    download.value.save_as(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert filed in text
    assert due_in_german in " ".join(text.split())


def test_the_console_navigation_folds_into_a_menu_on_a_phone(live_server, tab, member):
    page = tab
    sign_in_in_browser(page, live_server, member)
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto(f"{live_server}/staff/?lang=de")
    menu = page.locator("details.console-menu > summary")
    assert menu.is_visible() and menu.inner_text() == "Menü"
    queue = page.locator("nav.console-nav").get_by_role("link", name="Warteschlange", exact=True)
    assert not queue.is_visible()
    menu.focus()
    page.keyboard.press("Enter")
    assert queue.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    # The member and the sign-out button stay in the header, outside the menu.
    assert page.locator("#staff-sign-out button").is_visible()

    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server}/staff/?lang=de")
    assert not menu.is_visible()
    links = page.locator("nav.console-nav a")
    assert links.first.is_visible()
    assert len({round(links.nth(i).bounding_box()["y"]) for i in range(links.count())}) == 1
