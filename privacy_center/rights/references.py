"""A request's reference and the secret of its status link: making them, reading them back.

The reference (``PC-7K4M-9Q2X``) is read aloud and typed from letters, so its alphabet leaves
out the characters people confuse (0/O, 1/I/L), and a typed one is read however it was spaced
or cased. The status link carries a random secret of which only the SHA-256 is stored; each
new one replaces the last (the earlier links stop working).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from ..models import PrivacyRequest

# References are read aloud and typed from letters: no 0/O, 1/I/L.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REFERENCE_PREFIX = "PC-"
REFERENCE_LENGTH = 8


@dataclass(frozen=True)
class FiledRequest:
    """A request as filing or confirmation hands it back, with the secrets to send."""

    request: PrivacyRequest
    # The secret of the status link (only its SHA-256 is stored).
    status_token: str
    # The secret of the email confirmation link, when the requester must confirm.
    confirmation_token: str | None


def status_token_hash(token: str) -> str:
    """What is stored of a status-link secret (its SHA-256, in hex)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_status_token() -> tuple[str, str]:
    """A status-link secret (32 random bytes) and the SHA-256 that is stored."""
    token = secrets.token_urlsafe(32)
    return token, status_token_hash(token)


def normalise_reference(value: str) -> str:
    """``pc 7k4m9q2x``, ``PC-7K4M-9Q2X`` and ``7k4m-9q2x`` all give ``PC-7K4M-9Q2X``."""
    compact = "".join(char for char in str(value).upper() if char.isalnum())
    if compact.startswith("PC"):
        compact = compact[2:]
    if len(compact) != REFERENCE_LENGTH:
        return ""
    return f"{REFERENCE_PREFIX}{compact[:4]}-{compact[4:]}"


def new_reference(session: Session) -> str:
    """An unused reference, for a request filed on the forms or entered by staff."""
    for _attempt in range(20):
        code = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
        reference = f"{REFERENCE_PREFIX}{code[:4]}-{code[4:]}"
        if not session.scalar(select(exists().where(PrivacyRequest.reference == reference))):
            return reference
    # 31^8 codes: twenty collisions in a row mean something else is wrong.
    raise RuntimeError("could not find an unused request reference after 20 attempts")
