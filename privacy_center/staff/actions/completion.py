"""Answering a request: the copy of the data, the erasure by the connectors, or what was done
for the other rights; the recipients are told (art. 19) and the completion letter sent, all
committed together."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ... import audit
from ...connectors import Connector, ConnectorError, Subject
from ...connectors.erasure import erase_subject
from ...exports.copies import FeeNotAcknowledged, start_export
from ...exports.serving import queue_export
from ...models import PrivacyRequest, StaffMember
from ...operator import Operator
from ...postmortem import delivery as postmortem_delivery
from ...postmortem import handling as postmortem
from ...recipients import delivery as recipient_delivery
from ...rights.transitions import transition
from ...workflow import RequestState
from .rules import MAX_TEXT_LENGTH, ActionRefused, answer, current_operator, ensure_open, targets

S = RequestState

# Kinds whose completion sends the subject a copy of their data.
EXPORT_KINDS = frozenset({"access", "portability"})


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
    ensure_open(request)
    summary = (summary or "").strip()
    if len(summary) > MAX_TEXT_LENGTH:
        raise ActionRefused(f"at most {MAX_TEXT_LENGTH} characters", "summary")
    if S.COMPLETED not in targets(request):
        raise ActionRefused(f"{request.reference} cannot be completed now ({request.state})")
    operator = operator or current_operator()
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
    answer(session, request, staff, today, settings, "completion", letter_fields)
    return Completion(target, letter_fields, erasure=erasure, export_id=export_id)
