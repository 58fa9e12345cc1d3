"""The audit log: append-only, each row chained to the previous one by a keyed hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime, utcnow


class AuditEvent(db.Model):
    """Something done to a request or by staff: who, when, what, on what.

    ``row_hash`` is the HMAC-SHA256, under the audit key named by ``key_id``, of this row's
    content and of the previous row's hash (privacy_center/audit.py): editing or deleting a row
    breaks the chain from there on, and no one without the key can compute it again.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # "staff:<id>", "requester", "account:<id>" or "system".
    actor: Mapped[str] = mapped_column(String(100))
    # What was done, e.g. "request.transition", "identity_document.viewed", "letter.sent".
    action: Mapped[str] = mapped_column(String(64))
    # No foreign key: the log outlives what it records (a request purged later keeps its
    # history), and the id is part of the row's hash, which nothing may rewrite.
    request_id: Mapped[int | None] = mapped_column(Integer, index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    previous_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The audit key that sealed the row (audit.key_id: a fingerprint, never the key). None: a row
    # written before the chain was keyed, whose hash is a plain SHA-256.
    key_id: Mapped[str | None] = mapped_column(String(16))
