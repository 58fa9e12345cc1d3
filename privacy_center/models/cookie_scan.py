"""Runs of the cookie scanner (privacy_center/cookie_scan/): the staff console shows the last."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class CookieScan(db.Model):
    """One run of ``flask cookies scan``: the whole report (cookie_scan/report.py) as JSON.

    Nothing personal: cookie names, storage keys, hosts and the operator's own pages.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    site_key: Mapped[str] = mapped_column(String(64))
    # 0 clean, 1 problems found, 2 incomplete (compare.exit_status).
    exit_status: Mapped[int] = mapped_column(Integer)
    violations: Mapped[int] = mapped_column(Integer)
    undeclared: Mapped[int] = mapped_column(Integer)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)

    def __repr__(self) -> str:
        return f"<CookieScan {self.id} {self.site_key} exit {self.exit_status}>"
