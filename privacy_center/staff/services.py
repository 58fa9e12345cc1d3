"""The staff console's work on requests: the queue, a request's timeline and every action.

Plain functions with explicit arguments; they never look at the HTTP request or the session.
Each action checks what the law needs (reasons for a refusal or an extension, the reason for
doubting an identity, the questions of a clarification), goes through
``rights.services.transition`` for any change of state, is recorded in the audit log, and
commits. An action that writes to the requester commits its change together with its letter,
stored and audited, and the letter's mail queued (letters/outbox.py): one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from .. import audit
from ..config import document_key
from ..connectors import Connector, ConnectorError, Subject
from ..connectors.erasure import erase_subject
from ..content import get_content
from ..exports.services import FeeNotAcknowledged, queue_export, start_export
from ..letters.outbox import commit_with_letter
from ..models import IdentityDocument, PrivacyRequest, RequestNote, StaffMember
from ..models.types import utcnow
from ..operator import Operator
from ..postmortem import delivery as postmortem_delivery
from ..postmortem import handling as postmortem
from ..recipients import delivery as recipient_delivery
from ..rights.clock import due_date_on
from ..rights.documents import ask_for_identity
from ..rights.kinds import get_kind
from ..rights.references import normalise_reference
from ..rights.transitions import transition
from ..uploads import delete_document, read_document
from ..workflow import CLOCK_SUSPENDED, FINAL_STATES, STATE_LABELS, RequestState, allowed_targets

log = logging.getLogger(__name__)

S = RequestState

# A request due within this many days is highlighted in the queue ("due this week").
DUE_SOON_DAYS = 7
MAX_TEXT_LENGTH = 5000

# What staff may record about an identity document once it is checked (the file is deleted).
IDENTITY_DOCUMENT_TYPES: dict[str, LazyString] = {
    "identity_card": _l("National identity card"),
    "passport": _l("Passport"),
    "residence_permit": _l("Residence permit"),
    "driving_licence": _l("Driving licence"),
    "other": _l("Other official document"),
}
IDENTITY_CONFIRMED = "confirmed"
IDENTITY_NOT_PROVEN = "not_proven"
IDENTITY_OUTCOME_LABELS = {
    IDENTITY_CONFIRMED: _l("identity confirmed"),
    IDENTITY_NOT_PROVEN: _l("identity not proven"),
}

# Kinds whose completion sends the subject a copy of their data.
EXPORT_KINDS = frozenset({"access", "portability"})

# What runs last before an action and its letter are committed (see _answer).
BeforeCommit = Callable[[], object] | None


class ActionRefused(ValueError):
    """The action cannot be done now, or a required field is missing; ``field`` names the
    form field to blame, when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class DocumentUnavailable(LookupError):
    """The identity document does not belong to the request, or was already deleted."""


# --- small helpers ------------------------------------------------------------------------------


def _operator() -> Operator:
    return get_content().operator


def _required_text(value: str | None, field: str, message: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ActionRefused(message, field)
    if len(text) > MAX_TEXT_LENGTH:
        raise ActionRefused(f"at most {MAX_TEXT_LENGTH} characters", field)
    return text


def _ensure_open(request: PrivacyRequest) -> None:
    if request.state in FINAL_STATES:
        raise ActionRefused(f"{request.reference} is closed ({request.state})")


def current_due(request: PrivacyRequest, today: date) -> date | None:
    """The due date as of ``today``: a running suspension pushes the stored one back daily."""
    if request.clock_started_on is None:
        return None
    if request.state in CLOCK_SUSPENDED:
        return due_date_on(request, today)
    return request.due_on


def find_request(session: Session, reference: str) -> PrivacyRequest | None:
    normalised = normalise_reference(reference) if len(reference) <= 40 else ""
    if not normalised:
        return None
    return session.scalar(select(PrivacyRequest).where(PrivacyRequest.reference == normalised))


def staff_members(session: Session) -> list[StaffMember]:
    """Active staff members, by name (to assign requests)."""
    return list(
        session.scalars(
            select(StaffMember)
            .where(StaffMember.deactivated_at.is_(None))
            .order_by(StaffMember.name, StaffMember.id)
        )
    )


# --- the queue ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    request: PrivacyRequest
    # Translated when shown (lazy: a service has no locale).
    kind_label: LazyString | str
    state_label: LazyString
    assignee: str | None
    due_on: date | None
    # None while the clock has not started.
    days_left: int | None
    suspended: bool
    overdue: bool
    due_soon: bool


UNASSIGNED = "none"


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_queue(
    session: Session,
    *,
    today: date,
    state: str | None = None,
    kind: str | None = None,
    assignee: int | str | None = None,
    search: str = "",
) -> list[QueueRow]:
    """Every open request, the most urgent first (due date; then those whose clock has not
    started, oldest first).

    Filters: ``state`` and ``kind`` (their keys), ``assignee`` (a staff id, or ``"none"`` for
    unassigned requests), ``search`` (a reference in any spelling, or part of an email address).
    """
    query = (
        select(PrivacyRequest)
        .where(PrivacyRequest.state.not_in([str(s) for s in FINAL_STATES]))
        .options(selectinload(PrivacyRequest.assigned_to), selectinload(PrivacyRequest.transitions))
    )
    if state:
        query = query.where(PrivacyRequest.state == state)
    if kind:
        query = query.where(PrivacyRequest.kind == kind)
    if assignee == UNASSIGNED:
        query = query.where(PrivacyRequest.assigned_to_id.is_(None))
    elif assignee not in (None, ""):
        query = query.where(PrivacyRequest.assigned_to_id == int(assignee))
    search = (search or "").strip()[:254]
    if search:
        reference = normalise_reference(search) if len(search) <= 40 else ""
        conditions = [func.lower(PrivacyRequest.email).like(_like_pattern(search.lower()), "\\")]
        if reference:
            conditions.append(PrivacyRequest.reference == reference)
        query = query.where(or_(*conditions))
    rows = []
    for request in session.scalars(query):
        due = current_due(request, today)
        days_left = (due - today).days if due is not None else None
        suspended = request.state in CLOCK_SUSPENDED
        kind_entry = get_kind(request.kind)
        rows.append(
            QueueRow(
                request=request,
                kind_label=kind_entry.label if kind_entry else request.kind,
                state_label=STATE_LABELS[RequestState(request.state)],
                assignee=request.assigned_to.name if request.assigned_to else None,
                due_on=due,
                days_left=days_left,
                suspended=suspended,
                overdue=days_left is not None and days_left < 0 and not suspended,
                due_soon=days_left is not None and 0 <= days_left <= DUE_SOON_DAYS,
            )
        )
    rows.sort(
        key=lambda row: (
            row.due_on is None,
            row.due_on or date.max,
            row.request.received_at,
            row.request.id,
        )
    )
    return rows


# --- the request page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    actor: str
    action: str
    details: Mapping[str, Any] = field(default_factory=dict)


def actor_name(actor: str, names: Mapping[int, str]) -> str:
    """ "staff:3" -> the member's name; other actors ("requester", "system") as they are."""
    prefix, _, number = actor.partition(":")
    if prefix == "staff" and number.isdigit():
        return names.get(int(number), actor)
    return actor


def timeline(session: Session, request: PrivacyRequest) -> list[TimelineEntry]:
    """The request's history: every transition and every audited event, oldest first.

    Transitions are taken from their own table (the first ones predate the audit log); the
    audit log's copies of them are not repeated.
    """
    names = {row.id: row.name for row in session.execute(select(StaffMember.id, StaffMember.name))}
    entries = [
        TimelineEntry(
            at=record.at,
            actor=actor_name(record.actor, names),
            action="request.transition",
            details={"from": record.from_state, "to": record.to_state, "reason": record.reason},
        )
        for record in request.transitions
    ]
    entries.extend(
        TimelineEntry(
            at=event.at,
            actor=actor_name(event.actor, names),
            action=event.action,
            details=event.details,
        )
        for event in audit.events_of_request(session, request.id)
        if event.action != "request.transition"
    )
    entries.sort(key=lambda entry: entry.at)
    return entries


def notes_of(session: Session, request: PrivacyRequest) -> list[RequestNote]:
    return list(
        session.scalars(
            select(RequestNote)
            .where(RequestNote.request_id == request.id)
            .order_by(RequestNote.at, RequestNote.id)
        )
    )


def live_documents(request: PrivacyRequest) -> list[IdentityDocument]:
    return [document for document in request.documents if document.deleted_at is None]


# --- identity documents -------------------------------------------------------------------------


def _document_settings(settings: Mapping[str, Any]) -> tuple[Path, bytes]:
    directory = settings.get("IDENTITY_DOCUMENT_DIR")
    if not directory:
        raise RuntimeError("IDENTITY_DOCUMENT_DIR must be set to read identity documents")
    return Path(directory), document_key(settings)


def view_identity_document(
    session: Session,
    request: PrivacyRequest,
    document_id: int,
    *,
    staff: StaffMember,
    settings: Mapping[str, Any],
) -> tuple[bytes, str]:
    """The decrypted document and its MIME type; the view is audited (and committed) first, so
    that no one sees a document without it being recorded."""
    document = session.get(IdentityDocument, document_id)
    if document is None or document.request_id != request.id or document.deleted_at is not None:
        raise DocumentUnavailable(f"no identity document {document_id} to show on this request")
    directory, key = _document_settings(settings)
    audit.record(
        session,
        actor=staff.get_id(),
        action="identity_document.viewed",
        request_id=request.id,
        details={"document_id": document.id, "kind": document.kind},
    )
    session.commit()
    plain = read_document(
        document.stored_name,
        directory=directory,
        key=key,
        previous_keys=settings.get("IDENTITY_DOCUMENT_PREVIOUS_KEYS", ()),
    )
    return plain, document.mime_type


def _destroy_documents(
    session: Session, request: PrivacyRequest, settings: Mapping[str, Any], moment: datetime
) -> int:
    """Delete every stored file of the request and mark its records: identity is decided."""
    live = live_documents(request)
    if not live:
        return 0
    directory = _document_settings(settings)[0]
    for document in live:
        document.deleted_at = moment
    session.flush()
    # The files go before the commit: a failure afterwards leaves the request to decide again,
    # never a decided identity whose document is still on disk.
    for document in live:
        delete_document(document.stored_name, directory=directory)
    return len(live)


def confirm_identity(
    session: Session,
    request: PrivacyRequest,
    *,
    staff: StaffMember,
    document_type: str,
    today: date,
    settings: Mapping[str, Any],
) -> None:
    """Staff accept the proof of identity: who, when, the document type and the outcome are
    kept, every document is deleted, and a request awaiting it starts again."""
    _ensure_open(request)
    if request.clock_started_on is None:
        raise ActionRefused("the requester has not confirmed their email address yet")
    if document_type not in IDENTITY_DOCUMENT_TYPES:
        raise ActionRefused("choose the type of document checked", "document_type")
    if request.state == S.AWAITING_IDENTITY and not live_documents(request):
        raise ActionRefused("no identity document was received for this request")
    moment = utcnow()
    request.identity_outcome = IDENTITY_CONFIRMED
    request.identity_checked_at = moment
    request.identity_checked_by = staff.get_id()
    request.identity_document_type = document_type
    deleted = _destroy_documents(session, request, settings, moment)
    if request.state == S.AWAITING_IDENTITY:
        transition(
            session,
            request,
            S.IN_PROGRESS,
            actor=staff.get_id(),
            reason=f"identity confirmed ({document_type})",
            today=today,
            now=moment,
        )
    audit.record(
        session,
        actor=staff.get_id(),
        action="identity.confirmed",
        request_id=request.id,
        details={"document_type": document_type, "documents_deleted": deleted},
        at=moment,
    )
    session.commit()


# --- actions that wait for the requester ----------------------------------------------------


def _answer(
    session: Session,
    request: PrivacyRequest,
    staff: StaffMember,
    today: date,
    settings: Mapping[str, Any],
    kind: str,
    fields: dict[str, Any],
    before_commit: BeforeCommit = None,
) -> None:
    """Commit the action with its letter (stored, audited, its mail queued), or nothing."""
    commit_with_letter(
        session,
        request,
        kind,
        fields,
        actor=staff.get_id(),
        today=today,
        settings=settings,
        before_commit=before_commit,
    )


def ask_identity(
    session: Session,
    request: PrivacyRequest,
    *,
    staff: StaffMember,
    reason: str,
    today: date,
    settings: Mapping[str, Any],
) -> None:
    """Ask for a proof of identity, stating the reason for the doubt (art. 12(6) GDPR: the
    clock is suspended)."""
    _ensure_open(request)
    reason = _required_text(reason, "reason", "state the reason for doubting the identity")
    # Only once work started: before, the requester has not even confirmed their email.
    if request.state != S.IN_PROGRESS:
        raise ActionRefused(f"a proof of identity cannot be asked for now ({request.state})")
    ask_for_identity(session, request, reason=reason, actor=staff.get_id(), today=today)
    _answer(session, request, staff, today, settings, "identity_request", {"reason": reason})


def ask_clarification(
    session: Session,
    request: PrivacyRequest,
    *,
    staff: StaffMember,
    questions: str,
    today: date,
    settings: Mapping[str, Any],
) -> None:
    """Ask the requester to clarify their request (the clock keeps running: no rule suspends
    it, see workflow.CLOCK_SUSPENDED)."""
    _ensure_open(request)
    questions = _required_text(questions, "questions", "write the questions to ask")
    if S.AWAITING_REQUESTER not in _targets(request):
        raise ActionRefused(f"a clarification cannot be asked for now ({request.state})")
    transition(
        session,
        request,
        S.AWAITING_REQUESTER,
        actor=staff.get_id(),
        reason=f"clarification requested: {questions}",
        today=today,
    )
    fields = {"questions": questions}
    _answer(session, request, staff, today, settings, "clarification_request", fields)


def resume(
    session: Session, request: PrivacyRequest, *, staff: StaffMember, reason: str, today: date
) -> None:
    """The requester answered: work starts again (an extended request stays extended: its due
    date keeps the three months)."""
    reason = _required_text(reason, "reason", "say what the requester answered")
    if request.state != S.AWAITING_REQUESTER:
        raise ActionRefused(f"{request.reference} is not awaiting the requester")
    transition(session, request, S.IN_PROGRESS, actor=staff.get_id(), reason=reason, today=today)
    session.commit()


def _targets(request: PrivacyRequest) -> frozenset[RequestState]:
    return allowed_targets(request.state)


# --- extension, refusal, completion -------------------------------------------------------------


def extend(
    session: Session,
    request: PrivacyRequest,
    *,
    staff: StaffMember,
    reasons: str,
    today: date,
    settings: Mapping[str, Any],
) -> None:
    """Extend the time limit by two months, with reasons: the request is extended together with
    its notice (the new due date computed, never typed), in one transaction.

    Raises ``rights.services.ExtensionTooLate`` after the first due date (nothing changes).
    """
    _ensure_open(request)
    reasons = _required_text(reasons, "reasons", "give the reasons for the extension")
    if request.extended_on is not None:
        raise ActionRefused(f"{request.reference} was already extended on {request.extended_on}")
    if S.EXTENDED not in _targets(request):
        raise ActionRefused(f"{request.reference} cannot be extended now ({request.state})")
    # ExtensionTooLate is raised before anything changes.
    transition(session, request, S.EXTENDED, actor=staff.get_id(), reason=reasons, today=today)
    _answer(session, request, staff, today, settings, "extension_notice", {"reasons": reasons})


def refuse(
    session: Session,
    request: PrivacyRequest,
    *,
    staff: StaffMember,
    reasons: str,
    today: date,
    settings: Mapping[str, Any],
) -> None:
    """Refuse the request, with reasons (the letter names the right to complain to the
    supervisory authority and to a court). A refusal while awaiting identity decides it: not
    proven, and the documents are deleted."""
    _ensure_open(request)
    reasons = _required_text(reasons, "reasons", "give the reasons for the refusal")
    if S.REFUSED not in _targets(request):
        raise ActionRefused(f"{request.reference} cannot be refused now ({request.state})")
    moment = utcnow()
    if request.state == S.AWAITING_IDENTITY:
        request.identity_outcome = IDENTITY_NOT_PROVEN
        request.identity_checked_at = moment
        request.identity_checked_by = staff.get_id()
    transition(
        session, request, S.REFUSED, actor=staff.get_id(), reason=reasons, today=today, now=moment
    )

    def destroy() -> None:  # last, once the letter is written: the files cannot come back
        _destroy_documents(session, request, settings, moment)

    _answer(session, request, staff, today, settings, "refusal", {"reasons": reasons}, destroy)


@dataclass(frozen=True)
class Completion:
    state: RequestState
    # The completion letter's fields (letters/kinds.py), ready to send.
    letter_fields: dict[str, Any]
    # Erasure: one entry per category (connector, category, action, rows, reason).
    erasure: tuple[dict[str, Any], ...] = ()
    export_id: int | None = None


# The completion letter's field saying what was done, for the rights that are not a copy of
# the data or an erasure.
COMPLETION_FIELDS = {
    "rectification": "changes",
    "restriction": "restricted",
    "objection_processing": "outcome",
    "objection_profiling": "outcome",
    "objection_marketing": "outcome",
    # The free confirmation of what was done for a deceased person (law 78-17 art. 85).
    "postmortem_estate": "done",
    "postmortem_memories": "done",
    "postmortem_closure": "done",
    "postmortem_objection": "done",
    "postmortem_update": "done",
}


NO_SUBJECT = _l(
    "The connectors find a person's data by email address or account, and this request has "
    "neither: the erasure cannot be done here."
)


def _erase(request: PrivacyRequest, connectors: Sequence[Connector]) -> tuple[dict[str, Any], ...]:
    if not request.email and request.account_id is None:  # entered by staff (rights/intake.py)
        raise ActionRefused(NO_SUBJECT)
    subject = Subject(email=request.email or "", account_id=request.account_id)
    return erase_subject(subject, connectors, request.language)


def complete(
    session: Session,
    request: PrivacyRequest,
    *,
    staff: StaffMember,
    today: date,
    settings: Mapping[str, Any],
    connectors: Sequence[Connector],
    base_url: str,
    summary: str = "",
    fee_acknowledged: bool = False,
    operator: Operator | None = None,
    recipient_categories: Sequence[str] = (),
) -> Completion:
    """Answer the request and send the completion letter, committed together.

    Access and portability: an account holder's copy of their data is prepared (and its link
    mailed) through the exports; for anyone else ``summary`` (required) says how the copy was
    given. Erasure: every connector erases; whatever was kept (with its reason, e.g. invoices
    kept for 10 years) is listed in the letter and the audit log, and the request is then
    partially completed. Other rights: ``summary`` (required) says what was done.
    """
    _ensure_open(request)
    summary = (summary or "").strip()
    if len(summary) > MAX_TEXT_LENGTH:
        raise ActionRefused(f"at most {MAX_TEXT_LENGTH} characters", "summary")
    if S.COMPLETED not in _targets(request):
        raise ActionRefused(f"{request.reference} cannot be completed now ({request.state})")
    operator = operator or _operator()
    target = S.COMPLETED
    letter_fields: dict[str, Any] = {}
    erasure: tuple[dict[str, Any], ...] = ()
    export_id = None
    if request.kind in postmortem.RELEASE_KINDS:
        # Exactly what the recorded releases communicated, never retyped (postmortem/delivery).
        letter_fields = postmortem_delivery.completion_fields(session, request, summary)
        if not letter_fields:
            raise ActionRefused("say why no data were communicated", "summary")
    elif request.kind in COMPLETION_FIELDS or (
        request.kind in EXPORT_KINDS and request.account is None
    ):
        if not summary:
            raise ActionRefused("say what was done to answer the request", "summary")
        letter_fields[COMPLETION_FIELDS.get(request.kind, "note")] = summary
    elif summary:
        letter_fields["note"] = summary
    if request.kind in EXPORT_KINDS and request.account is not None:
        try:
            export = start_export(
                session,
                account=request.account,
                language=request.language,
                fee_acknowledged=fee_acknowledged,
                operator=operator,
                connectors=list(connectors),
            )
        except FeeNotAcknowledged:
            raise ActionRefused(
                "a copy was already given: the requester must accept the fee notice first",
                "fee_acknowledged",
            ) from None
        if export.state != "failed":
            queue_export(session, export.id, settings, base_url)
            session.refresh(export)
        if export.state == "failed":
            raise ActionRefused(f"the copy of the data could not be prepared: {export.error}")
        export_id = export.id
    elif request.kind == "erasure":
        try:
            erasure = _erase(request, connectors)
        except ConnectorError as error:
            session.rollback()
            raise ActionRefused(f"the erasure failed, nothing was closed: {error}") from None
        if any(item["action"] == "kept" and item["rows"] for item in erasure):
            target = S.PARTIALLY_COMPLETED
        letter_fields["outcomes"] = [
            {"category": item["label"], "action": item["action"], "reason": item["reason"]}
            for item in erasure
        ]
    if summary:
        reason = summary
    elif export_id is not None:
        reason = "copy of the data prepared"
    elif request.kind in postmortem.RELEASE_KINDS:
        reason = "data of the deceased communicated (law 78-17 art. 85)"
    else:
        reason = "erasure performed by the connectors"
    transition(session, request, target, actor=staff.get_id(), reason=reason, today=today)
    details: dict[str, Any] = {"state": str(target)}
    if export_id is not None:
        details["export_id"] = export_id
    if erasure:
        details["erasure"] = list(erasure)
    audit.record(
        session,
        actor=staff.get_id(),
        action="request.completed",
        request_id=request.id,
        details=details,
    )
    # Art. 19: each recipient holding the data concerned is told first, so that the letter
    # names who was told and who could not be reached yet; all is committed together.
    recipient_delivery.notify_with_completion(
        session,
        request,
        settings=settings,
        base_url=base_url,
        erasure=erasure,
        categories=recipient_categories,
    )
    _answer(session, request, staff, today, settings, "completion", letter_fields)
    return Completion(target, letter_fields, erasure=erasure, export_id=export_id)


# --- post-mortem requests (French law 78-17, art. 85; postmortem/handling.py) ---------------


def _ensure_postmortem_checked(request: PrivacyRequest, kinds: frozenset[str]) -> None:
    _ensure_open(request)
    if request.kind not in kinds:
        raise ActionRefused(_l("This action does not answer this type of request."))
    if S.COMPLETED not in _targets(request):
        raise ActionRefused(_l("This action is not possible in the request's current state."))
    # The death certificate, the proof of capacity and the requester's identity document are
    # checked (and deleted) with "confirm identity" before anyone acts on a deceased's data.
    if request.identity_outcome != IDENTITY_CONFIRMED:
        raise ActionRefused(
            _l(
                "Check the death certificate, the proof of capacity and the requester's "
                "identity first (Confirm identity)."
            )
        )


def release_postmortem_data(
    session: Session,
    request: PrivacyRequest,
    *,
    staff: StaffMember,
    categories: Sequence[str],
    estate_need: str = "",
    settings: Mapping[str, Any],
    base_url: str,
) -> postmortem_delivery.Communicated:
    """Communicate the data of ``categories`` to the heir or designated person (estate or
    memories request) as an encrypted single-use download, in one commit (postmortem/delivery.py;
    raises ``postmortem.handling.ReleaseBlocked``, nothing written, when the deceased's
    directives or the requester's standing forbid it and no estate-settlement need is given).
    The request stays open: the completion letter then lists what was communicated."""
    _ensure_postmortem_checked(request, postmortem.RELEASE_KINDS)
    if not categories:
        raise ActionRefused(_l("Choose the data to communicate."), "categories")
    if len(estate_need or "") > MAX_TEXT_LENGTH:
        raise ActionRefused(_l("At most %(num)d characters.", num=MAX_TEXT_LENGTH), "estate_need")
    try:
        communicated = postmortem_delivery.communicate(
            session,
            request,
            categories=categories,
            estate_need=estate_need,
            actor=staff.get_id(),
            settings=settings,
            base_url=base_url,
        )
    except postmortem_delivery.DeliveryFailed as error:
        session.rollback()
        raise ActionRefused(str(error)) from None
    session.commit()
    return communicated


def close_deceased_account(
    session: Session,
    request: PrivacyRequest,
    *,
    staff: StaffMember,
    today: date,
    settings: Mapping[str, Any],
) -> postmortem.ClosureReport:
    """Close the deceased's account (closure or objection request) and complete the request,
    with the free confirmation letter saying what was done, in the requester's language, in
    the same transaction."""
    _ensure_postmortem_checked(request, postmortem.CLOSURE_KINDS)
    account, _directive = postmortem.directives_for_request(session, request)
    if account is None:
        raise ActionRefused(
            _l("No account matches the deceased's identifier: there is no account to close.")
        )
    moment = utcnow()
    report = postmortem.close_account(
        session, account, request=request, actor=staff.get_id(), now=moment
    )
    transition(
        session,
        request,
        S.COMPLETED,
        actor=staff.get_id(),
        reason="account of the deceased closed (law 78-17 art. 85)",
        today=today,
        now=moment,
    )
    done = "\n".join(report.lines(request.language))
    audit.record(
        session,
        actor=staff.get_id(),
        action="request.completed",
        request_id=request.id,
        details={"state": str(S.COMPLETED), "account_closed": account.id},
        at=moment,
    )
    _answer(session, request, staff, today, settings, "completion", {"done": done})
    return report


# --- assignment and notes -----------------------------------------------------------------------


def assign(
    session: Session,
    request: PrivacyRequest,
    *,
    staff: StaffMember,
    assignee: StaffMember | None,
) -> None:
    """Give the request to ``assignee`` (None: nobody)."""
    if assignee is not None and assignee.deactivated_at is not None:
        raise ActionRefused(f"{assignee.name} is deactivated", "assignee")
    request.assigned_to = assignee
    session.flush()
    audit.record(
        session,
        actor=staff.get_id(),
        action="request.assigned",
        request_id=request.id,
        details={"assignee": assignee.get_id() if assignee else None},
    )
    session.commit()


def add_note(
    session: Session, request: PrivacyRequest, *, staff: StaffMember, text: str
) -> RequestNote:
    """An internal note (never shown to the requester); the audit log keeps that one was
    written, not its text."""
    text = _required_text(text, "text", "write the note")
    note = RequestNote(request_id=request.id, author_id=staff.id, at=utcnow(), text=text)
    session.add(note)
    session.flush()
    audit.record(
        session,
        actor=staff.get_id(),
        action="note.added",
        request_id=request.id,
        details={"note_id": note.id},
    )
    session.commit()
    return note
