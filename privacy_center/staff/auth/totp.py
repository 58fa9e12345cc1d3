"""The second factor: TOTP codes (RFC 6238, 30-second steps, one step of drift either way),
and the member's secret, encrypted at rest.

Secrets are encrypted with AES-256-GCM. The key is derived from the application's SECRET_KEY
with HKDF-SHA256 (info ``privacy-center staff TOTP secret v1``), and each ciphertext is bound to
its member (associated data ``staff:<id>``), so a secret copied into another row does not
decrypt. Changing SECRET_KEY makes every stored secret unreadable: each member then enrols
again after an admin resets their two-factor set-up.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from datetime import datetime

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ...models import StaffMember

# Time steps of 30 seconds; one step either side is accepted (clocks drift a little).
TOTP_INTERVAL = 30
TOTP_WINDOW = 1
_HKDF_INFO = b"privacy-center staff TOTP secret v1"
_CIPHER_PREFIX = "v1:"


def _totp_key(secret_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        secret_key.encode()
    )


def encrypt_totp_secret(secret_key: str, member_id: int, secret: str) -> str:
    """The member's base32 secret, encrypted and bound to the member, as stored."""
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
    """The ``otpauth://`` address an authenticator app reads (from the enrolment QR code)."""
    return pyotp.TOTP(secret, interval=TOTP_INTERVAL).provisioning_uri(
        name=member.email, issuer_name=issuer
    )
