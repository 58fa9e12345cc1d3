"""Signed-in sessions kept on the server (privacy_center/session_records.py).

The session cookie holds a random id; this table holds only its SHA-256, the owner and the
session's times. Signing out, an admin, a password or two-factor reset revoke the row, and a
copy of the old cookie then opens nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow

SESSION_KINDS = ("staff", "account")


class SessionRecord(db.Model):
    """One signed-in session of a staff member (the console) or of an account holder."""

    __tablename__ = "session_record"
    __table_args__ = (
        # Exactly one owner, the one of its kind.
        CheckConstraint(
            "(kind = 'staff' AND staff_member_id IS NOT NULL AND account_id IS NULL) OR "
            "(kind = 'account' AND account_id IS NOT NULL AND staff_member_id IS NULL)",
            name="one_owner",
        ),
        # The periodic clean-up looks for ended sessions by their expiry.
        Index("ix_session_record_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-256 (hex) of the random id in the cookie: a copy of this table opens no session.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # "staff" or "account" (SESSION_KINDS).
    kind: Mapped[str] = mapped_column(String(8))
    staff_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_member.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The last request seen (refreshed at most once a minute): the staff idle timeout.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The absolute end, whatever the activity (STAFF_SESSION_HOURS, ACCOUNT_SESSION_HOURS).
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # "sign_out", "idle", "lifetime", "admin", "password_reset", "totp_reset", "deactivated".
    revoked_reason: Mapped[str | None] = mapped_column(String(32))

    @property
    def owner_id(self) -> str:
        """The Flask-Login id of the owner: "staff:<id>" or "account:<id>"."""
        number = self.staff_member_id if self.kind == "staff" else self.account_id
        return f"{self.kind}:{number}"

    def __repr__(self) -> str:
        return f"<SessionRecord {self.id} {self.owner_id}>"
