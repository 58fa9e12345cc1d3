"""Requests received by post, email or phone, entered by staff (rights/intake.py): the command
line, the console page, the clock from the day received, letters by post in a window envelope."""

from __future__ import annotations

import csv
import io
import re
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
from conftest import staff_sign_in
from flask_babel import force_locale
from PIL import Image
from pypdf import PdfWriter
from sqlalchemy import func, select

from privacy_center.audit import events_of_request
from privacy_center.content import get_content
from privacy_center.deadlines import due_date
from privacy_center.letters import outbox as letter_outbox
from privacy_center.letters import services as letters
from privacy_center.models import IdentityDocument, Letter, PrivacyRequest
from privacy_center.rights.clock import operator_day
from privacy_center.rights.filing import InvalidRequest
from privacy_center.rights.intake import intake_request
from privacy_center.rights.status import find_for_requester
from privacy_center.staff import dashboard
from privacy_center.workflow import RequestState

S = RequestState
TODAY = date(2026, 2, 2)  # a Monday
ADDRESS = "12 rue des Lilas\n31000 Toulouse\nFrance"
MM = 72 / 25.4  # points per millimetre
TOKEN = re.compile(r'name="[a-z-]*csrf_token"(?: type="hidden")? value="([^"]+)"')


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def pdf_bytes() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


@pytest.fixture
def documents(app, tmp_path, monkeypatch) -> Path:
    directory = tmp_path / "documents"
    monkeypatch.setitem(app.config, "IDENTITY_DOCUMENT_DIR", str(directory))
    return directory


def stored_files(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.is_file()] if directory.exists() else []


def request_count(db) -> int:
    return db.scalar(select(func.count()).select_from(PrivacyRequest))


def intake(app, *arguments: str):
    return app.test_cli_runner().invoke(
        args=["requests", "intake", "--today", TODAY.isoformat(), *arguments]
    )


POST_REQUEST = (
    "--kind",
    "access",
    "--name",
    "Jeanne Martin",
    "--received-on",
    "2026-01-31",
    "--channel",
    "post",
    "--postal-address",
    ADDRESS,
)


# --- the command line ---------------------------------------------------------------------------


def test_the_command_prints_the_reference_and_the_due_date_from_the_day_received(
    app, db, documents, tmp_path
):
    scan = tmp_path / "letter.pdf"
    scan.write_bytes(pdf_bytes())
    answer = intake(app, *POST_REQUEST, "--language", "fr", "--document", str(scan))
    assert answer.exit_code == 0, answer.output
    reference, due = answer.output.strip().splitlines()
    # 31 January + one month = 28 February 2026, a Saturday: the period ends on Monday 2 March.
    assert date(2026, 2, 28).weekday() == 5
    assert due == "due 2026-03-02" == f"due {due_date(date(2026, 1, 31)).isoformat()}"
    request = db.scalar(select(PrivacyRequest).where(PrivacyRequest.reference == reference))
    assert request.channel == "post" and request.email is None
    assert request.postal_address == ADDRESS and request.language == "fr"
    # The clock runs from the day received, not from the day it was typed (TODAY).
    assert request.clock_started_on == date(2026, 1, 31) and request.due_on == date(2026, 3, 2)
    assert operator_day(request.received_at) == date(2026, 1, 31)
    # Confirmed at once; the scanned document is the proof of identity, for staff to check.
    assert request.state == S.IN_PROGRESS and request.identity_required
    assert len(request.documents) == 1 and request.documents[0].mime_type == "application/pdf"
    assert len(stored_files(documents)) == 1
    assert pdf_bytes() not in stored_files(documents)[0].read_bytes()  # encrypted at rest
    filed = [e for e in events_of_request(db, request.id) if e.action == "request.filed"]
    assert filed[0].actor == "cli" and filed[0].details["channel"] == "post"
    assert filed[0].details["received_on"] == "2026-01-31"


def test_without_a_document_the_request_waits_for_one_when_the_operator_requires_it(app, db):
    answer = intake(app, *POST_REQUEST, "--email", "Jeanne@Example.org")
    assert answer.exit_code == 0, answer.output
    request = db.scalar(
        select(PrivacyRequest).where(PrivacyRequest.reference == answer.output.split()[0])
    )
    assert request.email == "jeanne@example.org"
    assert request.state == S.AWAITING_IDENTITY
    # Nothing to confirm: no confirmation link was issued.
    assert request.clock_started_on == date(2026, 1, 31)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--kind": "acces"}, "--kind: Unknown kind of request"),
        (
            {"--received-on": "2026-02-03"},
            "--received-on: The date received cannot be in the future",
        ),
        (
            {"--received-on": "2024-02-03"},
            "--received-on: The date received is more than a year ago",
        ),
        ({"--received-on": "2026-02-30"}, "'2026-02-30' is not a date; write it YYYY-MM-DD"),
        ({"--received-on": "31/01/2026"}, "is not a date"),
        ({"--channel": "fax"}, "--channel: Unknown channel; the channels are: post, email, phone"),
        ({"--channel": "web"}, "--channel: Unknown channel"),
        ({"--email": "jeanne@"}, "--email: Enter a valid email address"),
        ({"--language": "it"}, "--language: Unknown language"),
        ({"--name": " "}, "--name: Enter the requester's full name"),
        ({"--postal-address": ""}, "--postal-address: Without an email address, give the postal"),
        ({"--channel": "email"}, "--email: A request received by email needs the sender's address"),
        (
            {"--postal-address": "x" * 39},
            "--postal-address: Each line of the address has at most 38",
        ),
    ],
)
def test_bad_input_exits_non_zero_says_why_and_creates_nothing(
    app, db, documents, tmp_path, change, message
):
    scan = tmp_path / "scan.png"
    scan.write_bytes(png_bytes())
    arguments = [*POST_REQUEST, "--document", str(scan)]
    for option, value in change.items():
        if option in arguments:
            arguments[arguments.index(option) + 1] = value
        else:
            arguments += [option, value]
    before = request_count(db)
    answer = intake(app, *arguments)
    assert answer.exit_code != 0
    assert message in answer.output
    assert request_count(db) == before
    assert stored_files(documents) == []


def test_an_unreadable_or_rejected_document_creates_nothing(app, db, documents, tmp_path):
    good = tmp_path / "good.png"
    good.write_bytes(png_bytes())
    script = tmp_path / "passport.pdf"
    script.write_bytes(b"#!/bin/sh\necho hello\n")
    before = request_count(db)
    missing = intake(app, *POST_REQUEST, "--document", str(good), "--document", "/nowhere.pdf")
    assert missing.exit_code != 0 and "cannot read /nowhere.pdf" in missing.output
    rejected = intake(app, *POST_REQUEST, "--document", str(good), "--document", str(script))
    assert rejected.exit_code != 0
    assert (
        "nothing was created" in rejected.output and "--document: passport.pdf:" in rejected.output
    )
    assert request_count(db) == before and stored_files(documents) == []


def test_a_failure_after_storing_a_document_leaves_no_file(app, db, documents, monkeypatch):
    """The documents are written, then the last step fails (a fault injected in the state
    change, the step after the files): the transaction is rolled back and the files deleted."""
    from privacy_center.rights import intake as intake_module

    def broken_transition(*args, **kwargs):
        assert len(stored_files(documents)) == 2  # the files were written by then
        raise RuntimeError("the database went away")

    monkeypatch.setattr(intake_module, "transition", broken_transition)
    before = request_count(db)
    with pytest.raises(RuntimeError, match="went away"):
        intake_request(
            db,
            kind="access",
            name="Jeanne Martin",
            email=None,
            received_on=date(2026, 1, 31),
            channel="post",
            language="fr",
            postal_address=ADDRESS,
            documents=[("scan.png", png_bytes()), ("letter.pdf", pdf_bytes())],
            actor="cli",
            today=TODAY,
            settings=app.config,
        )
    assert request_count(db) == before and stored_files(documents) == []


def test_the_service_refuses_a_date_that_is_not_a_date(app, db):
    with force_locale("en"), pytest.raises(InvalidRequest) as raised:
        intake_request(
            db,
            kind="access",
            name="Jeanne Martin",
            email="jeanne@example.org",
            received_on=None,
            channel="phone",
            language="fr",
            postal_address=None,
            documents=[],
            actor="cli",
            today=TODAY,
            settings=app.config,
        )
    assert set(raised.value.errors) == {"received_on"}


def test_an_objection_to_marketing_needs_the_address_it_is_about(app, db):
    answer = intake(app, *POST_REQUEST[2:], "--kind", "objection_marketing")
    assert answer.exit_code != 0
    assert "--email: This kind of request needs the email address it is about" in answer.output


# --- the console --------------------------------------------------------------------------------


@pytest.fixture
def console(client, make_staff):
    member = make_staff(role="dpo")
    staff_sign_in(client, member)
    client.member = member
    return client


def post_form(web, **fields):
    page = web.get("/staff/requests/new")
    assert page.status_code == 200
    data = {
        "intake-csrf_token": TOKEN.search(page.get_data(as_text=True))[1],
        "intake-channel": "post",
        "intake-received_on": "2026-01-31",
        "intake-name": "Jeanne Martin",
        "intake-email": "",
        "intake-postal_address": ADDRESS,
        "intake-language": "fr",
        "intake-kind": "erasure",
        "intake-details": "Asks for everything to be erased.",
        **fields,
    }
    return web.post("/staff/requests/new", data=data, content_type="multipart/form-data")


def test_the_queue_links_to_the_form(console):
    queue = console.get("/staff/").get_data(as_text=True)
    assert 'href="/staff/requests/new"' in queue


def test_the_console_form_creates_the_request_with_its_scans(app, db, console, documents):
    received = get_content().operator.today() - timedelta(days=5)
    answer = post_form(
        console,
        **{
            "intake-received_on": received.isoformat(),
            "intake-documents": [
                (io.BytesIO(pdf_bytes()), "letter.pdf"),
                (io.BytesIO(png_bytes()), "id-card.png"),
            ],
        },
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)
    reference = answer.headers["Location"].rsplit("/", 1)[1]
    request = db.scalar(select(PrivacyRequest).where(PrivacyRequest.reference == reference))
    assert request.channel == "post" and request.email is None and request.kind == "erasure"
    assert request.clock_started_on == received and request.due_on == due_date(received)
    assert request.details == "Asks for everything to be erased."
    assert sorted(d.mime_type for d in request.documents) == ["application/pdf", "image/png"]
    assert len(stored_files(documents)) == 2
    assert [e.actor for e in events_of_request(db, request.id) if e.action == "request.filed"] == [
        console.member.get_id()
    ]
    page = console.get(answer.headers["Location"]).get_data(as_text=True)
    assert f"Request {reference} recorded; the reply is due by" in page
    assert "no email address" in page and "31000 Toulouse" in page
    assert 'id="letters-by-post"' in page


def test_the_console_form_shows_every_error_and_creates_nothing(app, db, console, documents):
    before = request_count(db)
    answer = post_form(
        console,
        **{
            "intake-received_on": "2099-01-01",
            "intake-kind": "nonsense",
            "intake-postal_address": "",
            "intake-documents": [(io.BytesIO(b"MZ\x90\x00 not a scan"), "scan.pdf")],
        },
    )
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "The date received cannot be in the future" in page
    assert "Without an email address, give the postal address to reply to." in page
    assert "Unknown kind of request" in page
    assert request_count(db) == before and stored_files(documents) == []
    # A scan that is not a document is refused with the upload check's message.
    refused = post_form(
        console, **{"intake-documents": [(io.BytesIO(b"MZ\x90\x00 not a scan"), "scan.pdf")]}
    )
    assert refused.status_code == 422
    assert "scan.pdf:" in refused.get_data(as_text=True)
    assert request_count(db) == before and stored_files(documents) == []


# --- like any request: queue, register, dashboard -----------------------------------------------


def test_a_post_request_without_email_is_in_the_queue_the_register_and_the_dashboard(
    app, db, console
):
    today = get_content().operator.today()
    before = dashboard.build_dashboard(db, today=today)
    received = today - timedelta(days=2)
    answer = post_form(console, **{"intake-received_on": received.isoformat()})
    reference = answer.headers["Location"].rsplit("/", 1)[1]
    queue = console.get("/staff/").get_data(as_text=True)
    assert reference in queue
    register = console.get("/staff/register.csv").get_data(as_text=True)
    rows = {r["reference"]: r for r in csv.DictReader(io.StringIO(register.lstrip("\ufeff")))}
    assert rows[reference]["channel"] == "post"
    assert rows[reference]["clock_started_on"] == received.isoformat()
    assert rows[reference]["received_at"].startswith(received.isoformat())
    after = dashboard.build_dashboard(db, today=today)
    assert after.open_total == before.open_total + 1
    state = S.AWAITING_IDENTITY.value  # identity required, no scan sent with it
    assert after.open_by_state.get(state, 0) == before.open_by_state.get(state, 0) + 1
    assert console.get("/staff/dashboard").status_code == 200
    # The requester's "find my request" cannot match a request without an email address.
    assert find_for_requester(db, email="", reference=reference) is None


# --- letters by post ----------------------------------------------------------------------------


def words_with_boxes(pdf: bytes, tmp_path: Path) -> list[tuple[str, float, float, float, float]]:
    """Each word of the first page with its box (x0, y0, x1, y1) in points from the top left."""
    source = tmp_path / "letter.pdf"
    source.write_bytes(pdf)
    html = subprocess.run(
        ["pdftotext", "-bbox", "-f", "1", "-l", "1", str(source), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found = re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
        html,
    )
    return [(w, float(a), float(b), float(c), float(d)) for a, b, c, d, w in found]


def in_window(box: tuple[str, float, float, float, float]) -> bool:
    """Inside what a DL window envelope (window 100 x 45 mm, 20 mm from the right, 15 mm from
    the bottom) shows of an A4 sheet folded in three, wherever the sheet sits in it."""
    _, x0, y0, x1, y1 = box
    return x0 >= 95 * MM and x1 <= 195 * MM and y0 >= 50 * MM and y1 <= 84 * MM


def test_a_letter_to_a_requester_without_email_is_stored_to_print_with_the_address_in_the_window(
    app, db, console, outbox, tmp_path
):
    received = get_content().operator.today() - timedelta(days=2)
    answer = post_form(console, **{"intake-received_on": received.isoformat()})
    reference = answer.headers["Location"].rsplit("/", 1)[1]
    request = db.scalar(select(PrivacyRequest).where(PrivacyRequest.reference == reference))
    page = console.get(f"/staff/requests/{reference}").get_data(as_text=True)
    sent = console.post(
        f"/staff/requests/{reference}/letters/send",
        data={"letter-csrf_token": TOKEN.search(page)[1], "kind": "acknowledgement"},
    )
    assert sent.status_code == 303
    # No mail was attempted: the outbox stays empty; the letter is stored, hashed and audited.
    assert list(outbox.iterdir()) == []
    letter = db.scalar(select(Letter).where(Letter.request_id == request.id))
    assert letter.sent_at is not None
    event = next(e for e in events_of_request(db, request.id) if e.action == "letter.sent")
    assert event.details["delivery"] == "post" and event.details["sha256"] == letter.sha256
    detail = console.get(f"/staff/requests/{reference}").get_data(as_text=True)
    assert "print it and post it" in detail and "Download to print (PDF)" in detail
    download = console.get(f"/staff/requests/{reference}/letters/{letter.id}.pdf")
    assert download.data == letter.pdf and "attachment" in download.headers["Content-Disposition"]
    # The name and every line of the address are in the window, the sender's line above them.
    words = words_with_boxes(letter.pdf, tmp_path)
    window = [w for w in words if in_window(w)]
    window_text = " ".join(w[0] for w in window)
    assert "Jeanne Martin 12 rue des Lilas 31000 Toulouse France" in window_text
    sender = [w for w in window if w[0] == "Seysses"]
    name = [w for w in window if w[0] == "Jeanne"]
    assert sender and name and sender[0][4] <= name[0][2]
    # Nothing else of the letter shows through the window.
    assert window_text.startswith("ALLOPASS SAS")
    assert window_text.endswith("France")
    # The letter does not send the requester to a status page they never received.
    text = " ".join(w[0] for w in words)
    assert "par e-mail" not in text and "244, route de Seysses" in text


def test_a_letter_to_an_email_requester_with_a_postal_address_shows_it_and_is_mailed(
    app, db, outbox, tmp_path
):
    request = intake_request(
        db,
        kind="access",
        name="Jeanne Martin",
        email="jeanne@example.org",
        received_on=TODAY - timedelta(days=1),
        channel="email",
        language="en",
        postal_address=ADDRESS,
        documents=[],
        actor="cli",
        today=TODAY,
        settings=app.config,
    )
    letter = letter_outbox.send_letter(
        db, request, "acknowledgement", {}, actor="cli", today=TODAY, app_config=app.config
    )
    assert len(list(outbox.iterdir())) == 1
    window = [w for w in words_with_boxes(letter.pdf, tmp_path) if in_window(w)]
    assert "Jeanne Martin 12 rue des Lilas" in " ".join(w[0] for w in window)


def test_an_erasure_without_email_or_account_is_not_claimed_done(app, db, make_staff):
    from privacy_center.connectors import get_connectors
    from privacy_center.staff.actions import completion, rules

    request = intake_request(
        db,
        kind="erasure",
        name="Jeanne Martin",
        email=None,
        received_on=TODAY,
        channel="post",
        language="fr",
        postal_address=ADDRESS,
        documents=[],
        actor="cli",
        today=TODAY,
        settings=app.config,
    )
    db.execute(IdentityDocument.__table__.delete().where(IdentityDocument.request_id == request.id))
    request.state = S.IN_PROGRESS
    with force_locale("en"), pytest.raises(rules.ActionRefused, match="neither"):
        completion.complete(
            db,
            request,
            staff=make_staff(role="dpo"),
            today=TODAY,
            settings=app.config,
            connectors=get_connectors(),
            base_url="http://localhost",
        )


def test_a_proof_of_identity_sent_later_by_post_is_scanned_in_and_the_request_moves_on(
    app, db, console, documents
):
    answer = intake(app, *POST_REQUEST)
    reference = answer.output.split()[0]
    request = db.scalar(select(PrivacyRequest).where(PrivacyRequest.reference == reference))
    assert request.state == S.AWAITING_IDENTITY
    page = console.get(f"/staff/requests/{reference}").get_data(as_text=True)
    token = TOKEN.search(page)[1]
    refused = console.post(
        f"/staff/requests/{reference}/documents",
        data={"scan-csrf_token": token, "scan-documents": [(io.BytesIO(b"MZ\x90\x00"), "id.pdf")]},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 303 and stored_files(documents) == []
    assert "id.pdf:" in console.get(f"/staff/requests/{reference}").get_data(as_text=True)
    assert request.state == S.AWAITING_IDENTITY and request.documents == []
    added = console.post(
        f"/staff/requests/{reference}/documents",
        data={"scan-csrf_token": token, "scan-documents": [(io.BytesIO(png_bytes()), "id.png")]},
        content_type="multipart/form-data",
    )
    assert added.status_code == 303
    db.refresh(request)
    assert request.state == S.IN_PROGRESS and len(request.documents) == 1
    assert len(stored_files(documents)) == 1
    actions = [e.action for e in events_of_request(db, request.id)]
    assert "identity_document.added" in actions
    assert "1 document added." in console.get(f"/staff/requests/{reference}").get_data(as_text=True)


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    source = tmp_path / "text.pdf"
    source.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(source), "-"], check=True, capture_output=True, text=True
    ).stdout
    return " ".join(text.split())


LETTER_FIELDS = {
    "acknowledgement": {},
    "identity_request": {"reason": "The signature differs from the one we know."},
    "clarification_request": {"questions": "Which account do you mean?"},
    "fee_notice": {"amount": "15 EUR", "reasons": "A third copy this year."},
}


@pytest.mark.parametrize("kind", sorted(LETTER_FIELDS))
def test_letters_to_a_request_received_by_post_say_how_to_write_back(app, db, kind, tmp_path):
    """No status page link and no email went to a requester who wrote by post: the letters tell
    them to write to the operator's postal address or email, quoting the reference."""
    request = intake_request(
        db,
        kind="access",
        name="Jeanne Martin",
        email=None,
        received_on=TODAY,
        channel="post",
        language="en",
        postal_address=ADDRESS,
        documents=[],
        actor="cli",
        today=TODAY,
        settings=app.config,
    )
    text = pdf_text(
        letters.preview_letter(db, request, kind, LETTER_FIELDS[kind], today=TODAY), tmp_path
    )
    operator = get_content().operator
    assert "status page" not in text and "the email that carries this letter" not in text
    assert " ".join(operator.postal_contact.split()) in text and operator.privacy_email in text


@pytest.mark.parametrize("kind", sorted(LETTER_FIELDS))
def test_letters_to_a_web_request_keep_their_status_page_wording(app, db, kind, tmp_path):
    request = intake_request(
        db,
        kind="access",
        name="Jeanne Martin",
        email="jeanne@example.org",
        received_on=TODAY,
        channel="email",
        language="en",
        postal_address=None,
        documents=[],
        actor="cli",
        today=TODAY,
        settings=app.config,
    )
    request.channel = "web"  # as the self-service forms leave it
    text = pdf_text(
        letters.preview_letter(db, request, kind, LETTER_FIELDS[kind], today=TODAY), tmp_path
    )
    assert "jeanne@example.org" in text  # no postal address: the old recipient block
    if kind != "clarification_request":
        assert "status page" in text
    else:
        assert "the email that carries this letter" in text


@pytest.mark.parametrize("kind", ["access", "portability"])
def test_a_completion_without_an_account_does_not_claim_a_download_link(app, db, kind, tmp_path):
    """Without an account no copy is prepared behind a download link (staff say how they gave
    it): the completion letter says so, and carries what staff wrote."""
    request = intake_request(
        db,
        kind=kind,
        name="Jeanne Martin",
        email=None,
        received_on=TODAY,
        channel="post",
        language="en",
        postal_address=ADDRESS,
        documents=[],
        actor="cli",
        today=TODAY,
        settings=app.config,
    )
    note = "The copy is enclosed with this letter on a USB key."
    pdf = letters.preview_letter(db, request, "completion", {"note": note}, today=TODAY)
    text = pdf_text(pdf, tmp_path)
    assert "download link" not in text and "is described below" in text and note in text


def test_an_objection_to_marketing_received_by_email_from_its_address_stops_at_once(app, db):
    """Art. 21(3): the objection takes effect when it is recorded, once the address is the
    requester's (here, the email came from it); a call waits for the emailed link
    (test_security_marketing.py)."""
    from privacy_center.models import PreferenceChange

    answer = intake(
        app,
        "--kind",
        "objection_marketing",
        "--name",
        "Jeanne Martin",
        "--email",
        "jeanne.mail@example.org",
        "--received-on",
        "2026-02-02",
        "--channel",
        "email",
        "--address-verified",
    )
    assert answer.exit_code == 0, answer.output
    reference = answer.output.split()[0]
    proofs = db.scalars(
        select(PreferenceChange).where(PreferenceChange.request_reference == reference)
    ).all()
    assert proofs and all(not proof.subscribed for proof in proofs)
    assert {proof.email for proof in proofs} == {"jeanne.mail@example.org"}
    request = db.scalar(select(PrivacyRequest).where(PrivacyRequest.reference == reference))
    # No document protects an objection to marketing: it is worked at once.
    assert request.state == S.IN_PROGRESS and not request.identity_required
