"""An account holder signs in through the real form and downloads their data, in Chromium.

The live server shares the session app, whose database is not rolled back per test: the
account is made for this test only and removed afterwards, with everything that refers to it.
"""

from __future__ import annotations

import io
import json
import secrets
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import DEFAULT_PASSWORD
from sqlalchemy import delete, select

from privacy_center.accounts.passwords import hash_password
from privacy_center.config import PROJECT_ROOT
from privacy_center.extensions import db
from privacy_center.models import (
    Account,
    ConsentLink,
    ConsentReceipt,
    DataExport,
    Invoice,
    PreferenceChange,
    Site,
)
from tests.subject_data import fill_account

pytestmark = pytest.mark.browser

AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def holder(app) -> Iterator[tuple[int, str]]:
    email = f"browser-export-{secrets.token_hex(6)}@example.org"
    with app.app_context():
        site_existed = db.session.scalar(select(Site.id).where(Site.key == "demo")) is not None
        account = Account(
            email=email,
            password_hash=hash_password(DEFAULT_PASSWORD),
            first_name="Zoé",
            last_name="Navigateur",
            language="en",
        )
        db.session.add(account)
        db.session.flush()
        fill_account(db.session, account)
        db.session.commit()
        account_id = account.id
        db.session.remove()
    yield account_id, email
    with app.app_context():
        visitors = select(ConsentLink.visitor_id).where(ConsentLink.account_id == account_id)
        db.session.execute(delete(ConsentReceipt).where(ConsentReceipt.visitor_id.in_(visitors)))
        db.session.execute(delete(Invoice).where(Invoice.account_id == account_id))
        db.session.execute(delete(PreferenceChange).where(PreferenceChange.email == email))
        # Everything else refers to the account with ON DELETE CASCADE.
        db.session.execute(delete(Account).where(Account.id == account_id))
        if not site_existed:
            db.session.execute(delete(Site).where(Site.key == "demo"))
        db.session.commit()
        db.session.remove()


@pytest.fixture
def tab(browser):
    """A tab that accepts downloads and where axe-core can be injected despite the strict CSP."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make test` runs `npm ci`")
    context = browser.new_context(bypass_csp=True, accept_downloads=True, locale="en-GB")
    page = context.new_page()
    yield page
    context.close()


def axe_violations(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({id: v.id, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
        }"""
    )


def test_sign_in_and_download_my_data(live_server, tab, app, holder) -> None:
    account_id, email = holder
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on(
        "response",
        lambda response: (
            errors.append(f"{response.status} {response.url}")
            if response.status >= 400 and not response.url.endswith("/favicon.ico")
            else None
        ),
    )

    tab.goto(f"{live_server}/rights/download?lang=en")
    assert tab.url.startswith(f"{live_server}/rights/sign-in?next=")
    tab.locator('.pc-banner [data-pc-action="reject-all"]').click()
    tab.locator(".pc-banner").wait_for(state="hidden")
    tab.get_by_label("Email address").fill(email)
    tab.get_by_label("Password").fill(DEFAULT_PASSWORD)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url(f"{live_server}/rights/download?lang=en")
    assert tab.get_by_role("heading", level=1).inner_text() == "Download my data"
    assert axe_violations(tab) == []

    with tab.expect_download() as download_info:
        tab.get_by_role("button", name="Download my data").click()
    download = download_info.value
    assert download.suggested_filename.startswith("allopass-my-data-")
    assert download.suggested_filename.endswith("-copy-1.zip")
    archive = zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes()))
    names = set(archive.namelist())
    assert {"data.json", "data.schema.json", "summary.html", "summary.pdf", "manifest.json",
            "csv/identity.csv", "csv/browsing_events.csv"} <= names  # fmt: skip
    data = json.loads(archive.read("data.json"))
    assert data["subject"] == {"email": email, "account_id": account_id}
    assert data["categories"]["identity"]["rows"][0]["first_name"] == "Zoé"
    assert len(data["categories"]["browsing_events"]["rows"]) == 12
    assert '<html lang="en">' in archive.read("summary.html").decode()
    assert archive.read("summary.pdf").startswith(b"%PDF-")

    # The copy is counted: the page now lists it and shows the fee notice for the next one.
    tab.reload()
    assert tab.get_by_role("row", name="1").count() == 1
    notice = tab.get_by_label("I have read this notice about copy number 2")
    assert notice.count() == 1
    assert axe_violations(tab) == []
    assert errors == []
    with app.app_context():
        (export,) = db.session.scalars(
            select(DataExport).where(DataExport.account_id == account_id)
        ).all()
        assert (export.state, export.copy_number, export.language) == ("ready", 1, "en")
        db.session.remove()
