"""Asking the requester to clarify their request, and starting again once they answered (the
clock keeps running meanwhile: no rule suspends it)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from ...models import PrivacyRequest, StaffMember
from ...rights.transitions import transition
from ...workflow import RequestState
from .rules import ActionRefused, answer, ensure_open, required_text, targets

S = RequestState


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
    ensure_open(request)
    questions = required_text(questions, "questions", "write the questions to ask")
    if S.AWAITING_REQUESTER not in targets(request):
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
    answer(session, request, staff, today, settings, "clarification_request", fields)


def resume(
    session: Session, request: PrivacyRequest, *, staff: StaffMember, reason: str, today: date
) -> None:
    """The requester answered: work starts again (an extended request stays extended: its due
    date keeps the three months)."""
    reason = required_text(reason, "reason", "say what the requester answered")
    if request.state != S.AWAITING_REQUESTER:
        raise ActionRefused(f"{request.reference} is not awaiting the requester")
    transition(session, request, S.IN_PROGRESS, actor=staff.get_id(), reason=reason, today=today)
    session.commit()
