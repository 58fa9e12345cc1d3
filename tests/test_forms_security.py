"""Forms and sessions: CSRF on every form, redirect targets that stay on the site, the flags of
every cookie the site sets, and the rate limits not already covered elsewhere.

Rate limits already tested (not repeated here): account password sign-in by address and by
email (test_accounts.test_password_attempts_are_rate_limited_by_*), sign-in links asked for
(test_accounts.test_sign_in_links_are_rate_limited), staff password by address
(test_staff_auth.test_sign_in_is_rate_limited_by_address), requests filed, uploads with a new
request and "find my request" (test_rights_requests.test_*_rate_limited), copies of one's data
(test_exports.test_copies_are_rate_limited), consent receipts (test_consent_api).
"""

from __future__ import annotations

import base64
import io
import re
import secrets
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from conftest import (
    DEFAULT_PASSWORD,
    DEFAULT_STAFF_PASSWORD,
    age_staff_sessions,
    staff_code,
    staff_sign_in,
)
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from test_access_matrix import TOKEN, World, build_world
from test_rights_requests import png_bytes, post_multipart

from privacy_center import create_app
from privacy_center.accounts.sign_in import safe_next
from privacy_center.models import (
    AuditEvent,
    EmailToken,
    IdentityDocument,
    PrivacyRequest,
    StaffSignInFailure,
)
from privacy_center.staff.auth.access import PENDING_AT_KEY, PENDING_KEY
from privacy_center.tokens import issue_token
from privacy_center.workflow import RequestState


@pytest.fixture
def world(app, db, make_account, make_staff, tmp_path, monkeypatch) -> World:
    return build_world(app, db, make_account, make_staff, tmp_path, monkeypatch)


def token_of(client: FlaskClient, page: str) -> str:
    found = TOKEN.search(client.get(page).get_data(as_text=True))
    assert found, page
    return found[1]


# --- CSRF ---------------------------------------------------------------------------------------

# POST rules that take no CSRF token, and why. Anything else must refuse a POST without one.
CSRF_EXEMPT = {
    "/api/v1/consents": "a JSON API posted by the operator's pages on other origins: the Origin "
    "allow-list and CORS protect it, and a forged post can only add a receipt",
    "/rights/unsubscribe/<token>": "RFC 8058 one-click unsubscribe: mail clients post "
    "List-Unsubscribe=One-Click with no cookie or token; the signed token is the authority",
    "/api/v1/activity": "a JSON API posted by the operator's mailer, server to server: its bearer "
    "token is the authority (test_activity), no cookie is read",
    "/api/v1/activity/links": "the same API as /api/v1/activity: the mailer's bearer token",
}

# Each form: (who posts it, its address, what a filled-in form would send).
FORMS: dict[str, tuple[str, str, dict[str, str]]] = {
    "/rights/requests/new/<kind>": (
        "anonymous",
        "/rights/requests/new/objection_profiling",
        {"name": "Camille", "email": "csrf@example.org", "language": "en"},
    ),
    "/rights/requests/find": (
        "anonymous",
        "/rights/requests/find",
        {"email": "{request_email}", "reference": "{ref}"},
    ),
    "/rights/requests/confirm/<token>": ("anonymous", "/rights/requests/confirm/{confirm}", {}),
    "/rights/requests/<reference>/<token>/document": (
        "anonymous",
        "/rights/requests/{ref}/{token}/document",
        {},
    ),
    "/rights/requests/<reference>/<token>/withdraw": (
        "anonymous",
        "/rights/requests/{ref}/{token}/withdraw",
        {},
    ),
    "/rights/sign-in": (
        "anonymous",
        "/rights/sign-in",
        {"email": "{holder_email}", "password": DEFAULT_PASSWORD},
    ),
    "/rights/sign-in/link": ("anonymous", "/rights/sign-in/link", {"email": "{holder_email}"}),
    "/rights/sign-in/<token>": ("anonymous", "/rights/sign-in/{sign_in_link}", {}),
    "/rights/sign-out": ("holder_a", "/rights/sign-out", {}),
    "/rights/preferences": ("holder_a", "/rights/preferences", {}),
    "/rights/download": ("holder_a", "/rights/download", {"acknowledge": "y"}),
    "/rights/download/link/<token>": ("anonymous", "/rights/download/link/{link}", {}),
    "/rights/post-mortem": ("holder_a", "/rights/post-mortem", {"consent": "y"}),
    "/rights/post-mortem/withdraw": ("holder_a", "/rights/post-mortem/withdraw", {}),
    "/rights/post-mortem/request": ("anonymous", "/rights/post-mortem/request", {}),
    "/rights/post-mortem/data/<token>": ("anonymous", "/rights/post-mortem/data/{pm_link}", {}),
    "/staff/sign-in": (
        "anonymous",
        "/staff/sign-in",
        {"email": "{admin_email}", "password": DEFAULT_STAFF_PASSWORD},
    ),
    "/staff/sign-in/code": ("staff_pending", "/staff/sign-in/code", {"code": "000000"}),
    "/staff/sign-in/enrol": ("staff_pending", "/staff/sign-in/enrol", {"code": "000000"}),
    "/staff/sign-out": ("admin", "/staff/sign-out", {}),
    "/staff/members": (
        "admin",
        "/staff/members",
        {"email": "new-member@example.org", "name": "New", "role": "agent", "password": "x" * 20},
    ),
    "/staff/requests/new": (
        "admin",
        "/staff/requests/new",
        {"intake-kind": "access", "intake-name": "Jeanne Martin", "intake-channel": "phone"},
    ),
    "/staff/members/<int:member_id>/deactivate": (
        "admin",
        "/staff/members/{member}/deactivate",
        {},
    ),
    "/recipients/acknowledge/<token>": ("anonymous", "/recipients/acknowledge/{recipient_ack}", {}),
    "/staff/requests/<reference>/recipients/<int:notification_id>/retry": (
        "admin",
        "/staff/requests/{ref}/recipients/{notification}/retry",
        {},
    ),
    "/staff/requests/<reference>/recipients/<int:notification_id>/acknowledged": (
        "admin",
        "/staff/requests/{ref}/recipients/{notification}/acknowledged",
        {},
    ),
    "/staff/members/<int:member_id>/reset-two-factor": (
        "admin",
        "/staff/members/{member}/reset-two-factor",
        {},
    ),
    "/staff/members/<int:member_id>/unlock": ("admin", "/staff/members/{member}/unlock", {}),
    "/staff/members/<int:member_id>/end-sessions": (
        "admin",
        "/staff/members/{member}/end-sessions",
        {},
    ),
    "/staff/mail/<int:mail_id>/retry": ("agent", "/staff/mail/{mail}/retry", {}),
}
STAFF_ACTIONS = {
    "confirm-identity": {"confirm-document_type": "passport"},
    "ask-identity": {"ask-reason": "The name differs"},
    "clarification": {"clarify-question": "Which account?"},
    "resume": {},
    "complete": {},
    "release": {},
    "close-account": {},
    "assign": {"assign-member": "{member}"},
    "notes": {"note-text": "A note"},
    "letters/preview": {"kind": "acknowledgement"},
    "letters/send": {"kind": "acknowledgement"},
    "documents": {},
    "extend": {"extend-reasons": "Many requests"},
    "refuse": {"refuse-reasons": "Manifestly unfounded"},
}
for _action, _data in STAFF_ACTIONS.items():
    FORMS[f"/staff/requests/<reference>/{_action}"] = (
        "admin",
        f"/staff/requests/{{ref}}/{_action}",
        _data,
    )


def post_rules(app: Flask) -> set[str]:
    return {
        rule.rule
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or set()) and rule.endpoint != "static"
    }


def test_every_post_route_is_listed(app: Flask) -> None:
    """A new form must be added to FORMS (or, with its reason, to CSRF_EXEMPT)."""
    rules = post_rules(app)
    assert sorted(rules - set(FORMS) - set(CSRF_EXEMPT)) == []
    assert sorted((set(FORMS) | set(CSRF_EXEMPT)) - rules) == []


def _snapshot(world: World) -> dict[str, object]:
    db = world.db
    state = world.state()
    state["requests_total"] = db.scalar(select(func.count()).select_from(PrivacyRequest))
    state["tokens_used"] = db.scalar(
        select(func.count()).select_from(EmailToken).where(EmailToken.used_at.is_not(None))
    )
    state["audit"] = db.scalar(select(func.count()).select_from(AuditEvent))
    return state


@pytest.mark.parametrize("rule", sorted(FORMS))
def test_a_form_posted_without_its_token_is_refused(world: World, rule: str) -> None:
    identity, path, data = FORMS[rule]
    world.member("agent"), world.member("dpo")
    admin = world.member("admin")
    values = {
        **world.values,
        "member": str(world.member("agent").id),
        "holder_email": world.holder_a.email,
        "request_email": world.request_a.email,
        "admin_email": admin.email,
        "confirm": issue_token(
            world.db,
            purpose="confirm_request",
            email=world.request_a.email,
            lifetime=timedelta(hours=24),
            request_id=world.request_a.id,
        ),
    }
    client = world.client(identity)
    before = _snapshot(world)
    filled = {name: value.format(**values) for name, value in data.items()}
    answer = client.post(path.format(**values), data=filled)
    assert answer.status_code == 400, (rule, answer.status_code)
    html = answer.get_data(as_text=True)
    assert "The request could not be understood" in html or "This form had expired" in html, html[
        :500
    ]
    assert _snapshot(world) == before
    # The session is the one it was: not signed in, not signed out.
    if rule in ("/rights/sign-in", "/rights/sign-in/<token>"):
        assert client.get("/rights/preferences").status_code == 302
    if rule == "/rights/sign-out":
        assert client.get("/rights/preferences").status_code == 200
    if rule == "/staff/sign-out":
        assert client.get("/staff/members").status_code == 200
    if rule == "/staff/sign-in":
        with client.session_transaction("/staff/") as session:
            assert PENDING_KEY not in session


def test_a_token_of_another_session_is_refused(world: World) -> None:
    """A token is bound to its session: one read from the attacker's own page is no use."""
    attacker = world.client("anonymous")
    victim = world.client("holder_a")
    token = token_of(attacker, "/rights/requests/find")
    before = _snapshot(world)
    answer = victim.post("/rights/post-mortem/withdraw", data={"csrf_token": token})
    assert answer.status_code == 400
    assert _snapshot(world) == before


def test_the_exempt_routes_work_without_a_token_and_nothing_else_is_exempt(
    app: Flask, world: World
) -> None:
    # One-click unsubscribe, as a mail client sends it: no cookie, no token.
    answer = app.test_client().post(
        f"/rights/unsubscribe/{world.values['unsubscribe']}",
        data={"List-Unsubscribe": "One-Click"},
    )
    assert answer.status_code == 200
    # The consent API answers on its own terms (a foreign origin is refused, not by CSRF).
    answer = app.test_client().post(
        "/api/v1/consents",
        data="{}",
        content_type="application/json",
        headers={"Origin": "https://evil.example"},
    )
    assert answer.status_code in (400, 403)
    assert answer.headers.get("Access-Control-Allow-Origin") is None
    # The mailer's activity API answers on its own terms too: no bearer token, refused.
    for path in ("/api/v1/activity", "/api/v1/activity/links"):
        answer = app.test_client().post(path, json={"activity": [], "links": []})
        assert answer.status_code == 401
    # Exactly these are exempt: every other view goes through the CSRF check.
    from privacy_center.extensions import csrf

    exempt_views = {name.rsplit(".", 1)[-1] for name in csrf._exempt_views}
    assert exempt_views <= {"unsubscribe_page"}, exempt_views
    blueprints = {getattr(bp, "name", bp) for bp in csrf._exempt_blueprints}
    assert blueprints <= {"consent", "activity_api"}, blueprints


# --- redirect targets ---------------------------------------------------------------------------

HOSTILE_TARGETS = [
    "https://evil.example/",
    "http://evil.example",
    "//evil.example",
    "///evil.example",
    "////evil.example/x",
    "/\\evil.example",
    "\\/evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "https:evil.example",
    "https:/evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/%2F/evil.example",
    "%2F%2Fevil.example",
    "/%5Cevil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    " //evil.example",
    "\x00//evil.example",
    "/ok\r\nLocation: https://evil.example",
    "/ok%0d%0aLocation:%20https://evil.example",
    "http://localhost@evil.example/",
    "/rights@evil.example",
    "evil.example",
    "/" + "a" * 3000,
]
RAW_QUERY_TARGETS = ["%2F%2Fevil.example", "%2F%5Cevil.example", "%09//evil.example"]


def browser_destination(location: str, base: str = "http://localhost/rights/x") -> str:
    """The host a browser would go to for this Location (WHATWG URL rules: tabs and newlines
    dropped, leading C0 controls and spaces trimmed, backslashes read as slashes)."""
    assert "\r" not in location and "\n" not in location, repr(location)
    cleaned = re.sub(r"[\t\n\r]", "", location).lstrip("".join(map(chr, range(33))))
    cleaned = cleaned.replace("\\", "/")
    resolved = urlsplit(urljoin(base, cleaned))
    assert resolved.scheme in ("http", "https"), location
    return resolved.netloc


def assert_same_site(answer: Any, target: str) -> None:
    assert answer.status_code in (301, 302, 303, 307, 308), (target, answer.status_code)
    location = answer.headers["Location"]
    assert browser_destination(location) == "localhost", (target, location)
    # The target itself is not carried further either.
    for values in parse_qs(urlsplit(location).query).values():
        for value in values:
            if value.startswith("/") or "evil" in value:
                assert safe_next(value) == value and browser_destination(value) == "localhost"


def assert_kept_local(page: str) -> None:
    """The form's hidden next= is empty, or a path of this site (``/%2F/x`` is one)."""
    kept = re.search(r'name="next" type="hidden" value="([^"]*)"', page)
    assert kept is not None
    value = kept[1].replace("&amp;", "&")
    assert value == "" or (value.startswith("/") and browser_destination(value) == "localhost")


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_account_sign_in_next_stays_on_the_site(client, db, make_account, target: str) -> None:
    client.environ_base["REMOTE_ADDR"] = f"10.91.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    account = make_account()
    page = client.get("/rights/sign-in", query_string={"next": target}).get_data(as_text=True)
    assert_kept_local(page)
    token = TOKEN.search(page)[1]
    answer = client.post(
        "/rights/sign-in",
        data={
            "csrf_token": token,
            "email": account.email,
            "password": DEFAULT_PASSWORD,
            "next": target,
        },
    )
    assert_same_site(answer, target)
    # Signed in, the sign-in page sends straight on: still here.
    assert_same_site(client.get("/rights/sign-in", query_string={"next": target}), target)
    for raw in RAW_QUERY_TARGETS:
        assert_same_site(client.get(f"/rights/sign-in?next={raw}"), raw)


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_sign_in_links_keep_next_on_the_site(client, db, make_account, target: str) -> None:
    account = make_account()
    secret = issue_token(
        db,
        purpose="sign_in",
        email=account.email,
        lifetime=timedelta(minutes=15),
        account_id=account.id,
    )
    page = client.get(f"/rights/sign-in/{secret}", query_string={"next": target})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    action = re.search(r'<form[^>]*action="([^"]*)"', html)
    assert action is None or browser_destination(action[1].replace("&amp;", "&")) == "localhost"
    answer = client.post(
        f"/rights/sign-in/{secret}",
        query_string={"next": target},
        data={"csrf_token": TOKEN.search(html)[1]},
    )
    assert_same_site(answer, target)


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_staff_sign_in_next_stays_on_the_site(client, db, make_staff, target: str) -> None:
    member = make_staff(role="admin")
    answer = staff_sign_in(client, member, next_url=target)
    assert_same_site(answer, target)
    assert_same_site(client.get("/staff/sign-in", query_string={"next": target}), target)
    # The code and enrolment steps' own next= are checked too.
    with client.session_transaction("/staff/") as session:
        session.clear()
        session[PENDING_KEY] = member.id
        session[PENDING_AT_KEY] = int(time.time())
    page = client.get("/staff/sign-in/code", query_string={"next": target})
    assert page.status_code == 200
    assert_kept_local(page.get_data(as_text=True))
    answer = client.post(
        "/staff/sign-in/code",
        data={
            "csrf_token": TOKEN.search(page.get_data(as_text=True))[1],
            "code": staff_code(member),
            "next": target,
        },
    )
    assert_same_site(answer, target)


@pytest.mark.parametrize(
    "referer",
    [
        "https://evil.example/staff/members",
        "http://evil.example/staff/",
        "http://localhost@evil.example/staff/",
        "http://localhost/staff/..//evil.example",
        "http://localhost//evil.example/staff",
        "http://localhost/staff/\\evil.example",
        "javascript:alert(1)",
    ],
)
def test_the_idle_timeout_sends_back_only_to_this_site(
    client, db, make_staff, app, referer: str
) -> None:
    member = make_staff(role="admin")
    staff_sign_in(client, member)
    token = token_of(client, "/staff/members")
    age_staff_sessions(member, seconds=app.config["STAFF_IDLE_MINUTES"] * 60 + 1)
    answer = client.post(
        f"/staff/members/{member.id}/reset-two-factor",
        data={"csrf_token": token},
        headers={"Referer": referer},
    )
    assert urlsplit(answer.location).path == "/staff/sign-in"
    assert_same_site(answer, referer)
    target = parse_qs(urlsplit(answer.location).query).get("next", [""])[0]
    # Signing in again goes where the idle page said, still on the site.
    assert_same_site(staff_sign_in(client, member, next_url=target), referer)


def test_the_language_links_stay_on_the_page(client) -> None:
    page = client.get("/rights/requests/find?next=//evil.example&lang=en").get_data(as_text=True)
    links = re.findall(r'<a href="([^"]+)" hreflang=', page)
    assert len(links) >= 2
    for link in links:
        assert urlsplit(link).path == "/rights/requests/find" and "evil" not in link


# --- cookie flags -------------------------------------------------------------------------------

HOST = "privacy.example.com"


@pytest.fixture
def production(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The application as a real deployment starts it: the production settings, from the
    environment that config.py requires."""
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    environment = {
        "SECRET_KEY": secrets.token_hex(32),
        "TRUSTED_HOSTS": HOST,
        "DATABASE_URL": database_url,
        "PC_IDENTITY_DOCUMENT_KEY": key,
        "PC_EXPORT_KEY": key,
        "PC_AUDIT_KEY": key,
        "PC_IDENTITY_DOCUMENT_DIR": str(tmp_path / "documents"),
        "PC_EXPORT_DIR": str(tmp_path / "exports"),
        "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    for name in ("REDIS_URL", "TRUSTED_PROXIES", "PC_ENV"):
        monkeypatch.delenv(name, raising=False)
    app = create_app("production")
    assert app.config["ENVIRONMENT"] == "production" and not app.config["TESTING"]
    return app


def cookie_header(answer: Any, name: str) -> dict[str, str | bool]:
    headers = [h for h in answer.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]
    assert len(headers) == 1, (name, answer.headers.getlist("Set-Cookie"))
    attributes: dict[str, str | bool] = {}
    for part in headers[0].split(";")[1:]:
        key, _eq, value = part.strip().partition("=")
        attributes[key.lower()] = value if _eq else True
    return attributes


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_production_cookies_carry_every_flag(
    production: Flask, db, make_account, scheme: str
) -> None:
    """Over https, and over http too (TLS ended at a proxy whose headers are not trusted)."""
    base = f"{scheme}://{HOST}"
    client = production.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.92.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    email = make_account().email
    db.commit()  # kept through the other app's requests (each ends by closing the session)
    referer = {"Referer": f"{base}/rights/sign-in"}

    page = client.get("/rights/sign-in", base_url=base)
    session_cookie = cookie_header(page, "pc_session")
    answer = client.post(
        "/rights/sign-in",
        base_url=base,
        headers=referer,
        data={
            "csrf_token": TOKEN.search(page.get_data(as_text=True))[1],
            "email": email,
            "password": DEFAULT_PASSWORD,
        },
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    for flags in (session_cookie, cookie_header(answer, "pc_session")):
        assert flags.get("secure") is True and flags.get("httponly") is True
        assert flags.get("samesite") == "Lax" and flags.get("path") == "/"
        assert "domain" not in flags

    staff = cookie_header(client.get("/staff/sign-in", base_url=base), "pc_staff")
    assert staff.get("secure") is True and staff.get("httponly") is True
    assert staff.get("samesite") == "Strict" and staff.get("path") == "/staff"
    assert "domain" not in staff

    language = cookie_header(client.get("/rights?lang=de", base_url=base), "pc_lang")
    assert language.get("secure") is True and language.get("httponly") is True
    assert language.get("samesite") == "Lax" and "domain" not in language

    # No other cookie is set by the site (the CSRF token lives in the signed session).
    names = {
        header.split("=", 1)[0]
        for answer in (page, answer)
        for header in answer.headers.getlist("Set-Cookie")
    }
    assert names <= {"pc_session"}


def test_production_refuses_another_host(production: Flask) -> None:
    answer = production.test_client().get("/rights/sign-in", base_url="https://evil.example")
    assert answer.status_code == 400 and not answer.headers.getlist("Set-Cookie")


def test_development_cookies_are_httponly_and_samesite(client) -> None:
    page = client.get("/rights/sign-in?lang=en")
    session_cookie = cookie_header(page, "pc_session")
    assert session_cookie.get("httponly") is True and session_cookie.get("samesite") == "Lax"
    language = cookie_header(page, "pc_lang")
    assert language.get("httponly") is True and language.get("samesite") == "Lax"
    staff = cookie_header(client.get("/staff/sign-in"), "pc_staff")
    assert staff.get("httponly") is True and staff.get("samesite") == "Strict"
    assert staff.get("path") == "/staff"


# --- rate limits not covered elsewhere ----------------------------------------------------------


def own_address(client: FlaskClient) -> None:
    client.environ_base["REMOTE_ADDR"] = f"10.93.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def failures_of(db, member) -> int:
    """The failures counted for the member, from every source (staff/auth/lockout.py)."""
    return db.scalar(
        select(func.coalesce(func.sum(StaffSignInFailure.failures), 0)).where(
            StaffSignInFailure.member_id == member.id
        )
    )


def test_staff_password_over_the_limit_records_nothing(
    client, db, app, make_staff, monkeypatch
) -> None:
    """Beyond test_staff_auth's 429 check: past the limit even the right password opens nothing,
    counts no failure and writes no audit event; the page says to wait."""
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "2 per minute")
    own_address(client)
    member = make_staff(role="admin")
    for _ in range(2):
        token = token_of(client, "/staff/sign-in")
        client.post(
            "/staff/sign-in",
            data={"csrf_token": token, "email": member.email, "password": "wrong wrong wrong"},
        )
    db.refresh(member)
    failures = failures_of(db, member)
    events = db.scalar(select(func.count()).select_from(AuditEvent))
    token = token_of(client, "/staff/sign-in")
    answer = client.post(
        "/staff/sign-in",
        data={"csrf_token": token, "email": member.email, "password": DEFAULT_STAFF_PASSWORD},
    )
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) > 0
    assert "Please try again in 1 minute" in answer.get_data(as_text=True)
    db.refresh(member)
    assert failures_of(db, member) == failures
    assert db.scalar(select(func.count()).select_from(AuditEvent)) == events
    with client.session_transaction("/staff/") as session:
        assert PENDING_KEY not in session


def test_staff_codes_are_rate_limited(client, db, app, make_staff, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "3 per minute")
    own_address(client)
    member = make_staff(role="admin")
    token = token_of(client, "/staff/sign-in")
    answer = client.post(
        "/staff/sign-in",
        data={"csrf_token": token, "email": member.email, "password": DEFAULT_STAFF_PASSWORD},
    )
    assert urlsplit(answer.location).path == "/staff/sign-in/code"
    for _ in range(2):
        token = token_of(client, "/staff/sign-in/code")
        assert (
            client.post(
                "/staff/sign-in/code", data={"csrf_token": token, "code": "000000"}
            ).status_code
            == 200
        )
    db.refresh(member)
    failures, last_step = failures_of(db, member), member.totp_last_step
    token = token_of(client, "/staff/sign-in/code")
    answer = client.post(
        "/staff/sign-in/code", data={"csrf_token": token, "code": staff_code(member)}
    )
    assert answer.status_code == 429
    assert "Please try again in 1 minute" in answer.get_data(as_text=True)
    db.refresh(member)
    assert (failures_of(db, member), member.totp_last_step) == (failures, last_step)
    assert urlsplit(client.get("/staff/members").location).path.startswith("/staff/sign-in")


def test_sign_in_link_limit_page_says_to_wait(client, db, app, make_account, monkeypatch) -> None:
    """test_accounts checks the 429 and the mails; here the page a person sees."""
    monkeypatch.setitem(app.config, "SIGN_IN_LINK_RATE_LIMIT", "1 per hour")
    monkeypatch.setitem(app.config, "MAIL_OUTBOX_DIR", str(Path(app.instance_path) / "unused"))
    own_address(client)
    email = f"nobody-{secrets.token_hex(4)}@example.org"
    statuses = []
    for _ in range(2):
        token = token_of(client, "/rights/sign-in/link")
        answer = client.post("/rights/sign-in/link", data={"csrf_token": token, "email": email})
        statuses.append(answer.status_code)
    assert statuses == [302, 429]
    assert answer.headers["Retry-After"] == "3600"
    assert "Too many attempts" in answer.get_data(as_text=True)


def test_documents_sent_from_the_status_page_are_rate_limited(
    world: World, app, monkeypatch
) -> None:
    monkeypatch.setitem(app.config, "UPLOAD_RATE_LIMIT", "1 per hour")
    request = world.request_a
    request.state = RequestState.AWAITING_IDENTITY
    world.db.flush()
    client = world.client("anonymous")
    own_address(client)
    status = f"/rights/requests/{request.reference}/{world.values['token']}"
    directory = Path(app.config["IDENTITY_DOCUMENT_DIR"])
    # Read once: after the first document the page no longer offers an upload (none is needed),
    # and the second try is refused by the limit before anything else.
    csrf_token = token_of(client, status)

    def send() -> Any:
        return post_multipart(
            client,
            f"{status}/document",
            {
                "csrf_token": csrf_token,
                "document": (io.BytesIO(png_bytes()), "passport.png"),
            },
        )

    def stored() -> tuple[int, int]:
        world.db.expire_all()
        rows = world.db.scalar(
            select(func.count())
            .select_from(IdentityDocument)
            .where(IdentityDocument.request_id == request.id)
        )
        return rows, len(list(directory.iterdir()))

    assert send().status_code == 302
    before = stored()
    answer = send()
    assert answer.status_code == 429
    assert "please wait an hour" in answer.get_data(as_text=True)
    assert stored() == before


def test_heirs_requests_are_rate_limited(client, db, app, tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "UPLOAD_RATE_LIMIT", "1 per hour")
    monkeypatch.setitem(app.config, "IDENTITY_DOCUMENT_DIR", str(tmp_path / "heirs"))
    own_address(client)
    path = "/rights/post-mortem/request?lang=en"
    form = {
        "name": "Alex Martin",
        "email": f"heir-{secrets.token_hex(4)}@example.org",
        "deceased_name": "Camille Martin",
    }
    heirs = tmp_path / "heirs"

    def files() -> int:
        return len(list(heirs.iterdir())) if heirs.exists() else 0

    statuses = []
    for _ in range(2):
        data: dict[str, object] = {"csrf_token": token_of(client, path), **form}
        for field in ("death_certificate", "capacity_proof", "identity"):
            data[field] = (io.BytesIO(png_bytes()), f"{field}.png")
        before = (db.scalar(select(func.count()).select_from(PrivacyRequest)), files())
        answer = post_multipart(client, path, data)
        statuses.append(answer.status_code)
    assert statuses[-1] == 429 and statuses[0] != 429
    assert "please wait an hour" in answer.get_data(as_text=True)
    assert (db.scalar(select(func.count()).select_from(PrivacyRequest)), files()) == before
