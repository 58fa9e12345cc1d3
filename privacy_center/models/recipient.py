"""Article 19 notifications: one row per recipient told of an erasure, rectification or
restriction (privacy_center/recipients)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow

# pending: not told yet (never tried, or tried and to be tried again at next_attempt_at);
# sent: the call was answered 2xx, or the email handed over; acknowledged: the recipient
# confirmed (an acknowledgement body, the signed link of the email) or staff recorded it;
# failed: every try failed; staff see it and may try again.
NOTIFICATION_STATES = ("pending", "sent", "acknowledged", "failed")
TOLD_STATES = ("sent", "acknowledged")


class RecipientNotification(db.Model):
    """A recipient of the operator (content/recipients.yaml) told of what a request changed.

    Written in the completion's transaction; the call or the mail happens after the commit and
    its outcome is written back here, so that a failed call never loses the row."""

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("privacy_request.id", ondelete="CASCADE"), index=True
    )
    # The register's key, and its name when the row was written (the register may change).
    recipient_key: Mapped[str] = mapped_column(String(64))
    recipient_name: Mapped[str] = mapped_column(String(200))
    # http or email.
    channel: Mapped[str] = mapped_column(String(8))
    # erasure, rectification or restriction.
    right: Mapped[str] = mapped_column(String(32))
    # Keys of the data categories concerned that this recipient holds (never the data).
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # "recipient" (its answer or its link) or "staff:<id>".
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    # SHA-256 of the secret of the acknowledgement link mailed to an email recipient.
    ack_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # When the requester was mailed that this recipient, not yet told in the completion
    # letter, has now been told.
    requester_informed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("request_id", "recipient_key"),)
