"""Access control matrix: every object URL against every identity that must not reach it.

Two owners' objects are built (holder A with their copy, directives and certificate; requester
A with a request, its letter, identity document and staff note; a consent receipt; the same
for B where a foreign capability is needed). Each row of ``MATRIX`` is one URL; its ``guard``
says who may open it, and so which other identities are tried:

- ``link``: a status link (reference + secret token). Tried: no token, a guessed token, the
  token of another request, another request's valid link reaching this request's letter, and
  a signed-in holder with a wrong token. Expected 404.
- ``account``: an object of holder A behind sign-in. Tried: anonymous (sent to the sign-in page),
  holder B and a staff session planted in the account cookie (404 / sign-in page).
- ``own``: a page that shows the signed-in holder's own data. Tried: anonymous (sign-in page)
  and holder B, who gets their own page, never A's data.
- ``secret``: a capability in the address (receipt id, emailed link). Tried: guessed values
  and a secret of another purpose (404).
- ``staff`` / ``dpo`` / ``admin``: console pages. Tried: anonymous, an account holder, an account
  id planted in the staff cookie, a member who passed the password but not the code (all sent to
  the staff sign-in), and for ``dpo`` an agent, for ``admin`` an agent and a DPO (403).

Every refused answer is checked for the owner's identifying content (emails, names, details,
notes, PDF and file bytes), and for POSTs that nothing changed. Each row also checks that its
owner does get in (so that the markers are real, and a broken URL cannot pass as "refused").
``test_the_matrix_covers_every_rule`` fails when a rule under /rights, /staff or /api is neither
in the matrix nor in ``PUBLIC`` (with the reason it needs no guard).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pikepdf
import pytest
from conftest import sign_in, staff_sign_in, valid_receipt
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from subject_data import mailed_delivery, ready_copy

from privacy_center.accounts.preferences import EVERY
from privacy_center.accounts.unsubscribe import unsubscribe_token
from privacy_center.config import document_key
from privacy_center.connectors import get_connector_set
from privacy_center.deadlines import reply_due
from privacy_center.models import (
    Account,
    CommunicationPreference,
    DataExport,
    IdentityDocument,
    OutgoingMail,
    PostmortemDirective,
    PrivacyRequest,
    RecipientNotification,
    RequestTransition,
    StaffMember,
)
from privacy_center.models.letter import Letter, RequestNote
from privacy_center.models.types import utcnow
from privacy_center.postmortem import services as postmortem_services
from privacy_center.recipients.delivery import token_hash as recipient_token_hash
from privacy_center.rights.references import REFERENCE_ALPHABET, new_status_token
from privacy_center.staff.auth.access import PENDING_AT_KEY, PENDING_KEY
from privacy_center.tokens import issue_token, token_hash
from privacy_center.uploads.storage import store_document
from privacy_center.workflow import RequestState

ORIGIN = "http://127.0.0.1:5001"  # the demo operator's page (content/operator.yaml)
TOKEN = re.compile(r'name="[a-z-]*csrf_token"(?: type="hidden")? value="([^"]+)"')


# --- the objects of two owners ------------------------------------------------------------------


def _reference() -> str:
    code = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"PC-{code[:4]}-{code[4:]}"


@dataclass
class World:
    app: Flask
    db: Any
    holder_a: Account
    holder_b: Account
    request_a: PrivacyRequest
    request_b: PrivacyRequest
    values: dict[str, str]
    # What must never reach anyone but the owner (text and bytes).
    markers: list[bytes]
    make_staff: Callable[..., StaffMember]
    _clients: dict[str, FlaskClient] = field(default_factory=dict)
    _members: dict[str, StaffMember] = field(default_factory=dict)

    def member(self, role: str) -> StaffMember:
        if role not in self._members:
            self._members[role] = self.make_staff(role=role)
        return self._members[role]

    def client(self, identity: str) -> FlaskClient:
        """A client for one identity, made on first use."""
        if identity in self._clients:
            return self._clients[identity]
        client = self.app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.77.{secrets.randbelow(250)}.{len(self._clients)}"
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        if identity == "holder_a":
            sign_in(client, self.holder_a)
        elif identity == "holder_b":
            sign_in(client, self.holder_b)
        elif identity == "staff_in_account_cookie":
            # A staff id in the account holder's cookie opens nothing outside the console.
            with client.session_transaction() as session:
                session["_user_id"] = self.member("admin").get_id()
                session["_fresh"] = True
        elif identity == "holder_in_staff_cookie":
            # An account id in the staff cookie opens nothing inside it.
            with client.session_transaction("/staff/") as session:
                session["_user_id"] = self.holder_a.get_id()
                session["_fresh"] = True
        elif identity == "staff_pending":
            # Password checked, code not given yet.
            with client.session_transaction("/staff/") as session:
                session[PENDING_KEY] = self.member("admin").id
                session[PENDING_AT_KEY] = int(time.time())
        elif identity in ("agent", "dpo", "admin"):
            staff_sign_in(client, self.member(identity))
        else:
            assert identity == "anonymous", identity
        self._clients[identity] = client
        return client

    def state(self) -> dict[str, object]:
        """What a refused POST must leave as it was: the owners' objects and the staff."""
        db = self.db
        db.expire_all()
        requests = (self.request_a.id, self.request_b.id)

        def count(model: Any, *where: Any) -> int:
            return db.scalar(select(func.count()).select_from(model).where(*where))

        return {
            "requests": [
                (r.state, r.assigned_to_id, r.extended_on, r.identity_outcome, r.closed_at)
                for r in (db.get(PrivacyRequest, number) for number in requests)
            ],
            "transitions": count(RequestTransition, RequestTransition.request_id.in_(requests)),
            "letters": count(Letter, Letter.request_id.in_(requests)),
            "notifications": [
                (n.state, n.attempts)
                for n in db.scalars(
                    select(RecipientNotification).where(
                        RecipientNotification.request_id.in_(requests)
                    )
                )
            ],
            "notes": count(RequestNote, RequestNote.request_id.in_(requests)),
            "documents": count(
                IdentityDocument,
                IdentityDocument.request_id.in_(requests),
                IdentityDocument.deleted_at.is_(None),
            ),
            "exports": [
                (e.id, e.state, e.downloaded_at)
                for e in db.scalars(
                    select(DataExport)
                    .where(DataExport.account_id == self.holder_a.id)
                    .order_by(DataExport.id)
                )
            ],
            "directives": [
                (d.version, d.withdrawn_at)
                for d in db.scalars(
                    select(PostmortemDirective)
                    .where(PostmortemDirective.account_id == self.holder_a.id)
                    .order_by(PostmortemDirective.version)
                )
            ],
            "preferences": sorted(
                (p.channel, p.topic, p.subscribed)
                for p in db.scalars(
                    select(CommunicationPreference).where(
                        CommunicationPreference.account_id == self.holder_a.id
                    )
                )
            ),
            "staff": sorted(
                (m.id, m.role, m.deactivated_at, m.totp_enrolled_at)
                for m in db.scalars(select(StaffMember))
            ),
            "holder_a": (self.holder_a.email, self.holder_a.deactivated_at),
        }


def _request(db: Any, email: str, name: str, details: str) -> tuple[PrivacyRequest, str]:
    token, token_hash = new_status_token()
    received = datetime.now(UTC) - timedelta(days=3)
    started = received.date()
    request = PrivacyRequest(
        reference=_reference(),
        kind="access",
        state=RequestState.IN_PROGRESS,
        language="en",
        email=email,
        requester_name=name,
        details=details,
        specifics={},
        received_at=received,
        clock_started_on=started,
        due_on=reply_due(started),
        status_token_hash=token_hash,
        updated_at=received,
    )
    request.transitions.append(
        RequestTransition(
            from_state=None,
            to_state=RequestState.IN_PROGRESS,
            at=received,
            actor="requester",
            reason="filed",
        )
    )
    db.add(request)
    db.flush()
    return request, token


@pytest.fixture
def world(app, db, make_account, make_staff, tmp_path, monkeypatch) -> World:
    return build_world(app, db, make_account, make_staff, tmp_path, monkeypatch)


def build_world(app, db, make_account, make_staff, tmp_path, monkeypatch) -> World:
    """The objects of the two owners (also used by test_forms_security)."""
    monkeypatch.setitem(app.config, "IDENTITY_DOCUMENT_DIR", str(tmp_path / "documents"))
    monkeypatch.setitem(app.config, "EXPORT_DIR", str(tmp_path / "exports"))
    # Every world posts a receipt from the same address: many tests in a minute would meet the
    # consent API's rate limit, which is not what these tests are about.
    monkeypatch.setitem(app.config, "CONSENT_RATE_LIMIT", "100000 per minute")
    tag = secrets.token_hex(4)
    holder_a = make_account(
        f"owner-a-{tag}@example.org", first_name=f"Ownerfirst{tag}", last_name=f"Ownerlast{tag}"
    )
    holder_b = make_account(f"other-b-{tag}@example.org")
    request_a, token_a = _request(
        db, f"requester-a-{tag}@example.org", f"Requestername {tag}", f"Details of A {tag}"
    )
    request_b, token_b = _request(
        db, f"requester-b-{tag}@example.org", f"Othername {tag}", f"Details of B {tag}"
    )

    letter_pdf = f"%PDF-1.4 letter of A {tag} %%EOF".encode()
    letter = Letter(
        request_id=request_a.id,
        kind="acknowledgement",
        language="en",
        fields={},
        pdf=letter_pdf,
        sha256=hashlib.sha256(letter_pdf).hexdigest(),
        sent_at=utcnow(),
        sent_by="system",
    )
    db.add(letter)
    # A mail to A that could not be delivered (the console lists it, with "retry now").
    mail = OutgoingMail(
        request_id=request_a.id,
        to_address=request_a.email,
        subject=f"Your request {request_a.reference}",
        message=b"To: a@example.org\r\nSubject: x\r\n\r\nx\r\n",
        attempts=1,
        last_error="the SMTP server refused it",
    )
    db.add(mail)
    db.add(RequestNote(request_id=request_a.id, text=f"Internal note on A {tag}"))

    # A real PDF (staff see its page rendered as an image), which names its owner.
    scan = pikepdf.new()
    scan.add_blank_page(page_size=(200, 200))
    scan.docinfo["/Title"] = f"passport of A {tag}"
    out = io.BytesIO()
    scan.save(out)
    document_bytes = out.getvalue()
    stored = store_document(
        document_bytes,
        directory=Path(app.config["IDENTITY_DOCUMENT_DIR"]),
        key=document_key(app.config),
    )
    document = IdentityDocument(
        request_id=request_a.id,
        kind="identity",
        stored_name=stored,
        mime_type="application/pdf",
        size_bytes=len(document_bytes),
    )
    db.add(document)

    export_bytes = f"PK\x03\x04 copy of A's data {tag}".encode()
    export = ready_copy(app.config, holder_a.id, export_bytes, language="en")
    db.add(export)
    # A recipient told of A's request (art. 19), which could not be reached.
    recipient_ack = secrets.token_urlsafe(32)
    notification = RecipientNotification(
        request_id=request_a.id,
        recipient_key="partner",
        recipient_name=f"Partner of A {tag}",
        channel="email",
        right="erasure",
        categories=["identity"],
        state="failed",
        attempts=2,
        ack_token_hash=recipient_token_hash(recipient_ack),
    )
    db.add(notification)
    db.flush()
    db.expire(request_a, ["letters", "documents"])

    link = issue_token(
        db,
        purpose="download",
        email=holder_a.email,
        lifetime=timedelta(days=7),
        account_id=holder_a.id,
        export_id=export.id,
    )
    sign_in_link = issue_token(
        db,
        purpose="sign_in",
        email=holder_a.email,
        lifetime=timedelta(minutes=15),
        account_id=holder_a.id,
    )

    # Data of a deceased holder mailed to requester A (postmortem/delivery.py).
    delivered_bytes = f"PK\x03\x04 data of a deceased for A {tag}".encode()
    pm_link = secrets.token_urlsafe(32)
    db.add(
        mailed_delivery(
            app.config,
            request_a,
            holder_a.id,
            ["invoices"],
            delivered_bytes,
            token_hash(pm_link),
            language="en",
        )
    )
    db.flush()

    keys = [category.key for category in get_connector_set().categories()]
    designated = f"Designated Heir {tag}"
    postmortem_services.record_directives(
        db,
        account=holder_a,
        choices=dict.fromkeys(keys, "communicate"),
        category_keys=keys,
        communicate_nothing=False,
        designated_name=designated,
        designated_email=f"heir-{tag}@example.org",
        designated_relation="daughter",
        consent=True,
        language="en",
    )

    visitor = str(uuid.uuid4())
    receipt_id = str(uuid.uuid4())
    payload = valid_receipt(receiptId=receipt_id, visitorId=visitor)
    answer = app.test_client().post(
        "/api/v1/consents",
        data=json.dumps(payload),
        content_type="application/json",
        headers={"Origin": ORIGIN},
    )
    assert answer.status_code == 201, answer.get_data(as_text=True)

    values = {
        "ref": request_a.reference,
        "token": token_a,
        "letter": str(letter.id),
        "mail": str(mail.id),
        "document": str(document.id),
        "page": "1",
        "export": str(export.id),
        "link": link,
        "pm_link": pm_link,
        "receipt": receipt_id,
        "sign_in_link": sign_in_link,
        "unsubscribe": unsubscribe_token(
            app.config["SECRET_KEY"], channel="email", topic=EVERY, account_id=holder_a.id
        ),
        "ref_b": request_b.reference,
        "notification": str(notification.id),
        "recipient_ack": recipient_ack,
        "token_b": token_b,
        # Filled when a row needs them (members are made on first use).
        "member": "",
    }
    markers = [
        text.encode()
        for text in (
            holder_a.email,
            f"Ownerfirst{tag}",
            f"Ownerlast{tag}",
            request_a.email,
            request_a.requester_name,
            request_a.details,
            f"Internal note on A {tag}",
            designated,
            f"heir-{tag}@example.org",
            receipt_id,
            visitor,
        )
    ] + [delivered_bytes, letter_pdf, document_bytes, export_bytes]
    return World(
        app=app,
        db=db,
        holder_a=holder_a,
        holder_b=holder_b,
        request_a=request_a,
        request_b=request_b,
        values=values,
        markers=markers,
        make_staff=make_staff,
    )


# --- the matrix ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # with {placeholders} filled from World.values
    guard: str  # link | account | own | secret | staff | dpo | admin
    # What the rightful identity finds there: a marker name of ``shows`` (see _owner_check),
    # "status" for a bare status code, or None for POSTs (not replayed by the owner).
    owner: str | None = "status"
    # For "secret" rows: the placeholder holding the secret, replaced by wrong ones.
    secret: str = ""

    @property
    def rule_id(self) -> str:
        return f"{self.method} {self.path}"


STATUS = "/rights/requests/{ref}/{token}"
STAFF_REQUEST = "/staff/requests/{ref}"

MATRIX = [
    # A request's status link and what hangs from it.
    Row("GET", STATUS, "link", owner="details"),
    Row("GET", STATUS + "/letters/{letter}", "link", owner="letter"),
    Row("POST", STATUS + "/document", "link", owner=None),
    Row("GET", STATUS + "/withdraw", "link", owner="reference"),
    Row("POST", STATUS + "/withdraw", "link", owner=None),
    # Copies of holder A's data.
    Row("GET", "/rights/download/{export}", "account"),
    Row("GET", "/rights/download/{export}/file", "account", owner="export"),
    Row("GET", "/rights/download/link/{link}", "secret", secret="link"),
    Row("POST", "/rights/download/link/{link}", "secret", owner="export", secret="link"),
    # Data of a deceased holder mailed to requester A.
    Row("GET", "/rights/post-mortem/data/{pm_link}", "secret", secret="pm_link"),
    Row("POST", "/rights/post-mortem/data/{pm_link}", "secret", owner="delivery", secret="pm_link"),
    # Pages of the signed-in holder's own data.
    Row("GET", "/rights/download", "own"),
    Row("POST", "/rights/download", "own", owner=None),
    Row("GET", "/rights/preferences", "own"),
    Row("POST", "/rights/preferences", "own", owner=None),
    Row("GET", "/rights/post-mortem", "own", owner="designated"),
    Row("POST", "/rights/post-mortem", "own", owner=None),
    Row("POST", "/rights/post-mortem/withdraw", "own", owner=None),
    Row("GET", "/rights/post-mortem/certificate.pdf", "own", owner="pdf"),
    # Capabilities mailed or handed out.
    Row("GET", "/api/v1/consents/{receipt}", "secret", owner="receipt", secret="receipt"),
    Row("GET", "/rights/sign-in/{sign_in_link}", "secret", secret="sign_in_link"),
    Row("POST", "/rights/sign-in/{sign_in_link}", "secret", owner=None, secret="sign_in_link"),
    Row("GET", "/rights/unsubscribe/{unsubscribe}", "secret", secret="unsubscribe"),
    Row("POST", "/rights/unsubscribe/{unsubscribe}", "secret", owner=None, secret="unsubscribe"),
    Row("GET", "/rights/requests/confirm/{token}", "secret", owner=None, secret="token"),
    Row("POST", "/rights/requests/confirm/{token}", "secret", owner=None, secret="token"),
    # The staff console.
    Row("GET", "/staff/", "staff", owner="reference"),
    Row("GET", STAFF_REQUEST, "staff", owner="details"),
    # The document's page of images, each image, and the original (only as a download).
    Row("GET", STAFF_REQUEST + "/documents/{document}", "staff", owner="reference"),
    Row("GET", STAFF_REQUEST + "/documents/{document}/pages/{page}.png", "staff", owner=None),
    Row("GET", STAFF_REQUEST + "/documents/{document}/original", "staff", owner="document"),
    Row("GET", STAFF_REQUEST + "/letters/{letter}.pdf", "staff", owner="letter"),
    Row("POST", STAFF_REQUEST + "/confirm-identity", "staff", owner=None),
    Row("POST", STAFF_REQUEST + "/ask-identity", "staff", owner=None),
    Row("POST", STAFF_REQUEST + "/clarification", "staff", owner=None),
    Row("POST", STAFF_REQUEST + "/resume", "staff", owner=None),
    Row("POST", STAFF_REQUEST + "/complete", "staff", owner=None),
    Row("POST", STAFF_REQUEST + "/release", "staff", owner=None),
    Row("POST", STAFF_REQUEST + "/close-account", "staff", owner=None),
    Row("POST", STAFF_REQUEST + "/assign", "staff", owner=None),
    Row("POST", STAFF_REQUEST + "/notes", "staff", owner=None),
    Row("POST", STAFF_REQUEST + "/letters/preview", "staff", owner=None),
    Row("POST", STAFF_REQUEST + "/letters/send", "staff", owner=None),
    Row("GET", "/staff/requests/new", "staff"),
    Row("POST", "/staff/requests/new", "staff", owner=None),
    Row("POST", STAFF_REQUEST + "/documents", "staff", owner=None),
    Row("POST", STAFF_REQUEST + "/recipients/{notification}/retry", "staff", owner=None),
    Row("POST", STAFF_REQUEST + "/recipients/{notification}/acknowledged", "staff", owner=None),
    Row("POST", STAFF_REQUEST + "/extend", "dpo", owner=None),
    Row("POST", STAFF_REQUEST + "/refuse", "dpo", owner=None),
    Row("GET", "/staff/mail", "staff", owner="reference"),
    Row("POST", "/staff/mail/{mail}/retry", "staff", owner=None),
    Row("GET", "/staff/dashboard", "dpo"),
    Row("GET", "/staff/register.csv", "dpo", owner="reference"),
    Row("GET", "/staff/retention/", "dpo"),
    Row("GET", "/staff/cookie-scan/", "dpo"),
    # Consent records: the search, its exports and the dashboard (DPO and admin only).
    # (The filter never names the receipt: a refusal's redirect repeats its address.)
    Row("GET", "/staff/consent-records/?site=demo", "dpo"),
    Row("GET", "/staff/consent-records/export.csv?site=demo", "dpo", owner="receipt"),
    Row("GET", "/staff/consent-records/export.json?site=demo", "dpo", owner="receipt"),
    Row("GET", "/staff/consent-records/dashboard", "dpo"),
    Row("GET", "/staff/members", "admin", owner="member"),
    Row("POST", "/staff/members", "admin", owner=None),
    Row("POST", "/staff/members/{member}/deactivate", "admin", owner=None),
    Row("POST", "/staff/members/{member}/reset-two-factor", "admin", owner=None),
    Row("POST", "/staff/members/{member}/unlock", "admin", owner=None),
    Row("POST", "/staff/members/{member}/end-sessions", "admin", owner=None),
]

# Rules under /rights, /staff and /api that guard no one's object, and why.
PUBLIC = {
    "GET /rights": "the entry page: links to the forms, nothing personal",
    "GET /rights/requests/new/<kind>": "a blank request form",
    "POST /rights/requests/new/<kind>": "files a new request (CSRF, rate limit)",
    "GET /rights/requests/sent": "reads only what this browser's own session holds",
    "GET /rights/requests/find": "a blank form",
    "POST /rights/requests/find": "mails the link to the request's own address, same answer "
    "whatever matches (test_rights_requests)",
    "GET /rights/sign-in": "the sign-in form",
    "POST /rights/sign-in": "password check (rate limit, test_forms_security)",
    "GET /rights/sign-in/link": "the form asking for a sign-in link",
    "POST /rights/sign-in/link": "mails a link to the account's own address, same answer",
    "POST /rights/sign-out": "ends the caller's own session",
    "GET /rights/post-mortem/request": "the heirs' blank form",
    "POST /rights/post-mortem/request": "files a heir's request (CSRF, rate limit)",
    "GET /rights/post-mortem/verify": "checks a certificate's fingerprint: says only whether "
    "it is genuine and which version/date, what the certificate itself shows",
    "GET /staff/sign-in": "the staff sign-in form",
    "POST /staff/sign-in": "password check (rate limit, lockout)",
    "GET /staff/sign-in/code": "code step: only for the session whose password was checked",
    "POST /staff/sign-in/code": "code step: only for the session whose password was checked",
    "GET /staff/sign-in/enrol": "enrolment: only for the session whose password was checked",
    "POST /staff/sign-in/enrol": "enrolment: only for the session whose password was checked",
    "POST /staff/sign-out": "ends the caller's own staff session",
    "POST /api/v1/consents": "records a receipt (Origin check and CORS, test_consent_api)",
    "POST /api/v1/activity": "the operator's mailer, by its bearer token (test_activity)",
    "POST /api/v1/activity/links": "the operator's mailer, by its bearer token (test_activity)",
    "OPTIONS /api/v1/consents": "CORS preflight",
    "OPTIONS /api/v1/consents/<receipt_id>": "CORS preflight",
    "GET /api/v1/sites/<site_key>/config": "the widget's public configuration",
    "GET /api/v1/openapi.yaml": "the API's public description",
}

# Where refused identities are sent when a page needs a sign-in.
SIGN_IN = {"account": "/rights/sign-in", "own": "/rights/sign-in", "staff": "/staff/sign-in"}
STAFF_STRANGERS = ("anonymous", "holder_a", "holder_in_staff_cookie", "staff_pending")
BELOW = {"staff": (), "dpo": ("agent",), "admin": ("agent", "dpo")}


def _fill(path: str, values: dict[str, str]) -> str:
    return path.format(**values)


def _csrf(client: FlaskClient, path: str) -> str:
    """A valid form token of this client's session for the area of ``path``."""
    # Signed-in members are sent on from the sign-in page; the members page (or its 403 page,
    # which has a sign-out form) has a token for every role.
    pages = (
        ("/staff/sign-in", "/staff/members")
        if path.startswith("/staff")
        else ("/rights/requests/find",)
    )
    for page in pages:
        found = TOKEN.search(client.get(page).get_data(as_text=True))
        if found:
            return found[1]
    raise AssertionError(f"no form token for {path}")


def _send(client: FlaskClient, method: str, path: str) -> Any:
    if method == "GET":
        return client.get(path)
    token = _csrf(client, path)
    # The token of the session (so that the refusal is the guard's, not the CSRF check's).
    return client.post(path, data={"csrf_token": token}, headers={"X-CSRFToken": token})


def _attempts(row: Row, world: World) -> list[tuple[str, str, str]]:
    """(identity, address, expected outcome) of every try that must be refused."""
    values = world.values
    own = _fill(row.path, values)
    if row.guard == "link":
        guessed = secrets.token_urlsafe(32)
        tries = [
            ("anonymous", _fill(row.path, {**values, "token": guessed}), "404"),
            ("anonymous", _fill(row.path, {**values, "token": values["token_b"]}), "404"),
            ("anonymous", _fill(row.path, {**values, "token": values["token"][:-1]}), "404"),
            ("anonymous", _fill(row.path, {**values, "ref": values["ref_b"]}), "404"),
            ("holder_b", _fill(row.path, {**values, "token": values["token_b"]}), "404"),
        ]
        if "{letter}" in row.path:
            # Requester B's own valid link, pointed at A's letter.
            other = {**values, "ref": values["ref_b"], "token": values["token_b"]}
            tries.append(("anonymous", _fill(row.path, other), "404"))
        return tries
    if row.guard == "account":
        return [
            ("anonymous", own, "sign-in"),
            ("staff_in_account_cookie", own, "sign-in"),
            ("holder_b", own, "404"),
        ]
    if row.guard == "own":
        return [
            ("anonymous", own, "sign-in"),
            ("staff_in_account_cookie", own, "sign-in"),
            ("holder_b", own, "not-a"),
        ]
    if row.guard == "secret":
        wrong = [
            secrets.token_urlsafe(32),
            values["token"] if row.secret != "token" else values["link"],
            values[row.secret][:-2],
        ]
        if row.secret == "receipt":
            receipt = values["receipt"]
            # One hex digit off (never the id itself), and a path around it.
            neighbour = receipt[:-1] + ("1" if receipt.endswith("0") else "0")
            wrong = [str(uuid.uuid4()), neighbour, "../" + receipt]
        if row.secret == "unsubscribe":
            # The signed token of A with its payload changed (another account): refused.
            payload, _dot, signature = values["unsubscribe"].partition(".")
            wrong.append(f"{payload}x.{signature}")
        identities = ("anonymous", "holder_b")
        return [
            (identity, _fill(row.path, {**values, row.secret: value}), "404")
            for value in wrong
            for identity in identities
        ]
    tries = [(identity, own, "sign-in") for identity in STAFF_STRANGERS]
    tries += [(identity, own, "403") for identity in BELOW[row.guard]]
    if any(name in row.path for name in ("{document}", "{letter}", "{notification}")):
        # An object of request A reached through request B's page: no such object there.
        tries.append(("agent", _fill(row.path, {**values, "ref": values["ref_b"]}), "404"))
    return tries


def _assert_refused(
    row: Row, identity: str, path: str, expected: str, answer: Any, world: World
) -> None:
    where = f"{row.rule_id} as {identity} at {path}"
    body = answer.get_data()
    for marker in world.markers:
        assert marker not in body, f"{where}: the owner's content {marker!r} is in the answer"
    assert answer.status_code < 500, where
    if expected == "404":
        assert answer.status_code == 404, f"{where}: {answer.status_code}"
    elif expected == "403":
        assert answer.status_code == 403, f"{where}: {answer.status_code}"
    elif expected == "sign-in":
        area = "staff" if path.startswith("/staff") else "account"
        target = SIGN_IN[area]
        assert answer.status_code == 302, f"{where}: {answer.status_code}"
        location = urlsplit(answer.location)
        assert location.netloc in ("", "localhost"), where
        if identity == "staff_pending":
            assert location.path == "/staff/sign-in/code", f"{where}: {answer.location}"
        else:
            assert location.path == target, f"{where}: {answer.location}"
    else:
        assert expected == "not-a"
        # Holder B on a page of their own: their page (or a redirect to it), never A's data.
        assert answer.status_code in (200, 302, 303, 400, 422), f"{where}: {answer.status_code}"
        if answer.status_code in (302, 303):
            assert urlsplit(answer.location).path.startswith("/rights"), where


def _owner(row: Row) -> str:
    if row.guard in ("link", "secret"):
        return "anonymous"
    if row.guard in ("account", "own"):
        return "holder_a"
    return {"staff": "agent", "dpo": "dpo", "admin": "admin"}[row.guard]


def _owner_check(row: Row, world: World) -> None:
    """The rightful identity gets the object: the refusals above are not a broken URL."""
    if row.owner is None:
        return
    answer = _send(world.client(_owner(row)), row.method, _fill(row.path, world.values))
    where = f"{row.rule_id} as its owner"
    assert answer.status_code == 200, f"{where}: {answer.status_code}"
    body = answer.get_data()
    shows = {
        "details": world.request_a.details.encode(),
        "reference": world.request_a.reference.encode(),
        "letter": world.markers[-3],
        "document": world.markers[-2],
        "export": world.markers[-1],
        "delivery": world.markers[-4],
        "receipt": world.values["receipt"].encode(),
        "designated": world.markers[7],
        "member": world.member("agent").email.encode(),
        "pdf": b"%PDF-",
        "status": b"",
    }[row.owner]
    if row.owner in ("letter", "document", "export", "delivery"):
        assert body == shows, where
    else:
        assert shows in body, where


@pytest.mark.parametrize("row", MATRIX, ids=lambda row: row.rule_id)
def test_only_the_owner_reaches_the_object(world: World, row: Row) -> None:
    if row.guard in BELOW:
        # Every member exists before the first try (the state compared includes them).
        world.values["member"] = str(world.member("agent").id)
        world.member("dpo"), world.member("admin")
    before = world.state()
    for identity, path, expected in _attempts(row, world):
        answer = _send(world.client(identity), row.method, path)
        _assert_refused(row, identity, path, expected, answer, world)
    if row.method == "POST" and row.guard != "own":
        assert world.state() == before, f"{row.rule_id}: a refused POST changed something"
    elif row.guard == "own":
        # Holder B may change their own things; nothing of A's moved.
        after = world.state()
        for key in ("requests", "exports", "directives", "preferences", "holder_a"):
            assert after[key] == before[key], f"{row.rule_id}: holder A's {key} changed"
    _owner_check(row, world)


def _rule_ids(app: Flask) -> set[str]:
    ids = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/rights", "/staff", "/api")):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD"}):
            if method == "OPTIONS" and rule.endpoint != "consent.preflight":
                continue  # answered by Flask itself for every rule
            ids.add(f"{method} {rule.rule}")
    return ids


def _as_rule(path: str) -> str:
    """``/rights/requests/{ref}/{token}`` -> ``/rights/requests/<reference>/<token>``."""
    names = {
        "ref": "reference",
        "letter": "int:letter_id",
        "document": "int:document_id",
        "page": "int:page",
        "export": "int:export_id",
        "link": "token",
        "pm_link": "token",
        "receipt": "receipt_id",
        "sign_in_link": "token",
        "unsubscribe": "token",
        "member": "int:member_id",
        "mail": "int:mail_id",
        "notification": "int:notification_id",
    }
    return re.sub(r"\{(\w+)\}", lambda match: f"<{names.get(match[1], match[1])}>", path)


def test_the_matrix_covers_every_rule(app: Flask) -> None:
    # A row's query string (a filter) is not part of the rule.
    covered = {f"{row.method} {_as_rule(row.path.split('?')[0])}" for row in MATRIX}
    known = _rule_ids(app)
    missing = sorted(known - covered - set(PUBLIC))
    assert not missing, (
        "rules with no row in the access matrix (add a Row to MATRIX, or to PUBLIC with the "
        f"reason it guards nothing): {missing}"
    )
    stale = sorted((covered | set(PUBLIC)) - known)
    assert not stale, f"matrix rows for rules that no longer exist: {stale}"
