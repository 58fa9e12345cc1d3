"""Confirming the email address a request was filed with, and what happens once it is proved.

Anyone can type someone else's address in a form: a requester who is not signed in to the
account with that address gets a confirmation link, valid :data:`CONFIRMATION_LIFETIME`, and
the legal clock starts the day they follow it (a request entered by staff keeps the day it was
received). Once the address is proved, by the link or by being signed in, :func:`start_work`
moves the request on: to waiting for an identity document when one is needed and missing,
otherwise to work. Requests whose every link expired unused lapse.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from ..models import EmailToken, PrivacyRequest
from ..models.types import utcnow
from ..tokens import find_token, redeem_token
from ..workflow import RequestState
from .clock import operator_day
from .documents import has_document
from .effects import PROOF_LINK, apply_effect
from .kinds import get_kind
from .references import FiledRequest, new_status_token
from .transitions import ACTOR_REQUESTER, ACTOR_SYSTEM, transition

S = RequestState

CONFIRMATION_LIFETIME = timedelta(hours=24)


def start_work(session: Session, request: PrivacyRequest, *, today: date, reason: str) -> None:
    """Once the requester is known to own the email address: wait for the identity document
    when one is needed and missing, otherwise start work."""
    if request.identity_required and not has_document(request):
        transition(
            session,
            request,
            S.AWAITING_IDENTITY,
            actor=ACTOR_SYSTEM,
            reason=f"{reason}; an identity document is required and was not sent",
            today=today,
        )
    else:
        transition(session, request, S.IN_PROGRESS, actor=ACTOR_SYSTEM, reason=reason, today=today)


def confirmation_pending(session: Session, *, token: str) -> PrivacyRequest | None:
    """The request a confirmation link is for, without using the link (for the GET page)."""
    found = find_token(session, purpose="confirm_request", token=token)
    if found is None or found.request_id is None:
        return None
    request = session.get(PrivacyRequest, found.request_id)
    if request is None or request.state != S.AWAITING_CONFIRMATION:
        return None
    return request


def confirm_request(session: Session, *, token: str, today: date) -> FiledRequest | None:
    """Use a confirmation link: the legal clock starts ``today`` (a request entered by staff
    keeps the day it was received), and the kind's effect (stopping marketing) runs now.

    Returns the request with a new status-link secret (to send and to redirect to), or None
    when the link is unknown, expired, used, or its request no longer awaits confirmation.
    """
    request = confirmation_pending(session, token=token)
    if request is None or redeem_token(session, purpose="confirm_request", token=token) is None:
        session.rollback()
        return None
    reason = "email address confirmed by the requester"
    request_kind = get_kind(request.kind)
    if request_kind is not None and request_kind.effect is not None:
        reason += "; " + apply_effect(
            session, request, request_kind, actor=ACTOR_REQUESTER, proof=PROOF_LINK, now=utcnow()
        )
    # A request entered by staff keeps its clock, which runs from the day it was received.
    if request.clock_started_on is None:
        request.clock_started_on = today
    start_work(session, request, today=today, reason=reason)
    status_token, request.status_token_hash = new_status_token()
    session.commit()
    return FiledRequest(request, status_token, None)


def lapse_unconfirmed(session: Session, now: datetime) -> list[str]:
    """Requests whose email was never confirmed, and whose every confirmation link expired,
    lapse. Returns their references. Their documents are then deleted by the retention sweep
    (abandoned requests)."""
    live_link = exists().where(
        EmailToken.request_id == PrivacyRequest.id,
        EmailToken.purpose == "confirm_request",
        EmailToken.used_at.is_(None),
        EmailToken.expires_at > now,
    )
    stale = session.scalars(
        select(PrivacyRequest)
        .where(
            PrivacyRequest.state == S.AWAITING_CONFIRMATION,
            PrivacyRequest.received_at <= now - CONFIRMATION_LIFETIME,
            ~live_link,
        )
        .order_by(PrivacyRequest.id)
    ).all()
    today = operator_day(now)
    for request in stale:
        transition(
            session,
            request,
            S.LAPSED,
            actor=ACTOR_SYSTEM,
            reason="email address not confirmed within 24 hours",
            today=today,
            now=now,
        )
    session.commit()
    return [request.reference for request in stale]
