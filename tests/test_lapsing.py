"""Requests that stall, end (``requests lapse``): each wait lapses on the day after its period and
not before, the requester is mailed why and how to file again in their language, the status page
says the same, documents are destroyed, the dry run changes nothing, a second run (or one started
during another) mails nobody twice; the clock keeps running while a clarification is awaited;
the status page offers an identity upload only when one is needed.

The clock is frozen by passing ``now`` to the service (and the hidden ``--now`` to the command).
The test database may hold other tests' committed rows, so assertions look at the requests each
test creates.
"""

from __future__ import annotations

import dataclasses
import io
import re
import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as translate
from markupsafe import escape
from sqlalchemy import select

from privacy_center.config import document_key
from privacy_center.content import EXTENSION_KEY
from privacy_center.deadlines import reply_due
from privacy_center.letters.services import render_letter_html
from privacy_center.locks import exclusive
from privacy_center.mail import read_outbox
from privacy_center.models import (
    AuditEvent,
    EmailToken,
    IdentityDocument,
    PrivacyRequest,
    RequestTransition,
)
from privacy_center.operator import ContentError, LapsePeriods, load_operator
from privacy_center.rights import lapsing
from privacy_center.rights.clock import due_date_on, suspended_since
from privacy_center.rights.documents import can_add_document
from privacy_center.rights.lapsing import RUN_LOCK_KEY, Lapse, LapseBusy, run_lapse
from privacy_center.rights.references import REFERENCE_ALPHABET, new_status_token
from privacy_center.rights.transitions import transition
from privacy_center.staff.queue import list_queue
from privacy_center.uploads.storage import store_document
from privacy_center.workflow import RequestState

S = RequestState
PARIS = ZoneInfo("Europe/Paris")
# The day each test's request starts waiting: 2 March 2031, 11:00 in Paris.
T = datetime(2031, 3, 2, 10, 0, tzinfo=UTC)
BASE_URL = "https://privacy.example.com"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
PERIODS = LapsePeriods()  # the demo operator's (content/operator.yaml)
STALLS = [
    (S.AWAITING_CONFIRMATION, "unconfirmed"),
    (S.AWAITING_IDENTITY, "awaiting_identity"),
    (S.AWAITING_REQUESTER, "awaiting_requester"),
]


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """``hour:minute`` in Paris on ``day``, in UTC."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS).astimezone(UTC)


@pytest.fixture
def documents(app, tmp_path, monkeypatch) -> Path:
    directory = tmp_path / "documents"
    monkeypatch.setitem(app.config, "IDENTITY_DOCUMENT_DIR", str(directory))
    return directory


def form_url(request: PrivacyRequest) -> str:
    return f"{BASE_URL}/rights/requests/new/{request.kind}?lang={request.language}"


def lapse(app, db, now: datetime, **options) -> lapsing.LapseReport:
    return run_lapse(db, now=now, settings=app.config, form_url=form_url, **options)


def stalled_request(
    db,
    state: RequestState,
    *,
    since: datetime = T,
    language: str = "en",
    kind: str = "access",
    email: str | None = None,
) -> tuple[PrivacyRequest, str]:
    """A request waiting in ``state`` since ``since``, as the services leave it; with the
    secret of its status link."""
    code = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    token, token_hash = new_status_token()
    received = since - timedelta(days=2) if state != S.AWAITING_CONFIRMATION else since
    started = None if state == S.AWAITING_CONFIRMATION else received.astimezone(PARIS).date()
    request = PrivacyRequest(
        reference=f"PC-{code[:4]}-{code[4:]}",
        kind=kind,
        state=S.RECEIVED,
        language=language,
        email=email or f"lapse-{secrets.token_hex(4)}@example.org",
        requester_name="Camille Martin",
        details="",
        specifics={},
        received_at=received,
        clock_started_on=started,
        identity_required=state == S.AWAITING_IDENTITY,
        status_token_hash=token_hash,
        updated_at=received,
    )
    request.transitions.append(
        RequestTransition(from_state=None, to_state=S.RECEIVED, at=received, actor="requester")
    )
    db.add(request)
    db.flush()
    day = since.astimezone(PARIS).date()
    if state == S.AWAITING_CONFIRMATION:
        transition(db, request, state, actor="system", reason="link sent", today=day, now=since)
        # Its confirmation link expired after 24 hours.
        db.add(
            EmailToken(
                purpose="confirm_request",
                token_hash=secrets.token_hex(32),
                email=request.email,
                request_id=request.id,
                created_at=since,
                expires_at=since + timedelta(hours=24),
            )
        )
    else:
        transition(
            db,
            request,
            S.IN_PROGRESS,
            actor="system",
            reason="confirmed",
            today=started,
            now=received,
        )
        transition(db, request, state, actor="staff:1", reason="asked", today=day, now=since)
    db.flush()
    return request, token


def store(app, db, request: PrivacyRequest) -> IdentityDocument:
    data = b"%PDF-1.4 passport"
    name = store_document(
        data, directory=Path(app.config["IDENTITY_DOCUMENT_DIR"]), key=document_key(app.config)
    )
    document = IdentityDocument(
        kind="identity", stored_name=name, mime_type="application/pdf", size_bytes=len(data)
    )
    request.documents.append(document)
    db.flush()
    return document


def mails_to(outbox: Path, request: PrivacyRequest) -> list:
    return [mail for mail in read_outbox(outbox) if mail["To"] == request.email]


def events(db, request: PrivacyRequest, action: str) -> list[AuditEvent]:
    return list(
        db.scalars(
            select(AuditEvent).where(
                AuditEvent.request_id == request.id, AuditEvent.action == action
            )
        )
    )


# --- configuration ------------------------------------------------------------------------------


def test_the_demo_operator_sets_the_periods(app):
    periods = app.extensions[EXTENSION_KEY].operator.lapse_after_days
    assert periods == LapsePeriods(unconfirmed=7, awaiting_identity=30, awaiting_requester=14)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{unconfirmed: 0}", "unconfirmed must be a whole number of days from 1 to 365"),
        ("{awaiting_identity: 2.5}", "awaiting_identity must be a whole number of days"),
        ("{awaiting_identity: true}", "awaiting_identity must be a whole number of days"),
        (
            "{awaiting_requester: 29}",
            "from 1 to 28 (the clock keeps running while we wait for a clarification",
        ),
        ("{forever: 3}", "expected days for unconfirmed, awaiting_identity, awaiting_requester"),
        ("7", "expected days for"),
    ],
)
def test_wrong_periods_stop_start_up_with_a_clear_error(tmp_path, value, message):
    source = Path(__file__).parents[1] / "content" / "operator.yaml"
    text = re.sub(
        r"^lapse_after_days:\n(  .*\n)+",
        f"lapse_after_days: {value}\n",
        source.read_text(encoding="utf-8"),
        flags=re.MULTILINE,
    )
    path = tmp_path / "operator.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ContentError, match=re.escape(message)):
        load_operator(path)


def test_periods_default_when_not_set(tmp_path):
    source = Path(__file__).parents[1] / "content" / "operator.yaml"
    text = re.sub(
        r"^lapse_after_days:\n(  .*\n)+", "", source.read_text(encoding="utf-8"), flags=re.M
    )
    path = tmp_path / "operator.yaml"
    path.write_text(text, encoding="utf-8")
    (tmp_path / "logo.svg").write_bytes((source.parent / "logo.svg").read_bytes())
    assert load_operator(path).lapse_after_days == LapsePeriods()


# --- each wait, at its boundary -----------------------------------------------------------------


@pytest.mark.parametrize(("state", "because"), STALLS, ids=[key for _, key in STALLS])
def test_a_stalled_request_lapses_the_day_after_its_period_and_not_before(
    app, db, outbox, documents, state, because
):
    request, _ = stalled_request(db, state)
    days = getattr(PERIODS, because)
    last_day = date(2031, 3, 2) + timedelta(days=days)

    # The period's last day, late in the evening in Paris: still waiting.
    report = lapse(app, db, local(last_day, 23, 30))
    assert request.reference not in [item.request.reference for item in report.lapsed]
    db.refresh(request)
    assert request.state == state
    assert mails_to(outbox, request) == []

    # The day after, half an hour after midnight in Paris (still the day before in UTC).
    moment = local(last_day + timedelta(days=1), 0, 30)
    assert moment.date() == last_day
    report = lapse(app, db, moment)
    assert request.reference in [item.request.reference for item in report.lapsed]
    db.refresh(request)
    assert request.state == S.LAPSED and request.closed_at == moment
    record = request.transitions[-1]
    assert (record.from_state, record.to_state, record.actor) == (state, S.LAPSED, "system")
    assert f"within {days} days" in record.reason
    [event] = events(db, request, lapsing.ACTION_LAPSED)
    assert event.details["because"] == because
    assert event.details["period_days"] == days
    assert event.details["waiting_since"] == "2031-03-02"
    assert [event.action for event in events(db, request, "request.transition")][-1:] == [
        "request.transition"
    ]
    assert len(mails_to(outbox, request)) == 1
    assert request.reference in report.mailed


def test_an_unconfirmed_request_with_a_live_link_waits_for_it(app, db, outbox, documents):
    request, _ = stalled_request(db, S.AWAITING_CONFIRMATION)
    later = T + timedelta(days=PERIODS.unconfirmed + 1)
    # "Find my request" sent a fresh link yesterday: it is valid until tomorrow.
    db.add(
        EmailToken(
            purpose="confirm_request",
            token_hash=secrets.token_hex(32),
            email=request.email,
            request_id=request.id,
            created_at=later - timedelta(hours=12),
            expires_at=later + timedelta(hours=12),
        )
    )
    db.flush()
    lapse(app, db, later)
    db.refresh(request)
    assert request.state == S.AWAITING_CONFIRMATION
    lapse(app, db, later + timedelta(hours=13))
    db.refresh(request)
    assert request.state == S.LAPSED


# --- what the requester is told -----------------------------------------------------------------


@pytest.mark.parametrize("language", ["fr", "es", "de", "en"])
def test_the_mail_says_why_and_how_to_file_again_in_the_requests_language(
    app, db, documents, smtp_server, monkeypatch, language
):
    for key, value in smtp_server.settings().items():
        monkeypatch.setitem(app.config, key, value)
    smtp_server.clear()
    request, _ = stalled_request(db, S.AWAITING_IDENTITY, language=language, kind="erasure")
    lapse(app, db, T + timedelta(days=PERIODS.awaiting_identity + 1))

    [mail] = [mail for mail in smtp_server.messages if mail["To"] == request.email]
    assert mail["Content-Language"] == language
    body = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    with app.app_context(), force_locale(language):
        subject = translate("Your request %(reference)s is closed", reference=request.reference)
        expected = lapsing.explanation(Lapse("awaiting_identity", date(2031, 3, 2), 30))
        file_again = translate("You can file a new request at any time, on this page:")
        judicial = translate(
            "You also have the right to seek a judicial remedy before the competent court."
        )
    assert mail["Subject"] == subject
    if language != "en":
        assert subject != f"Your request {request.reference} is closed"  # translated
    for sentence in [*expected, file_again, judicial]:
        assert sentence in body
    assert "30" in expected[0]
    # The link to file again: the same kind of request, in the same language.
    assert f"{BASE_URL}/rights/requests/new/erasure?lang={language}" in body
    assert f'href="{BASE_URL}/rights/requests/new/erasure?lang={language}"' in html
    assert "CNIL" in body  # the operator's supervisory authority


def test_the_mail_says_why_for_each_wait(app, db, outbox, documents):
    unconfirmed, _ = stalled_request(db, S.AWAITING_CONFIRMATION)
    clarification, _ = stalled_request(db, S.AWAITING_REQUESTER)
    lapse(app, db, T + timedelta(days=40))
    [mail] = mails_to(outbox, unconfirmed)
    body = mail.get_body(("plain",)).get_content()
    assert "You did not confirm your email address within 7 days of filing this request" in body
    # It never started: no complaint to make about a time limit that never ran.
    assert "lodge a complaint" not in body
    [mail] = mails_to(outbox, clarification)
    body = mail.get_body(("plain",)).get_content()
    assert (
        "On March 2, 2031 we asked you to clarify your request, and we received no answer "
        "within 14 days." in body
    )
    assert "lodge a complaint with the supervisory authority" in body


def test_the_status_page_shows_the_lapse_with_the_same_explanation(
    app, db, client, outbox, documents
):
    request, token = stalled_request(db, S.AWAITING_REQUESTER, language="fr", kind="erasure")
    lapse(app, db, T + timedelta(days=PERIODS.awaiting_requester + 1))
    html = client.get(f"/rights/requests/{request.reference}/{token}?lang=fr").get_data(
        as_text=True
    )
    with app.app_context(), force_locale("fr"):
        expected = lapsing.explanation(Lapse("awaiting_requester", date(2031, 3, 2), 14))
        title = translate("This request has lapsed")
    assert 'id="lapsed"' in html and title in html
    body = mails_to(outbox, request)[0].get_body(("plain",)).get_content()
    for sentence in expected:
        assert str(escape(sentence)) in html
        assert sentence in body
    assert 'href="/rights/requests/new/erasure"' in html
    # No due date is promised for a request nothing more will be done about.
    assert translate_in("fr", app, "We must answer by") not in html
    # Nothing more can be sent or withdrawn.
    assert 'id="add-document"' not in html
    assert "/withdraw" not in html


def translate_in(language: str, app, text: str) -> str:
    with app.app_context(), force_locale(language):
        return translate(text)


def test_a_waiting_request_says_when_it_will_lapse(app, db, client, documents):
    request, token = stalled_request(db, S.AWAITING_IDENTITY)
    html = client.get(f"/rights/requests/{request.reference}/{token}?lang=en").get_data(
        as_text=True
    )
    assert (
        "If we receive nothing by April 1, 2031, this request will lapse: it will be closed "
        "without action, and you would have to file a new one." in html
    )


# --- documents, dry run, second runs ------------------------------------------------------------


def test_documents_left_are_destroyed(app, db, outbox, documents):
    request, _ = stalled_request(db, S.AWAITING_IDENTITY)
    first, second = store(app, db, request), store(app, db, request)
    assert len(list(documents.iterdir())) == 2
    moment = T + timedelta(days=PERIODS.awaiting_identity + 1)
    lapse(app, db, moment)
    assert list(documents.iterdir()) == []
    db.refresh(first)
    db.refresh(second)
    assert first.deleted_at == second.deleted_at == moment
    [event] = events(db, request, lapsing.ACTION_LAPSED)
    assert event.details["documents_destroyed"] == 2


def snapshot(db) -> dict[str, list[str]]:
    tables = {}
    for table in sorted(db.get_bind().dialect.get_table_names(db.connection())):
        if table == "alembic_version":
            continue
        rows = db.execute(sa.text(f'SELECT * FROM "{table}"')).all()  # noqa: S608
        tables[table] = sorted(map(repr, rows))
    return tables


def test_the_dry_run_lists_and_changes_nothing(app, db, outbox, documents):
    requests = [stalled_request(db, state)[0] for state, _ in STALLS]
    store(app, db, requests[1])
    later = T + timedelta(days=40)
    before = snapshot(db)
    report = run_lapse(db, now=later, settings=app.config, dry_run=True)
    assert {item.request.reference for item in report.lapsed} >= {r.reference for r in requests}
    assert snapshot(db) == before
    assert read_outbox(outbox) == []
    assert len(list(documents.iterdir())) == 1

    answer = app.test_cli_runner().invoke(
        args=["requests", "lapse", "--dry-run", "--now", later.isoformat()]
    )
    assert answer.exit_code == 0, answer.output
    assert "Dry run: nothing changed." in answer.output
    for request in requests:
        assert request.reference in answer.output
    assert "no proof of identity since 2031-03-02, 30 days ended 2031-04-01" in answer.output
    assert snapshot(db) == before
    assert read_outbox(outbox) == []


def test_the_command_lapses_and_mails(app, db, outbox, documents):
    request, _ = stalled_request(db, S.AWAITING_REQUESTER)
    later = (T + timedelta(days=20)).isoformat()
    answer = app.test_cli_runner().invoke(
        args=["requests", "lapse", "--now", later, "--base-url", BASE_URL, "--batch-size", "1"]
    )
    assert answer.exit_code == 0, answer.output
    assert f"{request.reference} (access): no clarification since 2031-03-02" in answer.output
    db.refresh(request)
    assert request.state == S.LAPSED
    body = mails_to(outbox, request)[0].get_body(("plain",)).get_content()
    assert f"{BASE_URL}/rights/requests/new/access?lang=en" in body


def test_the_command_needs_the_public_address_and_changes_nothing_without_it(
    app, db, outbox, documents, monkeypatch
):
    monkeypatch.delenv("PC_BASE_URL", raising=False)
    request, _ = stalled_request(db, S.AWAITING_REQUESTER)
    before = snapshot(db)
    answer = app.test_cli_runner().invoke(
        args=["requests", "lapse", "--now", (T + timedelta(days=20)).isoformat()]
    )
    assert answer.exit_code == 2
    assert "give --base-url" in answer.output and "Nothing was done." in answer.output
    assert snapshot(db) == before
    bad = app.test_cli_runner().invoke(args=["requests", "lapse", "--dry-run", "--now", "soon"])
    assert bad.exit_code == 2 and "is not an ISO date and time" in bad.output
    db.refresh(request)
    assert request.state == S.AWAITING_REQUESTER


def test_running_twice_mails_once(app, db, outbox, documents):
    request, _ = stalled_request(db, S.AWAITING_IDENTITY)
    later = T + timedelta(days=31)
    lapse(app, db, later)
    second = lapse(app, db, later + timedelta(hours=1))
    assert request.reference not in [item.request.reference for item in second.lapsed]
    assert request.reference not in second.mailed
    assert len(mails_to(outbox, request)) == 1
    assert len(events(db, request, lapsing.ACTION_LAPSED)) == 1
    assert len(events(db, request, lapsing.ACTION_NOTICE)) == 1


def test_a_run_during_another_changes_nothing(app, db, outbox, documents):
    request, _ = stalled_request(db, S.AWAITING_IDENTITY)
    later = T + timedelta(days=31)
    before = snapshot(db)
    with exclusive(db, key=RUN_LOCK_KEY, purpose="lapse"):  # the first run, still going
        with pytest.raises(LapseBusy):
            lapse(app, db, later)
        answer = app.test_cli_runner().invoke(
            args=["requests", "lapse", "--now", later.isoformat(), "--base-url", BASE_URL]
        )
        assert answer.exit_code == 1
        assert "Another lapse run is under way: nothing was done" in answer.output
    assert snapshot(db) == before
    assert read_outbox(outbox) == []
    # Once it has finished, the next run takes the lock.
    assert request.reference in [item.request.reference for item in lapse(app, db, later).lapsed]


def test_a_mail_that_failed_is_sent_by_the_next_run(app, db, outbox, documents, monkeypatch):
    request, _ = stalled_request(db, S.AWAITING_REQUESTER)
    later = T + timedelta(days=20)
    # A mail server that refuses connections: the lapse stands, the notice waits.
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", 9)
    first = lapse(app, db, later)
    assert request.reference in first.not_mailed
    db.refresh(request)
    assert request.state == S.LAPSED
    assert events(db, request, lapsing.ACTION_NOTICE) == []

    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    second = lapse(app, db, later + timedelta(days=1))
    assert request.reference in second.mailed
    assert request.reference not in [item.request.reference for item in second.lapsed]
    assert len(mails_to(outbox, request)) == 1
    third = lapse(app, db, later + timedelta(days=2))
    assert request.reference not in third.mailed
    assert len(mails_to(outbox, request)) == 1


# --- the clock while waiting --------------------------------------------------------------------


def test_the_clock_keeps_running_while_a_clarification_is_awaited(app, db, client, documents):
    request, token = stalled_request(db, S.AWAITING_REQUESTER)
    started = request.clock_started_on
    assert started == date(2031, 2, 28)
    one_month = reply_due(started)
    # The due date is that of a request whose clock never stopped, whatever the day.
    assert request.due_on == one_month
    for later in (date(2031, 3, 5), date(2031, 3, 12)):
        assert due_date_on(request, later) == one_month
        assert suspended_since(request) is None
    row = next(row for row in list_queue(db, today=date(2031, 3, 12)) if row.request == request)
    assert not row.suspended and row.due_on == one_month

    html = client.get(f"/rights/requests/{request.reference}/{token}?lang=en").get_data(
        as_text=True
    )
    assert 'id="clock-suspended"' not in html
    due = f"{one_month:%B} {one_month.day}, {one_month.year}"
    assert (
        "The time limit keeps running while we wait for your answer: we must still answer by "
        f"{due}." in html
    )


def test_the_clock_is_suspended_while_a_proof_of_identity_is_awaited(app, db, documents):
    request, _ = stalled_request(db, S.AWAITING_IDENTITY)
    started = request.clock_started_on
    assert suspended_since(request) == date(2031, 3, 2)
    assert due_date_on(request, date(2031, 3, 12)) == reply_due(started, suspended_days=10)


# --- item 8: the status page offers an identity upload only when one is needed -----------------


@pytest.fixture
def identity_on_doubt(app, monkeypatch):
    content = app.extensions[EXTENSION_KEY]
    operator = dataclasses.replace(content.operator, identity_document="on_doubt")
    monkeypatch.setitem(
        app.extensions, EXTENSION_KEY, dataclasses.replace(content, operator=operator)
    )


def test_the_status_page_offers_an_identity_upload_only_when_needed(
    app, db, client, documents, identity_on_doubt
):
    in_progress, token = stalled_request(db, S.AWAITING_REQUESTER)
    transition(
        db, in_progress, S.IN_PROGRESS, actor="staff:1", reason="answered", today=date(2031, 3, 3)
    )
    db.flush()
    page = f"/rights/requests/{in_progress.reference}/{token}"
    html = client.get(page + "?lang=en").get_data(as_text=True)
    assert not can_add_document(in_progress)
    assert 'id="add-document"' not in html and "Add a proof of identity" not in html
    # Posting one anyway stores nothing.
    answer = client.post(
        page + "/document",
        data={"document": (io.BytesIO(b"%PDF-1.4 x"), "id.pdf")},
        content_type="multipart/form-data",
    )
    assert answer.status_code in (302, 400)
    assert not documents.exists() or list(documents.iterdir()) == []
    db.refresh(in_progress)
    assert in_progress.documents == []

    awaiting, token = stalled_request(db, S.AWAITING_IDENTITY)
    html = client.get(f"/rights/requests/{awaiting.reference}/{token}?lang=en").get_data(
        as_text=True
    )
    assert 'id="add-document"' in html

    # The operator's rule requires one and none was received yet.
    required, token = stalled_request(db, S.AWAITING_REQUESTER)
    required.identity_required = True
    db.flush()
    assert can_add_document(required)
    store(app, db, required)
    assert not can_add_document(required)


def test_the_staff_pages_say_the_clock_keeps_running(app, db, client, documents, make_staff):
    from conftest import staff_sign_in

    request, _ = stalled_request(db, S.AWAITING_REQUESTER)
    suspended, _ = stalled_request(db, S.AWAITING_IDENTITY)
    staff_sign_in(client, make_staff("agent"))
    page = client.get(f"/staff/requests/{request.reference}").get_data(as_text=True)
    state = re.search(r'<dd id="request-state">(.*?)</dd>', page, re.S)[1]
    assert "the clock keeps running" in state and "clock suspended" not in state
    page = client.get(f"/staff/requests/{suspended.reference}").get_data(as_text=True)
    state = re.search(r'<dd id="request-state">(.*?)</dd>', page, re.S)[1]
    assert "clock suspended" in state

    queue = client.get(f"/staff/?q={request.reference}").get_data(as_text=True)
    assert request.reference in queue and "the clock keeps running" in queue
    assert "clock suspended" not in queue


@pytest.mark.parametrize(
    ("kind", "fields", "promises"),
    [
        (
            "clarification_request",
            {"questions": "Which account?"},
            [
                "The time limit for our answer keeps running while we wait for your answer",
                "If we receive no answer within 14 days, your request will lapse",
            ],
        ),
        (
            "identity_request",
            {"reason": "The name differs."},
            [
                "The time limit for our answer is suspended from today until we receive it",
                "If we receive no proof of identity within 30 days, your request will lapse",
            ],
        ),
    ],
)
def test_the_letters_say_how_the_clock_runs_and_when_the_request_lapses(
    app, db, documents, kind, fields, promises
):
    request, _ = stalled_request(db, S.AWAITING_REQUESTER)
    _, _, html = render_letter_html(request, kind, fields, today=date(2031, 3, 2))
    assert "suspended" not in html or kind == "identity_request"
    for promise in promises:
        assert promise in html


def test_a_post_mortem_request_is_filed_again_on_its_own_form(app, db, outbox, documents):
    request, _ = stalled_request(db, S.AWAITING_IDENTITY, kind="postmortem_estate")
    later = (T + timedelta(days=31)).isoformat()
    answer = app.test_cli_runner().invoke(
        args=["requests", "lapse", "--now", later, "--base-url", BASE_URL]
    )
    assert answer.exit_code == 0, answer.output
    body = mails_to(outbox, request)[0].get_body(("plain",)).get_content()
    assert f"{BASE_URL}/rights/post-mortem/request?lang=en" in body


def test_staff_see_the_lapse_and_the_notice_in_the_timeline(
    app, db, client, outbox, documents, make_staff
):
    from conftest import staff_sign_in

    request, _ = stalled_request(db, S.AWAITING_IDENTITY)
    lapse(app, db, T + timedelta(days=31))
    staff_sign_in(client, make_staff("agent"))
    page = client.get(f"/staff/requests/{request.reference}").get_data(as_text=True)
    assert "Request lapsed, documents left destroyed" in page
    assert "Requester told of the lapse" in page
    assert "lapsed: no proof of identity received within 30 days of asking" in page
