"""One-click unsubscribe (RFC 8058): the signed link every marketing mail carries, and what it
stops.

A link names the account (or the bare address) and one topic, or every topic, on one channel;
it is signed with the application's secret key and never expires, since it must work for as
long as the mail is kept. Using it records the refusal with its proof (preferences.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import url_for
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from ..mail import unsubscribe_headers
from ..models import Account, PreferenceChange
from ..models.types import utcnow
from ..operator import COMMUNICATION_CHANNELS, TOPIC_KEY, Communication
from .lookup import normalise_email
from .preferences import EVERY, communication_settings, refuse

UNSUBSCRIBE_SALT = "unsubscribe"


@dataclass(frozen=True)
class UnsubscribeTarget:
    """What a signed unsubscribe link stops: one topic (or "*") on one channel."""

    channel: str
    topic: str
    account_id: int | None = None
    email: str | None = None


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=UNSUBSCRIBE_SALT)


def unsubscribe_token(
    secret_key: str,
    *,
    channel: str,
    topic: str,
    account_id: int | None = None,
    email: str | None = None,
) -> str:
    """A signed, non-expiring token naming the account (or the address), channel and topic.

    No expiry: an unsubscribe link must work for as long as the mail is kept.
    """
    if (account_id is None) == (email is None):
        raise ValueError("an unsubscribe token names an account_id or an email, not both")
    if channel not in COMMUNICATION_CHANNELS or not (topic == EVERY or TOPIC_KEY.match(topic)):
        raise ValueError(f"no unsubscribe token for channel {channel!r}, topic {topic!r}")
    who: dict[str, object] = (
        {"a": account_id} if account_id is not None else {"e": normalise_email(email or "")}
    )
    return _serializer(secret_key).dumps({**who, "c": channel, "t": topic})


def read_unsubscribe_token(secret_key: str, token: str) -> UnsubscribeTarget | None:
    """The target of a token this site signed, or None for anything else."""
    if not token or len(token) > 1000:
        return None
    try:
        data = _serializer(secret_key).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    channel, topic = data.get("c"), data.get("t")
    account_id, email = data.get("a"), data.get("e")
    if channel not in COMMUNICATION_CHANNELS or not isinstance(topic, str):
        return None
    if topic != EVERY and not TOPIC_KEY.match(topic):
        return None
    if isinstance(account_id, int) and not isinstance(account_id, bool) and email is None:
        return UnsubscribeTarget(channel=channel, topic=topic, account_id=account_id)
    if isinstance(email, str) and email and account_id is None:
        return UnsubscribeTarget(channel=channel, topic=topic, email=email)
    return None


def unsubscribe_target_email(session: Session, target: UnsubscribeTarget) -> str | None:
    """The address a target stops mail to; None when its account no longer exists."""
    if target.account_id is not None:
        account = session.get(Account, target.account_id)
        return account.email if account is not None else None
    return target.email


def unsubscribe(
    session: Session,
    target: UnsubscribeTarget,
    *,
    method: str,
    communication: Communication | None = None,
    now: datetime | None = None,
) -> list[PreferenceChange] | None:
    """Stop what ``target`` names and record the proof; None when its account is gone."""
    email = unsubscribe_target_email(session, target)
    if email is None:
        return None
    return refuse(
        session,
        email=email,
        channel=target.channel,
        topic=target.topic,
        method=method,
        request_reference=None,
        communication=communication_settings(communication),
        now=now or utcnow(),
    )


def unsubscribe_url(
    app_config: Mapping[str, Any],
    *,
    channel: str,
    topic: str,
    account_id: int | None = None,
    email: str | None = None,
) -> str:
    """The absolute one-click unsubscribe address (needs a request, or SERVER_NAME set)."""
    token = unsubscribe_token(
        app_config["SECRET_KEY"], channel=channel, topic=topic, account_id=account_id, email=email
    )
    return url_for("accounts.unsubscribe", token=token, _external=True)


def marketing_headers(
    app_config: Mapping[str, Any], account: Account, channel: str, topic: str
) -> dict[str, str]:
    """The RFC 8058 headers every marketing email to ``account`` carries."""
    return unsubscribe_headers(
        unsubscribe_url(app_config, channel=channel, topic=topic, account_id=account.id)
    )
