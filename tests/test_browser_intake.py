"""The console's page for a request received by post, email or phone, in a real browser: usable
on a phone (320 px) and a desktop (1280 px), accessible, and it records the request."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import select
from test_browser_policy import AXE, axe_violations
from test_browser_staff import member, sign_in_in_browser  # noqa: F401 (member: a fixture)

from privacy_center.content import get_content
from privacy_center.deadlines import due_date
from privacy_center.extensions import db as database
from privacy_center.models import PrivacyRequest


@pytest.fixture
def tab(browser):
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make test` runs `npm ci`")
    context = browser.new_context(bypass_csp=True)
    yield context.new_page()
    context.close()


@pytest.fixture
def documents(app, tmp_path, monkeypatch):
    directory = tmp_path / "documents"
    monkeypatch.setitem(app.config, "IDENTITY_DOCUMENT_DIR", str(directory))
    return directory


def png_file(tmp_path):
    path = tmp_path / "letter-scan.png"
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (240, 240, 240)).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


def test_the_intake_page_on_a_phone_and_a_desktop(
    live_server,
    tab,
    app,
    member,  # noqa: F811 (the fixture of test_browser_staff)
    documents,
    tmp_path,
):
    page = tab
    sign_in_in_browser(page, live_server, member)

    page.get_by_role("link", name="Enter a request received by post, email or phone").click()
    page.wait_for_url(re.compile(r"/staff/requests/new$"))
    for width in (320, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(tmp_path / f"intake-{width}.png"), full_page=True)
        wide = page.evaluate(
            "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right"
            " > document.documentElement.clientWidth + 1).map(e => e.tagName + '#' + e.id + '.'"
            " + e.className)"
        )
        # Nothing overflows sideways: every field is usable on a narrow phone.
        assert wide == []
    assert axe_violations(page) == []

    with app.app_context():
        received = get_content().operator.today() - timedelta(days=3)
    page.get_by_label("Received by").select_option("post")
    page.get_by_label("Date received").fill(received.isoformat())
    page.get_by_label("Requester's full name").fill("Jeanne Martin")
    page.get_by_label("Postal address").fill("12 rue des Lilas\n31000 Toulouse\nFrance")
    page.get_by_label("Language of the reply").select_option("fr")
    page.get_by_label("Type of request").select_option("access")
    page.get_by_label("Scanned documents", exact=True).set_input_files(str(png_file(tmp_path)))
    page.get_by_role("button", name="Record the request").click()
    page.wait_for_url(re.compile(r"/staff/requests/PC-[A-Z0-9-]+$"))
    reference = page.url.rsplit("/", 1)[1]
    page.get_by_text(f"Request {reference} recorded").wait_for()
    page.set_viewport_size({"width": 320, "height": 900})
    page.screenshot(path=str(tmp_path / "request-320.png"), full_page=True)
    assert axe_violations(page) == []
    with app.app_context():
        request = database.session.scalar(
            select(PrivacyRequest).where(PrivacyRequest.reference == reference)
        )
        assert request.channel == "post" and request.email is None
        assert request.due_on == due_date(received)
        assert len(request.documents) == 1
