"""Requests for every right, end to end over HTTP: filing, email confirmation, identity
documents, the status page, withdrawal, "find my request", rate limits; and the services that
move a request from state to state."""

from __future__ import annotations

import dataclasses
import io
import re
import secrets
import struct
import zipfile
import zlib
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from babel.dates import format_date
from conftest import sign_in
from flask_babel import force_locale
from flask_babel import gettext as translate
from PIL import Image
from pypdf import PdfWriter
from pypdf.actions import JavaScript
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import stream_encode_multipart

from privacy_center.accounts.preferences import current_preferences, may_send, set_preferences
from privacy_center.content import EXTENSION_KEY, get_content
from privacy_center.deadlines import due_date, reply_due
from privacy_center.mail import read_outbox
from privacy_center.models import (
    EmailToken,
    IdentityDocument,
    PreferenceChange,
    PrivacyRequest,
    RequestTransition,
)
from privacy_center.operator import ContentError, load_operator
from privacy_center.rights import filing
from privacy_center.rights.clock import due_date_on, suspended_since
from privacy_center.rights.confirmation import confirm_request, lapse_unconfirmed
from privacy_center.rights.documents import ask_for_identity
from privacy_center.rights.filing import file_request
from privacy_center.rights.kinds import KINDS
from privacy_center.rights.transitions import ExtensionTooLate, transition
from privacy_center.workflow import ForbiddenTransition, RequestState

S = RequestState
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
LINK = re.compile(r"http://localhost(/rights/requests/[^\s\"<>]+)")

# What each kind needs besides the common fields.
SPECIFICS = {
    "access": {},
    "rectification": {"specific_data_item": "last_name", "specific_new_value": "Dupont-Martin"},
    "erasure": {"specific_scope": "everything"},
    "restriction": {"specific_ground": "accuracy_contested"},
    "portability": {"specific_transmit_to": "Another Service SA, dpo@another.example"},
    "objection_processing": {"specific_situation": "I moved and the analysis harms me."},
    "objection_profiling": {},
    "objection_marketing": {},
}


def png_bytes(size: tuple[int, int] = (24, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def pdf_bytes(javascript: str | None = None, attachment: bytes | None = None) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    if javascript:
        writer.add_open_action(JavaScript(javascript))
    if attachment:
        writer.add_attachment("hidden.exe", attachment)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("passport.png", png_bytes())
    return buffer.getvalue()


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge image (the pixels are never there)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


REJECTED_UPLOADS = {
    "empty": ("passport.png", b""),
    "text named pdf": ("passport.pdf", b"This is not a PDF at all, only text.\n" * 20),
    "html": ("passport.html", b"<!DOCTYPE html><html><script>alert(1)</script></html>"),
    "svg": (
        "passport.svg",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    ),
    "executable": ("passport.exe", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200),
    "archive": ("passport.zip", zip_bytes()),
    "truncated image": ("passport.png", png_bytes((64, 64))[:-30]),
    "over 40 megapixels": ("passport.png", png_header_claiming(8000, 5001)),
    "pdf with javascript": ("passport.pdf", pdf_bytes(javascript="app.alert('hi');")),
    "pdf with embedded file": ("passport.pdf", pdf_bytes(attachment=b"MZ" + b"\x00" * 64)),
    "over 10 MB": ("passport.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (10 * 1024 * 1024 + 1)),
}


@pytest.fixture
def web(client):
    """A client from its own address: rate limits count per address across the session."""
    client.environ_base["REMOTE_ADDR"] = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.9"
    return client


@pytest.fixture
def documents(app, tmp_path, monkeypatch) -> Path:
    """An empty identity-document folder for this test."""
    directory = tmp_path / "documents"
    monkeypatch.setitem(app.config, "IDENTITY_DOCUMENT_DIR", str(directory))
    return directory


def stored_files(directory: Path) -> list[Path]:
    return sorted(directory.iterdir()) if directory.exists() else []


def unique_email() -> str:
    return f"requester-{secrets.token_hex(4)}@example.org"


def csrf_token(client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return CSRF.search(page.get_data(as_text=True)).group(1)


def file_via_form(
    client,
    kind: str,
    *,
    email: str | None = None,
    language: str = "en",
    page_language: str = "en",
    document: tuple[str, bytes] | None = ("passport.png", png_bytes()),
    **fields: str,
):
    path = f"/rights/requests/new/{kind}?lang={page_language}"
    data: dict[str, object] = {
        "csrf_token": csrf_token(client, path),
        "name": "Camille Martin",
        "language": language,
        "details": "Please handle this quickly.",
        **SPECIFICS[kind],
        **fields,
    }
    if email is not None:
        data["email"] = email
    if document is not None:
        data["document"] = (io.BytesIO(document[1]), document[0])
    return post_multipart(client, path, data)


def post_multipart(client, path: str, data: dict[str, object]):
    """POST a multipart form encoded in memory (the test client's own encoding spools large
    bodies to a temporary file that it never closes)."""
    fields = {
        name: FileStorage(value[0], filename=value[1]) if isinstance(value, tuple) else value
        for name, value in data.items()
    }
    body, length, boundary = stream_encode_multipart(fields, use_tempfile=False)
    return client.post(
        path,
        input_stream=body,
        content_length=length,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def mails_to(outbox: Path, email: str) -> list[EmailMessage]:
    return [message for message in read_outbox(outbox) if message["To"] == email]


def text_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def link_in(message: EmailMessage, marker: str) -> str:
    links = [link for link in LINK.findall(text_of(message)) if marker in link]
    assert len(links) == 1, text_of(message)
    return links[0]


def request_for(db, email: str) -> PrivacyRequest:
    db.expire_all()
    return db.scalars(select(PrivacyRequest).where(PrivacyRequest.email == email)).one()


def row_counts(db) -> dict[str, int]:
    return {
        model.__name__: db.scalar(select(func.count()).select_from(model))
        for model in (
            PrivacyRequest,
            RequestTransition,
            IdentityDocument,
            EmailToken,
            PreferenceChange,
        )
    }


def confirm_through_mail(client, outbox: Path, email: str) -> str:
    """Follow the emailed confirmation link, press its button; returns the status page path."""
    (mail,) = mails_to(outbox, email)
    link = link_in(mail, "/confirm/")
    page = client.get(link)
    assert page.status_code == 200
    path = urlsplit(link).path
    answer = client.post(path, data={"csrf_token": CSRF.search(page.get_data(as_text=True))[1]})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return answer.location


def today() -> date:
    return get_content().operator.today()


# --- The entry page -----------------------------------------------------------------------------


def test_the_entry_page_offers_every_right_and_the_other_services(web, db):
    page = web.get("/rights?lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for key, kind in KINDS.items():
        assert f'href="/rights/requests/new/{key}"' in html
        with force_locale("en"):
            assert str(kind.label) in html
            assert str(kind.explanation) in html
    assert 'href="/rights/requests/find"' in html
    assert 'href="/rights/preferences"' in html
    assert 'href="/rights/sign-in' in html
    if "exports.index" in web.application.view_functions:
        assert 'href="/rights/download"' in html
    # The main navigation leads here from every page.
    assert 'href="/rights"' in web.get("/policy?lang=en").get_data(as_text=True)


def test_every_kind_has_a_form_in_every_language(web, db):
    for key in KINDS:
        for language in ("fr", "en", "es", "de"):
            page = web.get(f"/rights/requests/new/{key}?lang={language}")
            assert page.status_code == 200
            html = page.get_data(as_text=True)
            assert f'<html lang="{language}">' in html
            assert 'enctype="multipart/form-data"' in html
            # The reply language defaults to the page's.
            assert f'<option lang="{language}" selected value="{language}">' in html
    assert web.get("/rights/requests/new/nonsense").status_code == 404


# --- Every right, end to end --------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_right_end_to_end_without_an_account(web, db, outbox, documents, kind):
    email = unique_email()
    needs_document = KINDS[kind].identity_document  # ALLOPASS requires one (content/operator.yaml)
    document = ("passport.png", png_bytes()) if needs_document else None
    html = web.get(f"/rights/requests/new/{kind}?lang=en").get_data(as_text=True)
    assert ('name="document"' in html) == needs_document

    answer = file_via_form(web, kind, email=email, document=document)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    assert urlsplit(answer.location).path == "/rights/requests/sent"
    filed = request_for(db, email)
    assert filed.kind == kind and filed.state == S.AWAITING_CONFIRMATION
    assert filed.clock_started_on is None and filed.due_on is None
    assert filed.specifics == {
        name.removeprefix("specific_"): value for name, value in SPECIFICS[kind].items()
    }
    assert re.fullmatch(r"PC-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}", filed.reference)
    sent = web.get("/rights/requests/sent?lang=en").get_data(as_text=True)
    assert filed.reference in sent and email in sent

    # The first mail carries the reference and the confirmation link, not the status link.
    (mail,) = mails_to(outbox, email)
    assert filed.reference in mail["Subject"] and mail["Content-Language"] == "en"
    assert "/confirm/" in text_of(mail) and not re.search(r"/rights/requests/PC-", text_of(mail))

    status_path = confirm_through_mail(web, outbox, email)
    confirmed = request_for(db, email)
    assert confirmed.state == S.IN_PROGRESS
    assert confirmed.clock_started_on == today()
    assert confirmed.due_on == due_date(today())
    assert [t.to_state for t in confirmed.transitions] == [
        S.RECEIVED,
        S.AWAITING_CONFIRMATION,
        S.IN_PROGRESS,
    ]
    assert len(stored_files(documents)) == (1 if needs_document else 0)
    if needs_document:
        (record,) = confirmed.documents
        assert record.mime_type == "image/png" and record.size_bytes == len(document[1])
        stored = stored_files(documents)[0]
        assert stored.name == record.stored_name and "passport" not in stored.name
        assert document[1] not in stored.read_bytes()  # encrypted at rest

    # The acknowledgement carries the status link the confirmation redirected to.
    acknowledgement = mails_to(outbox, email)[1]
    assert urlsplit(link_in(acknowledgement, filed.reference)).path == urlsplit(status_path).path
    page = web.get(status_path)
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "no-store" in page.headers["Cache-Control"]
    html = page.get_data(as_text=True)
    assert filed.reference in html and "In progress" in html
    assert format_date(due_date(today()), "long", locale="en") in html
    assert "None yet." in html  # no letter yet

    # Withdrawal asks first, then closes the request.
    withdraw_path = urlsplit(status_path).path + "/withdraw"
    confirm_page = web.get(withdraw_path)
    assert confirm_page.status_code == 200
    assert confirmed.state == S.IN_PROGRESS
    answer = web.post(
        withdraw_path, data={"csrf_token": CSRF.search(confirm_page.get_data(as_text=True))[1]}
    )
    assert answer.status_code == 302
    withdrawn = request_for(db, email)
    assert withdrawn.state == S.WITHDRAWN and withdrawn.closed_at is not None
    assert withdrawn.transitions[-1].actor == "requester"
    html = web.get(status_path).get_data(as_text=True)
    assert "Withdrawn" in html and "/withdraw" not in html


def test_objection_to_marketing_stops_marketing_once_the_address_is_confirmed(
    web, db, outbox, make_account
):
    holder = make_account(unique_email())
    pairs = get_content().operator.communication.pairs()
    set_preferences(db, holder, dict.fromkeys(pairs, True), method="preferences")
    db.commit()
    assert all(current_preferences(db, holder).values())

    # Filed without signing in: anyone could have typed this address, so nothing stops yet.
    answer = file_via_form(web, "objection_marketing", email=holder.email.upper(), document=None)
    assert answer.status_code == 302
    filed = request_for(db, holder.email)
    assert filed.state == S.AWAITING_CONFIRMATION
    for channel, topic in pairs:
        assert may_send(db, email=holder.email, channel=channel, topic=topic)

    # The holder of the address confirms: the objection applies (test_security_marketing.py).
    confirm_through_mail(web, outbox, holder.email)
    db.expire_all()
    for channel, topic in pairs:
        assert not may_send(db, email=holder.email, channel=channel, topic=topic)
    proofs = db.scalars(
        select(PreferenceChange).where(PreferenceChange.request_reference == filed.reference)
    ).all()
    assert proofs and {proof.method for proof in proofs} == {"objection"}
    assert (
        "marketing communications stopped" in request_for(db, holder.email).transitions[-1].reason
    )


def test_a_signed_in_holder_needs_neither_confirmation_nor_document(
    web, db, outbox, documents, make_account
):
    holder = make_account(unique_email(), language="de")
    sign_in(web, holder)
    html = web.get("/rights/requests/new/rectification?lang=en").get_data(as_text=True)
    assert 'name="document"' not in html and 'name="email"' not in html
    assert holder.email in html

    answer = file_via_form(web, "rectification", language="de", document=None)
    assert answer.status_code == 302
    filed = request_for(db, holder.email)
    assert filed.account_id == holder.id and filed.state == S.IN_PROGRESS
    assert filed.clock_started_on == today() and filed.due_on == due_date(today())
    assert not filed.identity_required and stored_files(documents) == []
    assert (
        db.scalar(
            select(func.count()).select_from(EmailToken).where(EmailToken.request_id == filed.id)
        )
        == 0
    )
    (mail,) = mails_to(outbox, holder.email)
    assert mail["Content-Language"] == "de"
    assert urlsplit(answer.location).path == link_in(mail, filed.reference).split("?")[0]
    assert web.get(answer.location).status_code == 200


# --- Identity documents -------------------------------------------------------------------------


@pytest.fixture
def identity_on_doubt(app, monkeypatch):
    """The operator asks for a document only when staff doubt the identity."""
    content = app.extensions[EXTENSION_KEY]
    operator = dataclasses.replace(content.operator, identity_document="on_doubt")
    monkeypatch.setitem(
        app.extensions, EXTENSION_KEY, dataclasses.replace(content, operator=operator)
    )


def test_with_on_doubt_no_document_is_asked_until_staff_ask(
    web, db, outbox, documents, identity_on_doubt
):
    html = web.get("/rights/requests/new/erasure?lang=en").get_data(as_text=True)
    assert 'name="document"' not in html
    email = unique_email()
    assert file_via_form(web, "erasure", email=email, document=None).status_code == 302
    assert not request_for(db, email).identity_required
    confirm_through_mail(web, outbox, email)
    request = request_for(db, email)
    assert request.state == S.IN_PROGRESS
    ask_for_identity(
        db, request, reason="Two accounts share this name.", actor="staff:3", today=today()
    )
    db.commit()
    assert request_for(db, email).state == S.AWAITING_IDENTITY


def test_the_identity_document_setting_is_checked_at_start_up(tmp_path):
    source = Path(__file__).resolve().parent.parent / "content" / "operator.yaml"
    text = source.read_text(encoding="utf-8")
    assert "identity_document: required" in text  # ALLOPASS's policy asks for one
    (tmp_path / "logo.svg").write_bytes((source.parent / "logo.svg").read_bytes())
    (tmp_path / "operator.yaml").write_text(
        text.replace("identity_document: required", "identity_document: sometimes"),
        encoding="utf-8",
    )
    with pytest.raises(ContentError, match="identity_document must be one of required, on_doubt"):
        load_operator(tmp_path / "operator.yaml")
    (tmp_path / "operator.yaml").write_text(
        text.replace("identity_document: required", ""), encoding="utf-8"
    )
    assert load_operator(tmp_path / "operator.yaml").identity_document == "on_doubt"


def test_the_document_is_required_by_the_operators_setting(web, db, outbox, documents):
    before = row_counts(db)
    email = unique_email()
    answer = file_via_form(web, "access", email=email, document=None)
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "Choose the file of your identity document." in html
    assert 'aria-describedby="document-hint document-error"' in html
    assert 'value="Camille Martin"' in html  # nothing typed is lost
    assert row_counts(db) == before and stored_files(documents) == []
    assert read_outbox(outbox) == []


@pytest.mark.parametrize("case", list(REJECTED_UPLOADS))
def test_every_rejected_upload_leaves_nothing_behind(web, db, outbox, documents, case):
    filename, data = REJECTED_UPLOADS[case]
    before = row_counts(db)
    answer = file_via_form(web, "erasure", email=unique_email(), document=(filename, data))
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert 'id="document-error"' in html and 'aria-invalid="true"' in html
    assert 'value="Camille Martin"' in html
    assert stored_files(documents) == []
    assert row_counts(db) == before
    assert read_outbox(outbox) == []


def test_a_failure_after_the_file_is_stored_removes_it(db, documents, app, monkeypatch):
    """Anything failing once the document is on disk rolls back and deletes the file."""
    before = row_counts(db)

    def broken_issue_token(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(filing, "issue_token", broken_issue_token)
    with pytest.raises(RuntimeError):
        file_request(
            db,
            kind="access",
            email=unique_email(),
            name="Camille Martin",
            language="fr",
            details="",
            specifics={},
            account=None,
            document=("id.png", png_bytes()),
            today=today(),
            settings=app.config,
        )
    assert stored_files(documents) == []
    assert row_counts(db) == before


def test_a_body_over_the_limit_gets_a_clear_413_page(web, db, documents):
    before = row_counts(db)
    path = "/rights/requests/new/access?lang=es"
    token = csrf_token(web, path)
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (12 * 1024 * 1024)
    answer = post_multipart(
        web,
        path,
        {
            "csrf_token": token,
            "name": "Camille",
            "email": unique_email(),
            "language": "es",
            "document": (io.BytesIO(big), "big.png"),
        },
    )
    assert answer.status_code == 413
    html = answer.get_data(as_text=True)
    with force_locale("es"):
        assert translate("The file is too large") in html
    assert '<html lang="es">' in html and 'href="/rights/requests/new/access"' in html
    assert row_counts(db) == before and stored_files(documents) == []


def test_a_document_sent_from_the_status_page_resumes_the_request(web, db, outbox, documents, app):
    filed = file_request(
        db,
        kind="erasure",
        email=unique_email(),
        name="Camille Martin",
        language="en",
        details="",
        specifics={"scope": "some"},
        account=None,
        document=None,
        today=today(),
        settings=app.config,
    )
    confirmed = confirm_request(db, token=filed.confirmation_token, today=today())
    assert confirmed.request.state == S.AWAITING_IDENTITY
    status_path = f"/rights/requests/{filed.request.reference}/{confirmed.status_token}?lang=en"
    html = web.get(status_path).get_data(as_text=True)
    assert 'id="clock-suspended"' in html and "A proof of identity" in html

    # A rejected file changes nothing.
    upload_path = f"/rights/requests/{filed.request.reference}/{confirmed.status_token}/document"
    before = row_counts(db)
    answer = post_multipart(
        web,
        upload_path,
        {
            "csrf_token": CSRF.search(html)[1],
            "document": (io.BytesIO(REJECTED_UPLOADS["html"][1]), "passport.pdf"),
        },
    )
    assert answer.status_code == 422 and 'id="document-error"' in answer.get_data(as_text=True)
    assert row_counts(db) == before and stored_files(documents) == []
    assert request_for(db, filed.request.email).state == S.AWAITING_IDENTITY

    answer = post_multipart(
        web,
        upload_path,
        {"csrf_token": CSRF.search(html)[1], "document": (io.BytesIO(pdf_bytes()), "passport.pdf")},
    )
    assert answer.status_code == 302
    resumed = request_for(db, filed.request.email)
    assert resumed.state == S.IN_PROGRESS
    assert resumed.transitions[-1].actor == "requester"
    assert [d.mime_type for d in resumed.documents] == ["application/pdf"]
    assert len(stored_files(documents)) == 1
    assert "Your document was received." in web.get(answer.location).get_data(as_text=True)


# --- Confirmation links -------------------------------------------------------------------------


def test_a_confirmation_link_works_once_and_a_get_does_not_use_it(web, db, outbox, documents):
    email = unique_email()
    assert file_via_form(web, "access", email=email).status_code == 302
    (mail,) = mails_to(outbox, email)
    link = link_in(mail, "/confirm/")
    for _ in range(3):  # mail scanners fetch links: nothing happens
        assert web.get(link).status_code == 200
    assert request_for(db, email).state == S.AWAITING_CONFIRMATION
    status_path = confirm_through_mail(web, outbox, email)
    assert web.get(status_path).status_code == 200
    used = web.get(link)
    assert used.status_code == 404
    assert "This link no longer works" in used.get_data(as_text=True)
    token = csrf_token(web, "/rights/requests/find")
    assert web.post(urlsplit(link).path, data={"csrf_token": token}).status_code == 404


def test_unconfirmed_requests_lapse_after_24_hours(db, app):
    def filed_at(moment: datetime) -> PrivacyRequest:
        filed = file_request(
            db,
            kind="objection_profiling",
            email=unique_email(),
            name="Camille",
            language="fr",
            details="",
            specifics={},
            account=None,
            document=("id.png", png_bytes()),
            today=moment.date(),
            settings=app.config,
        )
        request = filed.request
        request.received_at = moment
        for token in db.scalars(select(EmailToken).where(EmailToken.request_id == request.id)):
            token.created_at, token.expires_at = moment, moment + timedelta(hours=24)
        db.commit()
        return request

    now = datetime.now(UTC)
    old = filed_at(now - timedelta(hours=25))
    fresh = filed_at(now - timedelta(hours=23))
    lapsed = lapse_unconfirmed(db, now)
    assert old.reference in lapsed and fresh.reference not in lapsed
    assert db.get(PrivacyRequest, old.id).state == S.LAPSED
    assert db.get(PrivacyRequest, old.id).transitions[-1].actor == "system"
    assert db.get(PrivacyRequest, fresh.id).state == S.AWAITING_CONFIRMATION
    assert old.reference not in lapse_unconfirmed(db, now)


# --- Transitions and deadlines ------------------------------------------------------------------


def _in_progress(db, app, received: date) -> PrivacyRequest:
    filed = file_request(
        db,
        kind="access",
        email=unique_email(),
        name="Camille",
        language="fr",
        details="",
        specifics={},
        account=None,
        document=("id.png", png_bytes()),
        today=received,
        settings=app.config,
    )
    request = filed.request
    # Back-date the history so that the day of each step is the day we say.
    for record in request.transitions:
        record.at = datetime(received.year, received.month, received.day, 9, tzinfo=UTC)
    token = db.scalars(select(EmailToken).where(EmailToken.request_id == request.id)).one()
    request.clock_started_on = received
    transition(
        db,
        request,
        S.IN_PROGRESS,
        actor="system",
        reason="confirmed",
        today=received,
        now=datetime(received.year, received.month, received.day, 10, tzinfo=UTC),
    )
    token.used_at = token.created_at
    db.commit()
    return request


def test_forbidden_transitions_raise_and_record_nothing(db, app, documents):
    request = _in_progress(db, app, date(2025, 3, 3))
    before = len(request.transitions)
    for target in (S.RECEIVED, S.AWAITING_CONFIRMATION, S.LAPSED):
        with pytest.raises(ForbiddenTransition):
            transition(db, request, target, actor="staff:1", reason="try", today=date(2025, 3, 4))
    transition(
        db, request, S.COMPLETED, actor="staff:1", reason="answered", today=date(2025, 3, 20)
    )
    for target in (S.IN_PROGRESS, S.WITHDRAWN):
        with pytest.raises(ForbiddenTransition):
            transition(db, request, target, actor="staff:1", reason="x", today=date(2025, 3, 21))
    assert len(request.transitions) == before + 1 and request.state == S.COMPLETED
    with pytest.raises(ValueError, match="reason"):
        transition(
            db,
            _in_progress(db, app, date(2025, 3, 3)),
            S.COMPLETED,
            actor="staff:1",
            reason="  ",
            today=date(2025, 3, 4),
        )


def test_suspension_for_identity_moves_the_due_date_and_is_recorded(db, app, documents):
    received = date(2025, 3, 3)
    request = _in_progress(db, app, received)
    assert request.due_on == due_date(received) == date(2025, 4, 3)
    ask_for_identity(
        db,
        request,
        reason="The name differs from the account's.",
        actor="staff:7",
        today=date(2025, 3, 10),
    )
    request.transitions[-1].at = datetime(2025, 3, 10, 9, tzinfo=UTC)
    assert request.state == S.AWAITING_IDENTITY and request.identity_required
    assert suspended_since(request) == date(2025, 3, 10)
    # While suspended, each day pushes the due date back.
    assert due_date_on(request, date(2025, 3, 12)) == reply_due(received, suspended_days=2)
    transition(
        db,
        request,
        S.IN_PROGRESS,
        actor="requester",
        reason="document",
        today=date(2025, 3, 15),
        now=datetime(2025, 3, 15, 9, tzinfo=UTC),
    )
    assert request.due_on == reply_due(received, suspended_days=5) == date(2025, 4, 8)
    assert suspended_since(request) is None
    last = request.transitions[-2]
    assert (last.actor, last.to_state) == ("staff:7", S.AWAITING_IDENTITY)
    assert "The name differs" in last.reason


def test_an_extension_is_only_valid_before_the_first_due_date(db, app, documents):
    request = _in_progress(db, app, date(2025, 1, 31))
    assert request.due_on == date(2025, 2, 28)
    with pytest.raises(ExtensionTooLate):
        transition(
            db, request, S.EXTENDED, actor="staff:1", reason="complex", today=date(2025, 3, 3)
        )
    assert request.state == S.IN_PROGRESS and request.extended_on is None
    transition(
        db, request, S.EXTENDED, actor="staff:1", reason="many systems", today=date(2025, 2, 28)
    )
    assert request.extended_on == date(2025, 2, 28)
    assert request.due_on == reply_due(date(2025, 1, 31), extended=True) == date(2025, 4, 30)


# --- Languages ----------------------------------------------------------------------------------


def test_every_mail_is_in_the_language_of_the_request(web, db, outbox, documents):
    email = unique_email()
    # The page is in French; the request asks for Spanish replies.
    answer = file_via_form(web, "access", email=email, language="es", page_language="fr")
    assert answer.status_code == 302
    filed = request_for(db, email)
    confirm_through_mail(web, outbox, email)
    confirmation, acknowledgement = mails_to(outbox, email)
    for mail in (confirmation, acknowledgement):
        assert mail["Content-Language"] == "es"
        assert '<html lang="es"' in html_of(mail)
        assert "lang=es" in text_of(mail)
    with force_locale("es"):
        assert confirmation["Subject"] == translate(
            "Confirm your request %(reference)s", reference=filed.reference
        )
        assert translate("Privacy center") in text_of(confirmation)
    due = request_for(db, email).due_on
    assert format_date(due, "long", locale="es") in text_of(acknowledgement)


# --- No enumeration -----------------------------------------------------------------------------


def test_find_my_request_answers_the_same_whatever_matches(web, db, outbox, documents, app):
    email = unique_email()
    filed = file_request(
        db,
        kind="access",
        email=email,
        name="Camille",
        language="en",
        details="",
        specifics={},
        account=None,
        document=("id.png", png_bytes()),
        today=today(),
        settings=app.config,
    )
    confirmed = confirm_request(db, token=filed.confirmation_token, today=today())
    old_status = f"/rights/requests/{filed.request.reference}/{confirmed.status_token}"
    assert web.get(old_status).status_code == 200

    def find(email: str, reference: str) -> str:
        token = csrf_token(web, "/rights/requests/find?lang=en")
        answer = web.post(
            "/rights/requests/find?lang=en",
            data={"csrf_token": token, "email": email, "reference": reference},
        )
        assert answer.status_code == 200
        text = answer.get_data(as_text=True)
        answer.close()  # sent: the mail, if any, is worked out now (mail_intents.py)
        return text

    other = filed.request.reference[:-1] + ("2" if filed.request.reference[-1] != "2" else "3")
    answers = {
        find(email.upper(), filed.request.reference.lower().replace("-", "")),
        find("someone-else@example.org", filed.request.reference),
        find(email, other),
        find("nobody@example.org", "PC-2222-2222"),
    }
    assert len(answers) == 1 and "If this reference matches" in answers.pop()
    (mail,) = mails_to(outbox, email)  # only the real match got mail
    new_status = link_in(mail, filed.request.reference)
    assert web.get(new_status).status_code == 200
    assert web.get(old_status).status_code == 404  # the new link replaces the old


def test_find_resends_the_confirmation_link_while_unconfirmed(web, db, outbox, documents):
    email = unique_email()
    file_via_form(web, "access", email=email)
    reference = request_for(db, email).reference
    token = csrf_token(web, "/rights/requests/find")
    web.post(
        "/rights/requests/find", data={"csrf_token": token, "email": email, "reference": reference}
    ).close()  # sent: the mail is worked out now (mail_intents.py)
    first, second = mails_to(outbox, email)
    assert link_in(first, "/confirm/") != link_in(second, "/confirm/")
    assert web.get(link_in(second, "/confirm/")).status_code == 200


def test_wrong_status_links_are_indistinguishable(web, db, documents, app):
    filed = file_request(
        db,
        kind="access",
        email=unique_email(),
        name="Camille",
        language="en",
        details="",
        specifics={},
        account=None,
        document=("id.png", png_bytes()),
        today=today(),
        settings=app.config,
    )
    reference, token = filed.request.reference, filed.status_token
    right = web.get(f"/rights/requests/{reference}/{token}")
    assert right.status_code == 200
    wrong_token = web.get(f"/rights/requests/{reference}/{secrets.token_urlsafe(32)}")
    unknown = web.get(f"/rights/requests/PC-2222-2222/{token}")
    garbage = web.get(f"/rights/requests/{'x' * 300}/{'y' * 300}")
    assert wrong_token.status_code == unknown.status_code == garbage.status_code == 404
    # The same page but for its own address (in the language switcher's links).
    bodies = {
        re.sub(r"/rights/requests/[^\"?]*", "", answer.get_data(as_text=True))
        for answer in (wrong_token, unknown, garbage)
    }
    assert len(bodies) == 1
    for path in ("/document", "/withdraw"):
        assert web.post(f"/rights/requests/PC-2222-2222/{token}{path}").status_code in (400, 404)
        assert web.get(f"/rights/requests/{reference}/nope{path}").status_code in (404, 405)


# --- Abuse --------------------------------------------------------------------------------------


def test_request_creation_is_rate_limited(web, db, outbox, documents, app, monkeypatch):
    monkeypatch.setitem(app.config, "REQUEST_RATE_LIMIT", "2 per hour")
    for _ in range(2):
        assert file_via_form(web, "objection_profiling", email=unique_email()).status_code == 302
    before = row_counts(db)
    email = unique_email()
    answer = file_via_form(web, "objection_profiling", email=email)
    assert answer.status_code == 429
    html = answer.get_data(as_text=True)
    assert "Too many requests" in html and f'value="{email}"' in html
    assert row_counts(db) == before
    # Another address is not affected.
    web.environ_base["REMOTE_ADDR"] = "10.250.250.250"
    assert file_via_form(web, "objection_profiling", email=unique_email()).status_code == 302


def test_uploads_are_rate_limited(web, db, outbox, documents, app, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_RATE_LIMIT", "1 per hour")
    assert file_via_form(web, "access", email=unique_email()).status_code == 302
    answer = file_via_form(web, "access", email=unique_email())
    assert answer.status_code == 429
    assert len(stored_files(documents)) == 1


def test_find_is_rate_limited(web, db, app, monkeypatch):
    monkeypatch.setitem(app.config, "REQUEST_RATE_LIMIT", "1 per hour")
    codes = []
    for _ in range(2):
        token = csrf_token(web, "/rights/requests/find")
        codes.append(
            web.post(
                "/rights/requests/find",
                data={
                    "csrf_token": token,
                    "email": "a@example.org",
                    "reference": "PC-2222-2222",
                },
            ).status_code
        )
    assert codes == [200, 429]


def test_every_form_needs_its_csrf_token(web, db, documents):
    before = row_counts(db)
    answer = web.post(
        "/rights/requests/new/access?lang=en",
        data={"name": "Camille Typed", "email": unique_email(), "language": "en"},
    )
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert "This form had expired" in html and 'value="Camille Typed"' in html
    for path in ("/rights/requests/find", "/rights/requests/confirm/abc"):
        assert web.post(path, data={}).status_code == 400
    assert row_counts(db) == before
