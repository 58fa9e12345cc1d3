"""Account holders sign in with a password or a single-use emailed link; demo accounts."""

from __future__ import annotations

import json
import re
import secrets
from datetime import timedelta
from urllib.parse import quote, urlsplit

import pytest
from argon2 import PasswordHasher
from conftest import DEFAULT_PASSWORD, sign_in
from sqlalchemy import func, select

from privacy_center.accounts.demo import seed_demo_accounts
from privacy_center.accounts.demo_cli import seed_demo
from privacy_center.accounts.demo_holders import DEMO_PASSWORD, HOLDERS
from privacy_center.accounts.passwords import verify_password
from privacy_center.accounts.sign_in import authenticate, safe_next, visitor_id_from_cookie
from privacy_center.content import get_content
from privacy_center.mail import read_outbox
from privacy_center.models import (
    Account,
    BrowsingEvent,
    CommunicationPreference,
    Complaint,
    ConsentLink,
    ConsentReceipt,
    EmailToken,
    Interest,
    Invoice,
    PreferenceChange,
    Subscription,
    SupportConversation,
)
from privacy_center.models.types import utcnow
from privacy_center.tokens import issue_token

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
GENERIC_ERROR = "The email address or the password is not right."


@pytest.fixture
def client(client):
    """A client from its own address: the rate limits count per address across the session."""
    client.environ_base["REMOTE_ADDR"] = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.7"
    # The pages' texts are asserted in English (the operator's default language is French).
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def csrf_token(client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return CSRF.search(page.get_data(as_text=True)).group(1)


def post_sign_in(client, email: str, password: str, next_url: str = ""):
    token = csrf_token(client, "/rights/sign-in")
    return client.post(
        "/rights/sign-in",
        data={"csrf_token": token, "email": email, "password": password, "next": next_url},
    )


def is_signed_in(client) -> bool:
    return client.get("/rights/preferences").status_code == 200


def test_password_sign_in_opens_a_session(client, db, make_account):
    account = make_account(last_active_at=utcnow() - timedelta(days=400))
    assert not is_signed_in(client)
    answer = post_sign_in(client, "  " + account.email.upper() + " ", DEFAULT_PASSWORD)
    assert answer.status_code == 302
    assert urlsplit(answer.location).path in ("/rights", "/rights/preferences")
    assert is_signed_in(client)
    db.refresh(account)
    assert utcnow() - account.last_active_at < timedelta(minutes=1)


@pytest.mark.parametrize("case", ["wrong password", "unknown email", "deactivated"])
def test_failed_sign_in_says_the_same_whatever_went_wrong(client, make_account, case):
    account = make_account(deactivated_at=utcnow() if case == "deactivated" else None)
    email = "nobody-" + account.email if case == "unknown email" else account.email
    password = "not the password" if case == "wrong password" else DEFAULT_PASSWORD
    answer = post_sign_in(client, email, password)
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert GENERIC_ERROR in page and 'role="alert"' in page
    assert 'aria-describedby="email-error sign-in-error"' not in page  # no per-field error
    assert 'aria-describedby="sign-in-error" aria-invalid="true"' in page
    assert DEFAULT_PASSWORD not in page
    assert not is_signed_in(client)


def test_an_empty_form_names_the_missing_fields(client):
    token = csrf_token(client, "/rights/sign-in")
    page = client.post(
        "/rights/sign-in", data={"csrf_token": token, "email": "", "password": ""}
    ).get_data(as_text=True)
    assert "Enter your email address." in page and "Enter your password." in page
    assert 'id="email-error"' in page and 'aria-describedby="email-error"' in page


def test_sign_in_without_a_csrf_token_is_refused(client, make_account):
    account = make_account()
    answer = client.post(
        "/rights/sign-in", data={"email": account.email, "password": DEFAULT_PASSWORD}
    )
    assert answer.status_code == 400
    assert not is_signed_in(client)


def test_a_local_next_address_is_followed(client, make_account):
    account = make_account()
    page = client.get("/rights/sign-in?next=/rights/preferences").get_data(as_text=True)
    assert 'name="next" type="hidden" value="/rights/preferences"' in page
    answer = post_sign_in(client, account.email, DEFAULT_PASSWORD, "/rights/preferences?x=1")
    assert answer.location == "/rights/preferences?x=1"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/path",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "/ok\r\nSet-Cookie: x=1",
        "evil.example",
    ],
)
def test_next_addresses_off_the_site_are_refused(client, make_account, target):
    assert safe_next(target) is None
    page = client.get("/rights/sign-in", query_string={"next": target}).get_data(as_text=True)
    assert 'name="next" type="hidden" value=""' in page
    answer = post_sign_in(client, make_account().email, DEFAULT_PASSWORD, target)
    assert answer.status_code == 302
    assert answer.location.startswith("/rights") and "evil" not in answer.location


def test_safe_next_keeps_local_paths():
    assert safe_next("/rights/preferences?lang=de#top") == "/rights/preferences?lang=de#top"
    assert safe_next("") is None and safe_next(None) is None


def test_signing_in_starts_a_new_session(client, make_account):
    """Nothing planted in the session before signing in survives it (fixation)."""
    account = make_account()
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    old_token = csrf_token(client, "/rights/sign-in")
    post_sign_in(client, account.email, DEFAULT_PASSWORD)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == account.get_id()
        assert session.get("csrf_token") != old_token


def test_an_outdated_password_hash_is_replaced(db, make_account):
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    account = make_account()
    account.password_hash = weak.hash(DEFAULT_PASSWORD)
    old_hash = account.password_hash
    assert authenticate(db, email=account.email, password=DEFAULT_PASSWORD) is account
    assert account.password_hash != old_hash
    assert verify_password(account.password_hash, DEFAULT_PASSWORD)


def test_sign_in_links_the_browser_consent_identifier(client, db, make_account):
    account = make_account()
    visitor = "3f2b8c1e-9a4d-4c3b-8e2f-1a2b3c4d5e6f"
    cookie = {"v": 2, "id": visitor, "r": "x", "t": 1700000000, "c": {"analytics": 1}}
    client.set_cookie("pc_consent", quote(json.dumps(cookie, separators=(",", ":"))))
    post_sign_in(client, account.email, DEFAULT_PASSWORD)
    client.post("/rights/sign-out", data={"csrf_token": csrf_token(client, "/rights/preferences")})
    post_sign_in(client, account.email, DEFAULT_PASSWORD)
    links = db.scalars(select(ConsentLink).where(ConsentLink.account_id == account.id)).all()
    assert [link.visitor_id for link in links] == [visitor]


@pytest.mark.parametrize(
    "value",
    [None, "", "not json", quote('{"id": "not-a-uuid"}'), quote("[1, 2]"), quote('{"v": 1}')],
)
def test_a_damaged_consent_cookie_links_nothing(value):
    assert visitor_id_from_cookie(value) is None


def test_sign_out_ends_the_session(client, make_account):
    account = make_account()
    sign_in(client, account)
    assert is_signed_in(client)
    token = csrf_token(client, "/rights/preferences")
    assert client.post("/rights/sign-out").status_code == 400  # no CSRF token
    answer = client.post("/rights/sign-out", data={"csrf_token": token})
    assert answer.status_code == 302 and answer.location == "/rights/sign-in"
    assert "You are signed out." in client.get("/rights/sign-in").get_data(as_text=True)
    assert not is_signed_in(client)


def test_a_deactivated_account_loses_its_session(client, db, make_account):
    account = make_account()
    sign_in(client, account)
    account.deactivated_at = utcnow()
    db.flush()
    assert not is_signed_in(client)


# --- emailed sign-in links ----------------------------------------------------------------------


def ask_for_link(client, email: str, next_url: str = ""):
    """Ask for a link, then close the answer as the WSGI server does once it is sent: the mail
    is worked out then (mail_intents.py; tests/test_security_timing.py checks the order)."""
    token = csrf_token(client, "/rights/sign-in/link")
    answer = client.post(
        "/rights/sign-in/link", data={"csrf_token": token, "email": email, "next": next_url}
    )
    answer.close()
    return answer


def link_in(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(r"http://localhost(/rights/sign-in/\S+)", text).group(1)


def test_the_sign_in_link_flow(client, db, make_account, outbox):
    account = make_account(language="en")
    answer = ask_for_link(client, account.email.upper(), "/rights/preferences")
    assert answer.status_code == 302 and answer.location == "/rights/sign-in/link?sent=1"
    sent_page = client.get(answer.location).get_data(as_text=True)
    assert "If an account exists for this address, we sent a link" in sent_page
    (message,) = read_outbox(outbox)
    assert message["To"] == account.email and message["Content-Language"] == "en"
    assert "sign-in link" in message["Subject"]
    link = link_in(message)
    assert link in message.get_body(("html",)).get_content().replace("&amp;", "&")

    # Opening the link (as a mail scanner would) shows a button and uses nothing.
    page = client.get(link)
    assert page.status_code == 200 and account.email in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    stored = db.scalar(select(EmailToken).where(EmailToken.account_id == account.id))
    assert stored.used_at is None and stored.purpose == "sign_in"
    assert timedelta(minutes=14) < stored.expires_at - stored.created_at <= timedelta(minutes=15)
    assert not is_signed_in(client)
    assert client.get(link).status_code == 200

    token = CSRF.search(page.get_data(as_text=True)).group(1)
    assert client.post(link).status_code == 400  # the button's form carries its CSRF token
    signed = client.post(link, data={"csrf_token": token})
    assert signed.status_code == 302 and signed.location == "/rights/preferences"
    assert is_signed_in(client)

    # Used once: a second use fails with a clear page.
    client.post("/rights/sign-out", data={"csrf_token": csrf_token(client, "/rights/preferences")})
    again = client.get(link)
    assert again.status_code == 404
    assert "This sign-in link no longer works" in again.get_data(as_text=True)
    token = csrf_token(client, "/rights/sign-in/link")
    assert client.post(link, data={"csrf_token": token}).status_code == 404
    assert not is_signed_in(client)


def test_an_expired_sign_in_link_fails(client, db, make_account):
    account = make_account()
    secret = issue_token(
        db,
        purpose="sign_in",
        email=account.email,
        account_id=account.id,
        lifetime=timedelta(minutes=15),
        now=utcnow() - timedelta(minutes=16),
    )
    assert client.get(f"/rights/sign-in/{secret}").status_code == 404
    token = csrf_token(client, "/rights/sign-in/link")
    answer = client.post(f"/rights/sign-in/{secret}", data={"csrf_token": token})
    assert answer.status_code == 404 and not is_signed_in(client)


def test_a_link_for_an_address_the_account_no_longer_has_fails(client, db, make_account):
    account = make_account()
    secret = issue_token(
        db,
        purpose="sign_in",
        email="old-" + account.email,
        account_id=account.id,
        lifetime=timedelta(minutes=15),
    )
    assert client.get(f"/rights/sign-in/{secret}").status_code == 404


@pytest.mark.parametrize("case", ["unknown", "deactivated"])
def test_asking_for_a_link_says_the_same_and_sends_nothing(client, make_account, outbox, case):
    account = make_account(deactivated_at=utcnow())
    email = account.email if case == "deactivated" else "nobody-" + account.email
    answer = ask_for_link(client, email)
    assert answer.status_code == 302 and answer.location == "/rights/sign-in/link?sent=1"
    assert read_outbox(outbox) == []


def test_a_malformed_address_is_pointed_out(client, outbox):
    page = ask_for_link(client, "not an address").get_data(as_text=True)
    assert "Enter an email address like name@example.com." in page
    assert read_outbox(outbox) == []


def test_a_link_that_cannot_be_mailed_still_gets_the_same_answer(
    client, make_account, app, monkeypatch
):
    account = make_account()
    monkeypatch.setitem(app.config, "MAIL_OUTBOX_DIR", None)
    answer = ask_for_link(client, account.email)
    assert answer.status_code == 302 and answer.location == "/rights/sign-in/link?sent=1"


# --- rate limits --------------------------------------------------------------------------------


def test_password_attempts_are_rate_limited_by_address(make_app, db, make_account):
    client = make_app(LOGIN_RATE_LIMIT="3 per minute").test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    account = make_account()
    db.commit()  # kept through the other app's requests (each ends by closing the session)
    statuses = [post_sign_in(client, f"{n}-{account.email}", "wrong").status_code for n in range(3)]
    assert statuses == [200, 200, 200]
    # Over the limit: even the right password is refused, with a page saying to wait.
    answer = post_sign_in(client, account.email, DEFAULT_PASSWORD)
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "60"
    assert "Too many attempts" in answer.get_data(as_text=True)
    assert not is_signed_in(client)


def test_password_attempts_are_rate_limited_by_email(make_app, db, make_account):
    client = make_app(LOGIN_RATE_LIMIT="2 per minute").test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    account = make_account()
    db.commit()  # kept through the other app's requests (each ends by closing the session)
    for number in range(2):
        client.environ_base["REMOTE_ADDR"] = f"192.0.2.{20 + number}"
        assert post_sign_in(client, account.email, "wrong").status_code == 200
    client.environ_base["REMOTE_ADDR"] = "192.0.2.30"
    assert post_sign_in(client, account.email.upper(), DEFAULT_PASSWORD).status_code == 429


def test_sign_in_links_are_rate_limited(make_app, db, make_account, tmp_path):
    app = make_app(SIGN_IN_LINK_RATE_LIMIT="2 per hour", MAIL_OUTBOX_DIR=str(tmp_path))
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.40"
    account = make_account()
    db.commit()  # kept through the other app's requests (each ends by closing the session)
    statuses = [ask_for_link(client, account.email).status_code for _ in range(3)]
    assert statuses == [302, 302, 429]
    assert len(read_outbox(tmp_path)) == 2


# --- demo accounts ------------------------------------------------------------------------------

CATEGORIES = (
    Subscription,
    Invoice,
    BrowsingEvent,
    Interest,
    Complaint,
    SupportConversation,
    ConsentLink,
    CommunicationPreference,
    PreferenceChange,
)


def demo_counts(db) -> dict[str, int]:
    counts = {
        model.__name__: db.scalar(select(func.count()).select_from(model)) for model in CATEGORIES
    }
    counts["Account"] = db.scalar(select(func.count()).select_from(Account))
    counts["ConsentReceipt"] = db.scalar(select(func.count()).select_from(ConsentReceipt))
    return counts


def test_the_demo_seed_is_idempotent_and_covers_every_category(app, db):
    content = get_content()
    seed_demo(db, content)
    first = demo_counts(db)
    assert seed_demo(db, content).accounts_created == 0
    assert seed_demo_accounts(db, content.operator.today(), content=content) == 0
    assert demo_counts(db) == first

    for holder in HOLDERS:
        account = db.scalar(select(Account).where(Account.email == holder.email))
        assert account is not None and account.is_active
        for field in (
            "civility",
            "first_name",
            "last_name",
            "billing_street",
            "billing_postal_code",
            "billing_city",
            "date_of_birth",
            "phone",
            "company",
        ):
            assert getattr(account, field), field
        assert authenticate(db, email=holder.email, password=DEMO_PASSWORD) is account
        for model in CATEGORIES:
            rows = db.scalars(select(model).where(model.account_id == account.id)).all()
            assert rows, f"{holder.email} has no {model.__name__}"
        events = db.scalar(select(func.count()).where(BrowsingEvent.account_id == account.id))
        assert events >= 200
        first_event = func.min(BrowsingEvent.occurred_at)
        oldest = db.scalar(select(first_event).where(BrowsingEvent.account_id == account.id))
        assert utcnow() - oldest < timedelta(days=13 * 30)  # within the raw-data retention
        invoices = db.scalars(select(Invoice).where(Invoice.account_id == account.id)).all()
        assert all("HIPAY" in invoice.payment_method for invoice in invoices)
        assert all(not re.search(r"\d{6}", invoice.payment_method) for invoice in invoices)
        calls = db.scalars(
            select(SupportConversation).where(
                SupportConversation.account_id == account.id,
                SupportConversation.channel == "phone",
            )
        ).all()
        assert calls and all(call.call_recording_ref for call in calls)
        visitors = db.scalars(
            select(ConsentLink.visitor_id).where(ConsentLink.account_id == account.id)
        ).all()
        receipts = db.scalars(
            select(ConsentReceipt).where(ConsentReceipt.visitor_id.in_(visitors))
        ).all()
        assert len(receipts) >= 2 and all(r.choices["functional"] for r in receipts)


def test_the_demo_command_reports_the_accounts(app, db):
    runner = app.test_cli_runner()
    runner.invoke(args=["demo", "seed"])
    again = runner.invoke(args=["demo", "seed"])
    assert again.exit_code == 0 and "Demo accounts: 0 created" in again.output
