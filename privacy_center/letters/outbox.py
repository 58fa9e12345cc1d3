"""Issuing a letter: the one way a letter leaves the privacy center.

:func:`issue_letter` renders the letter in the request's language, stores the PDF unchanged with
its SHA-256 (the ``Letter`` row and the audit log), and queues the mail that carries it in the
durable outbox (mail_queue.py), all in the caller's transaction: rendering fails, nothing is
written; the transaction is rolled back, nothing of it stays. It never commits.

A legal letter (``LetterKind.legal``: identity request, clarification request, extension notice,
refusal, completion) is issued only by the staff action that makes the change it announces, in
that action's transaction (:func:`commit_with_letter`, called by staff/services.py). The letters
panel sends only the other letters (:func:`send_letter`), the same way.

Once committed, the mail is attempted at once; a mail that fails stays queued with its error,
is retried by ``flask mail deliver`` and shown to staff (mail_queue.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import force_locale
from sqlalchemy.orm import Session

from .. import audit, mail_queue
from ..mail import build_mail
from ..models import Letter, OutgoingMail, PrivacyRequest
from ..models.types import utcnow
from .kinds import LetterKind, get_letter_kind
from .rendering import render_pdf
from .services import STYLESHEET, LetterError, attachment_name, render_letter_html

# How a letter reaches the requester (Letter.delivery).
BY_EMAIL = "email"
BY_POST = "post"


class LegalLetterOnlyByAction(LetterError):
    """A legal letter was asked for outside the action that makes its change."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__(
            f"the {kind} letter is sent only by the action it announces, with the change it "
            "makes; the letters panel can only preview it"
        )


@dataclass(frozen=True)
class IssuedLetter:
    letter: Letter
    # The mail that carries it; None when the letter is to be printed and posted.
    mail: OutgoingMail | None


def delivery_for(request: PrivacyRequest) -> str:
    """How the request's letters reach the requester: by email to the address they gave, or,
    when there is none (a request received by post), printed and posted. The one place that
    decides it: a letter "post" is stored and audited like any other, no mail is queued."""
    return BY_EMAIL if request.email else BY_POST


def _queue_mail(
    session: Session,
    request: PrivacyRequest,
    letter: Letter,
    letter_kind: LetterKind,
    settings: Mapping[str, Any],
) -> OutgoingMail:
    with force_locale(request.language):
        subject = letter_kind.subject_for(request.reference)
    name = attachment_name(request, letter.kind)
    message = build_mail(
        settings,
        to=request.email,
        template="letter",
        language=request.language,
        context={
            "privacy_request": request,
            "letter_subject": subject,
            "attachment_name": name,
        },
        attachments=[(name, "application/pdf", letter.pdf)],
    )
    return mail_queue.queue_message(
        session, message, request_id=request.id, letter_id=letter.id, now=letter.sent_at
    )


def issue_letter(
    session: Session,
    request: PrivacyRequest,
    kind: str,
    fields: Mapping[str, Any],
    *,
    actor: str,
    today: date,
    settings: Mapping[str, Any],
) -> IssuedLetter:
    """Render the letter, store it with its SHA-256, audit it and queue its mail; flushes, the
    caller commits (with the change the letter announces).

    Raises :class:`~.services.LetterFieldsMissing` / :class:`~.services.LetterError` (nothing
    is added to the session then), ``ValueError`` for an address no mail can go to.
    """
    letter_kind, cleaned, html = render_letter_html(request, kind, fields, today=today)
    pdf = render_pdf(html, stylesheets=(STYLESHEET,))
    digest = hashlib.sha256(pdf).hexdigest()
    delivery = delivery_for(request)
    moment = utcnow()
    letter = Letter(
        request_id=request.id,
        kind=letter_kind.key,
        language=request.language,
        fields=cleaned,
        pdf=pdf,
        sha256=digest,
        created_at=moment,
        sent_at=moment,
        sent_by=actor,
        delivery=delivery,
    )
    session.add(letter)
    session.flush()
    mail = None
    if delivery == BY_EMAIL:
        mail = _queue_mail(session, request, letter, letter_kind, settings)
    details: dict[str, Any] = {
        "kind": letter_kind.key,
        "sha256": digest,
        "letter_id": letter.id,
        "delivery": delivery,
    }
    if mail is not None:
        details["mail_id"] = mail.id
    audit.record(
        session,
        actor=actor,
        action="letter.sent",
        request_id=request.id,
        details=details,
        at=moment,
    )
    # PrivacyRequest.letters is view-only: read it again to list the new letter.
    session.expire(request, ["letters"])
    return IssuedLetter(letter, mail)


def commit_with_letter(
    session: Session,
    request: PrivacyRequest,
    kind: str,
    fields: Mapping[str, Any],
    *,
    actor: str,
    today: date,
    settings: Mapping[str, Any],
    before_commit: Callable[[], object] | None = None,
) -> IssuedLetter:
    """The end of an action that sends a letter: the letter issued in the action's transaction,
    ``before_commit`` run (what cannot be undone, e.g. deleting files), both committed
    together, then the mail attempted. On any error the whole transaction is rolled back (the
    action's change too) and the error raised."""
    try:
        issued = issue_letter(
            session, request, kind, fields, actor=actor, today=today, settings=settings
        )
        if before_commit is not None:
            before_commit()
    except BaseException:
        session.rollback()
        raise
    commit_and_send(session, issued, settings)
    return issued


def commit_and_send(session: Session, issued: IssuedLetter, settings: Mapping[str, Any]) -> None:
    """Commit the issued letter with its action's change, then attempt its mail at once."""
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    if issued.mail is not None:
        mail_queue.attempt_soon(session, settings, issued.mail.id)


def send_letter(
    session: Session,
    request: PrivacyRequest,
    kind: str,
    fields: Mapping[str, Any],
    *,
    actor: str,
    today: date,
    app_config: Mapping[str, Any],
) -> Letter:
    """Send a letter that announces no change (acknowledgement, fee notice) from the letters
    panel: issued and committed, then mailed. Raises :class:`LegalLetterOnlyByAction` for a
    legal letter, before anything is written."""
    letter_kind = get_letter_kind(kind)
    if letter_kind is not None and letter_kind.legal:
        raise LegalLetterOnlyByAction(kind)
    return commit_with_letter(
        session, request, kind, fields, actor=actor, today=today, settings=app_config
    ).letter
