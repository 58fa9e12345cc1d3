"""What staff see of an identity document: PNG images of its pages, never the original.

The images are rendered by the sandbox's child process (document_sandbox.py) the first time
the document is viewed (documents uploaded before this existed included), then kept beside
the document, encrypted like it (AES-256-GCM, the document key) in ``<stored name>.pages``.
uploads.storage.delete_document deletes them with the document; a key rotation drops them (they are
rendered again, with the current key, at the next view); the sweep removes any left without
their document.
"""

from __future__ import annotations

import secrets
import struct
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .document_sandbox import DEFAULT_LIMITS, Limits, render_pages
from .files import write_atomically
from .uploads.storage import PAGE_IMAGES_SUFFIX as SUFFIX
from .uploads.storage import _checked_name, read_document

_MAGIC = b"PCPG\x01"
_NONCE_BYTES = 12
_COUNT = struct.Struct(">I")


def cache_path(directory: Path, stored_name: str) -> Path:
    return directory / (_checked_name(stored_name) + SUFFIX)


def page_images(
    stored_name: str,
    *,
    directory: Path,
    key: bytes,
    previous_keys: Sequence[bytes] = (),
    limits: Limits = DEFAULT_LIMITS,
) -> list[bytes]:
    """The PNG images of a stored document's pages, rendered and cached at the first call.

    Raises document_sandbox.SandboxRefusal when the document cannot be rendered (damaged, or
    beyond the limits), and uploads.storage.StoredDocumentError when it cannot be read.
    """
    path = cache_path(directory, stored_name)
    cached = _read_cache(path, stored_name, (key, *previous_keys))
    if cached is not None:
        return cached
    original = read_document(stored_name, directory=directory, key=key, previous_keys=previous_keys)
    images = render_pages(original, limits)
    write_atomically(path, _seal(images, stored_name, key))
    return images


def _associated(stored_name: str) -> bytes:
    # The document's name binds the images to it: a cache renamed to another document's fails.
    return (stored_name + SUFFIX).encode("ascii")


def _seal(images: list[bytes], stored_name: str, key: bytes) -> bytes:
    plain = _COUNT.pack(len(images)) + b"".join(_COUNT.pack(len(image)) for image in images)
    plain += b"".join(images)
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return _MAGIC + nonce + AESGCM(key).encrypt(nonce, plain, _associated(stored_name))


def _read_cache(path: Path, stored_name: str, keys: Sequence[bytes]) -> list[bytes] | None:
    """The cached images, or None when there are none that a configured key opens (then they
    are rendered again: they are only derived from the document)."""
    try:
        sealed = path.read_bytes()
    except FileNotFoundError:
        return None
    if not sealed.startswith(_MAGIC):
        return None
    nonce = sealed[len(_MAGIC) : len(_MAGIC) + _NONCE_BYTES]
    for key in keys:
        try:
            plain = AESGCM(key).decrypt(
                nonce, sealed[len(_MAGIC) + _NONCE_BYTES :], _associated(stored_name)
            )
        except InvalidTag:
            continue
        (count,) = _COUNT.unpack_from(plain)
        sizes = struct.unpack_from(f">{count}I", plain, _COUNT.size)
        position = _COUNT.size * (count + 1)
        images = []
        for size in sizes:
            images.append(plain[position : position + size])
            position += size
        return images
    return None


def delete_cache(directory: Path, stored_name: str) -> None:
    cache_path(directory, stored_name).unlink(missing_ok=True)


def caches_without_document(directory: Path) -> list[Path]:
    """Cached page images whose document is gone (the sweep removes them)."""
    if not directory.is_dir():
        return []
    return [
        entry
        for entry in directory.iterdir()
        if entry.name.endswith(SUFFIX)
        and not (directory / entry.name.removesuffix(SUFFIX)).exists()
    ]


def all_caches(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return [entry for entry in directory.iterdir() if entry.name.endswith(SUFFIX)]
