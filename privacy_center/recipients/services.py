"""Article 19: the recipients of a person's data are told of an erasure, rectification or
restriction, and the person is told who they are.

The completion of such a request writes one :class:`RecipientNotification` per recipient of the
register holding a category concerned, in the completion's own transaction, and tries each once
before the letter that names them is written (``delivery.notify_with_completion``, called by
staff/services.py ``complete``); the rows, their outcomes and the letter are committed together,
and a recipient not reached is tried again by ``flask recipients notify``. Plain functions
with explicit arguments; they never look at the HTTP request or the session.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from .. import audit
from ..content.recipients import Recipient, RecipientRegister, get_register
from ..models import PrivacyRequest, RecipientNotification, StaffMember
from ..models.recipient import TOLD_STATES
from ..models.types import utcnow
from ..workflow import FINAL_STATES

log = logging.getLogger(__name__)

# The rights whose completion is told to the recipients (art. 19 GDPR).
NOTIFIED_RIGHTS = ("erasure", "rectification", "restriction")
# What an erasure did to a category that the recipients must mirror.
ERASED_ACTIONS = ("removed", "anonymised")


class NotificationRefused(ValueError):
    """Staff asked for something the notification's state does not allow."""


def concerned_categories(
    right: str,
    *,
    erasure: Iterable[Mapping[str, Any]] = (),
    chosen: Sequence[str] = (),
    register: RecipientRegister,
) -> list[str]:
    """The categories the recipients are told about.

    Erasure: the categories the connectors removed or anonymised. Rectification and restriction:
    the categories staff chose on the completion form; none chosen means every category some
    recipient holds (everyone who may hold the data is told)."""
    if right == "erasure":
        erased = [item["category"] for item in erasure if item.get("action") in ERASED_ACTIONS]
        return list(dict.fromkeys(erased))
    if right in NOTIFIED_RIGHTS:
        return list(dict.fromkeys(chosen)) or register.held_categories()
    return []


def record(
    session: Session,
    request: PrivacyRequest,
    categories: Sequence[str],
    *,
    register: RecipientRegister,
    now: datetime | None = None,
) -> list[RecipientNotification]:
    """Add one pending notification per recipient holding one of ``categories`` (no commit)."""
    moment = now or utcnow()
    rows = []
    for recipient in register.concerned(categories):
        row = RecipientNotification(
            request_id=request.id,
            recipient_key=recipient.key,
            recipient_name=recipient.name(request.language)[:200],
            channel=recipient.contact.channel,
            right=request.kind,
            categories=[key for key in recipient.categories if key in categories],
            state="pending",
            attempts=0,
            created_at=moment,
            next_attempt_at=moment,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def record_for_completion(
    session: Session,
    request: PrivacyRequest,
    *,
    erasure: Iterable[Mapping[str, Any]] = (),
    categories: Sequence[str] = (),
    register: RecipientRegister | None = None,
) -> list[RecipientNotification]:
    """Write, in the session's transaction (the completion's), one pending notification per
    recipient holding a category concerned, for an erasure, rectification or restriction (none
    for another right). No commit: the caller commits them with the completion."""
    if request.kind not in NOTIFIED_RIGHTS:
        return []
    register = register or get_register()
    concerned = concerned_categories(
        request.kind, erasure=erasure, chosen=categories, register=register
    )
    rows = record(session, request, concerned, register=register)
    if rows:
        audit.record(
            session,
            actor="system",
            action="recipients.recorded",
            request_id=request.id,
            details={"recipients": [row.recipient_key for row in rows], "categories": concerned},
        )
    return rows


def notifications_of(session: Session, request: PrivacyRequest) -> list[RecipientNotification]:
    return list(
        session.scalars(
            select(RecipientNotification)
            .where(RecipientNotification.request_id == request.id)
            .order_by(RecipientNotification.id)
        )
    )


# --- what the requester is told ----------------------------------------------------------------


@dataclass(frozen=True)
class Described:
    """A recipient as the requester reads it: who, what it does, where (art. 19, 2nd sentence)."""

    key: str
    name: str
    does: str
    location: str
    safeguard: str | None
    state: str
    tried: bool


def describe(row: RecipientNotification, recipient: Recipient | None, language: str) -> Described:
    return Described(
        key=row.recipient_key,
        name=recipient.name(language) if recipient else row.recipient_name,
        does=recipient.does(language) if recipient else "",
        location=recipient.location(language) if recipient else "",
        safeguard=recipient.safeguard(language) if recipient and recipient.safeguard else None,
        state=row.state,
        tried=row.attempts > 0,
    )


@dataclass(frozen=True)
class LetterRecipients:
    """The recipients of a completion letter, by what the letter says of them."""

    told: list[Described]
    # Tried with the completion and not reached: the letter says we keep trying and will write.
    unreached: list[Described]

    @property
    def none(self) -> bool:
        return not (self.told or self.unreached)


def letter_recipients(
    request: PrivacyRequest, register: RecipientRegister | None = None
) -> LetterRecipients | None:
    """What a completion letter says about the recipients (None: not a right of art. 19, or a
    preview before the completion, when no one has been told yet and the letter cannot say
    who will be)."""
    if request.kind not in NOTIFIED_RIGHTS:
        return None
    session = object_session(request)
    rows = notifications_of(session, request) if session is not None and request.id else []
    if not rows and request.state not in FINAL_STATES:
        return None
    register = register or get_register()
    told, unreached = [], []
    for row in rows:
        described = describe(row, register.get(row.recipient_key), request.language)
        (told if row.state in TOLD_STATES else unreached).append(described)
    return LetterRecipients(told, unreached)


# --- staff -------------------------------------------------------------------------------------


def find_notification(
    session: Session, request: PrivacyRequest, notification_id: int
) -> RecipientNotification | None:
    """A notification of this request (never another request's)."""
    row = session.get(RecipientNotification, notification_id)
    return row if row is not None and row.request_id == request.id else None


def retry(
    session: Session, row: RecipientNotification, *, staff: StaffMember, now: datetime | None = None
) -> None:
    """Staff try a failed notification again: it is pending and due now (committed)."""
    if row.state != "failed":
        raise NotificationRefused(
            f"only a failed notification is tried again (this one is {row.state})"
        )
    moment = now or utcnow()
    row.state = "pending"
    row.next_attempt_at = moment
    audit.record(
        session,
        actor=staff.get_id(),
        action="recipients.retry",
        request_id=row.request_id,
        details={"recipient": row.recipient_key},
        at=moment,
    )
    session.commit()


def acknowledge(
    session: Session,
    row: RecipientNotification,
    *,
    actor: str,
    now: datetime | None = None,
) -> bool:
    """Record that the recipient confirmed it was told (its link, or staff who heard from it).
    Returns False when it already was acknowledged. Commits."""
    if row.state == "acknowledged":
        return False
    moment = now or utcnow()
    row.state = "acknowledged"
    row.acknowledged_at = moment
    row.acknowledged_by = actor
    row.sent_at = row.sent_at or moment
    row.next_attempt_at = None
    audit.record(
        session,
        actor=actor,
        action="recipients.acknowledged",
        request_id=row.request_id,
        details={"recipient": row.recipient_key},
        at=moment,
    )
    session.commit()
    return True
