"""How long a request's status link works.

While the request is open, always. Once it is closed, ``STATUS_LINK_DAYS_AFTER_CLOSE`` days
from the later of its closing and the issuing of the link: after that, the link answers 410 and
the requester asks for a fresh one with "Find my request" (their reference and email address),
which proves again that they read that mailbox; the fresh link works as many days from when it
is sent. A forwarded, leaked or logged old link thus stops showing the request's history and
letters.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..models import PrivacyRequest


def link_expires_at(request: PrivacyRequest, *, days: int) -> datetime | None:
    """When this request's current status link stops working; None while it is open."""
    if request.closed_at is None:
        return None
    start = request.closed_at
    if request.status_link_issued_at is not None and request.status_link_issued_at > start:
        start = request.status_link_issued_at
    return start + timedelta(days=days)


def link_expired(request: PrivacyRequest, *, days: int, now: datetime) -> bool:
    expires = link_expires_at(request, days=days)
    return expires is not None and expires <= now
