"""The durable outbox: mails queued in the database with what they announce, then delivered.

A mail that carries a letter is composed (rendered, attachments included) and stored as an
``OutgoingMail`` row in the same transaction as the letter and the action that issues it
(letters/outbox.py): either all of them are recorded, or none. Once that transaction is
committed, the mail is attempted at once (:func:`attempt_soon`: inline, or as a background job
when ``REDIS_URL`` is set). A mail that fails stays queued with its error and is tried again
later, each time after a longer wait (:data:`BACKOFF`), by ``flask --app wsgi mail deliver``
(mail_cli.py; run it from cron or a systemd timer, README) or by staff ("retry now" in the
console). Nothing is ever dropped: a mail stays queued, and shown to staff, until it is delivered.

Delivery is at least once: an attempt first takes the mail (moves its next attempt past the
time the attempt may take, committed), so that two workers never send it at the same time; a
process killed between the server's answer and the record of it sends the mail again later.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.parser import Parser
from typing import Any, cast

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from . import audit
from .extensions import db
from .jobs import after_response, enqueue
from .mail import POLICY, MailNotSent, message_bytes, send
from .models import OutgoingMail
from .models.types import utcnow

log = logging.getLogger(__name__)

# The wait after the 1st, 2nd, ... failed attempt; the last one repeats until the mail goes out.
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
# How long an attempt may take before another worker may take the mail again.
LEASE = timedelta(minutes=5)
# The longest error kept (an SMTP answer is a line or two).
MAX_ERROR_CHARS = 2000
# Mails delivered per run of ``mail deliver`` at most (the rest wait for the next run).
DEFAULT_BATCH = 200


def backoff(attempts: int) -> timedelta:
    """The wait before the next attempt, after ``attempts`` failed ones."""
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


def queue_message(
    session: Session,
    message: EmailMessage,
    *,
    request_id: int | None,
    letter_id: int | None = None,
    now: datetime | None = None,
) -> OutgoingMail:
    """Keep ``message`` in the outbox, due at once; flushes, the caller commits (with whatever
    the mail announces)."""
    mail = OutgoingMail(
        request_id=request_id,
        letter_id=letter_id,
        to_address=str(message["To"]),
        subject=str(message["Subject"]),
        message=message_bytes(message),
        created_at=now or utcnow(),
        attempts=0,
        next_attempt_at=now or utcnow(),
    )
    session.add(mail)
    session.flush()
    return mail


def stored_message(mail: OutgoingMail) -> EmailMessage:
    """The queued message as it was composed (its bytes are ASCII, or UTF-8 for an
    internationalised address)."""
    return cast(EmailMessage, Parser(policy=POLICY).parsestr(mail.message.decode("utf-8")))


def _take(session: Session, mail_id: int, now: datetime) -> bool:
    """Take the mail for one attempt, if it is still unsent and due (committed at once)."""
    taken = session.execute(
        update(OutgoingMail)
        .where(
            OutgoingMail.id == mail_id,
            OutgoingMail.sent_at.is_(None),
            OutgoingMail.next_attempt_at <= now,
        )
        .values(
            attempts=OutgoingMail.attempts + 1,
            last_attempt_at=now,
            next_attempt_at=now + LEASE,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return taken == 1


def deliver(
    session: Session, mail_id: int, settings: Mapping[str, Any], *, now: datetime | None = None
) -> bool | None:
    """One attempt to hand the mail to the server (or the development outbox folder).

    Returns True when it was delivered, False when it failed (the error is kept and the next
    attempt scheduled), None when there was nothing to do (already delivered, not due yet, or
    being sent by another worker). Commits; never raises for a mail that does not go out.
    """
    now = now or utcnow()
    if not _take(session, mail_id, now):
        return None
    mail = session.get(OutgoingMail, mail_id)
    assert mail is not None  # it was just taken
    try:
        send(stored_message(mail), settings=settings)
    except (MailNotSent, ValueError) as error:
        mail.last_error = str(error)[:MAX_ERROR_CHARS]
        mail.next_attempt_at = now + backoff(mail.attempts)
        if mail.attempts == 1:  # the request's history says so once; the outbox keeps the rest
            _audit(session, mail, "mail.not_delivered", {"error": mail.last_error})
        session.commit()
        log.warning("mail %s to %s not delivered: %s", mail.id, mail.to_address, error)
        return False
    mail.sent_at = utcnow()
    mail.last_error = None
    _audit(session, mail, "mail.delivered", {})
    session.commit()
    return True


def _audit(session: Session, mail: OutgoingMail, action: str, details: dict[str, Any]) -> None:
    audit.record(
        session,
        actor="system",
        action=action,
        request_id=mail.request_id,
        details={"mail_id": mail.id, "letter_id": mail.letter_id, "attempts": mail.attempts}
        | details,
    )


@dataclass
class DeliveryRun:
    """What one run of the outbox did."""

    sent: list[int] = field(default_factory=list)
    failed: list[OutgoingMail] = field(default_factory=list)
    # Mails still queued, not due yet (waiting after a failure).
    waiting: int = 0


def deliver_due(
    session: Session,
    settings: Mapping[str, Any],
    *,
    now: datetime | None = None,
    limit: int = DEFAULT_BATCH,
) -> DeliveryRun:
    """Attempt every queued mail whose next attempt is due, oldest first."""
    now = now or utcnow()
    due = list(
        session.scalars(
            select(OutgoingMail.id)
            .where(OutgoingMail.sent_at.is_(None), OutgoingMail.next_attempt_at <= now)
            .order_by(OutgoingMail.next_attempt_at, OutgoingMail.id)
            .limit(limit)
        )
    )
    run = DeliveryRun()
    for mail_id in due:
        outcome = deliver(session, mail_id, settings, now=now)
        if outcome:
            run.sent.append(mail_id)
        elif outcome is False:
            mail = session.get(OutgoingMail, mail_id)
            assert mail is not None
            run.failed.append(mail)
    run.waiting = (
        session.scalar(
            select(func.count()).where(
                OutgoingMail.sent_at.is_(None), OutgoingMail.next_attempt_at > now
            )
        )
        or 0
    )
    return run


def retry_now(session: Session, mail_id: int, settings: Mapping[str, Any]) -> bool | None:
    """Staff's "retry now": the mail is due at once, whatever its wait, then attempted."""
    now = utcnow()
    session.execute(
        update(OutgoingMail)
        .where(OutgoingMail.id == mail_id, OutgoingMail.sent_at.is_(None))
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return deliver(session, mail_id, settings, now=now)


def undelivered(session: Session, *, request_id: int | None = None) -> list[OutgoingMail]:
    """Queued mails whose attempts failed, oldest first (all, or a request's)."""
    query = select(OutgoingMail).where(
        OutgoingMail.sent_at.is_(None), OutgoingMail.last_error.is_not(None)
    )
    if request_id is not None:
        query = query.where(OutgoingMail.request_id == request_id)
    return list(session.scalars(query.order_by(OutgoingMail.created_at, OutgoingMail.id)))


def count_undelivered(session: Session) -> int:
    """How many queued mails have failed at least once."""
    return (
        session.scalar(
            select(func.count()).where(
                OutgoingMail.sent_at.is_(None), OutgoingMail.last_error.is_not(None)
            )
        )
        or 0
    )


def mails_of_letters(session: Session, letter_ids: list[int]) -> dict[int, OutgoingMail]:
    """The mail that carries each of these letters."""
    if not letter_ids:
        return {}
    rows = session.scalars(select(OutgoingMail).where(OutgoingMail.letter_id.in_(letter_ids)))
    return {mail.letter_id: mail for mail in rows if mail.letter_id is not None}


def deliver_job(mail_id: int) -> None:
    """The background job (jobs.py) that attempts one queued mail."""
    deliver(db.session, mail_id, current_app.config)


def attempt_soon(session: Session, settings: Mapping[str, Any], mail_id: int) -> None:
    """Attempt a mail just committed to the outbox: at once with ``settings``, or as a
    background job of the worker (jobs.py) when ``REDIS_URL`` is set. Never raises: a mail not
    delivered now stays queued for ``mail deliver``."""
    try:
        if settings.get("REDIS_URL"):
            enqueue(settings, "privacy_center.mail_queue:deliver_job", mail_id)
        else:
            deliver(session, mail_id, settings)
    except Exception:  # the mail is safe in the outbox; the next run delivers it
        session.rollback()
        log.exception("mail %s: the immediate attempt could not be made", mail_id)


def deliver_after_response(mail_ids: list[int]) -> None:
    """Attempt mails just committed to the outbox once the answer has been sent (jobs.py): for
    a mail that only some addresses cause (a staff lockout notice), the answer must not wait
    for the mail server. A mail not delivered then stays queued for ``mail deliver``."""
    for mail_id in mail_ids:
        after_response("privacy_center.mail_queue:deliver_job", mail_id)
