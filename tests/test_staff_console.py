"""The staff console's work: the queue, a request's timeline, each action and what the law
needs of it, the dashboard, the request register and the deadline reminders."""

from __future__ import annotations

import csv
import io
import re
import secrets
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from conftest import staff_sign_in
from flask_babel import force_locale
from sqlalchemy import func, select

from privacy_center.audit import events_of_request
from privacy_center.config import document_key
from privacy_center.connectors import get_connectors
from privacy_center.content import get_content
from privacy_center.deadlines import reply_due
from privacy_center.mail import read_outbox
from privacy_center.models import (
    Account,
    BrowsingEvent,
    DataExport,
    IdentityDocument,
    PrivacyRequest,
    ReminderSent,
    RequestTransition,
    StaffMember,
)
from privacy_center.rights.references import REFERENCE_ALPHABET, new_status_token
from privacy_center.rights.transitions import ExtensionTooLate
from privacy_center.staff import dashboard, queue, reminders
from privacy_center.staff import timeline as staff_timeline
from privacy_center.staff.actions import (
    assignment,
    clarification,
    completion,
    extension,
    identity,
    refusal,
)
from privacy_center.staff.actions.identity import DocumentUnavailable
from privacy_center.staff.actions.rules import ActionRefused
from privacy_center.uploads.storage import store_document
from privacy_center.workflow import RequestState
from tests.subject_data import fill_account

S = RequestState
TODAY = date(2026, 3, 16)  # a Monday


def moment(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


@pytest.fixture
def make_member(db):
    def factory(role: str = "agent", name: str | None = None) -> StaffMember:
        member = StaffMember(
            email=f"staff-{secrets.token_hex(4)}@operator.example",
            name=name or f"Agent {secrets.token_hex(2)}",
            role=role,
            password_hash="not used here",
        )
        db.add(member)
        db.flush()
        return member

    return factory


@pytest.fixture
def agent(make_member) -> StaffMember:
    return make_member("agent", "Alice Agent")


@pytest.fixture
def make_request(db):
    """A request as the rights pages leave it, with its transitions, at a chosen date."""

    def factory(
        *,
        kind: str = "access",
        state: RequestState = S.IN_PROGRESS,
        started: date | None = TODAY - timedelta(days=3),
        email: str | None = None,
        language: str = "en",
        account: Account | None = None,
        assigned_to: StaffMember | None = None,
    ) -> PrivacyRequest:
        code = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
        received = moment(started or TODAY - timedelta(days=3))
        request = PrivacyRequest(
            reference=f"PC-{code[:4]}-{code[4:]}",
            kind=kind,
            state=state,
            language=language,
            email=email
            or (account.email if account else f"req-{secrets.token_hex(4)}@example.org"),
            account_id=account.id if account else None,
            requester_name="Camille Martin",
            details="",
            specifics={},
            received_at=received,
            clock_started_on=started,
            due_on=reply_due(started) if started else None,
            status_token_hash=new_status_token()[1],
            assigned_to=assigned_to,
            updated_at=received,
        )
        request.transitions.append(
            RequestTransition(
                from_state=None, to_state=S.RECEIVED, at=received, actor="requester", reason="filed"
            )
        )
        if state != S.RECEIVED:
            request.transitions.append(
                RequestTransition(
                    from_state=S.RECEIVED, to_state=state, at=received, actor="system", reason="x"
                )
            )
        db.add(request)
        db.flush()
        return request

    return factory


@pytest.fixture
def documents(app, tmp_path, monkeypatch) -> Path:
    directory = tmp_path / "documents"
    monkeypatch.setitem(app.config, "IDENTITY_DOCUMENT_DIR", str(directory))
    return directory


def add_document(app, db, request: PrivacyRequest, data: bytes = b"%PDF-1.7 passport") -> None:
    name = store_document(
        data,
        directory=Path(app.config["IDENTITY_DOCUMENT_DIR"]),
        key=document_key(app.config),
    )
    request.documents.append(
        IdentityDocument(
            kind="identity", stored_name=name, mime_type="application/pdf", size_bytes=len(data)
        )
    )
    db.flush()


def letters_of(db, request: PrivacyRequest) -> list[tuple[str, dict]]:
    """The letters the request's actions sent: (kind, fields), oldest first."""
    db.expire(request, ["letters"])
    return [(letter.kind, letter.fields) for letter in request.letters]


def actions(db, request: PrivacyRequest) -> list[str]:
    return [event.action for event in events_of_request(db, request.id)]


# --- the queue ----------------------------------------------------------------------------------


def test_the_queue_lists_open_requests_most_urgent_first(db, make_request, agent, make_member):
    late = make_request(started=TODAY - timedelta(days=40), assigned_to=agent)
    soon = make_request(kind="erasure", started=TODAY - timedelta(days=27), language="fr")
    later = make_request(started=TODAY - timedelta(days=2))
    unconfirmed = make_request(state=S.AWAITING_CONFIRMATION, started=None)
    closed = make_request(state=S.COMPLETED)

    rows = queue.list_queue(db, today=TODAY)
    mine = [row for row in rows if row.request in (late, soon, later, unconfirmed, closed)]
    assert [row.request for row in mine] == [late, soon, later, unconfirmed]
    first, second, third, fourth = mine
    assert first.overdue and not first.due_soon and first.days_left < 0
    assert first.assignee == "Alice Agent"
    with force_locale("en"):
        assert str(first.state_label) == "In progress"
        assert str(second.kind_label) != str(first.kind_label)
    assert second.due_soon and not second.overdue and 0 <= second.days_left <= 7
    assert not third.due_soon and not third.overdue
    assert fourth.days_left is None and fourth.due_on is None


def test_the_queue_filters_and_searches(db, make_request, agent):
    email = f"Someone.{secrets.token_hex(3)}@Example.org".lower()
    mine = make_request(kind="erasure", email=email, assigned_to=agent)
    other = make_request(kind="access")

    def found(**filters) -> set[int]:
        return {row.request.id for row in queue.list_queue(db, today=TODAY, **filters)}

    assert mine.id in found(kind="erasure") and other.id not in found(kind="erasure")
    assert found(assignee=agent.id) == {mine.id}
    assert other.id in found(assignee="none") and mine.id not in found(assignee="none")
    assert found(state="in_progress") >= {mine.id, other.id}
    assert mine.id not in found(state="awaiting_identity")
    # A reference in any spelling, or part of the email address in any case.
    spelled = mine.reference.replace("-", "").lower()
    assert found(search=spelled) == {mine.id}
    assert found(search=email.split("@")[0].upper()) == {mine.id}
    # LIKE wildcards are searched for as they are.
    assert mine.id not in found(search="%") and mine.id not in found(search="_")


# --- the request page ---------------------------------------------------------------------------


def test_the_timeline_merges_transitions_and_audited_events(db, make_request, agent):
    request = make_request()
    assignment.assign(db, request, staff=agent, assignee=agent)
    assignment.add_note(db, request, staff=agent, text="Called the requester.")
    entries = staff_timeline.timeline(db, request)
    assert [entry.action for entry in entries] == [
        "request.transition",
        "request.transition",
        "request.assigned",
        "note.added",
    ]
    assert entries[-1].actor == "Alice Agent" and entries[0].actor == "requester"
    assert entries[0].details["to"] == "received"
    # The note's text is the console's, never the audit log's.
    assert "Called" not in str(entries[-1].details)
    assert [note.text for note in staff_timeline.notes_of(db, request)] == ["Called the requester."]
    assert request.assigned_to == agent


def test_viewing_an_identity_document_decrypts_it_and_is_audited(
    app, db, documents, make_request, agent
):
    request = make_request()
    add_document(app, db, request, b"%PDF-1.7 the passport")
    document = request.documents[0]
    data, mime = identity.view_identity_document(
        db, request, document.id, staff=agent, settings=app.config
    )
    assert data == b"%PDF-1.7 the passport" and mime == "application/pdf"
    assert actions(db, request) == ["identity_document.viewed"]
    event = events_of_request(db, request.id)[0]
    assert event.actor == agent.get_id() and event.details["document_id"] == document.id
    other = make_request()
    with pytest.raises(DocumentUnavailable):
        identity.view_identity_document(db, other, document.id, staff=agent, settings=app.config)


def test_confirming_identity_deletes_every_document_and_keeps_the_facts(
    app, db, documents, make_request, agent
):
    request = make_request(state=S.AWAITING_IDENTITY)
    add_document(app, db, request)
    add_document(app, db, request, b"%PDF-1.7 the back side")
    assert len(list(documents.iterdir())) == 2
    with pytest.raises(ActionRefused) as refused:
        identity.confirm_identity(
            db, request, staff=agent, document_type="", today=TODAY, settings=app.config
        )
    assert refused.value.field == "document_type"

    identity.confirm_identity(
        db, request, staff=agent, document_type="passport", today=TODAY, settings=app.config
    )
    assert request.state == S.IN_PROGRESS
    assert request.identity_outcome == "confirmed" and request.identity_document_type == "passport"
    assert request.identity_checked_by == agent.get_id() and request.identity_checked_at
    assert list(documents.iterdir()) == []
    assert all(document.deleted_at is not None for document in request.documents)
    assert actions(db, request)[-2:] == ["request.transition", "identity.confirmed"]
    with pytest.raises(DocumentUnavailable):
        identity.view_identity_document(
            db, request, request.documents[0].id, staff=agent, settings=app.config
        )


def test_asking_for_identity_needs_a_reason_and_suspends_the_clock(
    app, db, outbox, make_request, agent
):
    # The suspension runs from the real day of the transition.
    today = get_content().operator.today()
    request = make_request(started=today - timedelta(days=3))
    with pytest.raises(ActionRefused):
        identity.ask_identity(
            db, request, staff=agent, reason="  ", today=today, settings=app.config
        )
    assert request.state == S.IN_PROGRESS and letters_of(db, request) == []
    identity.ask_identity(
        db, request, staff=agent, reason="The email differs", today=today, settings=app.config
    )
    assert request.state == S.AWAITING_IDENTITY and request.identity_reason == "The email differs"
    assert letters_of(db, request) == [("identity_request", {"reason": "The email differs"})]
    # Ten days later the suspension has pushed the due date back by as many days.
    row = next(
        row
        for row in queue.list_queue(db, today=today + timedelta(days=10))
        if row.request == request
    )
    assert row.suspended and not row.overdue and row.due_on > request.due_on


def test_clarification_then_resume(app, db, outbox, make_request, agent):
    request = make_request()
    with pytest.raises(ActionRefused):
        clarification.ask_clarification(
            db, request, staff=agent, questions="", today=TODAY, settings=app.config
        )
    clarification.ask_clarification(
        db, request, staff=agent, questions="Which account?", today=TODAY, settings=app.config
    )
    assert request.state == S.AWAITING_REQUESTER
    assert letters_of(db, request) == [("clarification_request", {"questions": "Which account?"})]
    with pytest.raises(ActionRefused):
        clarification.resume(db, request, staff=agent, reason="", today=TODAY)
    clarification.resume(db, request, staff=agent, reason="They answered: the old one", today=TODAY)
    assert request.state == S.IN_PROGRESS
    with pytest.raises(ActionRefused):
        clarification.resume(db, request, staff=agent, reason="again", today=TODAY)


def test_an_extension_needs_reasons_and_is_refused_after_the_first_due_date(
    app, db, outbox, make_request, agent
):
    settings = app.config
    late = make_request(started=TODAY - timedelta(days=40))
    with pytest.raises(ExtensionTooLate):
        extension.extend(
            db, late, staff=agent, reasons="Many systems", today=TODAY, settings=settings
        )
    db.refresh(late)
    assert late.state == S.IN_PROGRESS and late.extended_on is None

    request = make_request(started=TODAY - timedelta(days=5))
    with pytest.raises(ActionRefused) as refused:
        extension.extend(db, request, staff=agent, reasons=" ", today=TODAY, settings=settings)
    assert refused.value.field == "reasons"
    extension.extend(
        db, request, staff=agent, reasons="Many systems", today=TODAY, settings=settings
    )
    assert request.state == S.EXTENDED and request.extended_on == TODAY
    assert request.due_on == reply_due(request.clock_started_on, extended=True)
    assert letters_of(db, request) == [("extension_notice", {"reasons": "Many systems"})]
    # Once only, even after a clarification.
    clarification.ask_clarification(
        db, request, staff=agent, questions="Which?", today=TODAY, settings=settings
    )
    clarification.resume(db, request, staff=agent, reason="Answered", today=TODAY)
    with pytest.raises(ActionRefused):
        extension.extend(db, request, staff=agent, reasons="Again", today=TODAY, settings=settings)


def test_refusal_needs_reasons_and_decides_a_pending_identity(
    app, db, documents, outbox, make_request, agent
):
    request = make_request(state=S.AWAITING_IDENTITY)
    add_document(app, db, request)
    with pytest.raises(ActionRefused):
        refusal.refuse(db, request, staff=agent, reasons="", today=TODAY, settings=app.config)
    assert len(list(documents.iterdir())) == 1
    refusal.refuse(
        db,
        request,
        staff=agent,
        reasons="The document does not match",
        today=TODAY,
        settings=app.config,
    )
    assert request.state == S.REFUSED and request.closed_at is not None
    assert request.identity_outcome == "not_proven" and list(documents.iterdir()) == []
    assert letters_of(db, request) == [("refusal", {"reasons": "The document does not match"})]
    with pytest.raises(ActionRefused):
        assignment.add_note(db, request, staff=agent, text="")


def test_completing_an_erasure_runs_the_connectors_and_lists_what_was_kept(
    app, db, outbox, make_account, make_request, agent
):
    holder = make_account()
    fill_account(db, holder)
    request = make_request(kind="erasure", account=holder, language="fr")
    done = completion.complete(
        db,
        request,
        staff=agent,
        today=TODAY,
        settings=app.config,
        connectors=get_connectors(),
        base_url="http://localhost/",
    )
    # Invoices are kept 10 years: the erasure is partial, and says why.
    assert done.state == S.PARTIALLY_COMPLETED == request.state
    invoices = next(item for item in done.erasure if item["category"] == "invoices")
    assert invoices["action"] == "kept" and "L. 123-22" in invoices["reason"]
    assert (
        db.scalar(
            select(func.count())
            .select_from(BrowsingEvent)
            .where(BrowsingEvent.account_id == holder.id)
        )
        == 0
    )
    ((kind, fields),) = letters_of(db, request)
    assert kind == "completion" and fields == done.letter_fields
    kept = next(item for item in fields["outcomes"] if item["action"] == "kept")
    assert kept["category"] == "Factures" and "L. 123-22" in kept["reason"]
    # The letter goes with the completion, its mail after the commit; the recipients'
    # notifications (art. 19) are recorded with them.
    events = events_of_request(db, request.id)
    actions = [e.action for e in events]
    event = next(e for e in events if e.action == "request.completed")
    assert event.details["erasure"] == list(done.erasure)
    assert actions.index("request.completed") < actions.index("letter.sent")
    assert actions.index("letter.sent") < actions.index("mail.delivered")
    assert event.actor == agent.get_id()


def test_completing_an_access_request_prepares_the_copy(
    app, db, outbox, make_account, make_request, agent
):
    holder = make_account(language="en")
    fill_account(db, holder)
    request = make_request(kind="access", account=holder)
    done = completion.complete(
        db,
        request,
        staff=agent,
        today=TODAY,
        settings=app.config,
        connectors=get_connectors(),
        base_url="http://localhost/",
    )
    export = db.get(DataExport, done.export_id)
    assert export.account_id == holder.id and export.state == "ready"
    assert request.state == S.COMPLETED
    assert letters_of(db, request) == [("completion", {})]
    completed = [e for e in events_of_request(db, request.id) if e.action == "request.completed"]
    assert completed[0].details["export_id"] == export.id
    # The download link's mail, then the completion letter's.
    assert [message["To"] for message in read_outbox(outbox)] == [holder.email] * 2


def test_completing_other_rights_says_what_was_done(app, db, outbox, make_request, agent):
    request = make_request(kind="rectification")
    with pytest.raises(ActionRefused) as refused:
        completion.complete(
            db,
            request,
            staff=agent,
            today=TODAY,
            settings=app.config,
            connectors=[],
            base_url="http://localhost/",
        )
    assert refused.value.field == "summary" and request.state == S.IN_PROGRESS
    completion.complete(
        db,
        request,
        staff=agent,
        today=TODAY,
        settings=app.config,
        connectors=[],
        base_url="http://localhost/",
        summary="Last name corrected",
    )
    assert request.state == S.COMPLETED
    assert letters_of(db, request) == [("completion", {"changes": "Last name corrected"})]
    with pytest.raises(ActionRefused):
        completion.complete(
            db,
            request,
            staff=agent,
            today=TODAY,
            settings=app.config,
            connectors=[],
            base_url="http://localhost/",
            summary="again",
        )


# --- the dashboard and the register -------------------------------------------------------------


def answered(db, make_request, *, started: date, days: int, state=S.COMPLETED) -> PrivacyRequest:
    request = make_request(started=started)
    closed = moment(started + timedelta(days=days))
    request.transitions.append(
        RequestTransition(
            from_state=S.IN_PROGRESS, to_state=state, at=closed, actor="staff:1", reason="done"
        )
    )
    request.state = state
    request.closed_at = closed
    db.flush()
    return request


def test_the_dashboard_counts_open_requests_and_answers_on_time(db, make_request):
    before = dashboard.build_dashboard(db, today=TODAY)
    make_request(started=TODAY - timedelta(days=40))  # overdue
    make_request(started=TODAY - timedelta(days=27))  # due this week
    make_request(state=S.AWAITING_IDENTITY)
    answered(db, make_request, started=date(2026, 1, 5), days=10)
    answered(db, make_request, started=date(2026, 1, 5), days=60)  # late
    answered(db, make_request, started=date(2026, 2, 2), days=20, state=S.REFUSED)
    answered(db, make_request, started=date(2024, 2, 2), days=20)  # outside the 12 months
    answered(db, make_request, started=date(2026, 2, 2), days=3, state=S.WITHDRAWN)  # no answer
    figures = dashboard.build_dashboard(db, today=TODAY)
    assert figures.open_total == before.open_total + 3
    assert figures.overdue == before.overdue + 1 and figures.due_soon == before.due_soon + 1
    assert (
        figures.open_by_state["awaiting_identity"]
        == before.open_by_state.get("awaiting_identity", 0) + 1
    )
    assert figures.answered == before.answered + 3
    months = {bar.month: bar for bar in figures.months}
    assert len(figures.months) == 12 and min(months) == date(2025, 4, 1)
    old = {bar.month: bar for bar in before.months}
    assert months[date(2026, 3, 1)].late == old[date(2026, 3, 1)].late + 1
    assert months[date(2026, 1, 1)].on_time == old[date(2026, 1, 1)].on_time + 1
    if before.answered == 0:
        assert figures.on_time_rate == pytest.approx(2 / 3) and figures.median_days == 20

    with force_locale("fr"):
        svg = str(dashboard.chart_svg(figures.months, language="fr"))
    assert svg.startswith("<svg") and 'role="img"' in svg and "<title" in svg
    assert "style=" not in svg and 'class="late"' in svg and 'fill="' in svg
    assert "janv." in svg


def test_the_register_is_a_streamed_utf8_csv(db, make_request):
    request = make_request(kind="erasure")
    closed = answered(db, make_request, started=date(2026, 1, 5), days=10)
    chunks = list(dashboard.register_rows(db))
    assert all(isinstance(chunk, bytes) for chunk in chunks) and len(chunks) > 2
    text = b"".join(chunks).decode("utf-8")
    assert text.startswith("\ufeffreference,kind,")
    rows = {row["reference"]: row for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))}
    assert rows[request.reference]["kind"] == "erasure"
    assert rows[request.reference]["outcome"] == "" and rows[request.reference]["due_on"]
    assert rows[closed.reference]["outcome"] == "completed"
    assert rows[closed.reference]["closed_at"].startswith("2026-01-15")


# --- reminders ----------------------------------------------------------------------------------


def test_reminder_steps():
    assert [reminders.step_for(days) for days in (12, 11, 10, 6, 5, 2, 1, 0, -1)] == [
        None,
        None,
        10,
        10,
        5,
        5,
        1,
        1,
        None,
    ]


def test_reminders_go_once_to_the_assigned_member(app, db, outbox, make_request, agent):
    request = make_request(started=TODAY - timedelta(days=3), assigned_to=agent)
    unassigned = make_request(started=TODAY - timedelta(days=3))
    db.commit()
    day = request.due_on - timedelta(days=10)

    def send(today: date) -> list[tuple[str, str, int]]:
        sent = reminders.send_reminders(db, today=today, settings=app.config)
        return [
            (r.reference, r.to, r.days_before)
            for r in sent
            if r.reference in (request.reference, unassigned.reference)
        ]

    assert send(day) == [(request.reference, agent.email, 10)]
    messages = [m for m in read_outbox(outbox) if m["To"] == agent.email]
    assert len(messages) == 1 and request.reference in messages[0]["Subject"]

    # Running again the same day, or the next, sends nothing more.
    assert send(day) == [] and send(day + timedelta(days=1)) == []
    # Five days before: the next step.
    assert send(request.due_on - timedelta(days=5)) == [(request.reference, agent.email, 5)]

    # The due date moved (an extension): its own reminders.
    request.due_on = request.due_on + timedelta(days=60)
    db.commit()
    assert send(request.due_on - timedelta(days=1)) == [(request.reference, agent.email, 1)]
    recorded = db.scalars(
        select(ReminderSent.days_before).where(ReminderSent.request_id == request.id)
    ).all()
    assert sorted(recorded) == [1, 5, 10]


# --- the pages ----------------------------------------------------------------------------------

TOKEN = re.compile(r'name="[a-z-]*csrf_token"(?: type="hidden")? value="([^"]+)"')


@pytest.fixture
def console(client, make_staff):
    """A client signed in as a member of the role asked for: ``console("dpo")``."""

    def sign_in_as(role: str = "agent"):
        member = make_staff(role=role)
        staff_sign_in(client, member)
        client.member = member
        return client

    return sign_in_as


def token_of(page) -> str:
    return TOKEN.search(page.get_data(as_text=True))[1]


def page_of(web, request: PrivacyRequest):
    answer = web.get(f"/staff/requests/{request.reference}")
    assert answer.status_code == 200
    return answer


def test_every_console_page_needs_a_signed_in_member(client, make_request):
    request = make_request()
    for path in (
        "/staff/",
        f"/staff/requests/{request.reference}",
        "/staff/dashboard",
        "/staff/register.csv",
    ):
        answer = client.get(path)
        assert answer.status_code == 302 and "/staff/sign-in" in answer.location
    answer = client.post(f"/staff/requests/{request.reference}/notes", data={})
    assert answer.status_code in (302, 400)


def test_the_queue_page_highlights_deadlines_and_filters(console, make_request):
    web = console("agent")
    late = make_request(started=TODAY - timedelta(days=400))
    soon = make_request(started=get_content().operator.today() - timedelta(days=27))
    html = web.get("/staff/").get_data(as_text=True)
    assert late.reference in html and soon.reference in html
    assert html.index(late.reference) < html.index(soon.reference)
    assert 'class="staff-overdue"' in html and 'class="staff-due-soon"' in html
    html = web.get(f"/staff/?q={late.reference.lower()}").get_data(as_text=True)
    assert late.reference in html and soon.reference not in html
    # The agent sees no dashboard link.
    assert "/staff/dashboard" not in html


def test_an_agent_cannot_refuse_extend_or_see_the_figures(console, make_request):
    web = console("agent")
    request = make_request()
    token = token_of(page_of(web, request))
    for action, field in (("refuse", "reasons"), ("extend", "reasons")):
        answer = web.post(
            f"/staff/requests/{request.reference}/{action}",
            data={f"{action}-csrf_token": token, f"{action}-{field}": "Because"},
        )
        assert answer.status_code == 403
    assert web.get("/staff/dashboard").status_code == 403
    assert web.get("/staff/register.csv").status_code == 403
    # Nor send a refusal or an extension notice from the letters.
    for kind in ("refusal", "extension_notice"):
        answer = web.post(
            f"/staff/requests/{request.reference}/letters/send",
            data={"letter-csrf_token": token, "kind": kind, f"letter-{kind}-reasons": "No"},
        )
        assert answer.status_code == 403
    assert request.state == S.IN_PROGRESS and request.letters == []


def test_the_request_page_shows_the_document_and_confirms_identity(
    app, db, console, make_request, documents
):
    web = console("agent")
    request = make_request(state=S.AWAITING_IDENTITY)
    add_document(app, db, request, b"%PDF-1.7 scan")
    document_id = request.documents[0].id
    html = page_of(web, request).get_data(as_text=True)
    link = f"/staff/requests/{request.reference}/documents/{document_id}"
    assert f'href="{link}"' in html and 'id="action-confirm"' in html

    # The link leads to images of the pages, never to the file itself: this one is not a
    # real PDF, so it cannot be rendered and only its download is offered.
    shown = web.get(link)
    assert shown.status_code == 200 and shown.mimetype == "text/html"
    assert b"%PDF" not in shown.data and 'id="document-not-rendered"' in shown.text
    assert shown.headers["Cache-Control"] == "no-store"
    original = web.get(f"{link}/original")
    assert original.status_code == 200 and original.data == b"%PDF-1.7 scan"
    assert original.headers["Content-Disposition"].startswith("attachment;")
    assert original.headers["X-Content-Type-Options"] == "nosniff"
    assert "identity_document.viewed" in actions(db, request)

    token = token_of(web.get(f"/staff/requests/{request.reference}"))
    answer = web.post(
        f"/staff/requests/{request.reference}/confirm-identity",
        data={"confirm-csrf_token": token, "confirm-document_type": ""},
    )
    assert answer.status_code == 422
    assert 'aria-describedby="confirm-document_type-error"' in answer.get_data(as_text=True)
    answer = web.post(
        f"/staff/requests/{request.reference}/confirm-identity",
        data={"confirm-csrf_token": token, "confirm-document_type": "passport"},
    )
    assert answer.status_code == 303
    db.refresh(request)
    assert request.state == S.IN_PROGRESS and request.identity_outcome == "confirmed"
    assert web.get(link).status_code == 404
    html = web.get(answer.location).get_data(as_text=True)
    assert "Identity confirmed; the documents were deleted." in html


def test_actions_send_their_letter_and_letters_are_previewed_then_sent(
    app, db, console, make_request, outbox
):
    web = console("dpo")
    request = make_request(language="fr", started=get_content().operator.today())
    token = token_of(page_of(web, request))
    path = f"/staff/requests/{request.reference}"

    answer = web.post(f"{path}/extend", data={"extend-csrf_token": token, "extend-reasons": " "})
    assert answer.status_code == 422
    assert 'aria-describedby="extend-reasons-hint extend-reasons-error"' in answer.get_data(
        as_text=True
    )
    answer = web.post(
        f"{path}/extend",
        data={"extend-csrf_token": token, "extend-reasons": "Nombreux systèmes à consulter"},
    )
    assert answer.status_code == 303
    db.refresh(request)
    assert request.state == S.EXTENDED
    assert [letter.kind for letter in request.letters] == ["extension_notice"]
    (message,) = read_outbox(outbox)
    assert message["To"] == request.email

    # The acknowledgement: preview (nothing stored), then send.
    data = {"letter-csrf_token": token, "kind": "acknowledgement"}
    preview = web.post(f"{path}/letters/preview", data=data)
    assert preview.status_code == 200 and preview.data.startswith(b"%PDF")
    db.expire_all()
    assert len(request.letters) == 1
    answer = web.post(f"{path}/letters/send", data=data)
    assert answer.status_code == 303
    db.expire_all()
    sent = request.letters[-1]
    assert sent.kind == "acknowledgement" and sent.sent_at is not None
    download = web.get(f"{path}/letters/{sent.id}.pdf")
    assert download.status_code == 200 and download.data == sent.pdf
    assert download.headers["Content-Disposition"].startswith("attachment")

    # A letter missing a required field says which.
    answer = web.post(f"{path}/letters/send", data={**data, "kind": "fee_notice"})
    assert answer.status_code == 422
    assert 'id="letter-fee_notice-reasons-error"' in answer.get_data(as_text=True)
    # A legal letter is previewed in the panel, never sent from it (its action sends it).
    refusal = {**data, "kind": "refusal", "letter-refusal-reasons": "No"}
    assert web.post(f"{path}/letters/preview", data=refusal).data.startswith(b"%PDF")
    answer = web.post(f"{path}/letters/send", data=refusal)
    assert answer.status_code == 409
    db.expire_all()
    assert [letter.kind for letter in request.letters] == ["extension_notice", "acknowledgement"]
    assert request.state == S.EXTENDED


def test_completing_an_erasure_from_the_page_sends_what_was_kept(
    app, db, console, make_account, make_request, outbox
):
    web = console("agent")
    holder = make_account(language="en")
    fill_account(db, holder)
    request = make_request(kind="erasure", account=holder)
    token = token_of(page_of(web, request))
    answer = web.post(
        f"/staff/requests/{request.reference}/complete",
        data={"complete-csrf_token": token, "complete-summary": ""},
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)
    db.expire_all()
    assert request.state == S.PARTIALLY_COMPLETED
    (letter,) = request.letters
    assert letter.kind == "completion"
    assert any(item["action"] == "kept" for item in letter.fields["outcomes"])
    html = web.get(answer.location).get_data(as_text=True)
    assert "could not be sent" not in html


def test_notes_and_assignment_from_the_page(db, console, make_request, make_staff):
    web = console("agent")
    colleague = make_staff(role="agent", name="Bob Colleague")
    request = make_request()
    token = token_of(page_of(web, request))
    path = f"/staff/requests/{request.reference}"
    answer = web.post(f"{path}/notes", data={"note-csrf_token": token, "note-text": ""})
    assert answer.status_code == 422
    web.post(f"{path}/notes", data={"note-csrf_token": token, "note-text": "Phoned them"})
    web.post(f"{path}/assign", data={"assign-csrf_token": token, "assign-assignee": colleague.id})
    db.expire_all()
    assert request.assigned_to == colleague
    html = page_of(web, request).get_data(as_text=True)
    assert "Phoned them" in html and "Bob Colleague" in html


def test_the_dashboard_and_the_register_for_the_dpo(db, console, make_request):
    web = console("dpo")
    request = make_request()
    html = web.get("/staff/dashboard").get_data(as_text=True)
    assert "<svg" in html and 'id="figure-overdue"' in html
    assert " style=" not in html.split("<svg", 1)[1].split("</svg>", 1)[0]
    answer = web.get("/staff/register.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"].startswith("attachment")
    text = answer.get_data().decode("utf-8")
    assert text.startswith("\ufeffreference,") and request.reference in text


def test_the_reminders_command_sends_once(app, db, outbox, make_request, agent):
    request = make_request(assigned_to=agent)
    request.due_on = get_content().operator.today() + timedelta(days=5)
    db.commit()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["reminders", "send"])
    assert first.exit_code == 0, first.output
    assert f"{request.reference}: reminded {agent.email} (5 days before" in first.output
    second = runner.invoke(args=["reminders", "send"])
    assert second.exit_code == 0 and request.reference not in second.output
    assert len([m for m in read_outbox(outbox) if m["To"] == agent.email]) == 1


def test_staff_ask_for_identity_only_once_work_started(app, db, make_request, agent):
    request = make_request(state=S.AWAITING_CONFIRMATION, started=None)
    with pytest.raises(ActionRefused):
        identity.ask_identity(
            db, request, staff=agent, reason="Doubt", today=TODAY, settings=app.config
        )
    assert request.state == S.AWAITING_CONFIRMATION
