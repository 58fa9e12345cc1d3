"""What the status page finds and shows: the request behind a status link (or a reference and
the address it was filed with), what is awaited from the requester, the letters sent, and
withdrawing the request while it is open.

A wrong token and an unknown reference give the same answer in the same time: the stored hash
is compared in constant time either way.
"""

from __future__ import annotations

import hmac
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import PrivacyRequest
from ..workflow import RequestState, allowed_targets
from .references import normalise_reference, status_token_hash
from .transitions import ACTOR_REQUESTER, transition

S = RequestState

# What a status token looks like (secrets.token_urlsafe(32)); anything longer is not one.
MAX_TOKEN_LENGTH = 100
# Compared against when a reference is unknown, so that both cases take the same time.
_NO_HASH = "0" * 64


def find_by_status_link(session: Session, *, reference: str, token: str) -> PrivacyRequest | None:
    """The request behind a status link, or None. An unknown reference and a wrong token give
    the same answer in the same time (the hash is compared in constant time either way)."""
    normalised = normalise_reference(reference) if len(reference) <= 24 else ""
    request = (
        session.scalar(select(PrivacyRequest).where(PrivacyRequest.reference == normalised))
        if normalised
        else None
    )
    candidate = status_token_hash(token[:MAX_TOKEN_LENGTH]) if token else ""
    expected = request.status_token_hash if request is not None else _NO_HASH
    matches = hmac.compare_digest(expected, candidate)
    if request is None or not matches or len(token) > MAX_TOKEN_LENGTH:
        return None
    return request


def find_for_requester(session: Session, *, email: str, reference: str) -> PrivacyRequest | None:
    """The request with this reference, if it was filed with this email address."""
    normalised = normalise_reference(reference) if len(reference) <= 40 else ""
    request = (
        session.scalar(select(PrivacyRequest).where(PrivacyRequest.reference == normalised))
        if normalised
        else None
    )
    given = (email or "").strip().casefold().encode()
    expected = (request.email or "").casefold().encode() if request is not None else b""
    # A request entered without an email address (by post) has no address to match.
    if request is None or not expected or not hmac.compare_digest(expected, given):
        return None
    return request


# What the requester is expected to do, by state.
AWAITED: dict[RequestState, LazyString] = {
    S.AWAITING_CONFIRMATION: _l(
        "Confirm your email address with the link we sent you (valid 24 hours)."
    ),
    S.AWAITING_IDENTITY: _l(
        "A proof of identity (a PDF, JPEG or PNG file of at most 10 MB): add it below."
    ),
    S.AWAITING_REQUESTER: _l(
        "A clarification: reply to the letter we sent you, quoting your reference."
    ),
}


def awaited_from_requester(request: PrivacyRequest) -> LazyString | None:
    """What the requester is expected to do now, if anything."""
    return AWAITED.get(RequestState(request.state))


def request_letters(request: PrivacyRequest) -> list[Any]:
    """The letters sent about this request, oldest first.

    The staff console adds the letters and their relationship on PrivacyRequest; until then
    a request has none.
    """
    return list(getattr(request, "letters", None) or ())


def can_withdraw(request: PrivacyRequest) -> bool:
    """Whether the workflow lets the requester withdraw the request now (it is open)."""
    return S.WITHDRAWN in allowed_targets(request.state)


def withdraw(session: Session, request: PrivacyRequest, *, today: date) -> None:
    """The requester withdraws their request (``ForbiddenTransition`` once it is closed)."""
    transition(
        session,
        request,
        S.WITHDRAWN,
        actor=ACTOR_REQUESTER,
        reason="withdrawn by the requester",
        today=today,
    )
    session.commit()
