"""Shared fixtures.

The suite runs against SQLite by default and against a throw-away PostgreSQL database when
``PC_TEST_DATABASE=postgresql`` (``make test`` runs both). PostgreSQL is never skipped silently:
when the server cannot be reached the run stops with a message saying so.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask, g, has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy.orm import scoped_session, sessionmaker
from werkzeug.serving import make_server

from demo_site import create_demo_site
from privacy_center import create_app
from privacy_center.content import load_content
from privacy_center.cookie_scan.scanner import CHROMIUM_ARGS
from privacy_center.extensions import db as database
from privacy_center.mail import parse_message

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"


@functools.cache
def current_policy_version() -> int:
    """The number of the policy version in force today, read from the content (never a literal:
    publishing a new version must not break tests that only need "the current one")."""
    content = load_content(CONTENT_DIR)
    return content.current_version(content.operator.today()).number


POSTGRES_ADMIN_URL = os.environ.get(
    "PC_TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _uses_postgres() -> bool:
    return os.environ.get("PC_TEST_DATABASE", "sqlite") == "postgresql"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Fail the PostgreSQL run at once, with the reason, when the server cannot be reached."""
    if not _uses_postgres():
        return
    admin = sa.create_engine(POSTGRES_ADMIN_URL)
    try:
        with admin.connect():
            pass
    except sa.exc.OperationalError as error:
        pytest.exit(
            f"PostgreSQL is unreachable at {POSTGRES_ADMIN_URL} ({error.orig}). The PostgreSQL run "
            "cannot be skipped: start the server (see README) or set PC_TEST_POSTGRES_ADMIN_URL.",
            returncode=3,
        )
    finally:
        admin.dispose()


def _postgres_database() -> Iterator[str]:
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"pc_test_{secrets.token_hex(6)}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(POSTGRES_ADMIN_URL).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if _uses_postgres():
        yield from _postgres_database()
    else:
        yield "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")


@pytest.fixture(scope="session")
def operator_server() -> Iterator[tuple[Flask, str]]:
    """The operator's demo page, served on its own origin (another loopback address, so that
    its cookies are not the privacy center's)."""
    site = create_demo_site("http://privacy-center.invalid")
    server = make_server("127.0.0.2", 0, site, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site, f"http://127.0.0.2:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


class RequestIsolatingClient(FlaskClient):
    """A test client whose every request starts with an empty ``g``, as in production.

    The ``db`` fixture holds one application context for the whole test, and requests reuse it
    (so that they see the test's uncommitted rows): without this, Flask-Babel's locale,
    Flask-Login's user and the CSRF token would leak from one request into the next.
    """

    def open(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        if has_app_context():
            vars(g._get_current_object()).clear()
        return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def make_app(database_url: str, operator_server: tuple[Flask, str]) -> Callable[..., Flask]:
    """Factory: an application on the test database, with optional setting overrides."""

    def factory(**overrides: object) -> Flask:
        settings = {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "CONSENT_EXTRA_ORIGINS": (operator_server[1],),
            **overrides,
        }
        application = create_app("test", settings)
        application.test_client_class = RequestIsolatingClient
        return application

    return factory


@pytest.fixture(scope="session")
def app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    application = make_app()
    with application.app_context():
        upgrade()
    yield application
    with application.app_context():
        database.engine.dispose()


@pytest.fixture
def db(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Iterator[scoped_session]:
    """The database session, inside a transaction rolled back after the test (and a checkpoint
    file of the audit log of its own: the rows a checkpoint names are rolled back too)."""
    checkpoints = app.config["AUDIT_CHECKPOINT_FILE"]
    app.config["AUDIT_CHECKPOINT_FILE"] = str(tmp_path_factory.mktemp("audit") / "checkpoints")
    with app.app_context():
        connection = database.engine.connect()
        transaction = connection.begin()
        original = database.session
        session = scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
        )
        database.session = session
        try:
            yield session
        finally:
            session.remove()
            database.session = original
            transaction.rollback()
            connection.close()
            app.config["AUDIT_CHECKPOINT_FILE"] = checkpoints


@pytest.fixture
def client(app: Flask, db: scoped_session) -> FlaskClient:
    """A test client whose writes are rolled back with the test's transaction."""
    return app.test_client()


@pytest.fixture(scope="session")
def live_server(app: Flask) -> Iterator[str]:
    """The application served over real HTTP on a free loopback port, for the browser tests."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def operator_page(operator_server: tuple[Flask, str], live_server: str) -> str:
    """The address of the operator's demo page, embedding the live privacy center's widget."""
    site, url = operator_server
    site.config["PRIVACY_CENTER_URL"] = live_server
    return url + "/"


CHROMIUM = Path(os.environ.get("PC_CHROMIUM", "/usr/bin/chromium"))


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright  # imported here: only browser tests need it

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context()  # type: ignore[attr-defined]
    tab = context.new_page()
    yield tab
    context.close()


DEFAULT_PASSWORD = "correct horse battery staple"


@pytest.fixture
def make_account(db: scoped_session) -> Callable[..., object]:
    """Factory: an account holder (flushed, rolled back with the test)."""
    from privacy_center.accounts.passwords import hash_password
    from privacy_center.models import Account

    password_hash = hash_password(DEFAULT_PASSWORD)

    def factory(email: str | None = None, **fields: object) -> Account:
        account = Account(
            email=(email or f"holder-{secrets.token_hex(4)}@example.org").lower(),
            password_hash=password_hash,
            first_name=fields.pop("first_name", "Camille"),
            last_name=fields.pop("last_name", "Martin"),
            language=fields.pop("language", "fr"),
            **fields,
        )
        db.add(account)
        db.flush()
        return account

    return factory


@pytest.fixture
def make_invoice(db: scoped_session) -> Callable[..., object]:
    """Factory: an invoice of an account (or of none: ``None``), flushed; fields overridden."""
    from privacy_center.models import Invoice

    def factory(account_id: int | None, **fields: object) -> Invoice:
        invoice = Invoice(
            account_id=account_id,
            **{
                "number": f"F-{secrets.token_hex(6)}",
                "issued_on": date(2025, 1, 1),
                "description": "Subscription",
                "amount_cents": 999,
                "payment_method": "card",
                **fields,
            },
        )
        db.add(invoice)
        db.flush()
        return invoice

    return factory


def valid_receipt(**overrides: object) -> dict[str, object]:
    """A consent receipt's body that the API accepts (new ids each time), fields overridden."""
    payload: dict[str, object] = {
        "receiptId": str(uuid.uuid4()),
        "visitorId": str(uuid.uuid4()),
        "site": "demo",
        "policyVersion": current_policy_version(),
        "build": "0123456789ab",
        "textsHash": "a" * 64,
        "language": "fr",
        "action": "save",
        "gpc": False,
        "choices": {
            "functional": True,
            "analytics": True,
            "advertising": False,
            "personalization": False,
            "social": False,
        },
    }
    payload.update(overrides)
    return payload


def sign_in(client: FlaskClient, account: object, *, commit: bool = False) -> str:
    """Open a signed-in session for ``account`` in the test client, as signing in does: a
    session record on the server (rolled back with the test), its id in the cookie. Returns the
    id. ``commit``: for a client of another application, whose contexts close the test's
    database session when they end (the record is committed first, in the test's transaction)."""
    from datetime import timedelta

    from privacy_center.session_records import SESSION_ID_KEY, open_record

    user_id = account.get_id()  # type: ignore[attr-defined]
    session_id = open_record(database.session, account, lifetime=timedelta(hours=24))  # type: ignore[arg-type]
    if commit:
        database.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = user_id
        session["_fresh"] = True
        session[SESSION_ID_KEY] = session_id
    return session_id


class SMTPRecorder:
    """The handler of the test SMTP server: keeps every message it accepts, parsed."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.port = 0
        self.messages: list[EmailMessage] = []
        # (MAIL FROM, RCPT TO) of each message, in the same order.
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = parse_message(envelope.content)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.envelopes.clear()

    def settings(self) -> dict[str, object]:
        """The MAIL_* settings that send through this server."""
        return {"MAIL_SERVER": self.host, "MAIL_PORT": self.port}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private Redis server (nothing saved) for the tests of the RQ path."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (make system-test installs it)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path_factory.mktemp("redis"))],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SMTPRecorder]:
    """A real SMTP server (aiosmtpd) on a free loopback port; call ``.clear()`` in each test."""
    from aiosmtpd.controller import Controller  # imported here: only mail tests need it

    recorder = SMTPRecorder()
    recorder.port = free_port(recorder.host)
    # server_hostname: no DNS lookup of the machine's name at start-up.
    controller = Controller(
        recorder, hostname=recorder.host, port=recorder.port, server_hostname="localhost"
    )
    controller.start()
    yield recorder
    controller.stop()


@pytest.fixture
def outbox(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty outbox folder; the session app writes its mails there during the test."""
    directory = tmp_path / "outbox"
    directory.mkdir()
    monkeypatch.setitem(app.config, "MAIL_OUTBOX_DIR", str(directory))
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    return directory


# --- staff members (staff/auth/) ---------------------------------------------------------------

DEFAULT_STAFF_PASSWORD = "staff correct horse battery"
STAFF_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture
def make_staff(app: Flask, db: scoped_session) -> Callable[..., object]:
    """Factory: a staff member (flushed, rolled back with the test) whose password is
    DEFAULT_STAFF_PASSWORD. When ``enrolled``, their TOTP is set up and its plain base32 secret
    is on the member as ``totp_key`` (for ``pyotp.TOTP(member.totp_key).now()``)."""
    import pyotp

    from privacy_center.accounts.passwords import hash_password
    from privacy_center.models import StaffMember
    from privacy_center.models.types import utcnow
    from privacy_center.staff.auth.totp import encrypt_totp_secret

    password_hash = hash_password(DEFAULT_STAFF_PASSWORD)

    def factory(
        role: str = "agent", enrolled: bool = True, email: str | None = None, **fields: object
    ) -> StaffMember:
        member = StaffMember(
            email=(email or f"staff-{secrets.token_hex(4)}@example.org").lower(),
            name=fields.pop("name", f"{role.title()} {secrets.token_hex(2)}"),
            role=role,
            password_hash=password_hash,
            **fields,
        )
        db.add(member)
        db.flush()
        member.totp_key = None  # type: ignore[attr-defined]
        if enrolled:
            member.totp_key = pyotp.random_base32()  # type: ignore[attr-defined]
            member.totp_secret = encrypt_totp_secret(
                app.config["SECRET_KEY"], member.id, member.totp_key
            )
            member.totp_enrolled_at = utcnow()
            db.flush()
        return member

    return factory


def staff_code(staff: object) -> str:
    """A TOTP code for ``staff`` that the server has not accepted yet (codes are single-use:
    signing in twice within 30 seconds takes the next step's code, which is still valid)."""
    import pyotp
    from sqlalchemy.orm import object_session

    from privacy_center.models.types import utcnow

    totp = pyotp.TOTP(staff.totp_key)  # type: ignore[attr-defined]
    current = totp.timecode(utcnow())
    last = staff.totp_last_step  # type: ignore[attr-defined]
    step = current if last is None or last < current else last + 1
    if step > current + 1:
        # Already signed in with this step and the next one: let the guard forget them.
        staff.totp_last_step = current - 2  # type: ignore[attr-defined]
        object_session(staff).flush()  # type: ignore[union-attr]
        step = current
    return totp.generate_otp(step)


def age_staff_sessions(staff: object, *, seconds: int = 0, hours: int = 0) -> None:
    """As if ``staff`` had made no request for ``seconds`` (their sessions' last request moves
    back) and had signed in ``hours`` earlier (their start and end move back)."""
    from datetime import timedelta

    from privacy_center.models import SessionRecord

    records = database.session.scalars(
        sa.select(SessionRecord).where(SessionRecord.staff_member_id == staff.id)  # type: ignore[attr-defined]
    )
    for record in records:
        record.last_seen_at -= timedelta(seconds=seconds)
        record.created_at -= timedelta(hours=hours)
        record.expires_at -= timedelta(hours=hours)
    database.session.flush()


def staff_sign_in(client: FlaskClient, staff: object, next_url: str = "") -> Any:
    """Sign ``staff`` in for real, through the pages: password, then a TOTP code (``staff``
    comes from ``make_staff`` with ``enrolled=True``). Returns the code step's answer."""
    if client.environ_base.get("REMOTE_ADDR") == "127.0.0.1":
        # The sign-in rate limit counts per address across the whole test session.
        client.environ_base["REMOTE_ADDR"] = (
            f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"
        )
    # The console's pages are read in English by the tests (the operator's default is French).
    client.environ_base.setdefault("HTTP_ACCEPT_LANGUAGE", "en")
    page = client.get("/staff/sign-in")
    token = STAFF_CSRF.search(page.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    answer = client.post(
        "/staff/sign-in",
        data={
            "csrf_token": token,
            "email": staff.email,  # type: ignore[attr-defined]
            "password": DEFAULT_STAFF_PASSWORD,
            "next": next_url,
        },
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    assert urlsplit(answer.location).path == "/staff/sign-in/code", answer.location
    page = client.get(answer.location)
    token = STAFF_CSRF.search(page.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    answer = client.post(
        "/staff/sign-in/code",
        data={"csrf_token": token, "code": staff_code(staff), "next": next_url},
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return answer


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The every-page check commits the examples its pages need (requests, a cookie scan, an
    # undelivered mail, accounts) to the session's database and cannot delete them all (the
    # audit chain keeps its requests): it runs last, so that no other test counts them.
    items.sort(key=lambda item: item.nodeid.startswith("tests/test_browser_every_page.py"))
