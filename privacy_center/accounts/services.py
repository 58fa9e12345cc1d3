"""Account holders: signing in, communication preferences and one-click unsubscribe.

Plain functions with explicit arguments; the views hold the request and the session.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import url_for
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..content import get_content
from ..mail import send_mail, unsubscribe_headers
from ..mail_intents import SIGN_IN_LINK, record_intent
from ..models import (
    Account,
    CommunicationPreference,
    ConsentLink,
    MailIntent,
    PreferenceChange,
    Subscription,
)
from ..models.types import utcnow
from ..operator import COMMUNICATION_CHANNELS, TOPIC_KEY, Communication
from ..tokens import find_token, issue_token, redeem_token
from .passwords import hash_password, needs_rehash, verify_password

SIGN_IN_LINK_LIFETIME = timedelta(minutes=15)
SIGN_IN_PURPOSE = "sign_in"
# The consent widget's cookie; its visitor id links a browser's consent receipts to the holder.
CONSENT_COOKIE = "pc_consent"
# The widget's visitor id (widget/src/store.js): a random UUID v4.
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
# A preference change that covers every topic (or every channel) of a person.
EVERY = "*"
PREFERENCE_METHODS = frozenset({"preferences", "one-click", "link", "objection"})
UNSUBSCRIBE_SALT = "unsubscribe"


def normalise_email(email: str) -> str:
    """Emails are stored lower-cased (Account.email): compare them the same way."""
    return email.strip().lower()


def rate_limit_key(value: str) -> str:
    """A rate-limit counter's key for an email: its digest, so no address sits in Redis."""
    return hashlib.sha256(normalise_email(value).encode()).hexdigest()


def find_account(session: Session, email: str) -> Account | None:
    return session.scalar(select(Account).where(Account.email == normalise_email(email)))


# --- signing in --------------------------------------------------------------------------------


def authenticate(session: Session, *, email: str, password: str) -> Account | None:
    """The active account with this email and password, or None (whatever went wrong).

    An unknown email, a wrong password and a deactivated account cost the same argon2 work and
    give the same None, so that neither the answer nor its timing tells whether an account
    exists. A hash made with older parameters is replaced on success.
    """
    account = find_account(session, email)
    password_hash = account.password_hash if account is not None else None
    if not verify_password(password_hash, password) or account is None or not account.is_active:
        return None
    if password_hash is not None and needs_rehash(password_hash):
        account.password_hash = hash_password(password)
    return account


def visitor_id_from_cookie(value: str | None) -> str | None:
    """The visitor id of the widget's ``pc_consent`` cookie, or None when absent or damaged.

    The widget writes ``encodeURIComponent(JSON.stringify({v, id, r, t, c}))`` (widget/README.md).
    """
    if not value or len(value) > 4096:
        return None
    try:
        stored = json.loads(unquote(value))
    except ValueError:
        return None
    visitor = stored.get("id") if isinstance(stored, dict) else None
    return visitor if isinstance(visitor, str) and UUID4.match(visitor) else None


def record_sign_in(
    session: Session, account: Account, *, visitor_id: str | None, now: datetime | None = None
) -> None:
    """Note the account's activity (the 5-year inactivity rule) and link the browser's consent
    identifier to it, so that the holder's consent receipts can be found for an export."""
    account.last_active_at = now or utcnow()
    if visitor_id is None or not UUID4.match(visitor_id):
        return
    known = exists().where(
        ConsentLink.account_id == account.id, ConsentLink.visitor_id == visitor_id
    )
    linked = session.scalar(select(known))
    if linked:
        return
    try:
        # A savepoint: a concurrent sign-in from the same browser may insert the same link.
        with session.begin_nested():
            session.add(ConsentLink(account_id=account.id, visitor_id=visitor_id))
    except IntegrityError:
        pass


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else None (no open redirect).

    Refused: absolute and scheme-relative URLs (``//host``), backslashes (browsers read
    ``/\\host`` as ``//host``), control characters and anything that is not a path.
    """
    if not target or len(target) > 2000 or not target.startswith("/"):
        return None
    if target.startswith("//") or "\\" in target or any(ord(char) < 32 for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def ask_sign_in_link(session: Session, *, email: str, next_path: str | None, base_url: str) -> int:
    """Record that a sign-in link was asked for ``email`` (mail_intents.py) and commit: the same
    single write whatever the address, nothing looked up. Returns the intent's id, to work out
    once the answer has been sent."""
    return record_intent(
        session,
        kind=SIGN_IN_LINK,
        email=normalise_email(email),
        next_path=next_path,
        base_url=base_url,
    )


def mail_sign_in_link(session: Session, intent: MailIntent, settings: Mapping[str, Any]) -> bool:
    """Work out a sign-in link asked for (outside the request, mail_intents.py): mail a
    single-use link (15 minutes) to the active account with the address typed; False, sending
    nothing, when there is none. The token is committed before the mail leaves, so that the link
    works as soon as it arrives; only its hash is stored. Raises
    :class:`privacy_center.mail.MailNotSent` when the mail could not be handed over."""
    account = find_account(session, intent.email)
    if account is None or not account.is_active:
        return False
    secret = issue_token(
        session,
        purpose=SIGN_IN_PURPOSE,
        email=account.email,
        lifetime=SIGN_IN_LINK_LIFETIME,
        account_id=account.id,
    )
    session.commit()
    send_mail(
        settings,
        to=account.email,
        template="sign_in_link",
        language=account.language,
        context={
            "account": account,
            "link": url_for(
                "accounts.sign_in_with_link",
                token=secret,
                next=safe_next(intent.next_path),
                _external=True,
            ),
            "minutes": int(SIGN_IN_LINK_LIFETIME.total_seconds() // 60),
        },
    )
    return True


def _link_account(session: Session, found: Any) -> Account | None:
    account = session.get(Account, found.account_id) if found.account_id else None
    # The address the link was sent to must still be the account's.
    if account is None or not account.is_active or account.email != found.email:
        return None
    return account


def sign_in_link_account(
    session: Session, *, token: str, now: datetime | None = None
) -> Account | None:
    """The account a sign-in link opens, without using the link (the page before the button)."""
    found = find_token(session, purpose=SIGN_IN_PURPOSE, token=token, now=now)
    return _link_account(session, found) if found is not None else None


def redeem_sign_in_link(
    session: Session, *, token: str, now: datetime | None = None
) -> Account | None:
    """Use a sign-in link once: its active account, or None (unknown, used, expired)."""
    found = redeem_token(session, purpose=SIGN_IN_PURPOSE, token=token, now=now)
    return _link_account(session, found) if found is not None else None


# --- communication preferences ----------------------------------------------------------------


def _settings(communication: Communication | None) -> Communication:
    return communication if communication is not None else get_content().operator.communication


@dataclass(frozen=True)
class _Suppression:
    channel: str
    topic: str

    def covers(self, channel: str, topic: str) -> bool:
        return self.channel in (channel, EVERY) and self.topic in (topic, EVERY)


def _suppressions(session: Session, *, account_id: int | None, email: str) -> list[_Suppression]:
    """Refusals that outlive the rows of CommunicationPreference: an account's refusal of every
    topic (also covers topics declared later) and any refusal recorded for the bare address
    (objection or unsubscribe before an account existed)."""
    conditions = [and_(PreferenceChange.account_id.is_(None), PreferenceChange.email == email)]
    if account_id is not None:
        conditions.append(
            and_(
                PreferenceChange.account_id == account_id,
                or_(PreferenceChange.channel == EVERY, PreferenceChange.topic == EVERY),
            )
        )
    rows = session.execute(
        select(PreferenceChange.channel, PreferenceChange.topic).where(
            PreferenceChange.subscribed.is_(False), or_(*conditions)
        )
    )
    return [_Suppression(channel, topic) for channel, topic in rows]


def _is_customer(session: Session, account_id: int) -> bool:
    return bool(session.scalar(select(exists().where(Subscription.account_id == account_id))))


def current_preferences(
    session: Session, account: Account, *, communication: Communication | None = None
) -> dict[tuple[str, str], bool]:
    """Whether each (channel, topic) the operator declares may be sent to ``account``.

    The person's own choice wins; without one, a refusal of every topic or of the bare address
    applies; without that, the topic's default (the soft opt-in, only for a customer: someone
    with a subscription).
    """
    settings = _settings(communication)
    chosen = {
        (row.channel, row.topic): row.subscribed
        for row in session.scalars(
            select(CommunicationPreference).where(CommunicationPreference.account_id == account.id)
        )
    }
    suppressions = _suppressions(session, account_id=account.id, email=account.email)
    customer: bool | None = None
    state: dict[tuple[str, str], bool] = {}
    for channel, topic_key in settings.pairs():
        if (channel, topic_key) in chosen:
            state[channel, topic_key] = chosen[channel, topic_key]
        elif any(suppression.covers(channel, topic_key) for suppression in suppressions):
            state[channel, topic_key] = False
        else:
            topic = settings.topic(topic_key)
            if topic is not None and topic.default and customer is None:
                customer = _is_customer(session, account.id)
            state[channel, topic_key] = bool(topic and topic.default and customer)
    return state


def _check_method(method: str) -> None:
    if method not in PREFERENCE_METHODS:
        raise ValueError(f"unknown preference method {method!r} ({', '.join(PREFERENCE_METHODS)})")


def _apply(
    session: Session,
    account: Account,
    changes: Mapping[tuple[str, str], bool],
    *,
    method: str,
    request_reference: str | None,
    now: datetime,
) -> list[PreferenceChange]:
    """Store each choice and its proof (one PreferenceChange per change)."""
    rows = {
        (row.channel, row.topic): row
        for row in session.scalars(
            select(CommunicationPreference).where(CommunicationPreference.account_id == account.id)
        )
    }
    proofs = []
    for (channel, topic), subscribed in changes.items():
        row = rows.get((channel, topic))
        if row is None:
            session.add(
                CommunicationPreference(
                    account_id=account.id,
                    channel=channel,
                    topic=topic,
                    subscribed=subscribed,
                    updated_at=now,
                )
            )
        else:
            row.subscribed, row.updated_at = subscribed, now
        proofs.append(
            PreferenceChange(
                account_id=account.id,
                email=account.email,
                channel=channel,
                topic=topic,
                subscribed=subscribed,
                method=method,
                recorded_at=now,
                request_reference=request_reference,
            )
        )
    session.add_all(proofs)
    session.flush()
    return proofs


def set_preferences(
    session: Session,
    account: Account,
    wanted: Mapping[tuple[str, str], bool],
    *,
    method: str,
    request_reference: str | None = None,
    communication: Communication | None = None,
    now: datetime | None = None,
) -> list[PreferenceChange]:
    """Record the wanted (channel, topic) choices; one proof per choice that actually changed.

    ``wanted`` may name only some of the declared pairs; naming an undeclared one raises
    ``ValueError`` (nothing is stored then).
    """
    _check_method(method)
    settings = _settings(communication)
    declared = set(settings.pairs())
    unknown = [pair for pair in wanted if pair not in declared]
    if unknown:
        raise ValueError(f"not a declared (channel, topic): {unknown}")
    state = current_preferences(session, account, communication=settings)
    changes = {pair: bool(value) for pair, value in wanted.items() if state[pair] != bool(value)}
    return _apply(
        session,
        account,
        changes,
        method=method,
        request_reference=request_reference,
        now=now or utcnow(),
    )


def _refuse(
    session: Session,
    *,
    email: str,
    channel: str,
    topic: str,
    method: str,
    request_reference: str | None,
    communication: Communication,
    now: datetime,
) -> list[PreferenceChange]:
    """Stop ``topic`` (or every topic) on ``channel`` (or every channel) for the address.

    With an account: one topic is turned off with its proof (even when it was off already: the
    request itself is worth keeping); a refusal of every topic turns off each declared choice
    that was on (one proof each) and adds one proof of the refusal of everything, which also
    covers topics declared later. Without an account: one proof for the bare address
    (account_id None), which applies to an account opened later with that address.
    """
    _check_method(method)
    email = normalise_email(email)
    account = find_account(session, email)
    proofs: list[PreferenceChange] = []
    if account is not None:
        if EVERY not in (channel, topic):
            return _apply(
                session,
                account,
                {(channel, topic): False},
                method=method,
                request_reference=request_reference,
                now=now,
            )
        state = current_preferences(session, account, communication=communication)
        covered = {
            pair: False
            for pair, subscribed in state.items()
            if subscribed and _Suppression(channel, topic).covers(*pair)
        }
        proofs = _apply(
            session, account, covered, method=method, request_reference=request_reference, now=now
        )
    blanket = PreferenceChange(
        account_id=account.id if account is not None else None,
        email=email,
        channel=channel,
        topic=topic,
        subscribed=False,
        method=method,
        recorded_at=now,
        request_reference=request_reference,
    )
    session.add(blanket)
    session.flush()
    return [*proofs, blanket]


def unsubscribe_all(
    session: Session,
    *,
    email: str,
    method: str,
    request_reference: str | None = None,
    communication: Communication | None = None,
    now: datetime | None = None,
) -> int:
    """Stop every topic on every channel for ``email`` (an objection to marketing).

    Returns the number of proofs recorded: one per choice turned off, plus the refusal of
    everything (for the account, or for the bare address when no account has it).
    """
    return len(
        _refuse(
            session,
            email=email,
            channel=EVERY,
            topic=EVERY,
            method=method,
            request_reference=request_reference,
            communication=_settings(communication),
            now=now or utcnow(),
        )
    )


def may_send(
    session: Session,
    *,
    email: str,
    channel: str,
    topic: str,
    communication: Communication | None = None,
) -> bool:
    """Whether the operator may send ``topic`` over ``channel`` to ``email`` now.

    Only to an active account holder who accepts it (or has not refused a topic sent by
    default); an address without an account has given no consent.
    """
    settings = _settings(communication)
    account = find_account(session, email)
    if account is None or not account.is_active:
        return False
    return current_preferences(session, account, communication=settings).get(
        (channel, topic), False
    )


# --- one-click unsubscribe (RFC 8058) ----------------------------------------------------------


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
    return _refuse(
        session,
        email=email,
        channel=target.channel,
        topic=target.topic,
        method=method,
        request_reference=None,
        communication=_settings(communication),
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
