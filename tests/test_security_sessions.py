"""Signing out ends the session (issue 16, item 1).

Each test replays what an attacker holds, a copy of a session cookie taken while it worked, after
the event that must end it (signing out, the staff session's lifetime, an admin, a password or
two-factor reset, a deactivation), and sees it refused: a staff member is sent to sign in, an
account holder is treated as signed out. Every console page offers the sign-out button.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import DEFAULT_PASSWORD, STAFF_CSRF, age_staff_sessions, sign_in, staff_sign_in
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from test_staff_console import make_request  # noqa: F401 (a fixture)

from privacy_center.accounts.passwords import verify_password
from privacy_center.config import document_key
from privacy_center.models import AuditEvent, IdentityDocument, SessionRecord
from privacy_center.models.types import utcnow
from privacy_center.session_records import ENDED_KEPT, SESSION_ID_KEY, open_record, purge_ended
from privacy_center.sessions import STAFF_COOKIE
from privacy_center.uploads.storage import store_document

HOLDER_COOKIE = "pc_session"
SIGN_OUT_FORM = re.compile(
    r'<form class="staff-sign-out" id="staff-sign-out" method="post" action="/staff/sign-out">\s*'
    r'<input id="staff-sign-out-token" name="csrf_token" type="hidden" value="([^"]+)">\s*'
    r'<button type="submit" class="button">Sign out</button>'
)


@pytest.fixture
def client(client: FlaskClient) -> FlaskClient:
    client.environ_base["REMOTE_ADDR"] = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.9"
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def path_of(answer) -> str:
    assert answer.status_code in (302, 303), answer.status_code
    return urlsplit(answer.location).path


def staff_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie(STAFF_COOKIE, path="/staff")
    assert cookie is not None
    return cookie.value


def replaying(app: Flask, name: str, value: str, path: str = "/") -> FlaskClient:
    """Another browser (the attacker's) holding a copy of the cookie ``name``."""
    other = app.test_client()
    other.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    other.environ_base["REMOTE_ADDR"] = "198.51.100.23"
    other.set_cookie(name, value, path=path)
    return other


def token_on(client: FlaskClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return STAFF_CSRF.search(page.get_data(as_text=True)).group(1)  # type: ignore[union-attr]


def sign_out_staff(client: FlaskClient) -> None:
    token = SIGN_OUT_FORM.search(client.get("/staff/").get_data(as_text=True))
    assert token is not None
    answer = client.post("/staff/sign-out", data={"csrf_token": token.group(1)})
    assert path_of(answer) == "/staff/sign-in"


def records_of(db, member) -> list[SessionRecord]:
    db.expire_all()
    return list(
        db.scalars(
            select(SessionRecord)
            .where(SessionRecord.staff_member_id == member.id)
            .order_by(SessionRecord.id)
        )
    )


def last_event(db, action: str) -> AuditEvent:
    return db.scalar(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id.desc())
    )


# --- staff: a copy of the cookie after signing out -----------------------------------------------


def test_a_staff_cookie_copied_before_sign_out_opens_nothing_after(app, client, db, make_staff):
    member = make_staff(role="dpo")
    staff_sign_in(client, member)
    stolen = staff_cookie(client)
    thief = replaying(app, STAFF_COOKIE, stolen, path="/staff")
    # Before: the copy opens the queue and the register, as the attack needs.
    assert thief.get("/staff/").status_code == 200
    assert thief.get("/staff/register.csv").status_code == 200

    sign_out_staff(client)

    for page in ("/staff/", "/staff/register.csv", "/staff/dashboard", "/staff/mail"):
        thief = replaying(app, STAFF_COOKIE, stolen, path="/staff")
        answer = thief.get(page)
        assert path_of(answer) == "/staff/sign-in", page
        assert parse_qs(urlsplit(answer.location).query)["next"] == [page]
    # The copy's browser is told, and its stale session is dropped.
    thief = replaying(app, STAFF_COOKIE, stolen, path="/staff")
    thief.get("/staff/")
    page = thief.get("/staff/sign-in").get_data(as_text=True)
    assert "Your session was ended: please sign in again." in page
    (record,) = records_of(db, member)
    assert record.revoked_reason == "sign_out" and record.revoked_at is not None


def test_the_session_id_is_stored_only_as_its_digest(app, client, db, make_staff):
    member = make_staff()
    staff_sign_in(client, member)
    with client.session_transaction("/staff/") as session:
        session_id = session[SESSION_ID_KEY]
    (record,) = records_of(db, member)
    assert record.token_hash == hashlib.sha256(session_id.encode()).hexdigest()
    assert session_id not in {record.token_hash, str(record.id)}
    assert len(session_id) >= 40  # 32 random bytes


def test_a_staff_cookie_without_its_record_opens_nothing(app, client, db, make_staff):
    """A cookie signed with the right key but whose record is gone (deleted, never made: the
    session of a version before this one) is no session."""
    member = make_staff(role="admin")
    staff_sign_in(client, member)
    db.execute(SessionRecord.__table__.delete().where(SessionRecord.staff_member_id == member.id))
    db.flush()
    assert path_of(client.get("/staff/members")) == "/staff/sign-in"


# --- staff: the absolute lifetime ----------------------------------------------------------------


def test_a_staff_session_ends_after_its_lifetime_whatever_the_activity(app, client, db, make_staff):
    member = make_staff(role="admin")
    staff_sign_in(client, member)
    stolen = staff_cookie(client)
    hours = app.config["STAFF_SESSION_HOURS"]
    assert hours == 12
    (record,) = records_of(db, member)
    assert record.expires_at - record.created_at == timedelta(hours=hours)
    # Active all along (the last request a second ago), but signed in just under 12 hours ago.
    age_staff_sessions(member, hours=hours - 1)
    assert client.get("/staff/members").status_code == 200
    age_staff_sessions(member, hours=1)
    answer = client.get("/staff/members")
    assert path_of(answer) == "/staff/sign-in"
    assert parse_qs(urlsplit(answer.location).query)["next"] == ["/staff/members"]
    page = client.get("/staff/sign-in").get_data(as_text=True)
    assert "You signed in 12 hours ago: please sign in again." in page
    (record,) = records_of(db, member)
    assert record.revoked_reason == "lifetime"
    assert last_event(db, "staff.sign_out").details == {"reason": "lifetime"}
    # Nor does the copy of the cookie, however fresh its own requests.
    thief = replaying(app, STAFF_COOKIE, stolen, path="/staff")
    assert path_of(thief.get("/staff/")) == "/staff/sign-in"


def test_the_staff_lifetime_is_a_setting(app, client, db, make_staff, monkeypatch):
    monkeypatch.setitem(app.config, "STAFF_SESSION_HOURS", 2)
    member = make_staff()
    staff_sign_in(client, member)
    (record,) = records_of(db, member)
    assert record.expires_at - record.created_at == timedelta(hours=2)
    age_staff_sessions(member, hours=2)
    assert path_of(client.get("/staff/")) == "/staff/sign-in"


def test_an_idle_copy_is_refused_by_the_server_not_only_by_its_cookie(app, client, db, make_staff):
    member = make_staff()
    staff_sign_in(client, member)
    stolen = staff_cookie(client)
    age_staff_sessions(member, seconds=app.config["STAFF_IDLE_MINUTES"] * 60 + 1)
    thief = replaying(app, STAFF_COOKIE, stolen, path="/staff")
    assert path_of(thief.get("/staff/")) == "/staff/sign-in"
    (record,) = records_of(db, member)
    assert record.revoked_reason == "idle"
    assert path_of(client.get("/staff/")) == "/staff/sign-in"


# --- staff: ended by an admin, a password reset, a two-factor reset -----------------------------


def test_an_admin_ends_a_members_sessions(app, client, db, make_staff):
    member = make_staff(role="dpo")
    laptop = app.test_client()
    laptop.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    staff_sign_in(laptop, member)
    stolen = staff_cookie(laptop)
    staff_sign_in(client, member)  # a second session of theirs
    assert laptop.get("/staff/register.csv").status_code == 200

    admin = make_staff(role="admin", name="Ada Admin")
    console = app.test_client()
    console.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    staff_sign_in(console, admin)
    page = console.get("/staff/members").get_data(as_text=True)
    assert f'<td id="sessions-{member.id}">2</td>' in page
    assert f"End the sessions of {member.name}" in page
    answer = console.post(
        f"/staff/members/{member.id}/end-sessions",
        data={"csrf_token": token_on(console, "/staff/members")},
    )
    assert path_of(answer) == "/staff/members"
    page = console.get("/staff/members").get_data(as_text=True)
    assert f"2 sessions of {member.name} were ended: they sign in again." in page
    assert f'<td id="sessions-{member.id}">0</td>' in page

    for browser in (laptop, client, replaying(app, STAFF_COOKIE, stolen, path="/staff")):
        assert path_of(browser.get("/staff/register.csv")) == "/staff/sign-in"
    assert {record.revoked_reason for record in records_of(db, member)} == {"admin"}
    event = last_event(db, "staff.sessions_ended")
    assert event.actor == admin.get_id()
    assert event.details == {"member": member.get_id(), "sessions": 2}
    # The admin's own session goes on.
    assert console.get("/staff/members").status_code == 200


def test_an_admin_ends_their_other_sessions_and_keeps_this_one(app, client, db, make_staff):
    admin = make_staff(role="admin")
    lost = app.test_client()
    lost.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    staff_sign_in(lost, admin)
    staff_sign_in(client, admin)
    page = client.get("/staff/members").get_data(as_text=True)
    assert "End my other sessions" in page
    client.post(
        f"/staff/members/{admin.id}/end-sessions",
        data={"csrf_token": token_on(client, "/staff/members")},
    )
    assert path_of(lost.get("/staff/members")) == "/staff/sign-in"
    assert client.get("/staff/members").status_code == 200


def test_only_an_admin_ends_sessions(app, client, db, make_staff):
    victim = make_staff(role="admin")
    other = app.test_client()
    staff_sign_in(other, victim)
    dpo = make_staff(role="dpo")
    staff_sign_in(client, dpo)
    answer = client.post(
        f"/staff/members/{victim.id}/end-sessions",
        data={"csrf_token": token_on(client, "/staff/")},
    )
    assert answer.status_code == 403
    assert other.get("/staff/members").status_code == 200


def test_a_password_reset_ends_every_session(app, client, db, make_staff):
    member = make_staff(role="dpo")
    staff_sign_in(client, member)
    stolen = staff_cookie(client)
    result = app.test_cli_runner().invoke(
        args=["staff", "reset-password", member.email, "--password-stdin"],
        input="a brand new long passphrase\n",
    )
    assert result.exit_code == 0, result.output
    assert "1 open session(s) ended" in result.output
    for browser in (client, replaying(app, STAFF_COOKIE, stolen, path="/staff")):
        assert path_of(browser.get("/staff/register.csv")) == "/staff/sign-in"
    db.refresh(member)
    assert verify_password(member.password_hash, "a brand new long passphrase")
    assert {record.revoked_reason for record in records_of(db, member)} == {"password_reset"}
    event = last_event(db, "staff.password_reset")
    assert event.actor == "cli"
    assert event.details == {"member": member.get_id(), "sessions_ended": 1}


def test_a_weak_new_password_changes_nothing(app, client, db, make_staff):
    member = make_staff()
    staff_sign_in(client, member)
    before = member.password_hash
    result = app.test_cli_runner().invoke(
        args=["staff", "reset-password", member.email, "--password-stdin"], input="short\n"
    )
    assert result.exit_code != 0 and "Nothing changed." in result.output
    db.refresh(member)
    assert member.password_hash == before
    assert client.get("/staff/").status_code == 200
    result = app.test_cli_runner().invoke(
        args=["staff", "reset-password", "nobody@example.org", "--password-stdin"],
        input="a brand new long passphrase\n",
    )
    assert result.exit_code != 0 and "nothing changed" in result.output


def test_a_two_factor_reset_ends_every_session(app, client, db, make_staff):
    member = make_staff(role="dpo")
    staff_sign_in(client, member)
    stolen = staff_cookie(client)
    admin = make_staff(role="admin")
    console = app.test_client()
    console.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    staff_sign_in(console, admin)
    answer = console.post(
        f"/staff/members/{member.id}/reset-two-factor",
        data={"csrf_token": token_on(console, "/staff/members")},
    )
    assert path_of(answer) == "/staff/members"
    for browser in (client, replaying(app, STAFF_COOKIE, stolen, path="/staff")):
        assert path_of(browser.get("/staff/")) == "/staff/sign-in"
    assert {record.revoked_reason for record in records_of(db, member)} == {"totp_reset"}
    event = last_event(db, "staff.totp_reset")
    assert event.details == {"member": member.get_id(), "sessions_ended": 1}


def test_deactivating_a_member_ends_their_sessions(app, client, db, make_staff):
    member = make_staff()
    staff_sign_in(client, member)
    admin = make_staff(role="admin")
    console = app.test_client()
    console.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    staff_sign_in(console, admin)
    console.post(
        f"/staff/members/{member.id}/deactivate",
        data={"csrf_token": token_on(console, "/staff/members")},
    )
    assert path_of(client.get("/staff/")) == "/staff/sign-in"
    assert {record.revoked_reason for record in records_of(db, member)} == {"deactivated"}


# --- account holders ------------------------------------------------------------------------------


def holder_token(client: FlaskClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return STAFF_CSRF.search(page.get_data(as_text=True)).group(1)  # type: ignore[union-attr]


def test_a_holders_cookie_copied_before_sign_out_opens_nothing_after(app, client, db, make_account):
    account = make_account()
    answer = client.post(
        "/rights/sign-in",
        data={
            "csrf_token": holder_token(client, "/rights/sign-in"),
            "email": account.email,
            "password": DEFAULT_PASSWORD,
        },
    )
    assert answer.status_code == 302
    stolen = client.get_cookie(HOLDER_COOKIE).value
    thief = replaying(app, HOLDER_COOKIE, stolen)
    assert thief.get("/rights/preferences").status_code == 200  # the copy works, before

    answer = client.post(
        "/rights/sign-out", data={"csrf_token": holder_token(client, "/rights/preferences")}
    )
    assert path_of(answer) == "/rights/sign-in"

    thief = replaying(app, HOLDER_COOKIE, stolen)
    assert path_of(thief.get("/rights/preferences")) == "/rights/sign-in"
    assert path_of(replaying(app, HOLDER_COOKIE, stolen).get("/rights/download")) == (
        "/rights/sign-in"
    )
    record = db.scalar(select(SessionRecord).where(SessionRecord.account_id == account.id))
    assert record.revoked_reason == "sign_out"


def test_a_holders_session_ends_after_its_lifetime(app, client, db, make_account):
    account = make_account()
    sign_in(client, account)
    assert client.get("/rights/preferences").status_code == 200
    record = db.scalar(select(SessionRecord).where(SessionRecord.account_id == account.id))
    record.expires_at = utcnow() - timedelta(seconds=1)
    db.flush()
    assert path_of(client.get("/rights/preferences")) == "/rights/sign-in"


def test_a_holders_lifetime_is_a_setting(app, client, db, make_account):
    account = make_account()
    answer = client.post(
        "/rights/sign-in",
        data={
            "csrf_token": holder_token(client, "/rights/sign-in"),
            "email": account.email,
            "password": DEFAULT_PASSWORD,
        },
    )
    assert answer.status_code == 302
    record = db.scalar(select(SessionRecord).where(SessionRecord.account_id == account.id))
    hours = app.config["ACCOUNT_SESSION_HOURS"]
    assert hours == 24
    assert record.expires_at - record.created_at == timedelta(hours=hours)


def test_a_closed_account_is_signed_out(app, client, db, make_account):
    from privacy_center.session_records import revoke_all

    account = make_account()
    sign_in(client, account)
    account.deactivated_at = utcnow()
    assert revoke_all(db, account, reason="deactivated") == 1
    db.flush()
    assert path_of(client.get("/rights/preferences")) == "/rights/sign-in"


# --- no pile of ended rows -----------------------------------------------------------------------


def test_ended_sessions_are_deleted_a_day_later(app, db, make_staff, make_account):
    member, account = make_staff(), make_account()
    now = utcnow()
    idle = timedelta(minutes=app.config["STAFF_IDLE_MINUTES"])
    live = open_record(db, member, lifetime=timedelta(hours=12), now=now)
    holder_live = open_record(db, account, lifetime=timedelta(hours=24), now=now)
    day = ENDED_KEPT + timedelta(minutes=1)
    revoked_long_ago = open_record(db, member, lifetime=timedelta(hours=12), now=now - day)
    revoked_recently = open_record(db, member, lifetime=timedelta(hours=12), now=now)
    expired_long_ago = open_record(db, account, lifetime=timedelta(hours=1), now=now - 2 * day)
    idle_long_ago = open_record(db, member, lifetime=timedelta(days=30), now=now - day - idle)
    rows = {
        token: db.scalar(select(SessionRecord).where(SessionRecord.token_hash == digest(token)))
        for token in (live, holder_live, revoked_long_ago, revoked_recently, expired_long_ago)
    }
    rows[revoked_long_ago].revoked_at = now - day
    rows[revoked_recently].revoked_at = now - timedelta(hours=1)
    db.flush()
    before = db.scalar(select(func.count()).select_from(SessionRecord))

    assert purge_ended(db, now=now, idle=idle) == 3

    left = {row.token_hash for row in db.scalars(select(SessionRecord))}
    assert {digest(live), digest(holder_live), digest(revoked_recently)} <= left
    assert not {digest(revoked_long_ago), digest(expired_long_ago), digest(idle_long_ago)} & left
    assert db.scalar(select(func.count()).select_from(SessionRecord)) == before - 3


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def test_the_retention_run_deletes_ended_sessions(app, db, make_staff):
    member = make_staff()
    long_ago = utcnow() - timedelta(days=3)
    open_record(db, member, lifetime=timedelta(hours=12), now=long_ago)
    db.commit()
    result = app.test_cli_runner().invoke(args=["retention", "run"])
    assert result.exit_code == 0, result.output
    assert "sessions: deleted 1 ended more than 1 day(s) ago" in result.output
    assert records_of(db, member) == []


# --- the sign-out button on every console page ---------------------------------------------------

# Console addresses that answer a file, not a page.
DOWNLOADS = {
    "staff.register",
    "staff.document_page",
    "staff.document_original",
    "staff.letter_pdf",
    "consent_records.export_csv",
    "consent_records.export_json",
}
SIGN_IN_STEPS = {"staff.sign_in", "staff.code", "staff.enrol"}


def document_page(app: Flask, db, request, directory: Path) -> str:
    """The address of a document's page (its images are files, not pages)."""
    data = b"%PDF-1.7 not a real document"
    name = store_document(data, directory=directory, key=document_key(app.config))
    request.documents.append(
        IdentityDocument(
            kind="identity", stored_name=name, mime_type="application/pdf", size_bytes=len(data)
        )
    )
    db.flush()
    return f"/staff/requests/{request.reference}/documents/{request.documents[-1].id}"


def test_every_console_page_offers_the_sign_out_button(
    app,
    client,
    db,
    make_staff,
    make_request,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    admin = make_staff(role="admin")
    staff_sign_in(client, admin)
    requests = {
        "request": make_request(),
        "post-mortem request": make_request(kind="postmortem_estate"),
    }
    pages = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/staff") or "GET" not in (rule.methods or ()):
            continue
        if rule.endpoint in DOWNLOADS | SIGN_IN_STEPS:
            continue
        if rule.arguments == {"reference"}:
            for name, request in requests.items():
                pages[name] = rule.rule.replace("<reference>", request.reference)
        elif rule.endpoint == "staff.document":
            directory = tmp_path / "documents"
            monkeypatch.setitem(app.config, "IDENTITY_DOCUMENT_DIR", str(directory))
            pages[rule.endpoint] = document_page(app, db, requests["request"], directory)
        else:
            assert not rule.arguments, f"{rule.rule}: add an example address to this test"
            pages[rule.endpoint] = rule.rule
    assert {"staff.index", "staff.members", "staff.dashboard", "staff.undelivered_mail"} <= set(
        pages
    )
    assert {"staff.new_request", "retention.index", "request", "post-mortem request"} <= set(pages)
    assert "staff.document" in pages
    for name, path in pages.items():
        page = client.get(path)
        assert page.status_code == 200, (name, path, page.status_code)
        assert SIGN_OUT_FORM.search(page.get_data(as_text=True)), (name, path)
    # And the page that refuses a role (an agent on the members page).
    agent = make_staff(role="agent")
    other = app.test_client()
    other.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    staff_sign_in(other, agent)
    refused = other.get("/staff/members")
    assert refused.status_code == 403
    token = SIGN_OUT_FORM.search(refused.get_data(as_text=True))
    assert token is not None
    # The button works: it signs out, on the server too.
    answer = other.post("/staff/sign-out", data={"csrf_token": token.group(1)})
    assert path_of(answer) == "/staff/sign-in"
    assert path_of(other.get("/staff/")) == "/staff/sign-in"
    assert {record.revoked_reason for record in records_of(db, agent)} == {"sign_out"}


def test_sign_out_without_the_csrf_token_changes_nothing(app, client, db, make_staff):
    member = make_staff()
    staff_sign_in(client, member)
    answer = client.post("/staff/sign-out", data={})
    assert answer.status_code == 400
    assert client.get("/staff/").status_code == 200
    assert records_of(db, member)[0].revoked_at is None
