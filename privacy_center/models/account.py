"""Account holders and the demo operator's customer records about them.

The operator's own tables (subscriptions, invoices, browsing events, ...) are read and erased
through the SQL connector (``content/connectors.yaml``); for the demo operator they live in the
privacy center's database. Bank details are not here: the payment provider holds them.
"""

from __future__ import annotations

from datetime import date, datetime

from flask_login import UserMixin
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow


class Account(UserMixin, db.Model):
    """A person with an account on the operator's site."""

    id: Mapped[int] = mapped_column(primary_key=True)
    # Always stored lower-cased, so that a login never depends on the case typed.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    # argon2 hash; None for an account that only signs in with emailed links.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    civility: Mapped[str | None] = mapped_column(String(16))
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(32))
    company: Mapped[str | None] = mapped_column(String(200))
    billing_street: Mapped[str | None] = mapped_column(String(200))
    billing_postal_code: Mapped[str | None] = mapped_column(String(16))
    billing_city: Mapped[str | None] = mapped_column(String(100))
    billing_country: Mapped[str | None] = mapped_column(String(2))
    language: Mapped[str] = mapped_column(String(8), default="fr")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Last sign-in or use of the operator's site: drives the 5-year inactivity rule (indexed:
    # the retention run looks for the accounts inactive longest).
    last_active_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the holder was warned that the account will be deactivated for inactivity
    # (retention/): a warning older than the last activity no longer counts.
    inactivity_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the retention run erased the deactivated account's data (retention/erasure.py): set
    # in the transaction that erased it, so that a run never erases it twice, and the start of
    # the limitation period for which the evidence is kept.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def is_active(self) -> bool:  # Flask-Login: a deactivated account cannot sign in
        return self.deactivated_at is None

    def get_id(self) -> str:
        return f"account:{self.id}"

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    def __repr__(self) -> str:
        return f"<Account {self.id}>"


class Subscription(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    service: Mapped[str] = mapped_column(String(200))
    plan: Mapped[str] = mapped_column(String(100))
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    price_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")


class Invoice(db.Model):
    """Kept 10 years from the end of its financial year (accounting law), even after the account
    is closed: then in the intermediate archive (``archived_at``)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True
    )
    number: Mapped[str] = mapped_column(String(32), unique=True)
    issued_on: Mapped[date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(String(300))
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    # How it was paid, as the payment provider reported it (never the card or IBAN itself).
    payment_method: Mapped[str] = mapped_column(String(100))
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when the invoice moved to the intermediate archive (retention/): its account was
    # closed, and only accounting law keeps it. Archived invoices are out of every normal screen
    # and export (content/connectors.yaml) until they are deleted.
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class BrowsingEvent(db.Model):
    """One page view on the operator's site (raw visit data: kept at most 13 months)."""

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    path: Mapped[str] = mapped_column(String(500))
    referrer: Mapped[str | None] = mapped_column(String(500))
    device: Mapped[str] = mapped_column(String(100), default="")

    # Exports read one subject's events in time order; the retention sweep reads by date.
    __table_args__ = (
        Index("ix_browsing_event_account_id_occurred_at", "account_id", "occurred_at"),
        Index("ix_browsing_event_occurred_at", "occurred_at"),
    )


class AudienceStatistic(db.Model):
    """Audience measurement of the operator's site: visits and page views per day, page and
    device, counted without any identifier (kept at most 13 months, content/retention.yaml)."""

    __tablename__ = "audience_statistic"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # The unique constraint's index (day first) serves the retention run's sweep by day.
    day: Mapped[date] = mapped_column(Date)
    path: Mapped[str] = mapped_column(String(500))
    # "desktop", "mobile" or "tablet".
    device: Mapped[str] = mapped_column(String(16))
    visits: Mapped[int] = mapped_column(Integer)
    page_views: Mapped[int] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("day", "path", "device"),)


class Interest(db.Model):
    """Preferences and interests, declared by the person or inferred from their activity."""

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    topic: Mapped[str] = mapped_column(String(100))
    # "declared" or "inferred".
    source: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Complaint(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SupportConversation(db.Model):
    """A conversation with customer service; phone calls keep a reference to their recording."""

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # "email", "phone" or "chat".
    channel: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(200))
    transcript: Mapped[str] = mapped_column(Text)
    call_recording_ref: Mapped[str | None] = mapped_column(String(200))


class CommunicationPreference(db.Model):
    """Whether the operator may send one topic of news or offers over one channel."""

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    # "email" or "sms".
    channel: Mapped[str] = mapped_column(String(8))
    # One of the operator's communication topics (content/operator.yaml).
    topic: Mapped[str] = mapped_column(String(64))
    subscribed: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("account_id", "channel", "topic"),)


class PreferenceChange(db.Model):
    """Proof of each change of a communication preference: who, what, when and how."""

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True
    )
    # Indexed: a suppression recorded for a bare address is looked up before any mail is sent.
    email: Mapped[str] = mapped_column(String(254), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    topic: Mapped[str] = mapped_column(String(64))
    subscribed: Mapped[bool] = mapped_column(Boolean)
    # "preferences" (the page), "one-click" (RFC 8058 POST), "link" (unsubscribe page) or
    # "objection" (an objection-to-marketing request).
    method: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    request_reference: Mapped[str | None] = mapped_column(String(24))


class ConsentLink(db.Model):
    """A browser's consent identifier (the visitor id in its pc_consent cookie) seen while the
    account holder was signed in: how their consent receipts are found for an export."""

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    visitor_id: Mapped[str] = mapped_column(String(36))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("account_id", "visitor_id"),)
