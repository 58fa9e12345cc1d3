"""Communication preferences: what an account holder accepts to receive, on which channel, and
the proof of every choice.

The operator declares channels and topics (``communication`` in ``content/operator.yaml``).
The holder's own choice wins; without one, a refusal of every topic or of the bare address
applies; without that, the topic's default (the soft opt-in, only for a customer). Each change
is stored with its proof (``PreferenceChange``: when, how, on which request); a refusal made
before an account existed applies to the account opened later with that address.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from ..content import get_content
from ..models import Account, CommunicationPreference, PreferenceChange, Subscription
from ..models.types import utcnow
from ..operator import Communication
from .lookup import find_account, normalise_email

# A preference change that covers every topic (or every channel) of a person.
EVERY = "*"
PREFERENCE_METHODS = frozenset({"preferences", "one-click", "link", "objection"})


def communication_settings(communication: Communication | None) -> Communication:
    """The communication settings given, or the operator's."""
    return communication if communication is not None else get_content().operator.communication


@dataclass(frozen=True)
class Suppression:
    """A refusal of one topic (or every one) on one channel (or every one)."""

    channel: str
    topic: str

    def covers(self, channel: str, topic: str) -> bool:
        return self.channel in (channel, EVERY) and self.topic in (topic, EVERY)


def _suppressions(session: Session, *, account_id: int | None, email: str) -> list[Suppression]:
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
    return [Suppression(channel, topic) for channel, topic in rows]


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
    settings = communication_settings(communication)
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
    settings = communication_settings(communication)
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


def refuse(
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
            if subscribed and Suppression(channel, topic).covers(*pair)
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
        refuse(
            session,
            email=email,
            channel=EVERY,
            topic=EVERY,
            method=method,
            request_reference=request_reference,
            communication=communication_settings(communication),
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
    settings = communication_settings(communication)
    account = find_account(session, email)
    if account is None or not account.is_active:
        return False
    return current_preferences(session, account, communication=settings).get(
        (channel, topic), False
    )
