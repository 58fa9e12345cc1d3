"""Mails asked for with an address that may or may not be known: worked out after the answer.

A sign-in link or the status link of a request ("find my request") is asked for by typing an
address. Whether an account or a request has it must not show, not even in how long the answer
takes: so the request does the same work whatever was typed. It records one
:class:`~privacy_center.models.MailIntent` (what is asked, the address and reference typed,
where the link leads) in one transaction, answers, and only then is the intent worked out
(:func:`work_after_response`): by the RQ worker when ``REDIS_URL`` is set, otherwise in the web
process once the answer has been sent. The handler of its kind (:data:`HANDLERS`) looks the
address up and, when it is known, makes the link's secret and sends the mail; the intent is then
deleted. One whose mail could not go out stays (with its error) and is tried again after the
outbox's backoff (mail_queue.py) by ``flask --app wsgi mail deliver``, the durable fallback.

An intent holds no secret: the link's token is made when its mail is sent, and only the token's
hash is stored (tokens.py). It holds the address typed, and nothing else once handled.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .extensions import db
from .jobs import after_response, resolve
from .mail import MailNotSent
from .mail_queue import DEFAULT_BATCH, LEASE, MAX_ERROR_CHARS, backoff
from .models import MailIntent
from .models.types import utcnow

log = logging.getLogger(__name__)

SIGN_IN_LINK = "sign_in_link"
STATUS_LINK = "status_link"
# kind -> "module:function(session, intent, settings) -> bool" (True when a mail was sent); the
# handler runs inside a request context for the intent's base_url (url_for(_external=True)),
# commits the secret it makes before sending, and raises MailNotSent when the mail did not go.
HANDLERS = {
    SIGN_IN_LINK: "privacy_center.accounts.sign_in:mail_sign_in_link",
    STATUS_LINK: "privacy_center.rights.finding:mail_status_link",
}


def record_intent(
    session: Session,
    *,
    kind: str,
    email: str,
    base_url: str,
    reference: str | None = None,
    next_path: str | None = None,
    now: datetime | None = None,
) -> int:
    """Record what was asked, due at once, and commit; nothing is looked up. Returns its id."""
    if kind not in HANDLERS:
        raise ValueError(f"unknown mail intent {kind!r} ({', '.join(HANDLERS)})")
    moment = now or utcnow()
    intent = MailIntent(
        kind=kind,
        email=email.strip()[:254],
        reference=reference.strip()[:100] if reference is not None else None,
        next_path=next_path or None,
        base_url=base_url,
        created_at=moment,
        attempts=0,
        next_attempt_at=moment,
    )
    session.add(intent)
    session.commit()
    return intent.id


def work_after_response(intent_id: int) -> None:
    """Work the intent out once the answer has been sent (jobs.after_response): the request
    that recorded it does nothing more, whatever the address."""
    after_response("privacy_center.mail_intents:work_job", intent_id)


def _take(session: Session, intent_id: int, now: datetime) -> bool:
    """Take the intent for one attempt if it is due (committed: two workers never both do)."""
    taken = session.execute(
        update(MailIntent)
        .where(MailIntent.id == intent_id, MailIntent.next_attempt_at <= now)
        .values(attempts=MailIntent.attempts + 1, last_attempt_at=now, next_attempt_at=now + LEASE)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return taken == 1


def work(
    session: Session, intent_id: int, settings: Mapping[str, Any], *, now: datetime | None = None
) -> bool | None:
    """One attempt at the intent: True when a mail was sent, False when there was nothing to
    send or it failed (kept with its error, tried again after the backoff), None when it was
    not due or is gone. Commits; never raises for a mail that does not go out."""
    now = now or utcnow()
    if not _take(session, intent_id, now):
        return None
    intent = session.get(MailIntent, intent_id)
    if intent is None:  # handled by another worker in the meantime
        return None
    kind = intent.kind
    handler = resolve(HANDLERS[kind])
    try:
        with current_app.test_request_context("/", base_url=intent.base_url):
            sent = bool(handler(session, intent, settings))
    except MailNotSent as error:
        session.rollback()
        intent = session.get(MailIntent, intent_id)
        if intent is not None:
            intent.last_error = str(error)[:MAX_ERROR_CHARS]
            intent.next_attempt_at = now + backoff(intent.attempts)
            session.commit()
        # The intent's id only: its address may be anyone's.
        log.warning("mail intent %s (%s) not sent: %s", intent_id, kind, error)
        return False
    except ValueError:
        # An address no mail can go to: trying again would not help.
        session.rollback()
        log.warning("mail intent %s: the address cannot receive mail", intent_id)
        sent = False
    intent = session.get(MailIntent, intent_id)
    if intent is not None:
        session.delete(intent)
    session.commit()
    return sent


def work_job(intent_id: int) -> None:
    """The background job (jobs.py) that works out one intent."""
    work(db.session, intent_id, current_app.config)


@dataclass
class IntentRun:
    """What one run over the due intents did."""

    sent: int = 0
    nothing: int = 0
    failed: list[MailIntent] = field(default_factory=list)


def work_due(
    session: Session,
    settings: Mapping[str, Any],
    *,
    now: datetime | None = None,
    limit: int = DEFAULT_BATCH,
) -> IntentRun:
    """Work out every intent that is due, oldest first (``flask mail deliver``)."""
    now = now or utcnow()
    due = list(
        session.scalars(
            select(MailIntent.id)
            .where(MailIntent.next_attempt_at <= now)
            .order_by(MailIntent.next_attempt_at, MailIntent.id)
            .limit(limit)
        )
    )
    run = IntentRun()
    for intent_id in due:
        outcome = work(session, intent_id, settings, now=now)
        if outcome:
            run.sent += 1
        elif outcome is False:
            failed = session.get(MailIntent, intent_id)
            if failed is None:
                run.nothing += 1
            else:
                run.failed.append(failed)
    return run
