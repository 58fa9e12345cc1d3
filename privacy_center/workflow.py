"""The life of a data subject request: its states and the moves allowed between them.

Every change of state goes through :func:`check_transition`, so that a request can never leave a
final state or skip a step the law needs (confirming the email, proving identity, telling the
requester of an extension before using it).
"""

from __future__ import annotations

from enum import StrEnum

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_babel.speaklater import LazyString


class RequestState(StrEnum):
    RECEIVED = "received"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    AWAITING_IDENTITY = "awaiting_identity"
    IN_PROGRESS = "in_progress"
    AWAITING_REQUESTER = "awaiting_requester"
    EXTENDED = "extended"
    COMPLETED = "completed"
    PARTIALLY_COMPLETED = "partially_completed"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    LAPSED = "lapsed"


_S = RequestState

TRANSITIONS: dict[RequestState, frozenset[RequestState]] = {
    # A new request: the requester must confirm their email, prove their identity, or it can be
    # worked at once (logged-in account holder asking for their own data).
    _S.RECEIVED: frozenset(
        {_S.AWAITING_CONFIRMATION, _S.AWAITING_IDENTITY, _S.IN_PROGRESS, _S.WITHDRAWN}
    ),
    # The email link was not followed in time: the request lapses.
    _S.AWAITING_CONFIRMATION: frozenset(
        {_S.AWAITING_IDENTITY, _S.IN_PROGRESS, _S.WITHDRAWN, _S.LAPSED}
    ),
    # Clock suspended (see CLOCK_SUSPENDED). Staff accept the document (in progress) or refuse it
    # (refused, with reasons); no document within lapse_after_days and the request lapses.
    _S.AWAITING_IDENTITY: frozenset({_S.IN_PROGRESS, _S.REFUSED, _S.WITHDRAWN, _S.LAPSED}),
    # Staff work the request. They may still doubt the identity (stating why), ask the requester
    # to clarify, extend the time limit, or close it.
    _S.IN_PROGRESS: frozenset(
        {
            _S.AWAITING_REQUESTER,
            _S.AWAITING_IDENTITY,
            _S.EXTENDED,
            _S.COMPLETED,
            _S.PARTIALLY_COMPLETED,
            _S.REFUSED,
            _S.WITHDRAWN,
        }
    ),
    # The clock keeps running while the requester is asked to clarify (see CLOCK_SUSPENDED); no
    # answer within lapse_after_days and the request lapses.
    _S.AWAITING_REQUESTER: frozenset({_S.IN_PROGRESS, _S.EXTENDED, _S.WITHDRAWN, _S.LAPSED}),
    # Extended to three months (notice sent within the first month); an extension is used once.
    _S.EXTENDED: frozenset(
        {_S.AWAITING_REQUESTER, _S.COMPLETED, _S.PARTIALLY_COMPLETED, _S.REFUSED, _S.WITHDRAWN}
    ),
    # Final states: the request is closed for good; a new demand is a new request.
    _S.COMPLETED: frozenset(),
    _S.PARTIALLY_COMPLETED: frozenset(),
    _S.REFUSED: frozenset(),
    _S.WITHDRAWN: frozenset(),
    _S.LAPSED: frozenset(),
}

FINAL_STATES: frozenset[RequestState] = frozenset(
    state for state, targets in TRANSITIONS.items() if not targets
)

# While in these states the legal time limit does not run (see deadlines.suspended_days_between).
# Each suspension needs a legal source:
# - AWAITING_IDENTITY: GDPR art. 12(6) lets a controller with reasonable doubts about the identity
#   of the person making a request under articles 15 to 21 "request the provision of additional
#   information necessary to confirm the identity of the data subject" (and recital 64). The
#   article itself says nothing of the time limit; that the limit is suspended while the
#   controller waits for that information (asked for without undue delay) is the reading of the
#   EDPB Guidelines 01/2022 on the right of access (version 2, section 5.3, "Timing for the
#   provision of access"), which supervisory authorities apply.
# - AWAITING_REQUESTER is NOT suspended: no provision of the GDPR stops the clock while the
#   controller waits for a clarification (recital 63 lets it ask an access requester to specify
#   the request, without touching the time limit). The clock keeps running, the pages say so, and
#   staff who need more time extend the request (art. 12(3)) within the first month.
CLOCK_SUSPENDED: frozenset[RequestState] = frozenset({_S.AWAITING_IDENTITY})
# Waiting for the requester, with the clock still running.
CLOCK_RUNNING_WHILE_WAITING: frozenset[RequestState] = frozenset({_S.AWAITING_REQUESTER})

STATE_LABELS: dict[RequestState, LazyString] = {
    _S.RECEIVED: _l("Received"),
    _S.AWAITING_CONFIRMATION: _l("Awaiting email confirmation"),
    _S.AWAITING_IDENTITY: _l("Awaiting proof of identity"),
    _S.IN_PROGRESS: _l("In progress"),
    _S.AWAITING_REQUESTER: _l("Awaiting clarification from the requester"),
    _S.EXTENDED: _l("Time limit extended"),
    _S.COMPLETED: _l("Completed"),
    _S.PARTIALLY_COMPLETED: _l("Partially completed"),
    # "Refused" alone is also a consent choice, which other languages inflect differently.
    _S.REFUSED: lazy_pgettext("request state", "Refused"),
    _S.WITHDRAWN: _l("Withdrawn"),
    _S.LAPSED: _l("Lapsed"),
}


class ForbiddenTransition(ValueError):
    """A request was asked to move to a state it cannot reach from its current one."""

    def __init__(self, current: RequestState, target: RequestState) -> None:
        self.current = current
        self.target = target
        allowed = sorted(TRANSITIONS[current])
        if allowed:
            hint = f"allowed from '{current}': {', '.join(allowed)}"
        else:
            hint = f"'{current}' is a final state"
        super().__init__(f"a request cannot go from '{current}' to '{target}' ({hint})")


def _state(value: RequestState | str) -> RequestState:
    try:
        return RequestState(value)
    except ValueError:
        known = ", ".join(state.value for state in RequestState)
        raise ValueError(f"unknown request state {value!r} (known: {known})") from None


def allowed_targets(state: RequestState | str) -> frozenset[RequestState]:
    """The states a request in ``state`` may move to (empty for a final state)."""
    return TRANSITIONS[_state(state)]


def check_transition(current: RequestState | str, target: RequestState | str) -> None:
    """Raise :class:`ForbiddenTransition` unless a request may move from ``current`` to
    ``target``."""
    current, target = _state(current), _state(target)
    if target not in TRANSITIONS[current]:
        raise ForbiddenTransition(current, target)
