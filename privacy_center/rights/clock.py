"""The legal clock of a request: its days in the operator's time zone, the days it was
suspended, and the reply's due date.

Legal days are local: an instant counts on the operator's calendar day. The clock runs from
``clock_started_on``; each stay in a ``CLOCK_SUSPENDED`` state (waiting for an identity
document or a clarification) pushes the due date back by its days, and an extension adds the
longer time limit (deadlines.py computes the dates, this module reads them off a request's
recorded transitions).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from ..content import get_content
from ..deadlines import reply_due, suspended_days_between
from ..models import PrivacyRequest
from ..operator import Operator
from ..workflow import CLOCK_SUSPENDED


def operator_day(moment: datetime, operator: Operator | None = None) -> date:
    """The calendar day of an instant in the operator's time zone (legal days are local)."""
    return moment.astimezone(ZoneInfo((operator or get_content().operator).timezone)).date()


def suspension_intervals(
    request: PrivacyRequest, operator: Operator | None = None
) -> list[tuple[date, date | None]]:
    """The days the clock was suspended, from the recorded transitions: each stay in a
    CLOCK_SUSPENDED state, from the day it began to the day it ended (None: still running)."""
    operator = operator or get_content().operator
    intervals: list[tuple[date, date | None]] = []
    start: date | None = None
    for record in sorted(request.transitions, key=lambda t: (t.at, t.id or 0)):
        day = operator_day(record.at, operator)
        if record.to_state in CLOCK_SUSPENDED:
            if start is None:
                start = day
        elif start is not None:
            intervals.append((start, day))
            start = None
    if start is not None:
        intervals.append((start, None))
    if request.clock_started_on is not None:
        # The clock cannot be suspended before it started.
        intervals = [
            (max(begin, request.clock_started_on), end)
            for begin, end in intervals
            if end is None or end > request.clock_started_on
        ]
    return intervals


def suspended_since(request: PrivacyRequest, operator: Operator | None = None) -> date | None:
    """The day the current suspension began, when the clock is suspended now."""
    if request.state not in CLOCK_SUSPENDED:
        return None
    intervals = suspension_intervals(request, operator)
    return intervals[-1][0] if intervals and intervals[-1][1] is None else None


def due_date_on(
    request: PrivacyRequest,
    today: date,
    operator: Operator | None = None,
    *,
    extended: bool = False,
) -> date:
    """The reply's due date as of ``today`` (a running suspension pushes it back each day);
    ``extended``: as it is, or would be, once the time limit is extended."""
    operator = operator or get_content().operator
    if request.clock_started_on is None:
        raise ValueError(f"the clock of {request.reference} has not started")
    return reply_due(
        request.clock_started_on,
        extended=extended or request.extended_on is not None,
        suspended_days=suspended_days_between(suspension_intervals(request, operator), today),
        country=operator.country,
    )
