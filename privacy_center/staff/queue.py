"""The queue of requests to answer: filters, search by reference or address, the most urgent
first; and the lookups every console page needs (a request by reference, the staff members)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel.speaklater import LazyString
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from ..models import PrivacyRequest, StaffMember
from ..rights.clock import due_date_on
from ..rights.kinds import get_kind
from ..rights.references import normalise_reference
from ..workflow import CLOCK_SUSPENDED, FINAL_STATES, STATE_LABELS, RequestState

# A request due within this many days is highlighted in the queue ("due this week").
DUE_SOON_DAYS = 7


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
    # Answered, refused, withdrawn or lapsed: no clock, shown after the open requests.
    closed: bool = False


UNASSIGNED = "none"
# The status filter for every closed request, whatever its final state.
ANY_CLOSED = "closed"


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
    """The open requests, the most urgent first (due date; then those whose clock has not
    started, oldest first).

    Filters: ``state`` and ``kind`` (their keys; ``state`` may be a final state, or ``"closed"``
    for every closed request), ``assignee`` (a staff id, or ``"none"`` for unassigned requests),
    ``search`` (a reference in any spelling, or part of an email address). A search looks at
    closed requests too, listed after the open ones.
    """
    search = (search or "").strip()[:254]
    final = [str(s) for s in FINAL_STATES]
    query = select(PrivacyRequest).options(
        selectinload(PrivacyRequest.assigned_to), selectinload(PrivacyRequest.transitions)
    )
    if state == ANY_CLOSED:
        query = query.where(PrivacyRequest.state.in_(final))
    elif state:
        query = query.where(PrivacyRequest.state == state)
    elif not search:
        query = query.where(PrivacyRequest.state.not_in(final))
    if kind:
        query = query.where(PrivacyRequest.kind == kind)
    if assignee == UNASSIGNED:
        query = query.where(PrivacyRequest.assigned_to_id.is_(None))
    elif assignee not in (None, ""):
        query = query.where(PrivacyRequest.assigned_to_id == int(assignee))
    if search:
        reference = normalise_reference(search) if len(search) <= 40 else ""
        conditions = [func.lower(PrivacyRequest.email).like(_like_pattern(search.lower()), "\\")]
        if reference:
            conditions.append(PrivacyRequest.reference == reference)
        query = query.where(or_(*conditions))
    rows = []
    for request in session.scalars(query):
        closed = request.state in FINAL_STATES
        due = None if closed else current_due(request, today)
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
                closed=closed,
            )
        )
    rows.sort(
        key=lambda row: (
            row.closed,
            row.due_on is None,
            row.due_on or date.max,
            row.request.received_at,
            row.request.id,
        )
    )
    return rows
