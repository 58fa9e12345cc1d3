"""Every change of a request's state: :func:`transition`.

It checks the move against the workflow (workflow.py), records who made it, when and why (a
``RequestTransition`` row and a ``request.transition`` audit row), refuses an extension decided
after the first due date, and recomputes the due date (clock.py). It only flushes, so that a
caller can group it with other changes and commit them together.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from .. import audit
from ..content import get_content
from ..deadlines import extension_notice_valid, suspended_days_between
from ..models import PrivacyRequest, RequestTransition
from ..models.types import utcnow
from ..workflow import FINAL_STATES, RequestState, check_transition
from .clock import due_date_on, suspension_intervals

S = RequestState

ACTOR_REQUESTER = "requester"
ACTOR_SYSTEM = "system"


class ExtensionTooLate(ValueError):
    """An extension notice sent after the first due date does not extend the time limit."""


def transition(
    session: Session,
    request: PrivacyRequest,
    target: RequestState | str,
    *,
    actor: str,
    reason: str,
    today: date,
    now: datetime | None = None,
) -> RequestTransition:
    """Move ``request`` to ``target``, recording who (``actor``: "requester", "system",
    "staff:<id>"), when and why, and recompute its due date.

    Raises ``workflow.ForbiddenTransition`` for a move the workflow does not allow, and
    :class:`ExtensionTooLate` for an extension decided after the first due date. Flushes; the
    caller commits.
    """
    target = RequestState(target)
    check_transition(request.state, target)
    if not reason.strip() or not actor.strip():
        raise ValueError("a transition needs an actor and a reason")
    operator = get_content().operator
    if target == S.EXTENDED:
        if request.clock_started_on is None:
            raise ExtensionTooLate(f"the clock of {request.reference} has not started")
        suspended = suspended_days_between(suspension_intervals(request, operator), today)
        if not extension_notice_valid(
            request.clock_started_on, today, suspended_days=suspended, country=operator.country
        ):
            raise ExtensionTooLate(
                f"{request.reference} was due on {due_date_on(request, today, operator)}: an "
                "extension must be notified on or before the first due date"
            )
        request.extended_on = today
        request.extension_reason = reason
    moment = now or utcnow()
    record = RequestTransition(
        request=request,
        from_state=request.state,
        to_state=target,
        at=moment,
        actor=actor,
        reason=reason,
    )
    session.add(record)
    request.state = target
    request.updated_at = moment
    if target in FINAL_STATES:
        request.closed_at = moment
    if request.clock_started_on is not None:
        request.due_on = due_date_on(request, today, operator)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="request.transition",
        request_id=request.id,
        details={"from": record.from_state, "to": target, "reason": reason},
        at=moment,
    )
    return record
