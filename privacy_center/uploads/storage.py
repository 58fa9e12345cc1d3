"""Identity documents (and prepared copies) kept encrypted at rest: AES-256-GCM, each file under
a random name authenticated with its content, in a private directory outside the web root;
read with the current or a previous key, re-encrypted by a key rotation, deleted with the
images of its pages (page_images.py). The segmented format of large files is segmented.py."""

from __future__ import annotations

import errno
import os
import re
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..files import write_atomically

# --- Encrypted storage --------------------------------------------------------------------------

# What a stored name looks like (secrets.token_urlsafe(32)): nothing else is ever opened, so no
# name can reach outside the directory.
_STORED_NAME = re.compile(r"[A-Za-z0-9_-]{43}")
# File format: magic and version, 96-bit nonce, AES-256-GCM ciphertext with its 16-byte tag.
_MAGIC = b"PCID\x01"
# The images of a document's pages, kept beside it (page_images.py).
PAGE_IMAGES_SUFFIX = ".pages"
_NONCE_BYTES = 12
_TAG_BYTES = 16


class StoredDocumentError(Exception):
    """A stored identity document cannot be read, or its name is not one of ours."""


class InvalidDocumentName(StoredDocumentError, ValueError):
    """The name is not a stored document's name (for example, it holds a path)."""


class DocumentNotFound(StoredDocumentError, LookupError):
    """No stored document has this name (it was deleted, or never stored)."""


class DocumentTampered(StoredDocumentError):
    """The stored file fails its integrity check: altered, renamed, or another key."""


def store_document(data: bytes, *, directory: Path, key: bytes) -> str:
    """Encrypt ``data`` into a new file of ``directory``; returns its random name."""
    _cipher(key)  # a wrong key fails before anything is written
    _make_private_directory(directory)
    name = secrets.token_urlsafe(32)
    write_atomically(directory / name, _seal(data, name, key))
    return name


def read_document(
    name: str, *, directory: Path, key: bytes, previous_keys: Sequence[bytes] = ()
) -> bytes:
    """The plain content of a stored document. ``previous_keys`` are the keys in use before the
    current one: a file not yet re-encrypted by ``flask storage rotate-keys`` is still read."""
    return _open_sealed(name, directory, (key, *previous_keys))[0]


def reencrypt_document(
    name: str, *, directory: Path, key: bytes, previous_keys: Sequence[bytes]
) -> bool:
    """Re-encrypt a stored document with the current ``key`` if one of ``previous_keys`` sealed
    it (same name, written atomically); True when it was rewritten."""
    plain, used = _open_sealed(name, directory, (key, *previous_keys))
    if used == 0:
        return False
    write_atomically(directory / name, _seal(plain, name, key))
    return True


def stored_names(directory: Path) -> list[str]:
    """The names of the documents stored in ``directory`` (nothing else found there)."""
    if not directory.is_dir():
        return []
    return sorted(entry.name for entry in directory.iterdir() if _STORED_NAME.fullmatch(entry.name))


def _seal(data: bytes, name: str, key: bytes) -> bytes:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    # The name is authenticated with the content: a file renamed to another document's name
    # fails to decrypt instead of being shown as that document.
    return _MAGIC + nonce + _cipher(key).encrypt(nonce, data, name.encode("ascii"))


def _open_sealed(name: str, directory: Path, keys: Sequence[bytes]) -> tuple[bytes, int]:
    """The plain content and the index in ``keys`` of the key that opened it."""
    ciphers = [_cipher(key) for key in keys]
    path = directory / _checked_name(name)
    try:
        # O_NOFOLLOW: a symbolic link planted in the directory is not followed.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise DocumentNotFound(f"No stored identity document is named {name!r}.") from None
    except OSError as error:
        if error.errno != errno.ELOOP:
            raise
        raise DocumentTampered(
            f"The stored identity document {name!r} was replaced by a symbolic link."
        ) from None
    with os.fdopen(fd, "rb") as file:
        sealed = file.read()
    header = len(_MAGIC) + _NONCE_BYTES
    if not sealed.startswith(_MAGIC) or len(sealed) < header + _TAG_BYTES:
        raise DocumentTampered(f"The stored identity document {name!r} is not in our format.")
    nonce = sealed[len(_MAGIC) : header]
    for index, cipher in enumerate(ciphers):
        try:
            return cipher.decrypt(nonce, sealed[header:], name.encode("ascii")), index
        except InvalidTag:
            continue
    raise DocumentTampered(
        f"The stored identity document {name!r} fails its integrity check: it was altered "
        "or renamed, or it was encrypted with another key than the current and previous ones "
        "(PC_*_KEY, PC_*_PREVIOUS_KEYS)."
    )


def delete_document(name: str, *, directory: Path) -> bool:
    """Delete a stored document and the images of its pages (page_images.py); True if it
    existed, False if it was already gone."""
    (directory / (_checked_name(name) + PAGE_IMAGES_SUFFIX)).unlink(missing_ok=True)
    try:
        (directory / name).unlink()
    except FileNotFoundError:
        return False
    return True


def _checked_name(name: str) -> str:
    if not isinstance(name, str) or not _STORED_NAME.fullmatch(name):
        raise InvalidDocumentName(f"{name!r} is not the name of a stored identity document.")
    return name


def _cipher(key: bytes) -> AESGCM:
    if not isinstance(key, bytes) or len(key) != 32:
        raise ValueError("The identity-document key must be 32 bytes (AES-256).")
    return AESGCM(key)


def _make_private_directory(directory: Path) -> None:
    try:
        directory.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        if not directory.is_dir():
            raise
    else:
        directory.chmod(0o700)  # whatever the umask
