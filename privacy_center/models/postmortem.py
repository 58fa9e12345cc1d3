"""Post-mortem directives of a living account holder (French law 78-17, art. 85).

Every recording is a new row: a change never overwrites what was recorded before, so that the
operator can show which directives were in force on any day (a certificate names its version).
Withdrawing sets ``withdrawn_at`` on the version in force; recording again afterwards adds a
new version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .account import Account
from .types import UTCDateTime, utcnow

# What may be done with one category of data after the holder's death.
DIRECTIVE_CHOICES = ("keep", "delete", "communicate")


class PostmortemDirective(db.Model):
    """One version of an account holder's particular directives."""

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    # 1, 2, 3 ... per account: the certificate names it.
    version: Mapped[int] = mapped_column(Integer)
    # {category key (connectors.yaml): "keep" | "delete" | "communicate"}.
    choices: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # "Nothing is to be communicated to any third party after my death": overrides every
    # "communicate" choice and excludes a designated person.
    communicate_nothing: Mapped[bool] = mapped_column(Boolean, default=False)
    designated_name: Mapped[str | None] = mapped_column(String(200))
    designated_email: Mapped[str | None] = mapped_column(String(254))
    designated_relation: Mapped[str | None] = mapped_column(String(100))
    # The separate, specific consent to recording directives (not the general terms): which
    # wording the holder agreed to, and when.
    consent_wording_version: Mapped[str] = mapped_column(String(32))
    consent_given_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The certificate's language (the holder's, when recorded).
    language: Mapped[str] = mapped_column(String(8))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # SHA-256 of the certificate's canonical content (postmortem.services.canonical_content);
    # printed on the certificate and checked by the verification page.
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)

    account: Mapped[Account] = relationship()

    __table_args__ = (UniqueConstraint("account_id", "version"),)

    @property
    def has_designated_person(self) -> bool:
        return bool(self.designated_email)

    def __repr__(self) -> str:
        return f"<PostmortemDirective account={self.account_id} v{self.version}>"


class PostmortemDelivery(db.Model):
    """Data of a deceased holder communicated to an heir or designated person: a zip of exactly
    the categories released (postmortem/delivery.py), stored encrypted, downloaded once through
    the link mailed to the requester. Only the SHA-256 of the link's token is stored."""

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("privacy_request.id", ondelete="CASCADE"), index=True
    )
    # The deceased's account the data were read from (kept as a record if it goes later).
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    # The category keys communicated (connectors.yaml), in the order released.
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Who the link was mailed to (the requester), and the language of the mail and the files.
    email: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(8))
    # The encrypted zip (uploads.storage.store_document, in EXPORT_DIR); None once downloaded or
    # expired.
    stored_name: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The link's single use: set by the first successful download.
    downloaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the file was deleted (downloaded or expired).
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<PostmortemDelivery {self.id} request={self.request_id}>"
