"""An account holder signs in through the real form and changes a preference, in Chromium.

The live server shares the session app, whose database is not rolled back per test: the
account is made for this test only and removed afterwards, with everything that refers to it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from conftest import DEFAULT_PASSWORD
from sqlalchemy import delete, select

from privacy_center.accounts.passwords import hash_password
from privacy_center.config import PROJECT_ROOT
from privacy_center.extensions import db
from privacy_center.models import (
    Account,
    CommunicationPreference,
    ConsentLink,
    PreferenceChange,
)

pytestmark = pytest.mark.browser

AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def holder(app) -> Iterator[tuple[int, str]]:
    email = f"browser-{secrets.token_hex(6)}@example.org"
    with app.app_context():
        account = Account(
            email=email,
            password_hash=hash_password(DEFAULT_PASSWORD),
            first_name="Camille",
            last_name="Navigateur",
            language="en",
        )
        db.session.add(account)
        db.session.commit()
        account_id = account.id
        db.session.remove()
    yield account_id, email
    with app.app_context():
        db.session.execute(delete(PreferenceChange).where(PreferenceChange.email == email))
        db.session.execute(delete(ConsentLink).where(ConsentLink.account_id == account_id))
        db.session.execute(
            delete(CommunicationPreference).where(CommunicationPreference.account_id == account_id)
        )
        db.session.execute(delete(Account).where(Account.id == account_id))
        db.session.commit()
        db.session.remove()


@pytest.fixture
def audited_page(browser):
    """A tab where axe-core can be injected despite the pages' strict CSP."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make test` runs `npm ci`")
    context = browser.new_context(bypass_csp=True, locale="en-GB")
    tab = context.new_page()
    yield tab
    context.close()


def axe_violations(tab) -> list[dict]:
    tab.add_script_tag(path=str(AXE))
    return tab.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({id: v.id, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
        }"""
    )


def test_sign_in_through_the_form_and_change_a_preference(live_server, audited_page, app, holder):
    account_id, email = holder
    page = audited_page
    # Nothing blocked by the strict CSP, no script error, no failed request (but the favicon).
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on(
        "response",
        lambda response: (
            errors.append(f"{response.status} {response.url}")
            if response.status >= 400 and not response.url.endswith("/favicon.ico")
            else None
        ),
    )

    page.goto(f"{live_server}/rights/preferences")
    assert page.url.startswith(f"{live_server}/rights/sign-in?next=")
    # Answer the consent banner first: the browser then holds a pc_consent cookie.
    page.locator('.pc-banner [data-pc-action="reject-all"]').click()
    page.locator(".pc-banner").wait_for(state="hidden")
    assert axe_violations(page) == []

    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text().startswith("The email address or the password")
    assert axe_violations(page) == []

    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server}/rights/preferences")
    offers = page.locator("#email__offers")
    assert not offers.is_checked()
    assert axe_violations(page) == []
    offers.check()
    page.get_by_role("button", name="Save my preferences").click()
    page.wait_for_url(f"{live_server}/rights/preferences")
    assert "saved" in page.get_by_role("status").inner_text()
    assert page.locator("#email__offers").is_checked()
    assert errors == []

    cookie = next(c for c in page.context.cookies() if c["name"] == "pc_consent")
    with app.app_context():
        (change,) = db.session.scalars(
            select(PreferenceChange).where(PreferenceChange.email == email)
        ).all()
        assert (change.channel, change.topic, change.subscribed, change.method) == (
            "email",
            "offers",
            True,
            "preferences",
        )
        linked = db.session.scalars(
            select(ConsentLink.visitor_id).where(ConsentLink.account_id == account_id)
        ).all()
        assert len(linked) == 1 and linked[0] in cookie["value"]
        db.session.remove()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live_server}/rights/sign-in")
    page.goto(f"{live_server}/rights/preferences")
    assert "/rights/sign-in" in page.url
