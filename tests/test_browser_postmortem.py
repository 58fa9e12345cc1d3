"""Post-mortem directives and requests in real headless Chromium, with axe-core on every page:
an heir's request filed with the three uploads and confirmed from the emailed link; an account
holder recording, changing and withdrawing directives (certificate downloaded, its fingerprint
checked); a staff member closing a deceased's account from the console.

The live server's database is not rolled back: each test uses its own addresses and deletes
its rows at the end.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import zipfile
from collections.abc import Iterator

import pytest
from conftest import DEFAULT_PASSWORD
from sqlalchemy import delete, select
from test_browser_policy import AXE, axe_violations
from test_browser_rights import CONFIRM_LINK, dismiss_banner, documents, png_bytes, tab  # noqa: F401
from test_browser_staff import member, sign_in_in_browser  # noqa: F401
from test_rights_requests import pdf_bytes

from privacy_center.accounts.passwords import hash_password
from privacy_center.connectors import get_connector_set
from privacy_center.content import get_content
from privacy_center.extensions import db as database
from privacy_center.mail import read_outbox
from privacy_center.models import (
    Account,
    AuditEvent,
    CommunicationPreference,
    ConsentLink,
    IdentityDocument,
    Letter,
    PreferenceChange,
    PrivacyRequest,
)
from privacy_center.models.postmortem import PostmortemDelivery, PostmortemDirective
from privacy_center.postmortem import services as postmortem
from privacy_center.rights.confirmation import confirm_request
from privacy_center.rights.status import can_withdraw, withdraw
from privacy_center.workflow import RequestState

pytestmark = pytest.mark.browser


@pytest.fixture
def heir(app) -> Iterator[str]:
    """The heir's address; their requests are withdrawn afterwards, not deleted: the audit
    log keeps request ids (no foreign key), and a deleted request's id, reused by a later
    test's request, would give it someone else's history."""
    email = f"heir-{secrets.token_hex(6)}@example.org"
    yield email
    with app.app_context():
        today = get_content().operator.today()
        for left in database.session.scalars(
            select(PrivacyRequest).where(PrivacyRequest.email == email)
        ).all():
            if can_withdraw(left):
                withdraw(database.session, left, today=today)
        database.session.remove()


def upload(name: str, mime: str, data: bytes) -> list[dict[str, object]]:
    return [{"name": name, "mimeType": mime, "buffer": data}]


def test_an_heirs_request_with_three_uploads_end_to_end(
    live_server,
    tab,  # noqa: F811
    app,
    outbox,
    documents,  # noqa: F811
    heir,
):
    tab.goto(f"{live_server}/rights/post-mortem/request?lang=en")
    tab.locator(".pc-banner").wait_for()
    assert axe_violations(tab) == []
    dismiss_banner(tab)

    # Sent empty, every missing document is named beside its field.
    tab.get_by_role("button", name="Send my request").click()
    tab.locator(".error-summary").wait_for()
    for field in ("death_certificate", "capacity_proof", "identity"):
        assert tab.get_attribute(f"#{field}", "aria-invalid") == "true"
    assert axe_violations(tab) == []

    tab.get_by_label("Full name of the deceased").fill("Jeanne Martin")
    tab.get_by_label("The deceased's email address or account reference").fill(
        "jeanne.martin@example.org"
    )
    tab.get_by_label("What do you ask for?").select_option("postmortem_closure")
    tab.get_by_label("You are acting as").select_option("heir")
    tab.get_by_label("Your full name").fill("Paul Martin")
    tab.get_by_label("Your email address").fill(heir)
    tab.get_by_label("Language of our replies").select_option("en")
    tab.locator("#death_certificate").set_input_files(
        files=upload("acte-de-deces.pdf", "application/pdf", pdf_bytes())
    )
    tab.locator("#capacity_proof").set_input_files(
        files=upload("acte-de-notoriete.pdf", "application/pdf", pdf_bytes())
    )
    tab.locator("#identity").set_input_files(files=upload("passport.png", "image/png", png_bytes()))
    tab.get_by_role("button", name="Send my request").click()
    tab.wait_for_url("**/rights/requests/sent**")
    with app.app_context():
        filed = database.session.scalars(
            select(PrivacyRequest).where(PrivacyRequest.email == heir)
        ).one()
        reference, state, kind = filed.reference, filed.state, filed.kind
        kinds = sorted(
            database.session.scalars(
                select(IdentityDocument.kind).where(IdentityDocument.request_id == filed.id)
            )
        )
    assert (state, kind) == ("awaiting_confirmation", "postmortem_closure")
    assert kinds == ["death_certificate", "heir_identity", "heirship"]
    assert len(list(documents.iterdir())) == 3
    assert reference in tab.locator("main").inner_text()
    assert axe_violations(tab) == []

    (mail,) = [message for message in read_outbox(outbox) if message["To"] == heir]
    text = mail.get_body(preferencelist=("plain",)).get_content()
    tab.goto(CONFIRM_LINK.search(text).group(0))
    tab.get_by_role("button", name="Confirm my request").click()
    tab.wait_for_url(f"**/rights/requests/{reference}/**")
    main = tab.locator("main").inner_text()
    assert reference in main and "In progress" in main
    assert axe_violations(tab) == []


def test_the_fingerprint_check_page_is_accessible(live_server, tab):  # noqa: F811
    for language in ("fr", "en", "es", "de"):
        tab.goto(f"{live_server}/rights/post-mortem/verify?lang={language}&fingerprint={'0' * 64}")
        assert tab.locator(".alert").is_visible()
        assert axe_violations(tab) == []


# --- The account holder's directives ------------------------------------------------------------


@pytest.fixture
def downloads_tab(browser):
    """A tab where axe-core can be injected despite the strict CSP, and files downloaded."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make test` runs `npm ci`")
    context = browser.new_context(bypass_csp=True, accept_downloads=True, locale="en-GB")
    yield context.new_page()
    context.close()


def _delete_account(email: str) -> None:
    session = database.session
    account_id = session.scalar(select(Account.id).where(Account.email == email))
    if account_id is None:
        return
    session.execute(delete(PostmortemDirective).where(PostmortemDirective.account_id == account_id))
    session.execute(delete(PreferenceChange).where(PreferenceChange.email == email))
    session.execute(delete(ConsentLink).where(ConsentLink.account_id == account_id))
    session.execute(
        delete(CommunicationPreference).where(CommunicationPreference.account_id == account_id)
    )
    session.execute(delete(Account).where(Account.id == account_id))
    session.commit()


@pytest.fixture
def holder(app) -> Iterator[str]:
    """An account holder (English) made for the test, deleted afterwards with their directives."""
    email = f"holder-{secrets.token_hex(6)}@example.org"
    with app.app_context():
        database.session.add(
            Account(
                email=email,
                password_hash=hash_password(DEFAULT_PASSWORD),
                first_name="Camille",
                last_name="Navigateur",
                language="en",
            )
        )
        database.session.commit()
        database.session.remove()
    yield email
    with app.app_context():
        _delete_account(email)
        database.session.remove()


def _versions(app, email: str) -> list[tuple[int, bool, str | None, str]]:
    with app.app_context():
        rows = database.session.execute(
            select(
                PostmortemDirective.version,
                PostmortemDirective.withdrawn_at.is_not(None),
                PostmortemDirective.designated_email,
                PostmortemDirective.fingerprint,
            )
            .join(Account, Account.id == PostmortemDirective.account_id)
            .where(Account.email == email)
            .order_by(PostmortemDirective.version)
        ).all()
        database.session.remove()
    return [tuple(row) for row in rows]


def test_an_account_holder_records_changes_and_withdraws_directives(
    live_server, downloads_tab, app, holder, tmp_path
):
    page = downloads_tab
    page.goto(f"{live_server}/rights/post-mortem?lang=en")
    assert "/rights/sign-in" in page.url
    dismiss_banner(page)
    page.get_by_label("Email address").fill(holder)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/rights/post-mortem(\?.*)?$"))
    assert page.locator("h1").inner_text() == "My directives after my death"
    assert "You have no directives in force." in page.locator("main").inner_text()
    # The separate consent: its own checkbox, never ticked beforehand.
    consent = page.locator("#consent")
    assert not consent.is_checked()
    assert axe_violations(page) == []

    with app.app_context():
        first, second = [category.label("en") for category in get_connector_set().categories()][:2]
    page.get_by_label(first, exact=True).select_option("delete")
    page.get_by_label(second, exact=True).select_option("delete")
    # Without the consent, the form refuses and nothing is recorded.
    page.get_by_role("button", name="Record my directives").click()
    page.locator(".error-summary").wait_for()
    assert page.locator("#consent").get_attribute("aria-invalid") == "true"
    assert "specific consent" in page.locator("main").inner_text()
    assert _versions(app, holder) == []
    assert axe_violations(page) == []

    page.locator("#consent").check()
    page.get_by_role("button", name="Record my directives").click()
    page.get_by_text("Your directives are recorded.").wait_for()
    ((version, withdrawn, designated, _),) = _versions(app, holder)
    assert (version, withdrawn, designated) == (1, False, None)
    assert axe_violations(page) == []

    # Changed: the first kind of data to a designated person.
    designated_email = f"alex-{secrets.token_hex(4)}@example.org"
    page.get_by_label(first, exact=True).select_option("communicate")
    page.get_by_label("Designated person's full name").fill("Alex Navigateur")
    page.get_by_label("Designated person's email address").fill(designated_email)
    page.get_by_label("Who this person is to you").fill("son")
    assert not page.locator("#consent").is_checked()
    page.locator("#consent").check()
    page.get_by_role("button", name="Record my directives").click()
    page.get_by_text("Your directives are recorded.").wait_for()
    versions = _versions(app, holder)
    assert [row[:3] for row in versions] == [(1, False, None), (2, False, designated_email)]
    fingerprint = versions[1][3]
    grouped = postmortem.group_fingerprint(fingerprint)
    assert grouped in page.locator("main").inner_text()

    # The certificate: a PDF carrying the fingerprint of the version in force.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the certificate (PDF)").click()
    pdf = tmp_path / "certificate.pdf"
    download.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert grouped in " ".join(text.split())
    assert "Alex Navigateur" in text

    # Checked on the site, copied as printed.
    page.get_by_role("link", name="Check a certificate's fingerprint").click()
    page.get_by_label("Fingerprint printed on the certificate").fill(grouped)
    page.get_by_role("button", name="Check").click()
    page.get_by_text("This certificate is genuine").wait_for()
    assert "is in force" in page.locator(".alert").inner_text()
    assert axe_violations(page) == []

    # Withdrawn: every version is kept, none is in force, and the certificate says so.
    page.goto(f"{live_server}/rights/post-mortem?lang=en")
    page.get_by_role("button", name="Withdraw my directives").click()
    page.get_by_text("Your directives are withdrawn.").wait_for()
    assert "You have no directives in force." in page.locator("main").inner_text()
    assert [row[:2] for row in _versions(app, holder)] == [(1, False), (2, True)]
    history = page.locator("#history-title + ul").inner_text()
    assert "Version 1" in history and "Version 2" in history and "withdrawn on" in history
    assert axe_violations(page) == []
    page.goto(f"{live_server}/rights/post-mortem/verify?lang=en&fingerprint={fingerprint}")
    assert "was withdrawn on" in page.locator(".alert").inner_text()


# --- The staff side -----------------------------------------------------------------------------


@pytest.fixture
def heirs_request(request, app, documents, outbox) -> Iterator[tuple[str, str, str]]:  # noqa: F811
    """A deceased account holder whose directives say "communicate nothing", and an heir's
    request to close their account (or of the kind given as the fixture's param), confirmed by
    email (in progress, three documents). Yields (reference, the heir's email, the deceased's
    email). Afterwards the letters, the data mailed and the deceased's account are deleted;
    the request is left closed (see ``heir``)."""
    kind = getattr(request, "param", "postmortem_closure")
    deceased = f"deceased-{secrets.token_hex(6)}@example.org"
    heir = f"heir-{secrets.token_hex(6)}@example.org"
    with app.app_context():
        keys = [category.key for category in get_connector_set().categories()]
        session = database.session
        account = Account(
            email=deceased,
            password_hash=hash_password(DEFAULT_PASSWORD),
            first_name="Jeanne",
            last_name="Navigateur",
            language="fr",
        )
        session.add(account)
        session.commit()
        postmortem.record_directives(
            session,
            account=account,
            choices=dict.fromkeys(keys, "delete"),
            category_keys=keys,
            communicate_nothing=True,
            designated_name="",
            designated_email="",
            designated_relation="",
            consent=True,
            language="fr",
        )
        today = get_content().operator.today()
        filed = postmortem.file_postmortem_request(
            session,
            kind=kind,
            email=heir,
            name="Paul Navigateur",
            language="en",
            details="",
            deceased_name="Jeanne Navigateur",
            deceased_identifier=deceased,
            capacity="heir",
            documents={
                "death_certificate": ("acte-de-deces.pdf", pdf_bytes()),
                "heirship": ("acte-de-notoriete.pdf", pdf_bytes()),
                "heir_identity": ("passport.png", png_bytes()),
            },
            today=today,
            settings=app.config,
        )
        confirmed = confirm_request(session, token=filed.confirmation_token, today=today)
        assert confirmed is not None
        assert confirmed.request.state == RequestState.IN_PROGRESS
        reference = confirmed.request.reference
        database.session.remove()
    yield reference, heir, deceased
    with app.app_context():
        session = database.session
        request_id = session.scalar(
            select(PrivacyRequest.id).where(PrivacyRequest.reference == reference)
        )
        filed = session.get(PrivacyRequest, request_id)
        if can_withdraw(filed):
            withdraw(session, filed, today=get_content().operator.today())
        session.execute(delete(Letter).where(Letter.request_id == request_id))
        session.execute(
            delete(PostmortemDelivery).where(PostmortemDelivery.request_id == request_id)
        )
        session.commit()
        _delete_account(deceased)
        database.session.remove()


def test_staff_close_the_account_of_a_deceased_who_asked_to_communicate_nothing(
    live_server,
    downloads_tab,
    app,
    outbox,
    member,  # noqa: F811
    heirs_request,
    tmp_path,
):
    page = downloads_tab
    reference, heir, deceased = heirs_request
    sign_in_in_browser(page, live_server, member)

    # The queue filters the requests about a deceased person.
    page.get_by_label("Type", exact=True).select_option("postmortem_closure")
    page.get_by_role("button", name="Filter", exact=True).click()
    page.get_by_role("link", name=reference).click()
    page.wait_for_url(re.compile(rf"/staff/requests/{reference}$"))

    # The directives come first, "communicate nothing" announced as an alert.
    alert = page.get_by_role("alert").filter(has_text="asked that nothing be communicated")
    assert alert.is_visible()
    facts = page.locator(".staff-facts")
    assert alert.bounding_box()["y"] < facts.bounding_box()["y"]
    assert axe_violations(page) == []

    # The death certificate, the proof of heirship and the heir's identity are checked first.
    page.get_by_label("Type of document checked").select_option("passport")
    page.get_by_role("button", name="Confirm identity and delete the documents").click()
    page.get_by_text("Identity confirmed; the documents were deleted.").wait_for()

    page.get_by_role("button", name="Close the account, complete and send the letter").click()
    page.get_by_text("The account is closed and the request completed").wait_for()
    assert "could not be sent" not in page.content()
    assert axe_violations(page) == []

    with app.app_context():
        session = database.session
        request = session.scalar(
            select(PrivacyRequest).where(PrivacyRequest.reference == reference)
        )
        account = session.scalar(select(Account).where(Account.email == deceased))
        assert request.state == RequestState.COMPLETED
        assert account.deactivated_at is not None
        (letter,) = session.scalars(select(Letter).where(Letter.request_id == request.id)).all()
        assert letter.kind == "completion" and letter.language == "en"
        assert "The account was closed." in letter.fields["done"]
        assert session.scalars(
            select(AuditEvent.id).where(
                AuditEvent.request_id == request.id,
                AuditEvent.action == "postmortem.account_closed",
            )
        ).all()
        session.remove()

    # The free confirmation letter, mailed to the heir as a PDF.
    mail = [message for message in read_outbox(outbox) if message["To"] == heir][-1]
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    pdf = tmp_path / "confirmation.pdf"
    pdf.write_bytes(attachment.get_content())
    text = " ".join(
        subprocess.run(
            ["pdftotext", "-enc", "UTF-8", str(pdf), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    )
    assert reference in text and "The account was closed." in text
    assert "free of charge" in text


@pytest.mark.parametrize("heirs_request", ["postmortem_estate"], indirect=True)
def test_staff_communicate_data_of_a_deceased_and_the_heir_downloads_them_once(
    live_server,
    downloads_tab,
    app,
    outbox,
    member,  # noqa: F811
    heirs_request,
    tmp_path,
):
    page = downloads_tab
    reference, heir, _deceased = heirs_request
    sign_in_in_browser(page, live_server, member)
    page.goto(f"{live_server}/staff/requests/{reference}?lang=en")
    page.get_by_label("Type of document checked").select_option("passport")
    page.get_by_role("button", name="Confirm identity and delete the documents").click()
    page.get_by_text("Identity confirmed; the documents were deleted.").wait_for()

    # "Communicate nothing": refused without the estate's need, and the box is unticked.
    with app.app_context():
        first = get_connector_set().categories()[0]
        key, label = first.key, first.label("en")
    release = page.locator('section[aria-labelledby="action-release"]')
    release.get_by_label(label, exact=True).check()
    release.get_by_role("button", name="Record the release").click()
    page.get_by_text("Refused: the deceased asked that nothing be communicated").wait_for()
    release = page.locator('section[aria-labelledby="action-release"]')
    assert not release.get_by_label(label, exact=True).is_checked()
    assert axe_violations(page) == []
    release.get_by_label(label, exact=True).check()
    release.get_by_label("Estate-settlement need").fill("The notary needs the contact details.")
    release.get_by_role("button", name="Record the release").click()
    page.get_by_text("The data were mailed to the requester").wait_for()
    assert axe_violations(page) == []
    page.screenshot(path=str(tmp_path / "staff-after-release.png"), full_page=True)

    # The heir's mail: a link to a page whose button downloads the zip, once.
    mail = [message for message in read_outbox(outbox) if message["To"] == heir][-1]
    text = mail.get_body(preferencelist=("plain",)).get_content()
    (link,) = set(re.findall(r"https?://\S+/rights/post-mortem/data/\S+", text))
    page.goto(link + "?lang=en")
    assert label in page.locator("#data-categories").inner_text()
    assert axe_violations(page) == []
    page.screenshot(path=str(tmp_path / "data-link.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the data").click()
    archive = tmp_path / "data.zip"
    download.value.save_as(archive)
    with zipfile.ZipFile(archive) as opened:
        categories = json.loads(opened.read("data.json"))["categories"]
    assert list(categories) == [key]
    page.goto(link + "?lang=en")
    page.get_by_text("This link was already used").wait_for()
    assert reference in page.locator("#ask-again").inner_text()
    assert axe_violations(page) == []
    page.screenshot(path=str(tmp_path / "data-link-used.png"), full_page=True)
