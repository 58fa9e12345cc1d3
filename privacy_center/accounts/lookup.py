"""Finding an account holder by their email address.

Addresses are stored lower-cased (``Account.email``) and compared the same way; a rate-limit
counter keyed on an address holds its digest, so that no address sits in Redis.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Account


def normalise_email(email: str) -> str:
    """Emails are stored lower-cased (Account.email): compare them the same way."""
    return email.strip().lower()


def rate_limit_key(value: str) -> str:
    """A rate-limit counter's key for an email: its digest, so no address sits in Redis."""
    return hashlib.sha256(normalise_email(value).encode()).hexdigest()


def find_account(session: Session, email: str) -> Account | None:
    """The account with this email address (any case), or None."""
    return session.scalar(select(Account).where(Account.email == normalise_email(email)))
