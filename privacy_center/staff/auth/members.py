"""Staff administration: adding members, deactivating them, resetting a password or the
two-factor set-up, lifting locks and ending sessions (the admin's ``/staff/members`` page and
``flask staff``).

Each action is audited with who did it. A reset or a deactivation ends every session of the
member (session_records.py); a password or two-factor reset also lifts every lock of their
account (lockout.py). Bad input raises :class:`StaffError`, having written nothing. Plain
functions with explicit arguments; the caller commits.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ... import audit
from ...accounts.lookup import normalise_email
from ...accounts.passwords import hash_password
from ...models import STAFF_ROLES, StaffMember
from ...models.types import utcnow
from ...session_records import revoke_all
from . import lockout
from .sign_in import actor_of, find_member

MIN_PASSWORD_LENGTH = 12


class StaffError(ValueError):
    """Bad input for a staff administration action; the message says what to change.

    The message is translated when it is shown (``str(error)``, in the page's language; the
    command line shows it in English, under ``flask_babel.force_locale("en")``).
    """


def check_new_password(password: str) -> None:
    """Refuse (:class:`StaffError`) a password too short, too weak or too long."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(
            _l(
                "The password is too short: use at least %(num)d characters (a few unrelated "
                "words make a strong one).",
                num=MIN_PASSWORD_LENGTH,
            )
        )
    if len(set(password)) < 5:
        raise StaffError(_l("The password is too weak: it repeats too few different characters."))
    if len(password) > 1024:
        raise StaffError(_l("The password is too long: use at most 1024 characters."))


def create_member(
    session: Session,
    *,
    email: str,
    name: str,
    role: str,
    password: str,
    actor: str,
) -> StaffMember:
    """Add a staff member (they enrol their TOTP on first sign-in). Raises StaffError, having
    written nothing, on bad input."""
    email = normalise_email(email)
    name = name.strip()
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        raise StaffError(
            _l("“%(email)s” is not an email address (name@example.com).", email=email)
        ) from None
    if not name or len(name) > 200:
        raise StaffError(_l("The name is required (at most 200 characters)."))
    if role not in STAFF_ROLES:
        raise StaffError(
            _l(
                "Unknown role “%(role)s”: use one of %(roles)s.",
                role=role,
                roles=", ".join(STAFF_ROLES),
            )
        )
    check_new_password(password)
    if find_member(session, email) is not None:
        raise StaffError(_l("A staff member with the email %(email)s already exists.", email=email))
    member = StaffMember(email=email, name=name, role=role, password_hash=hash_password(password))
    session.add(member)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="staff.member_created",
        details={"member": actor_of(member), "email": email, "role": role},
    )
    return member


def deactivate_member(session: Session, member: StaffMember, *, actor: str) -> None:
    """Deactivate another member (never oneself): every session of theirs ends."""
    if actor == actor_of(member):
        raise StaffError(_l("You cannot deactivate yourself."))
    if member.deactivated_at is not None:
        return
    member.deactivated_at = utcnow()
    revoke_all(session, member, reason="deactivated")
    audit.record(
        session,
        actor=actor,
        action="staff.member_deactivated",
        details={"member": actor_of(member)},
    )


def reset_two_factor(session: Session, member: StaffMember, *, actor: str) -> None:
    """Forget the member's TOTP: they enrol again on their next sign-in. Every lock of their
    account is lifted too (lockout.py), and every session of theirs ends (whoever holds one
    signs in again, with the new set-up)."""
    member.totp_secret = None
    member.totp_enrolled_at = None
    member.totp_last_step = None
    lockout.clear_all(session, member)
    ended = revoke_all(session, member, reason="totp_reset")
    audit.record(
        session,
        actor=actor,
        action="staff.totp_reset",
        details={"member": actor_of(member), "sessions_ended": ended},
    )


def reset_password(session: Session, member: StaffMember, *, password: str, actor: str) -> int:
    """Give the member a new password (``flask staff reset-password``); every session of theirs
    ends and every lock of their account is lifted. Returns the sessions ended. Raises
    StaffError, having changed nothing, for a password too weak."""
    check_new_password(password)
    member.password_hash = hash_password(password)
    lockout.clear_all(session, member)
    ended = revoke_all(session, member, reason="password_reset")
    audit.record(
        session,
        actor=actor,
        action="staff.password_reset",
        details={"member": actor_of(member), "sessions_ended": ended},
    )
    return ended


def end_sessions(
    session: Session, member: StaffMember, *, actor: str, keep: str | None = None
) -> int:
    """End every session of the member (an admin's "End sessions": a lost laptop, a cookie that
    may have been copied), but the session ``keep`` (the admin's own, when they end their other
    sessions). Audited; returns how many ended."""
    ended = revoke_all(session, member, reason="admin", keep=keep)
    audit.record(
        session,
        actor=actor,
        action="staff.sessions_ended",
        details={"member": actor_of(member), "sessions": ended},
    )
    return ended


def unlock_member(session: Session, member: StaffMember, *, actor: str) -> int:
    """Lift every lock of the member's account and forget its failures (an admin's unlock);
    returns the number of sources that were locked."""
    locked = lockout.clear_all(session, member)
    audit.record(
        session,
        actor=actor,
        action="staff.member_unlocked",
        details={"member": actor_of(member), "sources": locked},
    )
    return locked


def list_members(session: Session) -> list[StaffMember]:
    """Every member, by name."""
    return list(session.scalars(select(StaffMember).order_by(StaffMember.name, StaffMember.id)))
