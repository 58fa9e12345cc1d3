"""Issue 16, item 4: the staff lockout is not a weapon (staff/auth/lockout.py).

The attack: a stranger who knows a DPO's email types wrong passwords, five or fifty, to keep the
DPO out. Failures now count per member AND source (the client address): the stranger's address
is locked, and locked longer each time; the member signs in from their own; the member is
mailed, in their language; unknown and known emails get the same answer; an admin unlocks, a
two-factor reset clears the locks."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from conftest import DEFAULT_STAFF_PASSWORD, staff_code, staff_sign_in
from sqlalchemy import func, select

from privacy_center.content import get_content
from privacy_center.hosts import ForwardedHeaders
from privacy_center.models import AuditEvent, OutgoingMail, StaffSignInFailure
from privacy_center.models.types import utcnow
from privacy_center.staff.auth.lockout import MAX_LOCK, lock_length, source_address, source_of

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
REFUSED = "The email address or the password is not right"
STRANGER = "203.0.113.66"
MEMBER_HOME = "198.51.100.7"


def client_from(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def post_password(client, email: str, password: str):
    """Post a password, then close the answer as the WSGI server does once it is sent: a
    lockout's notice leaves then (tests/test_security_timing.py checks the order)."""
    page = client.get("/staff/sign-in")
    token = CSRF.search(page.get_data(as_text=True)).group(1)
    answer = client.post(
        "/staff/sign-in", data={"csrf_token": token, "email": email, "password": password}
    )
    answer.close()
    return answer


def records(db, member) -> list[StaffSignInFailure]:
    return list(
        db.scalars(select(StaffSignInFailure).where(StaffSignInFailure.member_id == member.id))
    )


@pytest.fixture
def attack(app, db, monkeypatch, smtp_server):
    """Rate limits out of the way (they are tested elsewhere), mail through a real SMTP server;
    unique addresses per test (the rate limiter's counts live across the test session)."""
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "1000 per minute")
    for key, value in smtp_server.settings().items():
        monkeypatch.setitem(app.config, key, value)
    smtp_server.clear()
    return smtp_server


@pytest.mark.parametrize("attempts", [5, 50])
def test_a_strangers_failures_do_not_keep_the_member_out(app, db, make_staff, attack, attempts):
    member = make_staff(role="dpo")
    stranger = client_from(app, STRANGER)
    for _ in range(attempts):
        answer = post_password(stranger, member.email, "guess guess guess")
        assert answer.status_code == 200
        assert REFUSED in answer.get_data(as_text=True)
    # The stranger's address is locked: even the right password opens nothing from there.
    answer = post_password(stranger, member.email, DEFAULT_STAFF_PASSWORD)
    assert answer.status_code == 200 and REFUSED in answer.get_data(as_text=True)
    [record] = records(db, member)
    assert record.locked_until is not None and record.locked_until > utcnow()
    # The address is kept as a keyed digest, never in clear.
    assert STRANGER not in record.source and len(record.source) == 64
    # The member, from their own address, signs in with the password and a code.
    home = client_from(app, MEMBER_HOME)
    answer = staff_sign_in(home, member)
    assert urlsplit(answer.location).path.startswith("/staff")
    assert home.get("/staff/").status_code == 200
    # Their sign-in lifts nothing for the stranger: the lock was the stranger's own.
    assert post_password(stranger, member.email, DEFAULT_STAFF_PASSWORD).status_code == 200
    assert records(db, member)[0].locked_until > utcnow()


def test_the_strangers_address_is_locked_longer_each_time(app, db, make_staff, attack):
    member = make_staff()
    stranger = client_from(app, "203.0.113.67")
    minutes = app.config["STAFF_LOCKOUT_MINUTES"]
    for lock in (1, 2, 3):
        for _ in range(app.config["STAFF_LOCKOUT_ATTEMPTS"]):
            post_password(stranger, member.email, "guess guess guess")
        [record] = records(db, member)
        assert record.locks == lock
        length = record.locked_until - utcnow()
        expected = timedelta(minutes=minutes * 2 ** (lock - 1))
        assert expected - timedelta(minutes=1) < length <= expected
        # The lock ends: the next failures lock again, for twice as long.
        record.locked_until = utcnow() - timedelta(seconds=1)
        db.flush()
    assert lock_length(app.config, 40) == MAX_LOCK


def test_the_member_is_mailed_once_in_their_language(app, db, make_staff, attack):
    member = make_staff(role="dpo", name="Dana Ferrand")
    # Their language is the console's at their last sign-in.
    for address, language in (("198.51.100.12", "es"), ("198.51.100.13", "fr")):
        home = client_from(app, address)
        home.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
        staff_sign_in(home, member)
        assert member.language == language
    for address in (STRANGER, "203.0.113.68"):
        stranger = client_from(app, address)
        for _ in range(12):
            post_password(stranger, member.email, "guess guess guess")
    # Two addresses locked, one mail: a distributed attack does not flood the member's inbox.
    assert [record.locked_until is not None for record in records(db, member)] == [True, True]
    [mail] = attack.messages
    assert attack.envelopes[0][1] == [member.email]
    assert mail["Content-Language"] == "fr"
    assert mail["Subject"] == "Échecs de connexion à votre compte personnel ALLOPASS"
    text = mail.get_body(("plain",)).get_content()
    assert "Bonjour Dana Ferrand" in text
    assert "5 fois de suite" in text and "15 minutes" in text
    # The mail names no address.
    assert STRANGER not in mail.as_string()
    assert db.scalar(select(func.count()).select_from(OutgoingMail).where(
        OutgoingMail.to_address == member.email, OutgoingMail.sent_at.is_not(None)
    )) == 1  # fmt: skip


def test_code_failures_tell_the_member_their_password_is_known(app, db, make_staff, attack):
    member = make_staff(language="en")
    stranger = client_from(app, "203.0.113.69")
    wrong = "000000" if staff_code(member) != "000000" else "111111"
    answer = post_password(stranger, member.email, DEFAULT_STAFF_PASSWORD)
    for _ in range(app.config["STAFF_LOCKOUT_ATTEMPTS"]):
        page = stranger.get("/staff/sign-in/code")
        if page.status_code != 200:
            break
        token = CSRF.search(page.get_data(as_text=True)).group(1)
        answer = stranger.post("/staff/sign-in/code", data={"csrf_token": token, "code": wrong})
        answer.close()  # sent: the notice leaves now
    # Locked out by the fifth wrong code: back to the sign-in page, the generic message.
    assert urlsplit(answer.location).path == "/staff/sign-in"
    [mail] = attack.messages
    text = mail.get_body(("plain",)).get_content()
    assert "someone knows your password" in text
    assert "you can still sign in from anywhere else" in text
    # Another address still signs in.
    staff_sign_in(client_from(app, "198.51.100.9"), member)


def _answer_text(answer, email: str) -> str:
    """The page without what differs by construction: the CSRF token and the email typed."""
    html = CSRF.sub("", answer.get_data(as_text=True))
    return html.replace(email, "EMAIL")


def test_unknown_and_known_emails_get_the_same_answers(app, db, make_staff, attack):
    member = make_staff()
    unknown = "nobody-here@example.org"
    known_client = client_from(app, "203.0.113.70")
    unknown_client = client_from(app, "203.0.113.71")
    for attempt in range(8):  # before, at and after the lock of the known email's address
        password = DEFAULT_STAFF_PASSWORD if attempt == 7 else "guess guess guess"
        known = post_password(known_client, member.email, password)
        other = post_password(unknown_client, unknown, password)
        assert known.status_code == other.status_code == 200
        assert _answer_text(known, member.email) == _answer_text(other, unknown)
    assert records(db, member)[0].locked_until is not None
    # A deactivated member's right password: the same answer again.
    gone = make_staff(deactivated_at=utcnow())
    known = post_password(client_from(app, "203.0.113.77"), gone.email, DEFAULT_STAFF_PASSWORD)
    other = post_password(unknown_client, unknown, DEFAULT_STAFF_PASSWORD)
    assert _answer_text(known, gone.email) == _answer_text(other, unknown)


def test_the_rate_limit_counts_per_address_not_per_email(app, db, make_staff, monkeypatch):
    """The per-email limit was a weapon too: the stranger is slowed, the member is not."""
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "3 per minute")
    member = make_staff()
    stranger = client_from(app, "203.0.113.72")
    for _ in range(3):
        post_password(stranger, member.email, "guess guess guess")
    assert post_password(stranger, member.email, "guess guess guess").status_code == 429
    staff_sign_in(client_from(app, "198.51.100.10"), member)


def test_an_admin_unlocks_and_a_two_factor_reset_clears(app, db, make_staff, attack):
    admin = make_staff(role="admin")
    member = make_staff(name="Lou Martin")
    stranger = client_from(app, "203.0.113.73")
    for _ in range(5):
        post_password(stranger, member.email, "guess guess guess")
    console = client_from(app, "198.51.100.11")
    staff_sign_in(console, admin)
    page = console.get("/staff/members").get_data(as_text=True)
    assert "locked out of 1 place after repeated failures" in page
    assert "Unlock Lou Martin" in page
    token = CSRF.search(page).group(1)
    answer = console.post(f"/staff/members/{member.id}/unlock", data={"csrf_token": token})
    assert answer.status_code == 302
    assert records(db, member) == []
    assert "Lou Martin can sign in again from everywhere." in console.get(
        "/staff/members"
    ).get_data(as_text=True)
    unlocked = db.scalar(
        select(AuditEvent)
        .where(AuditEvent.action == "staff.member_unlocked")
        .order_by(AuditEvent.id.desc())
    )
    assert unlocked.actor == admin.get_id() and unlocked.details["sources"] == 1
    # The address signs in again (with the right password and code).
    staff_sign_in(stranger, member)
    # A two-factor reset lifts the locks too.
    other = client_from(app, "203.0.113.74")
    for _ in range(5):
        post_password(other, member.email, "guess guess guess")
    assert records(db, member)[0].locked_until is not None
    page = console.get("/staff/members").get_data(as_text=True)
    token = CSRF.search(page).group(1)
    console.post(f"/staff/members/{member.id}/reset-two-factor", data={"csrf_token": token})
    assert records(db, member) == []
    answer = post_password(other, member.email, DEFAULT_STAFF_PASSWORD)
    assert urlsplit(answer.location).path == "/staff/sign-in/enrol"


def test_failures_count_afresh_after_a_quiet_while(app, db, make_staff, attack):
    member = make_staff()
    client = client_from(app, "203.0.113.75")
    for _ in range(4):
        post_password(client, member.email, "guess guess guess")
    [record] = records(db, member)
    record.last_failed_at = utcnow() - timedelta(minutes=app.config["STAFF_LOCKOUT_MINUTES"] + 1)
    db.flush()
    post_password(client, member.email, "guess guess guess")
    db.refresh(record)
    assert record.failures == 1 and record.locked_until is None
    # A day after its last failure and lock, an address's record is forgotten altogether.
    record.locks, record.locked_until = 3, utcnow() - timedelta(hours=24, minutes=1)
    record.last_failed_at = utcnow() - timedelta(hours=25)
    db.flush()
    post_password(client, member.email, "guess guess guess")
    db.expire_all()
    [record] = records(db, member)
    assert (record.failures, record.locks, record.locked_until) == (1, 0, None)


def test_an_ipv6_source_is_its_64_network():
    """A machine holding a /64 cannot rotate its address to escape the lock."""
    assert source_address("2001:db8:1:2:aaaa::1") == source_address("2001:db8:1:2:ffff::9")
    assert source_address("2001:db8:1:2::1") != source_address("2001:db8:1:3::1")
    assert source_address("::ffff:192.0.2.1") == source_address("192.0.2.1") == "192.0.2.1"
    assert source_address("192.0.2.1") != source_address("192.0.2.2")
    assert source_of("k", "2001:db8:1:2::1") == source_of("k", "2001:db8:1:2::2")
    assert source_of("k", "192.0.2.1") != source_of("other key", "192.0.2.1")


def test_without_a_language_the_mail_is_in_the_operators(app, db, make_staff, attack):
    member = make_staff()
    assert member.language is None
    stranger = client_from(app, "203.0.113.76")
    for _ in range(app.config["STAFF_LOCKOUT_ATTEMPTS"]):
        post_password(stranger, member.email, "guess guess guess")
    [mail] = attack.messages
    assert mail["Content-Language"] == get_content().operator.default_language == "fr"


def test_behind_trusted_proxies_each_client_is_its_own_source(app, db, make_staff, attack):
    """Behind a proxy that TRUSTED_PROXIES names (create_app puts hosts.ForwardedHeaders in
    front), the source is the client's address the proxy forwards: a stranger behind the same
    proxy as the member locks only themselves."""
    wrapped = ForwardedHeaders(app.wsgi_app, ["192.0.2.200"])
    client = client_from(app, "192.0.2.200")
    member = make_staff()
    original = app.wsgi_app
    app.wsgi_app = wrapped
    try:
        client.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.78"
        for _ in range(app.config["STAFF_LOCKOUT_ATTEMPTS"]):
            post_password(client, member.email, "guess guess guess")
        assert records(db, member)[0].locked_until is not None
        refused = post_password(client, member.email, DEFAULT_STAFF_PASSWORD)
        assert REFUSED in refused.get_data(as_text=True)
        client.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.14"
        staff_sign_in(client, member)
    finally:
        app.wsgi_app = original
