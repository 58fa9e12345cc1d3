"""The latest activity of an account, per source, besides its sign-ins here.

``account.last_active_at`` is the last sign-in to the privacy center; the operator's other
sources of activity (content/retention.yaml, ``activity``: its site, its emails) are recorded here,
one row per account and source holding the latest moment seen. The retention run counts the
latest of all (privacy_center/retention/activity.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class AccountActivity(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    # The key of the source declared in content/retention.yaml (activity).
    source: Mapped[str] = mapped_column(String(64))
    # The latest activity seen from that source (never moves back).
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())

    # One row per account and source; the run looks an account's rows up by its id, and a
    # source's latest moment (where its next collection starts) by source.
    __table_args__ = (
        UniqueConstraint("account_id", "source"),
        Index("ix_account_activity_source_last_at", "source", "last_at"),
    )

    def __repr__(self) -> str:
        return f"<AccountActivity {self.account_id} {self.source} {self.last_at}>"
