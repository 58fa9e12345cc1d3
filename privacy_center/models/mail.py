"""The durable outbox: every mail that carries a letter, queued in the transaction that issued
it, then delivered (at once, or by ``flask mail deliver``) and retried until it goes out."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow


class OutgoingMail(db.Model):
    """One message to hand to the mail server, kept exactly as composed (``message`` is the
    serialised MIME message, attachments included) until it is delivered."""

    __tablename__ = "outgoing_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("privacy_request.id", ondelete="CASCADE"), index=True
    )
    letter_id: Mapped[int | None] = mapped_column(
        ForeignKey("letter.id", ondelete="CASCADE"), index=True
    )
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(Text)
    message: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Delivery attempts so far; the next one is due at next_attempt_at (moved forward while an
    # attempt runs, so that two workers never send the same mail at once).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Why the last attempt failed (the SMTP or file-system error), None once delivered.
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)


class MailIntent(db.Model):
    """A mail asked for with an address that may or may not be known (a sign-in link, the
    status link of a request): recorded the same way whatever the address, and worked out
    outside the request (mail_intents.py). It holds no secret (the link's token is made when
    the mail is sent) and is deleted once handled."""

    __tablename__ = "mail_intent"

    id: Mapped[int] = mapped_column(primary_key=True)
    # What is asked for (mail_intents.HANDLERS): "sign_in_link" or "status_link".
    kind: Mapped[str] = mapped_column(String(40))
    # The address and the reference as typed; nothing says whether they match anything.
    email: Mapped[str] = mapped_column(String(254))
    reference: Mapped[str | None] = mapped_column(String(100))
    # Where the link leads after signing in (a local path), and the site's address as asked.
    next_path: Mapped[str | None] = mapped_column(Text)
    base_url: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Why the last attempt failed (the SMTP or file-system error).
    last_error: Mapped[str | None] = mapped_column(Text)
