"""Legal letters only through the workflow (issue 14, item 1).

A legal letter (identity request, clarification request, extension notice, refusal, completion)
is sent only by the action that makes its change, in one transaction with it: the change, the
letter stored with its SHA-256, the audit row and the mail queued in the durable outbox. The
letters panel previews legal letters and never sends them. A mail that fails stays queued with
its error, is shown to staff, and goes out with a later ``mail deliver`` or "retry now". An
extension is allowed once, on or before the first due date, and its due date is computed.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import subprocess
from datetime import UTC, date, datetime, time, timedelta

import pytest
from babel.dates import format_date
from conftest import free_port, staff_sign_in
from sqlalchemy import func, select

from privacy_center import mail_queue
from privacy_center.audit import events_of_request
from privacy_center.content import get_content
from privacy_center.deadlines import due_date, reply_due
from privacy_center.letters.kinds import LETTER_KINDS
from privacy_center.letters.outbox import BY_POST, delivery_for
from privacy_center.mail import read_outbox
from privacy_center.models import (
    AuditEvent,
    Letter,
    OutgoingMail,
    PrivacyRequest,
    RequestTransition,
)
from privacy_center.models.types import utcnow
from privacy_center.rights.references import REFERENCE_ALPHABET, new_status_token
from privacy_center.staff.actions import clarification, extension, rules
from privacy_center.workflow import RequestState

S = RequestState
LEGAL = sorted(key for key, kind in LETTER_KINDS.items() if kind.legal)
TOKEN = re.compile(r'name="[a-z-]*csrf_token"(?: type="hidden")? value="([^"]+)"')


def today() -> date:
    return get_content().operator.today()


def at(day: date) -> datetime:
    return datetime.combine(day, time(10), tzinfo=UTC)


@pytest.fixture
def make_request(db):
    """A request in progress whose clock started ``started`` (a real, committed row: the actions
    roll the whole transaction back on failure). ``suspended`` = (first day, days): a
    clarification that stopped the clock that long."""

    def factory(
        *,
        kind: str = "rectification",
        started: date | None = None,
        language: str = "en",
        email: str | None = None,
        suspended: tuple[date, int] | None = None,
    ) -> PrivacyRequest:
        started = started or today() - timedelta(days=3)
        code = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
        token, token_hash = new_status_token()
        request = PrivacyRequest(
            reference=f"PC-{code[:4]}-{code[4:]}",
            kind=kind,
            state=S.IN_PROGRESS,
            language=language,
            email=f"req-{secrets.token_hex(4)}@example.org" if email is None else email,
            requester_name="Camille Martin",
            details="",
            specifics={},
            received_at=at(started),
            clock_started_on=started,
            due_on=reply_due(started),
            status_token_hash=token_hash,
            updated_at=at(started),
        )
        moves = [(None, S.RECEIVED, started), (S.RECEIVED, S.IN_PROGRESS, started)]
        if suspended:
            first, days = suspended
            moves += [
                # Only the wait for a proof of identity suspends the clock (art. 12(6)).
                (S.IN_PROGRESS, S.AWAITING_IDENTITY, first),
                (S.AWAITING_IDENTITY, S.IN_PROGRESS, first + timedelta(days=days)),
            ]
        for source, target, day in moves:
            request.transitions.append(
                RequestTransition(
                    from_state=source, to_state=target, at=at(day), actor="system", reason="x"
                )
            )
        db.add(request)
        db.commit()
        request.status_token = token  # the secret, for the status page
        return request

    return factory


@pytest.fixture
def console(client, make_staff):
    def sign_in_as(role: str = "dpo"):
        member = make_staff(role=role)
        staff_sign_in(client, member)
        client.member = member
        return client

    return sign_in_as


@pytest.fixture
def no_mail_server(app, monkeypatch) -> int:
    """Mail goes to an SMTP port where nothing listens: every delivery fails."""
    port = free_port()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT", 2)
    return port


@pytest.fixture
def smtp(app, smtp_server, monkeypatch):
    smtp_server.clear()
    for key, value in smtp_server.settings().items():
        monkeypatch.setitem(app.config, key, value)
    return smtp_server


def token_of(web, request: PrivacyRequest) -> str:
    page = web.get(f"/staff/requests/{request.reference}")
    assert page.status_code == 200
    return TOKEN.search(page.get_data(as_text=True))[1]


def pdf_text(pdf: bytes) -> str:
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return " ".join(result.stdout.decode().split())


def counts(db, request: PrivacyRequest) -> tuple[int, int, int, int]:
    """(letters, queued mails, letter audit rows, transitions) of the request."""
    return (
        db.scalar(select(func.count()).where(Letter.request_id == request.id)),
        db.scalar(select(func.count()).where(OutgoingMail.request_id == request.id)),
        db.scalar(
            select(func.count()).where(
                AuditEvent.request_id == request.id, AuditEvent.action == "letter.sent"
            )
        ),
        db.scalar(select(func.count()).where(RequestTransition.request_id == request.id)),
    )


def assert_one_unit(db, request: PrivacyRequest, kind: str, target: RequestState) -> Letter:
    """The action's state change, its letter (PDF and SHA-256), the audit row naming both, and
    the mail carrying that very PDF, all recorded."""
    db.expire_all()
    assert request.state == target
    (letter,) = [item for item in request.letters if item.kind == kind]
    assert hashlib.sha256(letter.pdf).hexdigest() == letter.sha256
    assert letter.delivery == "email" and letter.sent_at is not None
    (mail,) = db.scalars(select(OutgoingMail).where(OutgoingMail.letter_id == letter.id))
    assert mail.to_address == request.email and mail.request_id == request.id
    (attachment,) = mail_queue.stored_message(mail).iter_attachments()
    assert attachment.get_content() == letter.pdf
    (event,) = [
        event
        for event in events_of_request(db, request.id)
        if event.action == "letter.sent" and event.details["letter_id"] == letter.id
    ]
    assert event.details["sha256"] == letter.sha256 and event.details["mail_id"] == mail.id
    transition = request.transitions[-1]
    assert transition.to_state == target
    return letter


# --- the letters panel --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", LEGAL)
def test_the_panel_previews_a_legal_letter_but_refuses_to_send_it(
    db, console, make_request, outbox, kind
):
    web = console("dpo")
    request = make_request()
    html = web.get(f"/staff/requests/{request.reference}").get_data(as_text=True)
    label = str(LETTER_KINDS[kind].label)
    assert f"Preview {label}" in html and f"Send {label}" not in html
    data = {
        "letter-csrf_token": token_of(web, request),
        "kind": kind,
        f"letter-{kind}-reasons": "Because",
        f"letter-{kind}-reason": "Because",
        f"letter-{kind}-questions": "Which?",
        f"letter-{kind}-changes": "Corrected",
    }
    preview = web.post(f"/staff/requests/{request.reference}/letters/preview", data=data)
    assert preview.status_code == 200 and preview.data.startswith(b"%PDF")
    before = counts(db, request)
    answer = web.post(f"/staff/requests/{request.reference}/letters/send", data=data)
    assert answer.status_code == 409
    assert "sent only by its action above" in answer.get_data(as_text=True)
    db.expire_all()
    assert counts(db, request) == before == (0, 0, 0, 2)
    assert request.state == S.IN_PROGRESS and read_outbox(outbox) == []


def test_the_panel_still_sends_an_acknowledgement_through_the_outbox(
    db, console, make_request, smtp
):
    web = console("agent")
    request = make_request()
    answer = web.post(
        f"/staff/requests/{request.reference}/letters/send",
        data={"letter-csrf_token": token_of(web, request), "kind": "acknowledgement"},
    )
    assert answer.status_code == 303
    db.expire_all()
    (letter,) = request.letters
    (mail,) = db.scalars(select(OutgoingMail).where(OutgoingMail.letter_id == letter.id))
    assert mail.sent_at is not None and mail.attempts == 1
    (message,) = smtp.messages
    assert next(message.iter_attachments()).get_content() == letter.pdf


# --- each action is one unit -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "data", "kind", "target"),
    [
        ("ask-identity", {"identity-reason": "The name differs"}, "identity_request",
         S.AWAITING_IDENTITY),
        ("clarification", {"clarify-questions": "Which account?"}, "clarification_request",
         S.AWAITING_REQUESTER),
        ("extend", {"extend-reasons": "Many systems to search"}, "extension_notice", S.EXTENDED),
        ("refuse", {"refuse-reasons": "Not your account"}, "refusal", S.REFUSED),
        ("complete", {"complete-summary": "Last name corrected"}, "completion", S.COMPLETED),
    ],
)  # fmt: skip
def test_each_legal_action_records_its_change_letter_audit_and_mail_together(
    db, console, make_request, smtp, action, data, kind, target
):
    web = console("dpo")
    request = make_request()
    token = token_of(web, request)
    prefix = next(iter(data)).split("-")[0]
    answer = web.post(
        f"/staff/requests/{request.reference}/{action}",
        data={f"{prefix}-csrf_token": token, **data},
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert "could not be delivered" not in web.get(answer.location).get_data(as_text=True)
    letter = assert_one_unit(db, request, kind, target)
    # Attempted at once, after the commit: delivered (a completion also tells the recipients
    # of the data, art. 19, each by its own mail).
    (message,) = [message for message in smtp.messages if message["To"] == request.email]
    assert next(message.iter_attachments()).get_content() == letter.pdf
    mail = db.scalar(select(OutgoingMail).where(OutgoingMail.letter_id == letter.id))
    assert mail.sent_at is not None and mail.last_error is None


def test_a_letter_that_cannot_be_rendered_leaves_nothing_written(
    app, db, make_request, make_staff, outbox
):
    request = make_request()
    # No letter can be written in a language the operator does not have.
    request.language = "it"
    db.commit()
    before = counts(db, request)
    with pytest.raises(ValueError, match="not one of the operator's languages"):
        clarification.ask_clarification(
            db,
            request,
            staff=make_staff(role="agent"),
            questions="Which account?",
            today=today(),
            settings=app.config,
        )
    db.expire_all()
    assert request.state == S.IN_PROGRESS
    assert counts(db, request) == before and read_outbox(outbox) == []


def test_a_letter_that_cannot_be_rendered_is_an_error_on_the_page(db, console, make_request):
    web = console("dpo")
    request = make_request()
    request.language = "it"
    db.commit()
    answer = web.post(
        f"/staff/requests/{request.reference}/refuse",
        data={"refuse-csrf_token": token_of(web, request), "refuse-reasons": "No"},
    )
    assert answer.status_code == 409
    assert "not one of the operator" in answer.get_data(as_text=True)
    db.expire_all()
    assert request.state == S.IN_PROGRESS and counts(db, request) == (0, 0, 0, 2)


# --- a mail that fails --------------------------------------------------------------------------


def test_a_failed_mail_stays_queued_is_shown_to_staff_and_a_later_run_sends_it(
    app, db, console, make_request, no_mail_server, smtp_server, monkeypatch
):
    web = console("dpo")
    request = make_request()
    answer = web.post(
        f"/staff/requests/{request.reference}/refuse",
        data={"refuse-csrf_token": token_of(web, request), "refuse-reasons": "Not your account"},
    )
    assert answer.status_code == 303
    # The refusal is done and its letter recorded; the mail waits with its error.
    letter = assert_one_unit(db, request, "refusal", S.REFUSED)
    mail = db.scalar(select(OutgoingMail).where(OutgoingMail.letter_id == letter.id))
    assert mail.sent_at is None and mail.attempts == 1
    assert f"127.0.0.1:{no_mail_server}" in mail.last_error
    assert mail.next_attempt_at > mail.last_attempt_at  # a wait before the next attempt
    # The request's history says so (once: the outbox keeps the later attempts).
    (failed,) = [e for e in events_of_request(db, request.id) if e.action == "mail.not_delivered"]
    assert failed.details["mail_id"] == mail.id and failed.details["error"] == mail.last_error

    # Staff see it: on the request's page, and on every console page.
    html = web.get(answer.location).get_data(as_text=True)
    assert "A mail to the requester could not be delivered yet" in html
    assert "mail not delivered after 1 attempt: " in html
    assert f'action="/staff/mail/{mail.id}/retry"' in html
    queue = web.get("/staff/").get_data(as_text=True)
    assert 'id="undelivered-mail-warning"' in queue and "could not be delivered" in queue
    listing = web.get("/staff/mail").get_data(as_text=True)
    assert f'id="mail-{mail.id}"' in listing and request.reference in listing

    # A run before the wait is over leaves it; it fails again while no server answers.
    runner = app.test_cli_runner()
    result = runner.invoke(args=["mail", "deliver"])
    assert result.exit_code == 0 and "delivered 0, failed 0" in result.output
    mail.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.commit()
    result = runner.invoke(args=["mail", "deliver"])
    assert result.exit_code == 1 and f"not delivered: mail {mail.id}" in result.output
    db.refresh(mail)
    assert mail.attempts == 2 and mail.sent_at is None
    assert mail.next_attempt_at - mail.last_attempt_at == mail_queue.backoff(2)

    # The server is back: the next run delivers the very letter recorded.
    smtp_server.clear()
    for key, value in smtp_server.settings().items():
        monkeypatch.setitem(app.config, key, value)
    mail.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.commit()
    result = runner.invoke(args=["mail", "deliver"])
    assert result.exit_code == 0, result.output
    assert "delivered 1, failed 0" in result.output
    (message,) = smtp_server.messages
    assert next(message.iter_attachments()).get_content() == letter.pdf
    db.refresh(mail)
    assert mail.sent_at is not None and mail.last_error is None and mail.attempts == 3
    html = web.get(f"/staff/requests/{request.reference}").get_data(as_text=True)
    assert "emailed on" in html and 'id="undelivered-mail-warning"' not in html
    assert "mail delivered<" in html and "mail not delivered: it stays queued" in html
    actions = [e.action for e in events_of_request(db, request.id)]
    assert actions.count("mail.not_delivered") == 1 and actions[-1] == "mail.delivered"
    # Delivered once: a further run sends nothing.
    assert "delivered 0" in runner.invoke(args=["mail", "deliver"]).output
    assert len(smtp_server.messages) == 1


def test_staff_retry_a_failed_mail_now(
    app, db, console, make_request, no_mail_server, smtp_server, monkeypatch
):
    web = console("agent")
    request = make_request()
    answer = web.post(
        f"/staff/requests/{request.reference}/clarification",
        data={"clarify-csrf_token": token_of(web, request), "clarify-questions": "Which?"},
    )
    assert answer.status_code == 303
    mail = db.scalar(select(OutgoingMail).where(OutgoingMail.request_id == request.id))
    assert mail.sent_at is None and mail.next_attempt_at > utcnow()
    token = token_of(web, request)
    # Still no server: staff are told, the mail stays queued.
    answer = web.post(
        f"/staff/mail/{mail.id}/retry", data={"retry-csrf_token": token, "retry-back": "request"}
    )
    assert answer.status_code == 303 and answer.location.endswith(request.reference)
    assert "could not be delivered again" in web.get(answer.location).get_data(as_text=True)
    db.refresh(mail)
    assert mail.attempts == 2 and mail.sent_at is None

    smtp_server.clear()
    for key, value in smtp_server.settings().items():
        monkeypatch.setitem(app.config, key, value)
    answer = web.post(f"/staff/mail/{mail.id}/retry", data={"retry-csrf_token": token})
    assert answer.status_code == 303 and answer.location.endswith("/staff/mail")
    assert "The mail was delivered." in web.get(answer.location).get_data(as_text=True)
    db.refresh(mail)
    assert mail.sent_at is not None
    (message,) = smtp_server.messages
    assert message["To"] == request.email
    # Without the form's token, nothing happens.
    assert web.post(f"/staff/mail/{mail.id}/retry", data={}).status_code == 400


def test_two_workers_never_send_the_same_mail_at_once(app, db, make_request, smtp):
    request = make_request()
    letter_count = len(smtp.messages)
    clarification.ask_clarification(
        db,
        request,
        staff=_member(db),
        questions="Which?",
        today=today(),
        settings={**app.config, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": free_port()},
    )
    mail = db.scalar(select(OutgoingMail).where(OutgoingMail.request_id == request.id))
    now = utcnow()
    mail.next_attempt_at = now
    db.commit()
    # A worker takes it (its attempt under way): another finds nothing to do.
    assert mail_queue._take(db, mail.id, now)
    assert mail_queue.deliver(db, mail.id, app.config, now=now) is None
    # Once the lease is over, it is taken again and delivered.
    assert mail_queue.deliver(db, mail.id, app.config, now=now + mail_queue.LEASE) is True
    assert len(smtp.messages) == letter_count + 1
    assert mail_queue.deliver(db, mail.id, app.config, now=now + 2 * mail_queue.LEASE) is None


def _member(db):
    from privacy_center.models import StaffMember

    member = StaffMember(
        email=f"staff-{secrets.token_hex(4)}@example.org",
        name="Alice Agent",
        role="agent",
        password_hash="not used",
    )
    db.add(member)
    db.commit()
    return member


def test_with_redis_the_first_attempt_is_a_job_of_the_worker(
    app, db, make_request, smtp, redis_url, monkeypatch
):
    from redis import Redis
    from rq import Queue

    from privacy_center.jobs import DEFAULT_QUEUE

    monkeypatch.setitem(app.config, "REDIS_URL", redis_url)
    request = make_request()
    clarification.ask_clarification(
        db, request, staff=_member(db), questions="Which?", today=today(), settings=app.config
    )
    request_id, email = request.id, request.email
    mail = db.scalar(select(OutgoingMail).where(OutgoingMail.request_id == request_id))
    assert mail.attempts == 0 and mail.sent_at is None and smtp.messages == []
    connection = Redis.from_url(redis_url)
    try:
        # The job waiting on the worker's queue, run as the worker runs it.
        (job,) = Queue(DEFAULT_QUEUE, connection=connection).jobs
        assert job.args == ("privacy_center.mail_queue:deliver_job", mail.id)
        job.perform()
    finally:
        connection.delete(*connection.keys("rq:*"))
        connection.close()
    # (the worker's application context ended with the session: read the mail again)
    mail = db.scalar(select(OutgoingMail).where(OutgoingMail.request_id == request_id))
    assert mail.sent_at is not None and mail.attempts == 1
    (message,) = smtp.messages
    assert message["To"] == email


def test_an_unreachable_job_queue_leaves_the_mail_queued_for_the_next_run(
    app, db, make_request, smtp, monkeypatch
):
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    request = make_request()
    clarification.ask_clarification(
        db, request, staff=_member(db), questions="Which?", today=today(), settings=app.config
    )
    db.expire_all()
    assert request.state == S.AWAITING_REQUESTER and len(request.letters) == 1
    mail = db.scalar(select(OutgoingMail).where(OutgoingMail.request_id == request.id))
    assert mail.attempts == 0 and mail.sent_at is None
    result = app.test_cli_runner().invoke(args=["mail", "deliver"])
    assert result.exit_code == 0 and "delivered 1" in result.output
    assert [message["To"] for message in smtp.messages] == [request.email]


def test_the_wait_grows_after_each_failure_and_stays_bounded():
    waits = [mail_queue.backoff(n) for n in range(1, 9)]
    assert waits == sorted(waits) and waits[0] == timedelta(minutes=1)
    assert waits[-1] == waits[-2] == mail_queue.BACKOFF[-1]


# --- the extension ------------------------------------------------------------------------------


def test_the_extension_notice_carries_the_computed_due_date(db, console, make_request, outbox):
    web = console("dpo")
    started = today() - timedelta(days=5)
    request = make_request(started=started, language="fr")
    computed = due_date(started, 3)
    # The form types no date: it shows the one computed.
    page = web.get(f"/staff/requests/{request.reference}").get_data(as_text=True)
    assert "new_due_date" not in page and 'type="date"' not in page
    answer = web.post(
        f"/staff/requests/{request.reference}/extend",
        data={
            "extend-csrf_token": token_of(web, request),
            "extend-reasons": "Nombreux systèmes",
            "letter-extension_notice-new_due_date": "2099-01-01",
        },
    )
    assert answer.status_code == 303
    letter = assert_one_unit(db, request, "extension_notice", S.EXTENDED)
    assert request.due_on == computed and request.extended_on == today()
    assert format_date(computed, "long", locale="fr") in pdf_text(letter.pdf)
    assert "2099" not in pdf_text(letter.pdf) and "new_due_date" not in letter.fields


def test_the_extended_due_date_gives_back_the_days_the_clock_was_suspended(
    app, db, make_request, outbox
):
    started = today() - timedelta(days=20)
    request = make_request(started=started, suspended=(started + timedelta(days=2), 5))
    extension.extend(
        db, request, staff=_member(db), reasons="Many systems", today=today(), settings=app.config
    )
    expected = reply_due(started, extended=True, suspended_days=5)
    assert request.due_on == expected != due_date(started, 3)
    (letter,) = request.letters
    assert format_date(expected, "long", locale="en") in pdf_text(letter.pdf)


def test_an_extension_after_the_first_due_date_is_refused_and_changes_nothing(
    db, console, make_request, outbox
):
    web = console("dpo")
    request = make_request(started=today() - timedelta(days=45))
    before = counts(db, request)
    due_before = request.due_on
    answer = web.post(
        f"/staff/requests/{request.reference}/extend",
        data={"extend-csrf_token": token_of(web, request), "extend-reasons": "Late"},
    )
    assert answer.status_code == 409
    assert "Too late to extend" in answer.get_data(as_text=True)
    db.expire_all()
    assert request.state == S.IN_PROGRESS and request.extended_on is None
    assert request.due_on == due_before and counts(db, request) == before
    assert read_outbox(outbox) == []


def test_a_second_extension_is_refused(app, db, console, make_request, outbox):
    web = console("dpo")
    request = make_request()
    answer = web.post(
        f"/staff/requests/{request.reference}/extend",
        data={"extend-csrf_token": token_of(web, request), "extend-reasons": "Many systems"},
    )
    assert answer.status_code == 303
    db.expire_all()
    before = counts(db, request)
    page = web.get(f"/staff/requests/{request.reference}").get_data(as_text=True)
    assert 'id="action-extend"' not in page
    answer = web.post(
        f"/staff/requests/{request.reference}/extend",
        data={"extend-csrf_token": token_of(web, request), "extend-reasons": "Again"},
    )
    assert answer.status_code == 409
    with pytest.raises(rules.ActionRefused, match="already extended"):
        extension.extend(
            db, request, staff=_member(db), reasons="Again", today=today(), settings=app.config
        )
    db.expire_all()
    assert counts(db, request) == before and len(read_outbox(outbox)) == 1


# --- what the requester sees, and a requester without email -------------------------------------


def test_the_requester_finds_the_letter_on_the_status_page(client, db, console, make_request):
    web = console("dpo")
    request = make_request()
    web.post(
        f"/staff/requests/{request.reference}/extend",
        data={"extend-csrf_token": token_of(web, request), "extend-reasons": "Many systems"},
    )
    db.expire_all()
    (letter,) = request.letters
    base = f"/rights/requests/{request.reference}/{request.status_token}"
    page = client.get(base + "?lang=en").get_data(as_text=True)
    assert f"{base}/letters/{letter.id}" in page and "Extension of the time limit" in page
    assert client.get(f"{base}/letters/{letter.id}").data == letter.pdf


def test_without_an_email_address_the_letter_is_stored_for_the_post_and_no_mail_queued(
    app, db, console, make_request, outbox
):
    request = make_request(email="")
    assert delivery_for(request) == BY_POST
    web = console("dpo")
    answer = web.post(
        f"/staff/requests/{request.reference}/refuse",
        data={"refuse-csrf_token": token_of(web, request), "refuse-reasons": "No"},
    )
    assert answer.status_code == 303
    db.expire_all()
    (letter,) = request.letters
    assert request.state == S.REFUSED and letter.delivery == "post"
    assert counts(db, request)[:3] == (1, 0, 1) and read_outbox(outbox) == []
    page = web.get(f"/staff/requests/{request.reference}").get_data(as_text=True)
    assert "no email address: print it and post it" in page
