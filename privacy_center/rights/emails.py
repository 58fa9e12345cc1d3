"""The mails a requester receives about their request on the forms: the confirmation link and
the acknowledgement, in the request's language.

They are sent after the commit they announce; one that cannot be handed over is logged and
reported as not sent, never lost silently. Links in them are absolute URLs built by the web
layer (:class:`Links`, :func:`external_links`), since a service knows nothing of the web
request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import url_for

from ..mail import MailNotSent, send_mail
from ..models import PrivacyRequest
from .confirmation import CONFIRMATION_LIFETIME
from .effects import effect_applied
from .kinds import get_kind
from .references import FiledRequest
from .status import awaited_from_requester

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Links:
    """Absolute URLs for emails, built by the web layer."""

    status: Callable[[PrivacyRequest, str], str]  # (request, status token) -> URL
    confirm: Callable[[PrivacyRequest, str], str]  # (request, confirmation token) -> URL


def external_links() -> Links:
    """The links of the pages, absolute, in the request's language (needs a request context:
    the web request, or the one mail_intents.py opens for the address the intent was asked on)."""
    return Links(
        status=lambda filed, token: url_for(
            "rights.status",
            reference=filed.reference,
            token=token,
            lang=filed.language,
            _external=True,
        ),
        confirm=lambda filed, token: url_for(
            "rights.confirm", token=token, lang=filed.language, _external=True
        ),
    )


def mail_about(
    settings: Mapping[str, Any], request: PrivacyRequest, template: str, **context: Any
) -> None:
    """Send one mail about ``request`` in its language; raises MailNotSent when it could not
    be handed over (``_send`` logs that instead)."""
    send_mail(
        settings,
        to=request.email,
        template=f"rights/{template}",
        language=request.language,
        context={"request": request, "kind": get_kind(request.kind), **context},
    )


def _send(
    settings: Mapping[str, Any], request: PrivacyRequest, template: str, **context: Any
) -> bool:
    """Send one mail about ``request`` in its language; False (logged) when it could not be."""
    if not request.email:  # entered by staff without one: letters go by post
        return False
    try:
        mail_about(settings, request, template, **context)
    except MailNotSent:
        log.exception("mail %s about request %s not sent", template, request.reference)
        return False
    return True


def send_confirmation(settings: Mapping[str, Any], filed: FiledRequest, *, links: Links) -> bool:
    """The confirmation link (with the reference) to a requester who must confirm."""
    if filed.confirmation_token is None:
        raise ValueError(f"{filed.request.reference} needs no confirmation")
    return _send(
        settings,
        filed.request,
        "confirm",
        confirm_url=links.confirm(filed.request, filed.confirmation_token),
        lifetime_hours=int(CONFIRMATION_LIFETIME.total_seconds() // 3600),
    )


def send_acknowledgement(settings: Mapping[str, Any], filed: FiledRequest, *, links: Links) -> bool:
    """The acknowledgement: reference, due date, what is awaited, and the status link."""
    request = filed.request
    return _send(
        settings,
        request,
        "received",
        status_url=links.status(request, filed.status_token),
        awaited=awaited_from_requester(request),
        marketing_stopped=effect_applied(request),
    )
