"""Tracked links in the operator's emails: ``/go/<token>`` records a click as activity of the
email source, then redirects, only to an address under the source's ``redirect_to``."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from .activity import record
from .activity_sources import ActivitySource

LINK_SALT = "privacy_center.activity.link"


class LinkRefused(ValueError):
    """A tracked link that is forged, or that leads somewhere not declared."""


def allowed_target(source: ActivitySource, url: Any) -> bool:
    """Whether ``url`` is under one of the declared ``redirect_to`` prefixes (same scheme, host
    and port, path below): a tracked link never leads anywhere else."""
    if not isinstance(url, str) or len(url) > 2000 or any(char in url for char in "\\\r\n\t "):
        return False
    parts = urlsplit(url)
    if "@" in parts.netloc:
        return False
    for prefix in source.redirect_to:
        allowed = urlsplit(prefix)
        if (
            parts.scheme == allowed.scheme
            and parts.netloc.lower() == allowed.netloc.lower()
            and parts.path.startswith(allowed.path)
        ):
            return True
    return False


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=LINK_SALT)


def link_token(secret_key: str, source: ActivitySource, account_id: int, url: str) -> str:
    """The signed token of a tracked link to ``url`` for the account (no expiry: an email may
    be read years later)."""
    if not allowed_target(source, url):
        raise LinkRefused(
            f"{url!r} is not under an address of redirect_to ({', '.join(source.redirect_to)})"
        )
    return str(_serializer(secret_key).dumps([account_id, url]))


def follow_link(
    session: Session, secret_key: str, source: ActivitySource, token: str, now: datetime
) -> str:
    """Record the click of a tracked link and return where it leads; :class:`LinkRefused`
    for a forged token or a target no longer declared (nothing is recorded then)."""
    try:
        account_id, url = _serializer(secret_key).loads(token)
    except (BadSignature, TypeError, ValueError):
        raise LinkRefused("this link is not one of ours") from None
    if not isinstance(account_id, int) or not allowed_target(source, url):
        raise LinkRefused("this link leads to an address that is not allowed")
    record(session, source.key, [(account_id, now)], now)
    return str(url)
