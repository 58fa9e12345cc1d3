"""Single-use secrets sent by email: sign-in links, email confirmations, download links.

A token carries 256 bits of randomness; the database keeps only its SHA-256, so a copy of the
database opens no link. Redeeming is one conditional UPDATE: two clicks racing on the same link
cannot both succeed.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .models import EmailToken
from .models.types import utcnow

PURPOSES = frozenset({"sign_in", "confirm_request", "download"})


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session,
    *,
    purpose: str,
    email: str,
    lifetime: timedelta,
    account_id: int | None = None,
    request_id: int | None = None,
    export_id: int | None = None,
    now: datetime | None = None,
) -> str:
    """Store a new token and return its secret (to put in a link; never stored)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    secret = secrets.token_urlsafe(32)
    issued = now or utcnow()
    session.add(
        EmailToken(
            purpose=purpose,
            token_hash=token_hash(secret),
            email=email,
            account_id=account_id,
            request_id=request_id,
            export_id=export_id,
            created_at=issued,
            expires_at=issued + lifetime,
        )
    )
    session.flush()
    return secret


def find_token(
    session: Session, *, purpose: str, token: str, now: datetime | None = None
) -> EmailToken | None:
    """The unused, unexpired token behind ``token``, without using it.

    Links open a page whose button redeems the token: mail scanners that fetch every link
    must not use it up.
    """
    if not token or len(token) > 100:
        return None
    found = session.scalar(
        select(EmailToken).where(
            EmailToken.token_hash == token_hash(token), EmailToken.purpose == purpose
        )
    )
    if found is None or found.used_at is not None or found.expires_at <= (now or utcnow()):
        return None
    return found


def redeem_token(
    session: Session, *, purpose: str, token: str, now: datetime | None = None
) -> EmailToken | None:
    """Use the token once: the first caller gets it, every later or concurrent one gets None."""
    found = find_token(session, purpose=purpose, token=token, now=now)
    if found is None:
        return None
    moment = now or utcnow()
    used = session.execute(
        update(EmailToken)
        .where(EmailToken.id == found.id, EmailToken.used_at.is_(None))
        .values(used_at=moment)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        return None
    found.used_at = moment
    return found
