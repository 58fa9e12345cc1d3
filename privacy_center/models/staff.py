"""Staff members of the operator who work the requests in the console."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow

STAFF_ROLES = ("agent", "dpo", "admin")


class StaffMember(UserMixin, db.Model):
    """A staff member: an agent, the DPO or an administrator. Never an account holder's session."""

    id: Mapped[int] = mapped_column(primary_key=True)
    # Always stored lower-cased.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # One of STAFF_ROLES.
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    # The TOTP secret, encrypted at rest; None until the member enrols on their first sign-in.
    totp_secret: Mapped[str | None] = mapped_column(String(300))
    totp_enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last TOTP time step accepted: a code is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # The language of the console at the last sign-in: the language of the mails to the member.
    language: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def is_active(self) -> bool:  # Flask-Login: a deactivated member cannot sign in
        return self.deactivated_at is None

    def get_id(self) -> str:
        return f"staff:{self.id}"

    def __repr__(self) -> str:
        return f"<StaffMember {self.id} {self.role}>"


class StaffSignInFailure(db.Model):
    """Failed sign-ins of one member from one source (staff/auth/lockout.py): the lock applies to
    that source only, so a stranger's failures never keep the member out of their own."""

    __table_args__ = (UniqueConstraint("member_id", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("staff_member.id", ondelete="CASCADE"))
    # A keyed digest (HMAC-SHA256 with the SECRET_KEY) of the client address, never the address.
    source: Mapped[str] = mapped_column(String(64))
    # Failures in a row since the last lock (or since the last quiet STAFF_LOCKOUT_MINUTES).
    failures: Mapped[int] = mapped_column(Integer, default=0)
    # Locks of this source so far: each lasts twice as long as the one before.
    locks: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the member was mailed about this source's failures.
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
