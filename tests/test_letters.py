"""PDF letters to requesters: every kind in every language, nothing remote, stored as sent."""

from __future__ import annotations

import hashlib
import secrets
import subprocess
import threading
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import free_port
from sqlalchemy import func, select

from privacy_center.letters.kinds import LETTER_KINDS
from privacy_center.letters.outbox import (
    LegalLetterOnlyByAction,
    commit_with_letter,
    issue_letter,
    send_letter,
)
from privacy_center.letters.services import LetterError, LetterFieldsMissing, preview_letter
from privacy_center.mail import read_outbox
from privacy_center.models import AuditEvent, Letter, OutgoingMail, PrivacyRequest
from privacy_center.rights.kinds import KINDS, POSTMORTEM_KINDS
from privacy_center.rights.references import REFERENCE_ALPHABET, new_status_token

TODAY = date(2026, 11, 26)
# Clock started on 24 November 2026: the reply is due on 24 December 2026 (a Thursday), or on
# 24 February 2027 once extended.
DUE = {
    "fr": "24 décembre 2026",
    "en": "December 24, 2026",
    "es": "24 de diciembre de 2026",
    "de": "24. Dezember 2026",
}
EXTENDED_DUE = {
    "fr": "24 février 2027",
    "en": "February 24, 2027",
    "es": "24 de febrero de 2027",
    "de": "24. Februar 2027",
}
LANGUAGES = tuple(DUE)

ERASURE_OUTCOMES = [
    {"category": "Browsing history", "action": "removed", "reason": ""},
    {"category": "Profile", "action": "anonymised", "reason": ""},
    {
        "category": "Invoices",
        "action": "kept",
        "reason": "Kept 10 years: the Commercial Code requires it",
    },
    {"category": "Payments", "action": "elsewhere", "reason": "Held by HIPAY: ask them"},
]
COMPLETION_FIELDS = {
    "access": {},
    "portability": {"copy_name": "PC-data.zip"},
    "erasure": {"outcomes": ERASURE_OUTCOMES},
    "rectification": {"changes": "Last name: Martin becomes Martín."},
    "restriction": {"restricted": "Your billing address, until the check ends."},
    "objection_processing": {"outcome": "Your data is no longer used for statistics."},
    "objection_profiling": {"outcome": "Your profile was deleted."},
    "objection_marketing": {"outcome": "No more offers by email or SMS."},
}
# (letter kind, request kind, fields): every kind, and completion once per right.
CASES = [
    ("acknowledgement", "access", {}),
    ("identity_request", "erasure", {"reason": "The name differs from the account's."}),
    ("clarification_request", "access", {"questions": "Which account do you mean?"}),
    ("extension_notice", "access", {"reasons": "Many requests this month."}),
    ("refusal", "erasure", {"reasons": "The account belongs to someone else."}),
    ("fee_notice", "access", {"amount": "15 EUR", "reasons": "This is your third copy."}),
    *[("completion", right, fields) for right, fields in COMPLETION_FIELDS.items()],
]


def new_reference() -> str:
    code = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"PC-{code[:4]}-{code[4:]}"


@pytest.fixture
def make_request(db):
    def factory(kind: str = "access", language: str = "fr", **fields) -> PrivacyRequest:
        token, token_hash = new_status_token()
        request = PrivacyRequest(
            reference=new_reference(),
            kind=kind,
            state=fields.pop("state", "in_progress"),
            language=language,
            email=f"requester-{secrets.token_hex(4)}@example.org",
            requester_name="José Müller",
            received_at=datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
            clock_started_on=date(2026, 11, 24),
            due_on=date(2026, 12, 24),
            status_token_hash=token_hash,
            **fields,
        )
        db.add(request)
        db.flush()
        request.status_token = token  # the secret, for the tests' status links
        return request

    return factory


def pdf_text(pdf: bytes) -> str:
    """The PDF's text (poppler's pdftotext), whitespace collapsed: lines may break anywhere."""
    assert pdf.startswith(b"%PDF")
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return " ".join(result.stdout.decode().split())


@pytest.fixture
def remote_server():
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", hits
    server.shutdown()
    server.server_close()


def test_every_kind_declares_fields_and_articles():
    assert set(LETTER_KINDS) == {
        "acknowledgement",
        "identity_request",
        "clarification_request",
        "extension_notice",
        "refusal",
        "completion",
        "fee_notice",
    }
    completion = LETTER_KINDS["completion"]
    # One completion letter per right a person can exercise (and per post-mortem request).
    assert set(completion.variants) == set(KINDS) | set(POSTMORTEM_KINDS)
    assert "17" in completion.articles_for("erasure")
    assert "15" in completion.articles_for("access")
    refusal = LETTER_KINDS["refusal"]
    assert [spec.name for spec in refusal.fields if spec.required] == ["reasons"]
    assert {"77", "79"} <= set(refusal.articles)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("kind", "right", "fields"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_each_kind_renders_the_reference_and_due_date_in_the_request_language(
    make_request, language, kind, right, fields
):
    request = make_request(right, language)
    if kind == "extension_notice":
        request.extended_on = TODAY
    pdf = preview_letter(None, request, kind, fields, today=TODAY)
    text = pdf_text(pdf)
    assert request.reference in text
    due = EXTENDED_DUE if kind == "extension_notice" else DUE
    assert due[language] in text
    assert "José Müller" in text and request.email in text
    assert "ALLOPASS SAS" in text and "R.C.S. Toulouse 824 638 209" in text


def test_the_letter_is_dated_and_numbered_and_cites_its_articles(make_request):
    request = make_request("erasure", "en")
    text = pdf_text(preview_letter(None, request, "refusal", {"reasons": "No."}, today=TODAY))
    assert "November 26, 2026" in text  # the letter's date
    assert "Page 1 of 1" in text
    assert "Data protection officer" in text
    assert "articles 12(4), 77, 79" in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_refusal_names_the_cnil_and_the_judicial_remedy(make_request, language):
    request = make_request("erasure", language)
    text = pdf_text(
        preview_letter(None, request, "refusal", {"reasons": "Not your account."}, today=TODAY)
    )
    assert "CNIL" in text and "https://www.cnil.fr" in text
    assert "Not your account." in text
    if language == "en":
        assert "right to seek a judicial remedy" in text
        assert "right to lodge a complaint with the supervisory authority" in text


def test_an_erasure_letter_lists_what_was_erased_kept_and_why(make_request):
    request = make_request("erasure", "en")
    text = pdf_text(
        preview_letter(None, request, "completion", {"outcomes": ERASURE_OUTCOMES}, today=TODAY)
    )
    erased, kept = text.split("What we erased:")[1].split("What we kept, and why:")
    assert "Browsing history" in erased and "Profile" in erased and "Invoices" not in erased
    assert "Invoices: Kept 10 years: the Commercial Code requires it" in kept
    assert "Payments: Held by HIPAY: ask them" in kept


def test_a_remote_image_in_the_fields_is_escaped_and_never_fetched(make_request, remote_server):
    base, hits = remote_server
    image = f'<img src="{base}/x.png">'
    request = make_request("erasure", "en")
    text = pdf_text(
        preview_letter(None, request, "refusal", {"reasons": f"See {image} here"}, today=TODAY)
    )
    assert hits == []
    assert f"See {image} here" in text  # printed as text, not read as HTML


def test_the_requester_name_is_escaped_too(make_request, remote_server):
    base, hits = remote_server
    request = make_request("access", "en")
    request.requester_name = f'<img src="{base}/name.png">'
    text = pdf_text(preview_letter(None, request, "acknowledgement", {}, today=TODAY))
    assert hits == []
    assert f'<img src="{base}/name.png">' in text


@pytest.mark.parametrize(
    ("kind", "right", "fields", "missing"),
    [
        ("refusal", "access", {}, ("reasons",)),
        ("refusal", "access", {"reasons": "   "}, ("reasons",)),
        ("fee_notice", "access", {"note": "x"}, ("amount", "reasons")),
        ("identity_request", "access", {}, ("reason",)),
        ("clarification_request", "access", {}, ("questions",)),
        ("completion", "erasure", {}, ("outcomes",)),
        ("completion", "rectification", {}, ("changes",)),
        ("extension_notice", "access", {}, ("reasons",)),
    ],
)
def test_missing_fields_are_refused_and_nothing_is_stored_or_sent(
    db, make_request, outbox, kind, right, fields, missing
):
    request = make_request(right, "fr")
    with pytest.raises(LetterFieldsMissing) as raised:
        issue_letter(
            db, request, kind, fields, actor="staff:1", today=TODAY, settings={
                "MAIL_OUTBOX_DIR": str(outbox)
            }
        )  # fmt: skip
    assert raised.value.missing == missing
    assert isinstance(raised.value, ValueError)
    assert all(name in str(raised.value) for name in missing)
    assert read_outbox(outbox) == []
    assert db.scalar(select(func.count()).select_from(Letter)) == 0
    assert db.scalar(select(func.count()).select_from(OutgoingMail)) == 0


@pytest.mark.parametrize(
    ("kind", "right", "fields", "complaint"),
    [
        ("refusal", "access", {"reasons": "x", "colour": "red"}, "no field colour"),
        ("nonsense", "access", {}, "not a kind of letter"),
        # The new due date is computed, never typed.
        ("extension_notice", "access", {"reasons": "x", "new_due_date": "2027-01-01"}, "no field"),
        (
            "completion",
            "erasure",
            {"outcomes": [{"category": "Invoices", "action": "kept"}]},
            "say why",
        ),
        ("completion", "erasure", {"outcomes": [{"category": "X", "action": "lost"}]}, "action"),
    ],
)
def test_malformed_fields_get_a_clear_error(make_request, kind, right, fields, complaint):
    request = make_request(right, "en")
    with pytest.raises(LetterError, match=complaint):
        preview_letter(None, request, kind, fields, today=TODAY)


def test_an_acknowledgement_needs_a_started_clock(make_request):
    request = make_request("access", "en", state="awaiting_confirmation")
    request.clock_started_on = None
    request.due_on = None
    with pytest.raises(LetterError, match="no due date yet"):
        preview_letter(None, request, "acknowledgement", {}, today=TODAY)


def test_a_sent_letter_is_mailed_stored_unchanged_and_audited(db, make_request, outbox, app):
    request = make_request("erasure", "de")
    issued = commit_with_letter(
        db,
        request,
        "refusal",
        {"reasons": "  Das Konto gehört jemand anderem.\r\n"},
        actor="staff:7",
        today=TODAY,
        settings=app.config,
    )
    letter = issued.letter
    db.expire_all()
    stored = db.get(Letter, letter.id)
    assert stored.sent_at is not None and stored.sent_by == "staff:7"
    assert stored.kind == "refusal" and stored.language == "de"
    assert stored.fields == {"reasons": "Das Konto gehört jemand anderem."}
    assert hashlib.sha256(stored.pdf).hexdigest() == stored.sha256
    assert "24. Dezember 2026" in pdf_text(stored.pdf)

    (event,) = db.scalars(
        select(AuditEvent).where(
            AuditEvent.request_id == request.id, AuditEvent.action == "letter.sent"
        )
    )
    assert event.actor == "staff:7"
    assert event.details == {
        "kind": "refusal",
        "sha256": stored.sha256,
        "letter_id": letter.id,
        "delivery": "email",
        "mail_id": issued.mail.id,
    }
    assert stored.delivery == "email"
    assert db.get(OutgoingMail, issued.mail.id).sent_at is not None

    (mail,) = read_outbox(outbox)
    assert mail["To"] == request.email
    assert mail["Content-Language"] == "de"
    assert request.reference in mail["Subject"]
    (attachment,) = mail.iter_attachments()
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"{request.reference}-refusal.pdf"
    assert attachment.get_content() == stored.pdf  # the very bytes that were stored

    assert [item.id for item in db.get(PrivacyRequest, request.id).letters] == [letter.id]


def test_a_mail_failure_keeps_the_letter_and_its_mail_queued(db, make_request):
    request = make_request("access", "en")
    settings = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": free_port(), "MAIL_TIMEOUT": 2}
    letter = send_letter(
        db, request, "acknowledgement", {}, actor="staff:1", today=TODAY, app_config=settings
    )
    assert db.scalar(select(func.count()).where(Letter.request_id == request.id)) == 1
    assert db.scalar(
        select(func.count()).where(
            AuditEvent.action == "letter.sent", AuditEvent.request_id == request.id
        )
    )
    (mail,) = db.scalars(select(OutgoingMail).where(OutgoingMail.letter_id == letter.id))
    assert mail.sent_at is None and mail.attempts == 1
    assert f"127.0.0.1:{settings['MAIL_PORT']}" in mail.last_error


@pytest.mark.parametrize(
    "kind", sorted(key for key, kind in LETTER_KINDS.items() if kind.legal)
)  # fmt: skip
def test_the_panel_path_refuses_a_legal_letter_before_anything_is_written(
    db, make_request, outbox, app, kind
):
    request = make_request("rectification", "en")
    with pytest.raises(LegalLetterOnlyByAction):
        send_letter(
            db, request, kind, {"reasons": "x"}, actor="staff:1", today=TODAY,
            app_config=app.config,
        )  # fmt: skip
    assert db.scalar(select(func.count()).where(Letter.request_id == request.id)) == 0
    assert db.scalar(select(func.count()).select_from(OutgoingMail)) == 0
    assert read_outbox(outbox) == []
    assert sorted(LETTER_KINDS) == sorted(
        ["acknowledgement", "fee_notice", *(k for k, v in LETTER_KINDS.items() if v.legal)]
    )


def test_the_status_page_lists_sent_letters_for_the_link_holder_only(
    db, client, make_request, outbox, app
):
    request = make_request("access", "en")
    other = make_request("access", "en")
    letter = send_letter(
        db, request, "acknowledgement", {}, actor="system", today=TODAY, app_config=app.config
    )
    other_letter = send_letter(
        db, other, "acknowledgement", {}, actor="system", today=TODAY, app_config=app.config
    )
    base = f"/rights/requests/{request.reference}/{request.status_token}"
    page = client.get(base + "?lang=en")
    assert page.status_code == 200
    link = f"{base}/letters/{letter.id}"
    assert link.encode() in page.data
    assert b"Acknowledgement of receipt" in page.data

    download = client.get(link)
    assert download.status_code == 200
    assert download.mimetype == "application/pdf"
    assert download.data == letter.pdf
    assert f"{request.reference}-acknowledgement.pdf" in download.headers["Content-Disposition"]
    assert download.headers["Cache-Control"] == "no-store"
    assert download.headers["Referrer-Policy"] == "no-referrer"

    # A wrong token, or another request's letter, is not found.
    wrong_token = f"/rights/requests/{request.reference}/wrong/letters/{letter.id}"
    assert client.get(wrong_token).status_code == 404
    assert client.get(f"{base}/letters/{other_letter.id}").status_code == 404


def test_an_unsent_letter_is_never_served(db, client, make_request):
    request = make_request("access", "en")
    draft = Letter(
        request_id=request.id,
        kind="acknowledgement",
        language="en",
        fields={},
        pdf=b"%PDF-draft",
        sha256=hashlib.sha256(b"%PDF-draft").hexdigest(),
        sent_by="staff:1",
    )
    db.add(draft)
    db.flush()
    base = f"/rights/requests/{request.reference}/{request.status_token}"
    assert client.get(f"{base}/letters/{draft.id}").status_code == 404
