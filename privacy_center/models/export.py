"""Copies of an account holder's data."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow


class DataExport(db.Model):
    """One copy of an account holder's data (a zip), prepared at once or in the background."""

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    # 1 for the first copy (free); from 2 on the fee notice was shown and acknowledged.
    copy_number: Mapped[int] = mapped_column(Integer)
    fee_acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    language: Mapped[str] = mapped_column(String(8))
    # "queued", "running", "ready", "failed", "expired".
    state: Mapped[str] = mapped_column(String(16))
    rows_done: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_total: Mapped[int] = mapped_column(BigInteger, default=0)
    # The encrypted zip (segmented.py: written as it is built, in authenticated segments; copies
    # stored before that format: uploads.storage.store_document), outside the web root.
    stored_name: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # When the preparation last reported progress: a "running" copy silent for long was stopped
    # (its worker killed) and is marked failed (exports/copies.py STALLED_AFTER).
    progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    downloaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
