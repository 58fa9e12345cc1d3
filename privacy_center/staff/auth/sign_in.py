"""Staff sign-in: the password (argon2), then the TOTP code, or the enrolment of the second
factor on a first sign-in; sign-out and sessions ended by time, each audited.

A failed password or code counts against the source it came from (lockout.py: per member and
source); a locked source, an unknown address and a deactivated member get the same answer after
the same work. Plain functions with explicit arguments; the views hold the request and the
session, the caller commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from ... import audit
from ...accounts.lookup import normalise_email
from ...accounts.passwords import hash_password, needs_rehash, verify_password
from ...models import SessionRecord, StaffMember
from ...models.types import utcnow
from ...session_records import revoke
from . import lockout
from .totp import decrypt_totp_secret, encrypt_totp_secret, totp_matching_step


def actor_of(member: StaffMember) -> str:
    """The audit log's actor of a staff member: "staff:<id>"."""
    return member.get_id()


def find_member(session: Session, email: str) -> StaffMember | None:
    """The member with this email address (any case), or None."""
    return session.scalar(select(StaffMember).where(StaffMember.email == normalise_email(email)))


def check_password(
    session: Session,
    config: Mapping[str, Any],
    *,
    email: str,
    password: str,
    source: str,
    now: datetime | None = None,
    mails: list[int] | None = None,
) -> StaffMember | None:
    """The first step: the member, when the password is right and they may go on to the code
    (or enrolment); else None. Unknown email, wrong password, deactivated or ``source`` locked
    out of the account (lockout.py): the same argon2 work and the same None, each audited (the
    caller commits, then delivers the mails whose ids are appended to ``mails``)."""
    now = now or utcnow()
    member = find_member(session, email)
    right = verify_password(member.password_hash if member is not None else None, password)
    if member is None:
        audit.record(
            session,
            actor="unknown",
            action="staff.sign_in_failed",
            details={"step": "password", "email": normalise_email(email)[:254]},
            at=now,
        )
        return None
    refusal = (
        "deactivated"
        if not member.is_active
        else "locked"
        if lockout.is_locked(session, member, source, now)
        else None
    )
    if refusal is not None:
        audit.record(
            session,
            actor=actor_of(member),
            action="staff.sign_in_failed",
            details={"step": "password", "reason": refusal},
            at=now,
        )
        return None
    if not right:
        _fail(session, config, member, source=source, step="password", now=now, mails=mails)
        return None
    if needs_rehash(member.password_hash):
        member.password_hash = hash_password(password)
    return member


def pending_secret(session: Session, config: Mapping[str, Any], member: StaffMember) -> str:
    """The secret to enrol with: kept (encrypted) until confirmed, so that reloading the page
    shows the same QR code."""
    if member.totp_secret is not None and member.totp_enrolled_at is None:
        secret = decrypt_totp_secret(config["SECRET_KEY"], member.id, member.totp_secret)
        if secret is not None:
            return secret
    secret = pyotp.random_base32()
    member.totp_secret = encrypt_totp_secret(config["SECRET_KEY"], member.id, secret)
    session.flush()
    return secret


def check_code(
    session: Session,
    config: Mapping[str, Any],
    member: StaffMember,
    *,
    code: str,
    source: str,
    language: str | None = None,
    now: datetime | None = None,
    mails: list[int] | None = None,
) -> bool:
    """The second step (or the enrolment's first code). True when the code is right and was
    never used; then the member is signed in (and enrolled), the failures from ``source`` are
    forgotten and ``language`` (the console's) is kept for the mails to the member. Audited
    either way; a failure counts for ``source`` like a wrong password."""
    now = now or utcnow()
    if (
        not member.is_active
        or lockout.is_locked(session, member, source, now)
        or member.totp_secret is None
    ):
        return False
    enrolling = member.totp_enrolled_at is None
    secret = decrypt_totp_secret(config["SECRET_KEY"], member.id, member.totp_secret)
    step = totp_matching_step(secret, code, now) if secret is not None else None
    # A code already accepted (or an older one) is refused: a code seen over a shoulder or
    # caught in transit cannot be used again.
    if step is None or (member.totp_last_step is not None and step <= member.totp_last_step):
        step_name = "enrolment" if enrolling else "code"
        _fail(session, config, member, source=source, step=step_name, now=now, mails=mails)
        return False
    member.totp_last_step = step
    lockout.clear_source(session, member, source)
    member.last_sign_in_at = now
    if language:
        member.language = language
    if enrolling:
        member.totp_enrolled_at = now
        audit.record(session, actor=actor_of(member), action="staff.totp_enrolled", at=now)
    audit.record(session, actor=actor_of(member), action="staff.sign_in", at=now)
    return True


def _fail(
    session: Session,
    config: Mapping[str, Any],
    member: StaffMember,
    *,
    source: str,
    step: str,
    now: datetime,
    mails: list[int] | None,
) -> None:
    mail_id = lockout.record_failure(
        session, config, member, source=source, step=step, now=now, actor=actor_of(member)
    )
    if mail_id is not None and mails is not None:
        mails.append(mail_id)


def record_sign_out(session: Session, member: StaffMember, *, reason: str) -> None:
    """Audit the member's sign-out and why ("sign_out", "idle", "lifetime")."""
    audit.record(
        session, actor=actor_of(member), action="staff.sign_out", details={"reason": reason}
    )


def end_session_by_time(
    session: Session, record: SessionRecord, *, reason: str, now: datetime
) -> None:
    """A staff session found ended by its time ("idle" or "lifetime"): revoked with that
    reason, and its member's sign-out audited."""
    revoke(session, record, reason=reason, now=now)
    member = session.get(StaffMember, record.staff_member_id)
    if member is not None:
        record_sign_out(session, member, reason=reason)
