"""Staff sign-in: argon2 passwords, TOTP second factor, lockout (lockout.py: per member and
source), and staff administration.

Plain functions with explicit arguments; the views hold the request and the session.

TOTP secrets are encrypted at rest with AES-256-GCM. The key is derived from the application's
SECRET_KEY with HKDF-SHA256 (info ``privacy-center staff TOTP secret v1``), and each ciphertext
is bound to its member (associated data ``staff:<id>``), so a secret copied into another row
does not decrypt. Changing SECRET_KEY makes every stored secret unreadable: each member then
enrols again after an admin resets their two-factor set-up.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ... import audit
from ...accounts.lookup import normalise_email
from ...accounts.passwords import hash_password, needs_rehash, verify_password
from ...models import STAFF_ROLES, SessionRecord, StaffMember
from ...models.types import utcnow
from ...session_records import revoke, revoke_all
from . import lockout

MIN_PASSWORD_LENGTH = 12
# Time steps of 30 seconds; one step either side is accepted (clocks drift a little).
TOTP_INTERVAL = 30
TOTP_WINDOW = 1
_HKDF_INFO = b"privacy-center staff TOTP secret v1"
_CIPHER_PREFIX = "v1:"


class StaffError(ValueError):
    """Bad input for a staff administration action; the message says what to change.

    The message is translated when it is shown (``str(error)``, in the page's language; the
    command line shows it in English, under ``flask_babel.force_locale("en")``).
    """


def actor_of(member: StaffMember) -> str:
    """The audit log's actor of a staff member: "staff:<id>"."""
    return member.get_id()


# --- the TOTP secret, encrypted at rest --------------------------------------------------------


def _totp_key(secret_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        secret_key.encode()
    )


def encrypt_totp_secret(secret_key: str, member_id: int, secret: str) -> str:
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_totp_key(secret_key)).encrypt(
        nonce, secret.encode(), f"staff:{member_id}".encode()
    )
    return _CIPHER_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def decrypt_totp_secret(secret_key: str, member_id: int, stored: str) -> str | None:
    """The member's base32 secret, or None when it cannot be read (another key, damaged)."""
    if not stored.startswith(_CIPHER_PREFIX):
        return None
    try:
        raw = base64.urlsafe_b64decode(stored[len(_CIPHER_PREFIX) :])
        plain = AESGCM(_totp_key(secret_key)).decrypt(
            raw[:12], raw[12:], f"staff:{member_id}".encode()
        )
    except (InvalidTag, ValueError):
        return None
    return plain.decode()


def totp_matching_step(secret: str, code: str, at: datetime) -> int | None:
    """The time step (within the window) whose code is ``code``, or None."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=TOTP_INTERVAL)
    current = totp.timecode(at)
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def provisioning_uri(secret: str, member: StaffMember, issuer: str) -> str:
    return pyotp.TOTP(secret, interval=TOTP_INTERVAL).provisioning_uri(
        name=member.email, issuer_name=issuer
    )


# --- signing in --------------------------------------------------------------------------------


def find_member(session: Session, email: str) -> StaffMember | None:
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


# --- staff administration ----------------------------------------------------------------------


def check_new_password(password: str) -> None:
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
    return list(session.scalars(select(StaffMember).order_by(StaffMember.name, StaffMember.id)))
