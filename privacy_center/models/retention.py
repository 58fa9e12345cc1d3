"""Runs of the retention rules (privacy_center/retention/): what each did, for the staff page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow

RUN_STATUSES = ("running", "completed", "failed", "interrupted")


class RetentionRun(db.Model):
    """One run of ``flask retention run`` (or its dry run).

    ``results`` holds, per rule key and step ("warned", "deactivated", "erased", "archived",
    "deleted"), ``{"count": n, "oldest": "ISO date or null", "batches": n}``, and for an erasure
    ``"categories"`` (``"planned_categories"`` in a dry run): ``{"CONNECTOR:CATEGORY": {"removed"
    | "anonymised" | "kept" | "elsewhere" | "failed": rows}}``; it is written with every
    committed batch, so that an interrupted run shows what it had done.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The moment the rules were applied to (the clock of the run: "now" when started).
    reference_time: Mapped[datetime] = mapped_column(UTCDateTime())
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    # One of RUN_STATUSES.
    status: Mapped[str] = mapped_column(String(16))
    batch_size: Mapped[int] = mapped_column(Integer)
    results: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<RetentionRun {self.id} {self.status}{' dry' if self.dry_run else ''}>"
