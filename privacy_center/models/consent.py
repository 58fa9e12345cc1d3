"""Proof of consent: one receipt per choice a visitor made in the widget."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
)
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
    # Each switchable service of the registry (key: true|false); a category is granted when
    # any of its services is. Receipts from before services existed have {}.
    services: Mapped[dict[str, bool]] = mapped_column(JSON, server_default="{}")
    browser_family: Mapped[str] = mapped_column(String(16))

    site: Mapped[Site] = relationship()

    # Receipts are looked up by receipt id (unique) and swept by date (retention); no index on
    # visitor_id: every index on a random UUID costs each of the busiest writes of the product.
    __table_args__ = (Index("ix_consent_receipt_recorded_at", "recorded_at"),)

    def __repr__(self) -> str:
        return f"<ConsentReceipt {self.receipt_id}>"


class ConsentDay(db.Model):
    """The day's choices of one site, language and widget build, counted as receipts are written.

    The consent dashboard reads these rows, never the receipts: they are added to in the same
    statement or transaction as each batch of receipts (``consent.rollup``), and rebuilt from
    the receipts by ``flask consent rollup-backfill``. Counts only: nothing about a visitor.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)  # UTC day of recorded_at
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    language: Mapped[str] = mapped_column(String(8))
    widget_build: Mapped[str] = mapped_column(String(64))
    # The same key is spread over a few rows, so that concurrent batches of receipts (one per
    # server process) rarely wait on each other's row lock; figures sum the slots.
    slot: Mapped[int] = mapped_column(SmallInteger, default=0)
    total: Mapped[int] = mapped_column(Integer)
    accept_all: Mapped[int] = mapped_column(Integer)
    reject_all: Mapped[int] = mapped_column(Integer)
    customised: Mapped[int] = mapped_column(Integer)  # action "save"
    closed: Mapped[int] = mapped_column(Integer)  # "continue without accepting"
    embed: Mapped[int] = mapped_column(Integer)  # allowed from an embed's placeholder
    # Receipts granting each optional category (functional is always granted: ``total``).
    granted_analytics: Mapped[int] = mapped_column(Integer)
    granted_advertising: Mapped[int] = mapped_column(Integer)
    granted_personalization: Mapped[int] = mapped_column(Integer)
    granted_social: Mapped[int] = mapped_column(Integer)

    site: Mapped[Site] = relationship()

    __table_args__ = (
        UniqueConstraint(
            "day", "site_id", "language", "widget_build", "slot", name="uq_consent_day_key"
        ),
    )

    def __repr__(self) -> str:
        return f"<ConsentDay {self.day} site={self.site_id} {self.language} {self.widget_build}>"
