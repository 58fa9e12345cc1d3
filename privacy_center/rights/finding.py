""" "Find my request": the status link mailed again to the address a request was filed with.

The form is answered the same way, after the same work, whether or not the reference and the
address match a request: it records one intent (mail_intents.py) and nothing is looked up while
the visitor waits. Once the answer has been sent, :func:`mail_status_link` looks for the request
and, when the reference and the address match, mails a fresh status link (earlier ones stop
working), or a fresh confirmation link to a request still awaiting confirmation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from ..mail_intents import STATUS_LINK, record_intent
from ..models import MailIntent
from ..tokens import issue_token
from ..workflow import RequestState as S
from .confirmation import CONFIRMATION_LIFETIME
from .emails import external_links, mail_about
from .references import new_status_token
from .status import find_for_requester


def ask_status_link(session: Session, *, email: str, reference: str, base_url: str) -> int:
    """Record that the status link of ``reference`` was asked for ``email`` and commit: one
    write whatever was typed. Returns the intent's id, to work out after the answer."""
    return record_intent(
        session, kind=STATUS_LINK, email=email, reference=reference, base_url=base_url
    )


def mail_status_link(session: Session, intent: MailIntent, settings: Mapping[str, Any]) -> bool:
    """Work out a status link asked for (outside the request): False, sending nothing, unless
    the reference and the address match a request. The new secret is committed before the mail
    leaves; raises :class:`privacy_center.mail.MailNotSent` when it could not be handed over."""
    request = find_for_requester(session, email=intent.email, reference=intent.reference or "")
    if request is None:
        return False
    links = external_links()
    if request.state == S.AWAITING_CONFIRMATION:
        token = issue_token(
            session,
            purpose="confirm_request",
            email=request.email,
            lifetime=CONFIRMATION_LIFETIME,
            request_id=request.id,
        )
        session.commit()
        mail_about(
            settings,
            request,
            "confirm",
            confirm_url=links.confirm(request, token),
            lifetime_hours=int(CONFIRMATION_LIFETIME.total_seconds() // 3600),
        )
        return True
    status_token, request.status_token_hash = new_status_token()
    session.commit()
    mail_about(settings, request, "status_link", status_url=links.status(request, status_token))
    return True
