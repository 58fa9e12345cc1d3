"""Requests to exercise a right, their history, identity documents and emailed tokens."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .account import Account
from .letter import Letter
from .staff import StaffMember
from .types import UTCDateTime, utcnow

# How a request can reach the operator; "web" is the self-service forms, the others are entered
# by staff (rights/intake.py).
CHANNELS = ("web", "post", "email", "phone")


class PrivacyRequest(db.Model):
    """A request to exercise a right (access, erasure, objection, ...), filed by its subject."""

    id: Mapped[int] = mapped_column(primary_key=True)
    # Given to the requester ("PC-7K4M-9Q2X"); it is not a secret: the status link's token is.
    reference: Mapped[str] = mapped_column(String(24), unique=True)
    # access, rectification, erasure, restriction, portability, objection_processing,
    # objection_profiling, objection_marketing (see rights/kinds.py).
    kind: Mapped[str] = mapped_column(String(32))
    # See workflow.RequestState; every change goes through a recorded transition.
    state: Mapped[str] = mapped_column(String(24))
    # Every letter and email to the requester is written in this language.
    language: Mapped[str] = mapped_column(String(8))
    # None for a request staff entered from a letter or a call without one: every letter then
    # goes by post, to postal_address (letters/services.py).
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    # How it arrived: "web" (the self-service forms) or, entered by staff (rights/intake.py),
    # "post", "email" or "phone" (see CHANNELS).
    channel: Mapped[str] = mapped_column(String(8), default="web", server_default="web")
    # Where letters go by post (lines separated by newlines, without the name); shown in the
    # window of the envelope on every letter.
    postal_address: Mapped[str | None] = mapped_column(Text)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True
    )
    requester_name: Mapped[str] = mapped_column(String(200))
    details: Mapped[str] = mapped_column(Text, default="")
    # What the kind needs besides the free text (rectification: field and new value, ...).
    specifics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # When it reached the operator: a request entered by staff carries the day it was received
    # (at noon in the operator's time zone), not the day it was typed in.
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The day the legal clock starts: receipt, or the email confirmation of a requester
    # without an account (the request is not real before).
    clock_started_on: Mapped[date | None] = mapped_column(Date)
    # Kept up to date by each transition (suspensions and extension included).
    due_on: Mapped[date | None] = mapped_column(Date, index=True)
    extended_on: Mapped[date | None] = mapped_column(Date)
    extension_reason: Mapped[str | None] = mapped_column(Text)
    identity_required: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why staff doubt the requester's identity, when they ask for a document.
    identity_reason: Mapped[str | None] = mapped_column(Text)
    # What stays of identity checks once the document is deleted: who, when, type, outcome.
    identity_outcome: Mapped[str | None] = mapped_column(String(16))
    identity_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    identity_checked_by: Mapped[str | None] = mapped_column(String(100))
    identity_document_type: Mapped[str | None] = mapped_column(String(32))
    # SHA-256 of the secret in the emailed status link.
    status_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # When that secret was issued (set with it, see below): once the request is closed, the link
    # works STATUS_LINK_DAYS_AFTER_CLOSE days from the later of closing and issuing
    # (rights/status_links.py). None for links issued before it was recorded.
    status_link_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The staff member working on it (staff console).
    assigned_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_member.id", ondelete="SET NULL"), index=True
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    account: Mapped[Account | None] = relationship()
    transitions: Mapped[list[RequestTransition]] = relationship(
        back_populates="request", order_by="RequestTransition.id", cascade="all, delete-orphan"
    )
    documents: Mapped[list[IdentityDocument]] = relationship(
        back_populates="request", order_by="IdentityDocument.id", cascade="all, delete-orphan"
    )
    assigned_to: Mapped[StaffMember | None] = relationship()
    # Sent letters, oldest first (letters not yet sent are previews, never shown).
    letters: Mapped[list[Letter]] = relationship(
        order_by="Letter.id",
        primaryjoin="and_(Letter.request_id == PrivacyRequest.id, Letter.sent_at.is_not(None))",
        viewonly=True,
    )

    def __repr__(self) -> str:
        return f"<PrivacyRequest {self.reference} {self.kind} {self.state}>"


@event.listens_for(PrivacyRequest.status_token_hash, "set")
def _status_link_issued(target: PrivacyRequest, value: str, old: Any, initiator: Any) -> None:
    """Every new status-link secret records when it was issued, wherever it is made."""
    target.status_link_issued_at = utcnow()


class RequestTransition(db.Model):
    """One change of a request's state: who, when and why (append-only)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("privacy_request.id", ondelete="CASCADE"), index=True
    )
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # "requester", "system", or "staff:<id>".
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")

    request: Mapped[PrivacyRequest] = relationship(back_populates="transitions")


class IdentityDocument(db.Model):
    """An uploaded document, encrypted at rest under a random name (uploads.py)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("privacy_request.id", ondelete="CASCADE"), index=True
    )
    # "identity"; post-mortem requests add "death_certificate", "heirship", "heir_identity".
    kind: Mapped[str] = mapped_column(String(32))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    mime_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(Integer)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set when the file is destroyed (identity decided, or request abandoned 30 days).
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    request: Mapped[PrivacyRequest] = relationship(back_populates="documents")


class EmailToken(db.Model):
    """A single-use secret sent by email (sign-in link, email confirmation, download link).

    Only its SHA-256 is stored: a copy of the database does not let anyone use a link.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    # "sign_in", "confirm_request" or "download".
    purpose: Mapped[str] = mapped_column(String(24))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("privacy_request.id", ondelete="CASCADE")
    )
    export_id: Mapped[int | None] = mapped_column(ForeignKey("data_export.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
