"""Proof of consent: one receipt per choice a visitor made in the widget."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .site import Site
from .types import UTCDateTime, utcnow


class ConsentReceipt(db.Model):
    """A visitor's choice, as given, with what they were shown. Never the IP address."""

    id: Mapped[int] = mapped_column(primary_key=True)
    # Chosen by the widget (UUID v4), so that a retried post is recorded once.
    receipt_id: Mapped[str] = mapped_column(String(36), unique=True)
    # Random identifier kept in the visitor's pc_consent cookie: links their successive choices.
    visitor_id: Mapped[str] = mapped_column(String(36))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    policy_version: Mapped[int] = mapped_column(SmallInteger)
    widget_build: Mapped[str] = mapped_column(String(64))
    # SHA-256 of the texts and categories shown to the visitor (the config they answered).
    texts_hash: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    # accept-all, reject-all, save, close ("continue without accepting") or embed.
    action: Mapped[str] = mapped_column(String(16))
    # "click", or "gpc" when the browser's Global Privacy Control signal shaped the choice.
    method: Mapped[str] = mapped_column(String(8))
    gpc: Mapped[bool] = mapped_column(Boolean)
    choices: Mapped[dict[str, bool]] = mapped_column(JSON)
    browser_family: Mapped[str] = mapped_column(String(16))

    site: Mapped[Site] = relationship()

    # Receipts are looked up by receipt id (unique) and swept by date (retention); no index on
    # visitor_id: every index on a random UUID costs each of the busiest writes of the product.
    __table_args__ = (Index("ix_consent_receipt_recorded_at", "recorded_at"),)

    def __repr__(self) -> str:
        return f"<ConsentReceipt {self.receipt_id}>"
