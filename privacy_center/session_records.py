"""Signed-in sessions kept on the server: the cookie carries only a random id.

A signed cookie alone cannot be taken back: a copy made before signing out would still open the
console or a holder's pages. So signing in opens a :class:`SessionRecord` (the id's SHA-256, the
owner, the times) and puts the id in the session under ``SESSION_ID_KEY``; Flask-Login's loader
(accounts/setup.py) lets a session in only while its record is live. Signing out, an admin,
a password or two-factor reset and a deactivation revoke records; a staff session also ends
STAFF_IDLE_MINUTES after its last request and STAFF_SESSION_HOURS after signing in, whatever
the activity, an account holder's ACCOUNT_SESSION_HOURS after signing in.

Records that ended (revoked or expired) are deleted ``ENDED_KEPT`` later by the daily retention
run (``purge_ended``). Requests without a session cookie never reach this module.

Plain functions with explicit arguments; the views hold the request and the session.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from .models import Account, SessionRecord, StaffMember
from .models.types import utcnow

# The key of the session id in the (signed) session cookie.
SESSION_ID_KEY = "_sid"
# Where the loader leaves, in ``g``, the live record of the request's session.
RECORD_KEY = "pc_session_record"
# How often a live session's last request is written (the idle timeout's precision).
TOUCH_EVERY = timedelta(minutes=1)
# How long an ended record is kept before the retention run deletes it: a day to see, in the
# table, why a session ended.
ENDED_KEPT = timedelta(days=1)

Owner = Account | StaffMember


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _owned_by(owner: Owner) -> tuple[str, dict[str, int]]:
    if isinstance(owner, StaffMember):
        return "staff", {"staff_member_id": owner.id}
    return "account", {"account_id": owner.id}


def open_record(
    session: Session, owner: Owner, *, lifetime: timedelta, now: datetime | None = None
) -> str:
    """Record a new session of ``owner`` ending ``lifetime`` from now; returns the random id to
    put in the cookie (only its digest is stored)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    kind, column = _owned_by(owner)
    session.add(
        SessionRecord(
            token_hash=token_digest(token),
            kind=kind,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
            **column,
        )
    )
    session.flush()
    return token


def find_record(session: Session, token: object) -> SessionRecord | None:
    """The record of the id ``token`` (as read from a cookie: anything), live or not."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    return session.scalar(
        select(SessionRecord).where(SessionRecord.token_hash == token_digest(token))
    )


def ended_because(
    record: SessionRecord, *, now: datetime, idle: timedelta | None = None
) -> str | None:
    """Why ``record`` no longer opens its session ("revoked", "lifetime", "idle"), or None
    while it is live. ``idle``: the idle timeout (staff sessions)."""
    if record.revoked_at is not None:
        return "revoked"
    if now >= record.expires_at:
        return "lifetime"
    if idle is not None and now - record.last_seen_at > idle:
        return "idle"
    return None


def live_record(
    session: Session,
    token: object,
    *,
    user_id: str,
    now: datetime | None = None,
    idle: timedelta | None = None,
) -> SessionRecord | None:
    """The record of ``token`` when it is live and belongs to ``user_id`` ("staff:<id>" or
    "account:<id>", as in the cookie), else None."""
    record = find_record(session, token)
    if record is None or record.owner_id != user_id:
        return None
    if ended_because(record, now=now or utcnow(), idle=idle) is not None:
        return None
    return record


def touch(record: SessionRecord, now: datetime | None = None) -> bool:
    """Note a request on a live session; True when the row changed (the caller commits). Written
    at most once per TOUCH_EVERY, not on every request."""
    now = now or utcnow()
    if now - record.last_seen_at < TOUCH_EVERY:
        return False
    record.last_seen_at = now
    return True


def revoke(
    session: Session, record: SessionRecord, *, reason: str, now: datetime | None = None
) -> bool:
    """End one session; False when it had already ended (revoked)."""
    if record.revoked_at is not None:
        return False
    record.revoked_at = now or utcnow()
    record.revoked_reason = reason
    return True


def revoke_token(
    session: Session, token: object, *, reason: str, now: datetime | None = None
) -> bool:
    """End the session of the id ``token`` (signing out); False when there is none to end."""
    record = find_record(session, token)
    return record is not None and revoke(session, record, reason=reason, now=now)


def revoke_all(
    session: Session,
    owner: Owner,
    *,
    reason: str,
    now: datetime | None = None,
    keep: object = None,
) -> int:
    """End every live session of ``owner`` (but the one of id ``keep``, if given); returns how
    many were ended."""
    now = now or utcnow()
    kind, column = _owned_by(owner)
    (name, number), *_ = column.items()
    conditions = [
        SessionRecord.kind == kind,
        getattr(SessionRecord, name) == number,
        SessionRecord.revoked_at.is_(None),
        SessionRecord.expires_at > now,
    ]
    if isinstance(keep, str):
        conditions.append(SessionRecord.token_hash != token_digest(keep))
    result = session.execute(
        update(SessionRecord)
        .where(*conditions)
        .values(revoked_at=now, revoked_reason=reason)
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount


def live_count(session: Session, member: StaffMember, *, now: datetime, idle: timedelta) -> int:
    """The staff member's sessions still open (for the members page)."""
    rows = session.scalars(
        select(SessionRecord).where(
            SessionRecord.kind == "staff",
            SessionRecord.staff_member_id == member.id,
            SessionRecord.revoked_at.is_(None),
            SessionRecord.expires_at > now,
        )
    )
    return sum(1 for record in rows if ended_because(record, now=now, idle=idle) is None)


def purge_ended(
    session: Session, *, now: datetime | None = None, idle: timedelta, kept: timedelta = ENDED_KEPT
) -> int:
    """Delete the records that ended more than ``kept`` ago (revoked, past their lifetime, or a
    staff session idle for longer than ``idle``); returns how many. The caller commits."""
    cutoff = (now or utcnow()) - kept
    result = session.execute(
        delete(SessionRecord)
        .where(
            or_(
                SessionRecord.revoked_at < cutoff,
                SessionRecord.expires_at < cutoff,
                (SessionRecord.kind == "staff") & (SessionRecord.last_seen_at < cutoff - idle),
            )
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount
