"""Letters sent to requesters, and staff's internal notes on requests."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow


class Letter(db.Model):
    """A PDF letter about a request, kept exactly as sent (its SHA-256 is in the audit log)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("privacy_request.id", ondelete="CASCADE"), index=True
    )
    # acknowledgement, identity_request, clarification_request, extension_notice, refusal,
    # completion, fee_notice (letters/kinds.py).
    kind: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    # What staff wrote into it (reasons, questions, ...), as given.
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # When it was issued: stored, and handed to the outbox or marked for posting.
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # "staff:<id>" or "system".
    sent_by: Mapped[str] = mapped_column(String(100))
    # How it reaches the requester: "email" (an OutgoingMail carries it) or "post" (no email
    # address: printed and posted; letters/outbox.py decides).
    delivery: Mapped[str] = mapped_column(String(8), default="email", server_default="email")


class RequestNote(db.Model):
    """An internal note of staff on a request; never shown to the requester."""

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("privacy_request.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_member.id", ondelete="SET NULL")
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    text: Mapped[str] = mapped_column(Text)


class ReminderSent(db.Model):
    """A deadline reminder mailed to the assigned agent: sent once per due date and step."""

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("privacy_request.id", ondelete="CASCADE"))
    due_on: Mapped[date] = mapped_column(Date)
    # 10, 5 or 1 (days before the due date).
    days_before: Mapped[int] = mapped_column(Integer)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_member.id", ondelete="SET NULL"))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("request_id", "due_on", "days_before"),)
