"""Staff members of the operator who work the requests in the console."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import BigInteger, Integer, String
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
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
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
