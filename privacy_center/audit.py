"""The audit log: append-only and hash-chained.

Every row carries the SHA-256 of its own content and of the previous row's hash. Editing a row
changes its hash; deleting one leaves the next row pointing at a hash that no longer precedes
it: ``verify`` names the first row where the chain breaks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from .extensions import db
from .models import AuditEvent
from .models.types import utcnow

GENESIS = "0" * 64
# Any constant: PostgreSQL's transaction-level lock that makes appends take turns.
_CHAIN_LOCK = 0x50435F4155444954


def content_hash(
    previous_hash: str,
    at: datetime,
    actor: str,
    action: str,
    request_id: int | None,
    details: dict[str, Any],
) -> str:
    document = json.dumps(
        {
            "previous": previous_hash,
            "at": at.isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "request": request_id,
            "details": details,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(document.encode()).hexdigest()


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    request_id: int | None = None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (it is kept only if the caller commits)."""
    if session.get_bind().dialect.name == "postgresql":
        # Two transactions appending at once would both chain to the same row.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    previous = session.scalar(select(AuditEvent.row_hash).order_by(AuditEvent.id.desc()).limit(1))
    moment = at or utcnow()
    payload = dict(details or {})
    event = AuditEvent(
        at=moment,
        actor=actor,
        action=action,
        request_id=request_id,
        details=payload,
        previous_hash=previous or GENESIS,
        row_hash=content_hash(previous or GENESIS, moment, actor, action, request_id, payload),
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class BrokenLink:
    event_id: int
    reason: str


def verify(session: Session) -> tuple[int, BrokenLink | None]:
    """Check the whole chain: (rows checked, the first broken link or None)."""
    previous = GENESIS
    checked = 0
    rows = session.scalars(
        select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000)
    )
    with rows:  # a server-side cursor on PostgreSQL: closed even when the loop stops early
        for event in rows:
            if event.previous_hash != previous:
                return checked, BrokenLink(
                    event.id,
                    "it does not follow the row before it (a row was deleted or changed)",
                )
            expected = content_hash(
                previous, event.at, event.actor, event.action, event.request_id, event.details
            )
            if event.row_hash != expected:
                return checked, BrokenLink(event.id, "its content was changed after it was written")
            previous = event.row_hash
            checked += 1
    return checked, None


def events_of_request(session: Session, request_id: int) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.request_id == request_id).order_by(AuditEvent.id)
        )
    )


audit_cli = AppGroup("audit", help="The audit log.")


@audit_cli.command("verify")
def verify_command() -> None:
    """Check that no row of the audit log was changed or deleted."""
    checked, broken = verify(db.session)
    if broken is None:
        click.echo(f"The audit log is intact: {checked} rows checked.")
        return
    raise click.ClickException(
        f"The audit log is broken at row {broken.event_id}: {broken.reason}. "
        f"{checked} rows before it are intact."
    )


def init_app(app: Flask) -> None:
    app.cli.add_command(audit_cli)
