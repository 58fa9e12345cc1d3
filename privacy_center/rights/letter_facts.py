"""What a letter says of a request (its kind in words, dates, recipients told, the effect of an
objection), handed to the letters (letters/services.py) when the application is built."""

from __future__ import annotations

from datetime import date

from ..letters.services import RequestFacts
from ..models import PrivacyRequest
from ..recipients.services import letter_recipients
from .clock import due_date_on, operator_day
from .effects import effect_applied
from .kinds import get_kind


def letter_facts(request: PrivacyRequest, today: date, *, extended: bool = False) -> RequestFacts:
    """The request's facts as of ``today``; ``extended``: its due date once the time limit is
    extended (the extension notice), when it has one."""
    due_on = request.due_on if request.clock_started_on is None else due_date_on(request, today)
    if extended and due_on is not None:
        due_on = due_date_on(request, today, extended=True)
    kind = get_kind(request.kind)
    return RequestFacts(
        kind_label=kind.label if kind else request.kind,
        received_on=operator_day(request.received_at),
        due_on=due_on,
        recipients=letter_recipients(request),
        effect=None
        if kind is None or kind.effect is None
        else ("applied" if effect_applied(request) else "pending"),
    )
