"""Staff sign-in: password then TOTP (enrolled on first sign-in), lockout (per address: see
test_security_lockout.py), idle timeout, a
session of their own, roles, sign-out, the members page and ``flask staff create``."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from conftest import (
    DEFAULT_PASSWORD,
    DEFAULT_STAFF_PASSWORD,
    age_staff_sessions,
    sign_in,
    staff_code,
    staff_sign_in,
)
from flask import request, session
from sqlalchemy import func, select

from privacy_center.accounts.passwords import verify_password
from privacy_center.accounts.setup import load_user
from privacy_center.models import AuditEvent, StaffMember, StaffSignInFailure
from privacy_center.models.types import utcnow
from privacy_center.session_records import SESSION_ID_KEY, open_record
from privacy_center.sessions import STAFF_COOKIE
from privacy_center.staff.auth.access import has_role
from privacy_center.staff.auth.totp import decrypt_totp_secret

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
REFUSED = "The email address or the password is not right"


@pytest.fixture
def client(client):
    """A client from its own address: the rate limits count per address across the session."""
    client.environ_base["REMOTE_ADDR"] = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.8"
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def csrf_token(client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return CSRF.search(page.get_data(as_text=True)).group(1)


def post_password(client, email: str, password: str, next_url: str = ""):
    token = csrf_token(client, "/staff/sign-in")
    return client.post(
        "/staff/sign-in",
        data={"csrf_token": token, "email": email, "password": password, "next": next_url},
    )


def post_code(client, code: str, path: str = "/staff/sign-in/code", next_url: str = ""):
    token = csrf_token(client, path)
    return client.post(path, data={"csrf_token": token, "code": code, "next": next_url})


@pytest.fixture(autouse=True)
def audit_baseline(db):
    """The last audit row before the test: rows of earlier tests committed by the live server
    may carry the same actor (SQLite reuses the ids of deleted staff members)."""
    global AUDIT_BASELINE
    AUDIT_BASELINE = db.scalar(select(func.max(AuditEvent.id))) or 0


AUDIT_BASELINE = 0


def actions(db, actor: str) -> list[str]:
    return list(
        db.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.actor == actor, AuditEvent.id > AUDIT_BASELINE)
            .order_by(AuditEvent.id)
        )
    )


def failures_of(db, member) -> int:
    """The failures counted for the member, from every address (staff/auth/lockout.py)."""
    return db.scalar(
        select(func.coalesce(func.sum(StaffSignInFailure.failures), 0)).where(
            StaffSignInFailure.member_id == member.id
        )
    )


def lock_of(db, member):
    """The end of the latest lock of the member's account, from any address, or None."""
    return db.scalar(
        select(func.max(StaffSignInFailure.locked_until)).where(
            StaffSignInFailure.member_id == member.id
        )
    )


def path_of(answer) -> str:
    return urlsplit(answer.location).path


# --- signing in ---------------------------------------------------------------------------------


def test_password_then_code_signs_in(client, db, make_staff):
    admin = make_staff(role="admin")
    assert path_of(client.get("/staff/members")) == "/staff/sign-in"
    answer = post_password(client, "  " + admin.email.upper(), DEFAULT_STAFF_PASSWORD)
    assert path_of(answer) == "/staff/sign-in/code"
    # The password alone opens nothing: the console asks for the code.
    waiting = client.get("/staff/members")
    assert path_of(waiting) == "/staff/sign-in/code"
    assert parse_qs(urlsplit(waiting.location).query)["next"] == ["/staff/members"]
    answer = post_code(client, pyotp.TOTP(admin.totp_key).now())
    assert answer.status_code == 302
    page = client.get("/staff/members")
    assert page.status_code == 200
    assert admin.email in page.get_data(as_text=True)
    assert admin.last_sign_in_at is not None
    assert actions(db, admin.get_id()) == ["staff.sign_in"]


def test_sign_in_goes_on_to_the_page_asked_for(client, db, make_staff):
    admin = make_staff(role="admin")
    answer = staff_sign_in(client, admin, next_url="/staff/members?x=1")
    assert answer.location.endswith("/staff/members?x=1")
    # Never to another site.
    client.post("/staff/sign-out", data={"csrf_token": csrf_token(client, "/staff/members")})
    answer = staff_sign_in(client, admin, next_url="//evil.example/")
    assert "evil" not in answer.location


def test_wrong_password_and_unknown_email_get_one_message(client, db, make_staff):
    member = make_staff()
    for email, password in ((member.email, "wrong password!"), ("nobody@example.org", "x" * 12)):
        page = post_password(client, email, password)
        assert page.status_code == 200
        assert REFUSED in page.get_data(as_text=True)
    assert failures_of(db, member) == 1
    unknown = db.scalar(
        select(AuditEvent).where(AuditEvent.actor == "unknown").order_by(AuditEvent.id.desc())
    )
    assert unknown.action == "staff.sign_in_failed"
    assert unknown.details["email"] == "nobody@example.org"


def test_a_wrong_code_is_refused(client, db, make_staff):
    member = make_staff()
    post_password(client, member.email, DEFAULT_STAFF_PASSWORD)
    right = pyotp.TOTP(member.totp_key).now()
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    page = post_code(client, wrong)
    assert page.status_code == 200
    assert "The code is not right" in page.get_data(as_text=True)
    assert path_of(client.get("/staff/members")) == "/staff/sign-in/code"
    assert failures_of(db, member) == 1


def test_a_code_is_never_accepted_twice(client, db, make_staff):
    member = make_staff(role="admin")
    code = staff_code(member)
    post_password(client, member.email, DEFAULT_STAFF_PASSWORD)
    assert post_code(client, code).status_code == 302
    client.post("/staff/sign-out", data={"csrf_token": csrf_token(client, "/staff/members")})
    post_password(client, member.email, DEFAULT_STAFF_PASSWORD)
    page = post_code(client, code)
    assert page.status_code == 200
    assert "already used" in page.get_data(as_text=True)
    assert path_of(client.get("/staff/members")) == "/staff/sign-in/code"


def test_enrolment_on_first_sign_in(client, db, make_staff, app):
    member = make_staff(role="admin", enrolled=False)
    answer = post_password(client, member.email, DEFAULT_STAFF_PASSWORD)
    assert path_of(answer) == "/staff/sign-in/enrol"
    # The code step sends a member without TOTP to the enrolment.
    assert path_of(client.get("/staff/sign-in/code")) == "/staff/sign-in/enrol"
    page = client.get("/staff/sign-in/enrol")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    # The QR code is drawn here, inline: no image from anywhere (the only <img> is the console
    # header's operator logo, served by the center itself), no inline style or script.
    assert '<svg role="img"' in html
    images = re.findall(r"<img [^>]*>", html)
    assert [re.search(r'src="([^"?]+)', image).group(1) for image in images] == ["/logo.svg"]
    assert "style=" not in html and "<script>" not in html
    secret = re.search(r'<code class="staff-secret"[^>]*>([A-Z2-7 ]+)</code>', html).group(1)
    secret = secret.replace(" ", "")
    # Reloading shows the same secret, kept encrypted (bound to this member) until confirmed.
    assert secret.replace(" ", "") in client.get("/staff/sign-in/enrol").get_data(
        as_text=True
    ).replace(" ", "")
    assert member.totp_enrolled_at is None
    assert secret not in member.totp_secret
    assert decrypt_totp_secret(app.config["SECRET_KEY"], member.id, member.totp_secret) == secret
    assert decrypt_totp_secret(app.config["SECRET_KEY"], member.id + 1, member.totp_secret) is None
    answer = post_code(client, pyotp.TOTP(secret).now(), path="/staff/sign-in/enrol")
    assert answer.status_code == 302
    assert member.totp_enrolled_at is not None
    assert client.get("/staff/members").status_code == 200
    assert actions(db, member.get_id()) == ["staff.totp_enrolled", "staff.sign_in"]


def test_an_enrolled_member_cannot_enrol_again(client, db, make_staff):
    member = make_staff()
    post_password(client, member.email, DEFAULT_STAFF_PASSWORD)
    assert path_of(client.get("/staff/sign-in/enrol")) == "/staff/sign-in/code"
    # Without a password first, neither step opens.
    client.post("/staff/sign-out", data={})
    fresh = client.application.test_client()
    assert path_of(fresh.get("/staff/sign-in/enrol")) == "/staff/sign-in"
    assert path_of(fresh.get("/staff/sign-in/code")) == "/staff/sign-in"


def test_lockout_after_five_failures(client, db, make_staff, outbox):
    """Five failures from one address lock that address out of the account (the attack from
    elsewhere is in test_security_lockout.py)."""
    member = make_staff()
    for _ in range(4):
        assert REFUSED in post_password(client, member.email, "not the password").get_data(
            as_text=True
        )
    assert lock_of(db, member) is None
    # The fifth failure, a wrong code this time, locks this address out for 15 minutes.
    post_password(client, member.email, DEFAULT_STAFF_PASSWORD)
    answer = post_code(client, "000000" if staff_code(member) != "000000" else "111111")
    assert path_of(answer) == "/staff/sign-in"
    until = lock_of(db, member)
    assert until is not None
    assert timedelta(minutes=14) < until - utcnow() <= timedelta(minutes=15)
    # Even the right password now gets the same message as a wrong one.
    page = post_password(client, member.email, DEFAULT_STAFF_PASSWORD)
    assert page.status_code == 200
    assert REFUSED in page.get_data(as_text=True)
    logged = actions(db, member.get_id())
    assert logged.count("staff.sign_in_failed") == 6
    assert "staff.locked_out" in logged
    # Once the time is up, the member signs in again from there.
    record = db.scalar(select(StaffSignInFailure).where(StaffSignInFailure.member_id == member.id))
    record.locked_until = utcnow() - timedelta(seconds=1)
    db.flush()
    staff_sign_in(client, member)
    # A sign-in forgets the failures of its address.
    assert failures_of(db, member) == 0 and lock_of(db, member) is None


def test_lockout_settings(client, db, make_staff, app, monkeypatch, outbox):
    monkeypatch.setitem(app.config, "STAFF_LOCKOUT_ATTEMPTS", 2)
    monkeypatch.setitem(app.config, "STAFF_LOCKOUT_MINUTES", 60)
    member = make_staff()
    post_password(client, member.email, "wrong wrong wrong")
    post_password(client, member.email, "wrong wrong wrong")
    assert timedelta(minutes=59) < lock_of(db, member) - utcnow() <= timedelta(minutes=60)


def test_sign_in_is_rate_limited_by_address(make_app, db, make_staff):
    client = make_app(LOGIN_RATE_LIMIT="3 per minute").test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.61"
    for number in range(3):
        post_password(client, f"someone{number}@example.org", "wrong wrong wrong")
    answer = post_password(client, "another@example.org", "wrong wrong wrong")
    assert answer.status_code == 429
    assert int(answer.headers["Retry-After"]) > 0


def test_idle_timeout_asks_to_sign_in_again(client, db, make_staff, app):
    member = make_staff(role="admin")
    staff_sign_in(client, member)
    assert client.get("/staff/members").status_code == 200
    idle = app.config["STAFF_IDLE_MINUTES"]
    assert idle == 30
    age_staff_sessions(member, seconds=(idle - 1) * 60)
    assert client.get("/staff/members").status_code == 200  # activity keeps the session
    age_staff_sessions(member, seconds=idle * 60 + 1)
    answer = client.get("/staff/members?page=2")
    assert path_of(answer) == "/staff/sign-in"
    assert parse_qs(urlsplit(answer.location).query)["next"] == ["/staff/members?page=2"]
    assert path_of(client.get("/staff/members")) == "/staff/sign-in"
    assert actions(db, member.get_id())[-1] == "staff.sign_out"
    answer = staff_sign_in(client, member, next_url="/staff/members?page=2")
    assert answer.location.endswith("/staff/members?page=2")


def test_sign_out(client, db, make_staff):
    member = make_staff(role="admin")
    staff_sign_in(client, member)
    # A GET cannot sign anyone out.
    assert client.get("/staff/sign-out").status_code == 405
    answer = client.post(
        "/staff/sign-out", data={"csrf_token": csrf_token(client, "/staff/members")}
    )
    assert path_of(answer) == "/staff/sign-in"
    assert path_of(client.get("/staff/members")) == "/staff/sign-in"
    event = db.scalar(
        select(AuditEvent).where(AuditEvent.actor == member.get_id()).order_by(AuditEvent.id.desc())
    )
    assert (event.action, event.details) == ("staff.sign_out", {"reason": "sign_out"})


# --- a session of their own ----------------------------------------------------------------------


def test_staff_cookie_is_separate(client, db, make_staff):
    member = make_staff(role="admin")
    staff_sign_in(client, member)
    cookie = client.get_cookie(STAFF_COOKIE, path="/staff")
    assert cookie is not None
    assert cookie.path == "/staff" and cookie.http_only and cookie.same_site == "Strict"
    assert cookie.domain in ("localhost", "", None) or not cookie.domain.startswith(".")
    # The staff session opens nothing outside the console: no account holder is signed in.
    assert path_of(client.get("/rights/preferences")) == "/rights/sign-in"
    assert client.get("/staff/members").status_code == 200


def test_staff_cookie_is_secure_in_production(make_app, db, make_staff):
    client = make_app(SESSION_COOKIE_SECURE=True).test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.62"
    page = client.get("/staff/sign-in", base_url="https://localhost")
    header = next(h for h in page.headers.getlist("Set-Cookie") if h.startswith(STAFF_COOKIE))
    assert "Secure" in header and "HttpOnly" in header and "SameSite=Strict" in header
    assert "Path=/staff" in header


def test_an_account_session_gives_no_staff_access(client, db, make_account, make_staff):
    account = make_account()
    sign_in(client, account)
    assert client.get("/rights/preferences").status_code == 200
    assert path_of(client.get("/staff/members")) == "/staff/sign-in"
    # Not even an account id planted in the staff cookie, nor a staff id in the account's.
    with client.session_transaction("/staff/members") as session:
        session["_user_id"] = account.get_id()
        session["_fresh"] = True
    assert path_of(client.get("/staff/members")) == "/staff/sign-in"
    member = make_staff(role="admin")
    other = client.application.test_client()
    other.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    sign_in(other, member)  # a staff id in the account holders' session
    assert path_of(other.get("/staff/members")) == "/staff/sign-in"
    assert path_of(other.get("/rights/preferences")) == "/rights/sign-in"


def test_an_account_cookie_renamed_is_not_a_staff_session(client, db, make_account, app):
    account = make_account()
    sign_in(client, account)
    value = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    client.set_cookie(STAFF_COOKIE, value, path="/staff")
    # Signed with another salt: the staff side reads it as no session at all.
    assert path_of(client.get("/staff/members")) == "/staff/sign-in"


def test_the_loader_answers_by_place(app, db, make_account, make_staff):
    account = make_account()
    member = make_staff()
    # Each with a live session record: only the place decides here.
    for_account = open_record(db, account, lifetime=timedelta(hours=1))
    for_member = open_record(db, member, lifetime=timedelta(hours=1))
    with app.test_request_context("/rights/preferences"):
        assert request.path == "/rights/preferences"
        session[SESSION_ID_KEY] = for_account
        assert load_user(account.get_id()) == account
        session[SESSION_ID_KEY] = for_member
        assert load_user(member.get_id()) is None
    with app.test_request_context("/staff/members"):
        session[SESSION_ID_KEY] = for_member
        assert load_user(member.get_id()) == member
        session[SESSION_ID_KEY] = for_account
        assert load_user(account.get_id()) is None
    with app.test_request_context("/staffing"):
        session[SESSION_ID_KEY] = for_member
        assert load_user(member.get_id()) is None


# --- roles ----------------------------------------------------------------------------------------


def test_role_ladder(db, make_staff):
    agent, dpo, admin = make_staff("agent"), make_staff("dpo"), make_staff("admin")
    assert has_role(agent) and has_role(agent, "agent") and not has_role(agent, "dpo")
    assert has_role(dpo, "agent") and has_role(dpo, "dpo") and not has_role(dpo, "admin")
    assert has_role(admin, "agent") and has_role(admin, "dpo") and has_role(admin, "admin")
    with pytest.raises(ValueError):
        has_role(admin, "root")


@pytest.mark.parametrize("role", ["agent", "dpo"])
def test_staff_management_is_for_admins_only(client, db, make_staff, role):
    member = make_staff(role=role)
    colleague = make_staff()
    staff_sign_in(client, member)
    page = client.get("/staff/members")
    assert page.status_code == 403
    assert "Your role does not allow this" in page.get_data(as_text=True)
    # The page says why, and offers to sign out (to sign in as someone else).
    token = CSRF.search(page.get_data(as_text=True)).group(1)
    for path in (
        f"/staff/members/{colleague.id}/deactivate",
        f"/staff/members/{colleague.id}/reset-two-factor",
    ):
        assert client.post(path, data={"csrf_token": token}).status_code == 403
    answer = client.post(
        "/staff/members",
        data={
            "csrf_token": token,
            "email": "new@example.org",
            "name": "New",
            "role": "admin",
            "password": "a long enough password",
            "confirm": "a long enough password",
        },
    )
    assert answer.status_code == 403
    assert colleague.deactivated_at is None and colleague.totp_secret is not None
    assert db.scalar(select(StaffMember).where(StaffMember.email == "new@example.org")) is None


# --- the members page ---------------------------------------------------------------------------


def test_admin_manages_members(client, db, make_staff):
    admin = make_staff(role="admin")
    colleague = make_staff(role="agent")
    staff_sign_in(client, admin)
    token = csrf_token(client, "/staff/members")
    email = f"new-{secrets.token_hex(3)}@example.org"
    form = {
        "csrf_token": token,
        "email": email,
        "name": "Nouvelle Recrue",
        "role": "dpo",
        "password": "a long enough password",
        "confirm": "a long enough password",
    }
    assert client.post("/staff/members", data=form).status_code == 302
    created = db.scalar(select(StaffMember).where(StaffMember.email == email))
    assert created.role == "dpo" and created.totp_secret is None
    assert verify_password(created.password_hash, "a long enough password")
    # The same email again, or a short password: refused with the reason, nothing written.
    again = client.post("/staff/members", data=form)
    assert again.status_code == 400 and "already exists" in again.get_data(as_text=True)
    short = client.post(
        "/staff/members",
        data={**form, "email": "x@example.org", "password": "short", "confirm": "short"},
    )
    assert short.status_code == 400
    assert (
        db.scalar(
            select(func.count())
            .select_from(StaffMember)
            .where(StaffMember.email == "x@example.org")
        )
        == 0
    )

    assert (
        client.post(
            f"/staff/members/{colleague.id}/reset-two-factor", data={"csrf_token": token}
        ).status_code
        == 302
    )
    assert colleague.totp_secret is None and colleague.totp_enrolled_at is None
    assert (
        client.post(
            f"/staff/members/{colleague.id}/deactivate", data={"csrf_token": token}
        ).status_code
        == 302
    )
    assert colleague.deactivated_at is not None
    # An admin cannot lock themselves out.
    client.post(f"/staff/members/{admin.id}/deactivate", data={"csrf_token": token})
    assert admin.deactivated_at is None
    logged = actions(db, admin.get_id())
    assert logged[-3:] == ["staff.member_created", "staff.totp_reset", "staff.member_deactivated"]

    # The deactivated member can no longer sign in.
    other = client.application.test_client()
    other.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    other.environ_base["REMOTE_ADDR"] = "192.0.2.63"
    assert REFUSED in post_password(other, colleague.email, DEFAULT_STAFF_PASSWORD).get_data(
        as_text=True
    )


def test_a_deactivated_member_loses_the_open_session(client, db, make_staff):
    admin = make_staff(role="admin")
    staff_sign_in(client, admin)
    admin.deactivated_at = utcnow()
    db.flush()
    assert path_of(client.get("/staff/members")) == "/staff/sign-in"


# --- flask staff create ---------------------------------------------------------------------------


def count_with(db, email: str) -> int:
    return db.scalar(
        select(func.count()).select_from(StaffMember).where(StaffMember.email == email)
    )


def test_cli_creates_the_first_admin(app, db):
    runner = app.test_cli_runner()
    email = f"first-admin-{secrets.token_hex(3)}@example.org"
    result = runner.invoke(
        args=["staff", "create", email.upper(), "--name", "Première Admin", "--role", "admin"],
        input="a good long password\na good long password\n",
    )
    assert result.exit_code == 0, result.output
    member = db.scalar(select(StaffMember).where(StaffMember.email == email))
    assert member.role == "admin" and member.name == "Première Admin"
    assert verify_password(member.password_hash, "a good long password")
    assert member.totp_secret is None  # enrolled at the first sign-in
    event = db.scalar(
        select(AuditEvent).where(AuditEvent.actor == "cli").order_by(AuditEvent.id.desc())
    )
    assert event.action == "staff.member_created" and event.details["email"] == email


def test_cli_reads_the_password_from_stdin(app, db):
    email = f"agent-{secrets.token_hex(3)}@example.org"
    result = app.test_cli_runner().invoke(
        args=["staff", "create", email, "--name", "Agent", "--role", "agent", "--password-stdin"],
        input="another good password\n",
    )
    assert result.exit_code == 0, result.output
    assert count_with(db, email) == 1


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--role", "root"], "a good long password\n", "Unknown role 'root'"),
        (["--role", "agent", "--password-stdin"], "short\n", "too short"),
        (["--role", "agent", "--password-stdin"], "aaaaaaaaaaaaaaaa\n", "too weak"),
        (["--role", "agent"], "a good long password\na different password\n", "differ"),
    ],
)
def test_cli_refuses_bad_input(app, db, args, stdin, message):
    email = f"bad-{secrets.token_hex(3)}@example.org"
    result = app.test_cli_runner().invoke(
        args=["staff", "create", email, "--name", "Someone", *args], input=stdin
    )
    assert result.exit_code != 0
    assert message in result.output
    assert count_with(db, email) == 0


def test_cli_refuses_a_bad_email(app, db):
    result = app.test_cli_runner().invoke(
        args=["staff", "create", "not-an-email", "--name", "Someone", "--role", "agent"],
        input="a good long password\na good long password\n",
    )
    assert result.exit_code != 0
    assert "“not-an-email” is not an email address" in result.output
    assert "Nothing was created" in result.output
    assert count_with(db, "not-an-email") == 0


def test_cli_refuses_a_duplicate_email(app, db, make_staff):
    member = make_staff()
    # Kept until the test's end, whatever the command rolls back of its own work.
    db.commit()
    result = app.test_cli_runner().invoke(
        args=[
            "staff",
            "create",
            member.email,
            "--name",
            "Twin",
            "--role",
            "admin",
            "--password-stdin",
        ],
        input="a good long password\n",
    )
    assert result.exit_code != 0
    assert "already exists" in result.output and "Nothing was created" in result.output
    assert count_with(db, member.email) == 1
    assert DEFAULT_PASSWORD not in result.output
