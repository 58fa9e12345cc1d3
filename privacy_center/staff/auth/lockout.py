"""Staff sign-in lockout by member AND source: a stranger's failures lock out only the stranger.

Each failed password or code is counted for the pair (member, source), the source being a keyed
digest of the client address (HMAC-SHA256 with the SECRET_KEY: the address itself is not
stored; an IPv6 address counts by its /64 network). After ``STAFF_LOCKOUT_ATTEMPTS`` failures
in a row from one source, that source is locked for ``STAFF_LOCKOUT_MINUTES``; each further
lock of the same source lasts twice as long as the one before (at most :data:`MAX_LOCK`).
While a source is locked, even the right password is refused from it, with the same answer as
a wrong one. Every other source, the member's own included, signs in as usual: the lock is the
attacker's, never a weapon against the member.

The member is mailed, in the language of their last sign-in, when a source of failures is
locked (at most once per ``STAFF_LOCKOUT_MINUTES``, however many sources fail). Failures count
afresh after ``STAFF_LOCKOUT_MINUTES`` without one; a day after its last failure or lock, a
source's record is deleted. A successful sign-in clears its source's record; an admin's unlock
and a two-factor reset clear them all.

Plain functions with explicit arguments; the caller commits (and then delivers the mail).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from ... import audit, mail_queue
from ...content import get_content
from ...mail import build_mail
from ...models import StaffMember, StaffSignInFailure

# The longest lock of one source, however often it fails.
MAX_LOCK = timedelta(hours=24)
# A source's record is kept this long after its last failure or the end of its lock.
FORGET_AFTER = timedelta(hours=24)


def source_address(address: str | None) -> str:
    """The part of a client address that names a source: an IPv4 address, or the /64 network
    of an IPv6 one (one machine commonly holds a whole /64, and could otherwise change address
    at each attempt)."""
    try:
        parsed = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "-"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def source_of(secret_key: str, address: str | None) -> str:
    """The keyed digest of a client address's source (see :func:`source_address`)."""
    key = hashlib.sha256(b"privacy-center staff sign-in source v1" + secret_key.encode())
    return hmac.new(key.digest(), source_address(address).encode(), hashlib.sha256).hexdigest()


def _record(session: Session, member: StaffMember, source: str) -> StaffSignInFailure | None:
    return session.scalar(
        select(StaffSignInFailure).where(
            StaffSignInFailure.member_id == member.id, StaffSignInFailure.source == source
        )
    )


def is_locked(session: Session, member: StaffMember, source: str, now: datetime) -> bool:
    """True while ``source`` is locked out of ``member``'s account (other sources are not)."""
    record = _record(session, member, source)
    return record is not None and record.locked_until is not None and record.locked_until > now


def lock_length(config: Mapping[str, Any], locks: int) -> timedelta:
    """The length of the ``locks``-th lock of one source: doubling, at most MAX_LOCK."""
    first = timedelta(minutes=config["STAFF_LOCKOUT_MINUTES"])
    return min(first * 2 ** min(max(locks, 1) - 1, 16), MAX_LOCK)


def _forget_old(session: Session, member: StaffMember, now: datetime) -> None:
    cutoff = now - FORGET_AFTER
    session.execute(
        delete(StaffSignInFailure)
        .where(
            StaffSignInFailure.member_id == member.id,
            StaffSignInFailure.last_failed_at < cutoff,
            or_(
                StaffSignInFailure.locked_until.is_(None),
                StaffSignInFailure.locked_until < cutoff,
            ),
        )
        .execution_options(synchronize_session="fetch")
    )


def record_failure(
    session: Session,
    config: Mapping[str, Any],
    member: StaffMember,
    *,
    source: str,
    step: str,
    now: datetime,
    actor: str,
) -> int | None:
    """Count one failure of ``member`` from ``source``; at the limit lock that source, say so
    in the audit log and queue a mail to the member. Returns the queued mail's id, if any."""
    _forget_old(session, member, now)
    record = _record(session, member, source)
    window = timedelta(minutes=config["STAFF_LOCKOUT_MINUTES"])
    if record is None:
        record = StaffSignInFailure(
            member_id=member.id, source=source, failures=0, locks=0, last_failed_at=now
        )
        session.add(record)
    elif record.last_failed_at < now - window:
        record.failures = 0  # a quiet while: the count starts again (the locks are remembered)
    record.failures += 1
    record.last_failed_at = now
    audit.record(
        session,
        actor=actor,
        action="staff.sign_in_failed",
        details={"step": step, "attempts": record.failures, "source": source[:12]},
        at=now,
    )
    if record.failures < config["STAFF_LOCKOUT_ATTEMPTS"]:
        session.flush()
        return None
    record.failures = 0
    record.locks += 1
    record.locked_until = now + lock_length(config, record.locks)
    audit.record(
        session,
        actor=actor,
        action="staff.locked_out",
        details={"until": record.locked_until.isoformat(), "step": step, "source": source[:12]},
        at=now,
    )
    session.flush()
    return _alert(session, config, member, record, step, now)


def _alert(
    session: Session,
    config: Mapping[str, Any],
    member: StaffMember,
    record: StaffSignInFailure,
    step: str,
    now: datetime,
) -> int | None:
    """Queue the mail telling the member about the lock, unless one went out lately."""
    window = timedelta(minutes=config["STAFF_LOCKOUT_MINUTES"])
    recent = session.scalar(
        select(func.count()).where(
            StaffSignInFailure.member_id == member.id,
            StaffSignInFailure.alerted_at > now - window,
        )
    )
    if recent:
        return None
    operator = get_content().operator
    language = member.language if member.language in operator.languages else None
    message = build_mail(
        config,
        to=member.email,
        template="staff_lockout",
        language=language or operator.default_language,
        context={
            "member": member,
            "attempts": config["STAFF_LOCKOUT_ATTEMPTS"],
            "minutes": int(lock_length(config, record.locks).total_seconds() // 60),
            "code_failed": step in ("code", "enrolment"),
        },
    )
    record.alerted_at = now
    mail = mail_queue.queue_message(session, message, request_id=None, now=now)
    audit.record(
        session,
        actor="system",
        action="staff.lockout_mailed",
        details={"member": member.get_id(), "mail_id": mail.id},
        at=now,
    )
    return mail.id


def clear_source(session: Session, member: StaffMember, source: str) -> None:
    """A successful sign-in from ``source``: its failures are forgotten."""
    session.execute(
        delete(StaffSignInFailure)
        .where(StaffSignInFailure.member_id == member.id, StaffSignInFailure.source == source)
        .execution_options(synchronize_session="fetch")
    )


def clear_all(session: Session, member: StaffMember) -> int:
    """Every lock and failure of the member (an admin's unlock, a reset); returns the number of
    sources that were locked."""
    locked = (
        session.scalar(
            select(func.count()).where(
                StaffSignInFailure.member_id == member.id,
                StaffSignInFailure.locked_until.is_not(None),
            )
        )
        or 0
    )
    session.execute(
        delete(StaffSignInFailure)
        .where(StaffSignInFailure.member_id == member.id)
        .execution_options(synchronize_session="fetch")
    )
    return locked


def locked_sources(session: Session, member: StaffMember, now: datetime) -> int:
    """How many sources are locked out of the member's account now (the members page)."""
    return (
        session.scalar(
            select(func.count()).where(
                StaffSignInFailure.member_id == member.id, StaffSignInFailure.locked_until > now
            )
        )
        or 0
    )
