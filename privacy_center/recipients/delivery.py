"""Telling the recipients: the HTTP call or the email, and the retries.

HTTP: ``POST {url}`` with ``Content-Type: application/json`` (and ``Authorization: Bearer
<token>`` when ``token_env`` is set)::

    {"notification": 12, "reference": "PC-7K4M-9Q2X", "right": "erasure",
     "categories": ["browsing_events", "interests"],
     "subject": {"email": "jane@example.org", "account_id": 42}}

The identifiers let the recipient find the person; the data itself is never sent. A 2xx answer
means told (``sent``); a 2xx answer whose JSON body is ``{"acknowledged": true}`` means the
recipient confirmed (``acknowledged``). Anything else (another status, a timeout, a refused
connection) is a failure, written to the row with its reason.

Email: the reference, the right, the categories and the person's identifiers, with a signed
link the recipient follows to acknowledge.

A failed notification is tried again by ``flask recipients notify`` (for cron): ``retries`` more
times, waiting ``backoff_seconds`` and then twice as long each time; after the last it is
``failed`` and staff see it on the request's page, where they may try again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urljoin

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from .. import audit
from ..connectors import get_connector_set
from ..content.recipients import Recipient, RecipientRegister, get_register
from ..mail import MailNotSent, send_mail
from ..models import Letter, PrivacyRequest, RecipientNotification
from ..models.recipient import TOLD_STATES
from ..models.types import utcnow
from .services import describe, notifications_of, record_for_completion

log = logging.getLogger(__name__)

# The most of an answer read: an acknowledgement is a few bytes.
MAX_ANSWER_BYTES = 64 * 1024
# A row being tried is not picked again by another run for this long after its call's timeout.
CLAIM_MARGIN = timedelta(seconds=60)


# The right exercised, as a recipient reads it.
RIGHT_LABELS: dict[str, LazyString] = {
    "erasure": _l("Erasure (article 17 GDPR)"),
    "rectification": _l("Rectification (article 16 GDPR)"),
    "restriction": _l("Restriction of processing (article 18 GDPR)"),
}


class DeliveryFailed(RuntimeError):
    """The recipient was not told; the message says what happened, for staff."""


class BaseUrlMissing(DeliveryFailed):
    """An email notification needs the privacy center's address, for its acknowledgement link."""


@dataclass(frozen=True)
class Outcome:
    reference: str
    recipient: str
    state: str
    error: str | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def payload(row: RecipientNotification, request: PrivacyRequest) -> dict[str, Any]:
    """What a recipient receives: the reference, the right, the categories and the person's
    identifiers; never the data."""
    return {
        "notification": row.id,
        "reference": request.reference,
        "right": row.right,
        "categories": list(row.categories),
        "subject": {"email": request.email, "account_id": request.account_id},
    }


def _call(recipient: Recipient, body: dict[str, Any]) -> str:
    """POST the notification; returns ``sent`` or ``acknowledged``, raises DeliveryFailed."""
    contact = recipient.contact
    assert contact.url is not None
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if contact.token_env:
        token = os.environ.get(contact.token_env)
        if not token:
            raise DeliveryFailed(
                f"the environment variable {contact.token_env} (the endpoint's token) is not set"
            )
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body, ensure_ascii=False).encode()
    call = urllib.request.Request(contact.url, data=data, headers=headers, method="POST")  # noqa: S310
    timeout = contact.timeout_seconds
    try:
        # The register accepts only http(s) URLs.
        with urllib.request.urlopen(call, timeout=timeout) as response:  # noqa: S310
            raw = response.read(MAX_ANSWER_BYTES)
    except urllib.error.HTTPError as error:
        error.close()
        raise DeliveryFailed(f"{contact.url} answered HTTP {error.code} ({error.reason})") from None
    except TimeoutError:
        raise DeliveryFailed(f"{contact.url} did not answer within {timeout:g} s") from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise DeliveryFailed(f"{contact.url} did not answer within {timeout:g} s") from None
        raise DeliveryFailed(f"{contact.url} could not be reached ({error.reason})") from None
    except OSError as error:
        raise DeliveryFailed(f"{contact.url} could not be reached ({error})") from None
    try:
        answer = json.loads(raw) if raw.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        answer = None
    if isinstance(answer, dict) and answer.get("acknowledged") is True:
        return "acknowledged"
    return "sent"


def _mail(
    session: Session,
    row: RecipientNotification,
    recipient: Recipient,
    request: PrivacyRequest,
    settings: Mapping[str, Any],
    base_url: str | None,
) -> str:
    if not base_url:
        raise BaseUrlMissing(
            "the privacy center's public address is needed for the acknowledgement link: pass "
            "--base-url or set PC_BASE_URL"
        )
    contact = recipient.contact
    assert contact.email is not None and contact.language is not None
    token = secrets.token_urlsafe(32)
    labels = {
        category.key: category.label(contact.language)
        for category in get_connector_set().categories()
    }
    try:
        send_mail(
            settings,
            to=contact.email,
            template="recipient_notice",
            language=contact.language,
            context={
                "notice": payload(row, request),
                "recipient": recipient,
                "categories": [labels.get(key, key) for key in row.categories],
                "right_label": RIGHT_LABELS.get(row.right, row.right),
                "ack_url": urljoin(base_url.rstrip("/") + "/", f"recipients/acknowledge/{token}"),
            },
        )
    except MailNotSent as error:
        raise DeliveryFailed(str(error)) from None
    row.ack_token_hash = token_hash(token)
    return "sent"


def _claim(session: Session, row: RecipientNotification, now: datetime, lease: timedelta) -> bool:
    """Take the row for one try (one conditional UPDATE: two runs never try it together)."""
    taken = session.execute(
        update(RecipientNotification)
        .where(
            RecipientNotification.id == row.id,
            RecipientNotification.state == "pending",
            or_(
                RecipientNotification.next_attempt_at.is_(None),
                RecipientNotification.next_attempt_at <= now,
            ),
        )
        .values(next_attempt_at=now + lease)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.refresh(row)
    return True


def _attempt(
    session: Session,
    row: RecipientNotification,
    *,
    settings: Mapping[str, Any],
    base_url: str | None,
    register: RecipientRegister,
    moment: datetime,
) -> Outcome:
    """Call or mail the recipient once and write the outcome to the row and the audit log
    (flushed with the session, not committed)."""
    recipient = register.get(row.recipient_key)
    request = session.get(PrivacyRequest, row.request_id)
    assert request is not None
    error: str | None = None
    try:
        if recipient is None:
            raise DeliveryFailed(
                f"{row.recipient_key!r} is no longer in content/recipients.yaml: tell it another "
                "way, then mark it acknowledged"
            )
        if recipient.contact.channel == "http":
            state = _call(recipient, payload(row, request))
        else:
            state = _mail(session, row, recipient, request, settings, base_url)
    except DeliveryFailed as failure:
        error = str(failure)
    row.attempts += 1
    row.last_attempt_at = moment
    if error is None:
        row.state = state
        row.sent_at = moment
        row.next_attempt_at = None
        if state == "acknowledged":
            row.acknowledged_at = moment
            row.acknowledged_by = "recipient"
    else:
        row.last_error = error[:2000]
        retries = recipient.contact.retries if recipient else 0
        if row.attempts > retries:
            row.state = "failed"
            row.next_attempt_at = None
        else:
            backoff = recipient.contact.backoff_seconds if recipient else 0
            row.next_attempt_at = moment + timedelta(seconds=backoff * 2 ** (row.attempts - 1))
    audit.record(
        session,
        actor="system",
        action=f"recipients.{'failed' if error else row.state}",
        request_id=row.request_id,
        details={"recipient": row.recipient_key, "attempt": row.attempts, "error": error},
        at=moment,
    )
    if error:
        log.warning("%s: %s not told: %s", request.reference, row.recipient_key, error)
    return Outcome(request.reference, row.recipient_key, row.state, error)


def deliver_one(
    session: Session,
    row: RecipientNotification,
    *,
    settings: Mapping[str, Any],
    base_url: str | None,
    register: RecipientRegister | None = None,
    now: datetime | None = None,
) -> Outcome | None:
    """Try to tell one recipient, if the row is due; write the outcome back and commit.

    Returns None when the row was not due (or another run is trying it)."""
    register = register or get_register()
    moment = now or utcnow()
    recipient = register.get(row.recipient_key)
    lease = timedelta(seconds=recipient.contact.timeout_seconds if recipient else 0) + CLAIM_MARGIN
    if not _claim(session, row, moment, lease):
        return None
    outcome = _attempt(
        session, row, settings=settings, base_url=base_url, register=register, moment=moment
    )
    session.commit()
    return outcome


def notify_with_completion(
    session: Session,
    request: PrivacyRequest,
    *,
    settings: Mapping[str, Any],
    base_url: str | None,
    erasure: Iterable[Mapping[str, Any]] = (),
    categories: Sequence[str] = (),
    now: datetime | None = None,
) -> list[RecipientNotification]:
    """In the completion's transaction, before its letter is written: one notification per
    recipient holding a category concerned, each tried once at once, so that the letter names
    who was told and who could not be reached yet. Nothing is committed here: the rows, their
    outcomes and the letter are committed with the completion (uncommitted, the rows are seen
    by no other run, so none is claimed); those not reached are tried again by
    ``flask recipients notify``."""
    register = get_register()
    rows = record_for_completion(
        session, request, erasure=erasure, categories=categories, register=register
    )
    moment = now or utcnow()
    for row in rows:
        _attempt(
            session, row, settings=settings, base_url=base_url, register=register, moment=moment
        )
    session.flush()
    return rows


def due_rows(
    session: Session, now: datetime, request_id: int | None = None
) -> list[RecipientNotification]:
    query = select(RecipientNotification).where(
        RecipientNotification.state == "pending",
        or_(
            RecipientNotification.next_attempt_at.is_(None),
            RecipientNotification.next_attempt_at <= now,
        ),
    )
    if request_id is not None:
        query = query.where(RecipientNotification.request_id == request_id)
    return list(session.scalars(query.order_by(RecipientNotification.id)))


def deliver_due(
    session: Session,
    *,
    settings: Mapping[str, Any],
    base_url: str | None,
    now: datetime | None = None,
    request_id: int | None = None,
) -> list[Outcome]:
    """Try every notification that is due (of one request, or all), then tell the requesters
    of the recipients reached since their completion letter."""
    moment = now or utcnow()
    outcomes = []
    for row in due_rows(session, moment, request_id):
        outcome = deliver_one(session, row, settings=settings, base_url=base_url, now=moment)
        if outcome is not None:
            outcomes.append(outcome)
    inform_requesters(session, settings=settings, now=moment)
    return outcomes


# --- the requester is told of the recipients reached after their letter -------------------------


def inform_requesters(
    session: Session, *, settings: Mapping[str, Any], now: datetime | None = None
) -> list[str]:
    """Mail each requester whose completion letter said a recipient was not told yet, once it
    is: the letter promised it. Returns the references mailed."""
    moment = now or utcnow()
    letter_sent = (
        select(Letter.sent_at)
        .where(
            Letter.request_id == RecipientNotification.request_id,
            Letter.kind == "completion",
            Letter.sent_at.is_not(None),
        )
        .order_by(Letter.sent_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = list(
        session.scalars(
            select(RecipientNotification)
            .where(
                RecipientNotification.state.in_(TOLD_STATES),
                RecipientNotification.requester_informed_at.is_(None),
                and_(letter_sent.is_not(None), RecipientNotification.sent_at > letter_sent),
            )
            .order_by(RecipientNotification.request_id, RecipientNotification.id)
        )
    )
    by_request: dict[int, list[RecipientNotification]] = {}
    for row in rows:
        by_request.setdefault(row.request_id, []).append(row)
    register = get_register()
    mailed = []
    for request_id, told in by_request.items():
        request = session.get(PrivacyRequest, request_id)
        assert request is not None
        remaining = [
            describe(row, register.get(row.recipient_key), request.language)
            for row in notifications_of(session, request)
            if row.state not in TOLD_STATES
        ]
        try:
            send_mail(
                settings,
                to=request.email,
                template="recipients_told",
                language=request.language,
                context={
                    "privacy_request": request,
                    "told": [
                        describe(row, register.get(row.recipient_key), request.language)
                        for row in told
                    ],
                    "remaining": remaining,
                },
            )
        except MailNotSent as error:
            log.warning(
                "%s: the requester was not told of the recipients: %s", request.reference, error
            )
            continue
        for row in told:
            row.requester_informed_at = moment
        audit.record(
            session,
            actor="system",
            action="recipients.requester_informed",
            request_id=request.id,
            details={"recipients": [row.recipient_key for row in told]},
            at=moment,
        )
        session.commit()
        mailed.append(request.reference)
    return mailed
