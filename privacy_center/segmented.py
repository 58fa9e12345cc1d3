"""Stored files encrypted in segments, written and read as streams (large prepared copies).

A file of any size is written as it is produced and read back segment by segment: neither side
ever holds more than one segment (64 KiB) of it. Every segment is authenticated (AES-256-GCM)
together with the file's name, its own position and whether it is the last one, so a file that
was truncated (even exactly at a segment boundary), had a segment dropped, swapped, copied from
another file or appended, or any byte changed, is refused when it is read.

Format (version 1)::

    header   "PCSG" | version (1 byte) | key id (8) | segment size (4, big-endian) | salt (16)
    segment  AES-256-GCM(file key, nonce, plain segment, associated data) | 16-byte tag
             ...  (at least one; only the last may be shorter than the segment size)

- key id: the first 8 bytes of HMAC-SHA256(storage key, "privacy-center storage key id"): the
  reader picks the configured key (current or previous, for rotations) that sealed the file.
- file key: HKDF-SHA256(storage key, salt, "privacy-center segmented v1" + name): every file,
  and every rewrite of one, has its own key, so segment nonces never repeat under a key.
- nonce: the segment's index (11 bytes, big-endian) and a last-segment flag (1 byte).
- associated data: the header and the file's name, so a header altered, or a file renamed to
  another's name, fails on its first segment.

The names are those of uploads.storage.store_document (random, 43 characters) in the same
folders: stored_names, delete_document and the sweep handle both formats alike. Files of the
older whole-file format (uploads.storage.store_document, magic "PCID") stay readable:
:func:`open_stored` reads either, and :func:`reencrypt_stored` rotates either (flask storage
rotate-keys).
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import io
import os
import secrets
import struct
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .files import sync_directory
from .uploads.storage import (
    DocumentNotFound,
    DocumentTampered,
    _checked_name,
    _make_private_directory,
    read_document,
    reencrypt_document,
)

MAGIC = b"PCSG"
VERSION = 1
# The size of a plain segment when writing; a reader takes the one in the file's header.
SEGMENT_SIZE = 64 * 1024
# Bounds a header's segment size must keep (a reader never allocates more than the upper one).
MIN_SEGMENT_SIZE = 1024
MAX_SEGMENT_SIZE = 4 * 1024 * 1024
TAG_BYTES = 16
SALT_BYTES = 16
KEY_ID_BYTES = 8
_HEADER = struct.Struct(f">4sB{KEY_ID_BYTES}sI{SALT_BYTES}s")
HEADER_BYTES = _HEADER.size
# The older whole-file format (uploads.storage.store_document).
WHOLE_FILE_MAGIC = b"PCID"


def key_id(key: bytes) -> bytes:
    """The public identifier of a storage key written in headers (reveals nothing of the key)."""
    return hmac.new(key, b"privacy-center storage key id", hashlib.sha256).digest()[:KEY_ID_BYTES]


def _file_cipher(key: bytes, salt: bytes, name: str) -> AESGCM:
    if not isinstance(key, bytes) or len(key) != 32:
        raise ValueError("A storage key must be 32 bytes (AES-256).")
    derived = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=salt,
        info=b"privacy-center segmented v1" + name.encode("ascii"),
    ).derive(key)
    return AESGCM(derived)


def _nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


# --- writing ----------------------------------------------------------------------------------


class SegmentedWriter:
    """Writes one new stored file as its content comes (a context manager).

    The file is written to a temporary (``.*.partial``, mode 0600) beside its final name and
    renamed into place only when the ``with`` block ends without an error: the name then appears
    complete, or not at all, and a failure (or an exception in the block) removes the temporary.
    A process killed meanwhile leaves only the temporary, which ``flask storage sweep`` removes.
    """

    def __init__(
        self,
        directory: Path,
        key: bytes,
        *,
        segment_size: int | None = None,
        name: str | None = None,
    ) -> None:
        size = SEGMENT_SIZE if segment_size is None else segment_size
        if not MIN_SEGMENT_SIZE <= size <= MAX_SEGMENT_SIZE:
            raise ValueError(f"segment size {size} out of bounds")
        self.directory = directory
        # A new random name, or (key rotation) the name of the file this one replaces.
        self.name = secrets.token_urlsafe(32) if name is None else _checked_name(name)
        self.segment_size = size
        self.plain_size = 0
        self.segments = 0
        salt = secrets.token_bytes(SALT_BYTES)
        self._cipher = _file_cipher(key, salt, self.name)  # a bad key fails before any write
        self._header = _HEADER.pack(MAGIC, VERSION, key_id(key), size, salt)
        self._associated = self._header + self.name.encode("ascii")
        self._pending = bytearray()
        self._file: io.FileIO | None = None
        self._temporary: str | None = None

    def __enter__(self) -> SegmentedWriter:
        _make_private_directory(self.directory)
        fd, self._temporary = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".partial")
        # Unbuffered: each segment goes to the file as soon as it is sealed.
        self._file = os.fdopen(fd, "wb", buffering=0)
        self._write(self._header)
        return self

    def _write(self, data: bytes) -> None:
        assert self._file is not None
        view = memoryview(data)
        while view:
            written = self._file.write(view)
            view = view[written or 0 :]

    def write(self, data: bytes) -> None:
        """Add ``data``; every full segment but the last is encrypted and written at once."""
        if self._file is None:
            raise RuntimeError("the writer is not open")
        self._pending += data
        self.plain_size += len(data)
        size = self.segment_size
        # A segment is written only once more follows it: the last one must carry the flag.
        if len(self._pending) <= size:
            return
        view = memoryview(self._pending)
        start = 0
        try:
            while len(self._pending) - start > size:
                self._seal(view[start : start + size], last=False)
                start += size
        finally:
            view.release()
        del self._pending[:start]

    def _seal(self, plain: bytes | memoryview, *, last: bool) -> None:
        assert self._file is not None
        nonce = _nonce(self.segments, last)
        self._write(self._cipher.encrypt(nonce, bytes(plain), self._associated))
        self.segments += 1

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._file is not None and self._temporary is not None
        try:
            if kind is None:
                self._seal(bytes(self._pending), last=True)
                self._pending.clear()
                self._file.flush()
                os.fsync(self._file.fileno())
            self._file.close()
            if kind is None:
                os.replace(self._temporary, self.directory / self.name)
        except BaseException:
            self._file.close()
            Path(self._temporary).unlink(missing_ok=True)
            raise
        if kind is not None:
            Path(self._temporary).unlink(missing_ok=True)
            return
        sync_directory(self.directory)


def write_segmented(
    chunks: Iterable[bytes], *, directory: Path, key: bytes, segment_size: int | None = None
) -> SegmentedWriter:
    """Store ``chunks`` as one new segmented file (atomically); the finished writer tells its
    ``name`` and ``plain_size``."""
    with SegmentedWriter(directory, key, segment_size=segment_size) as writer:
        for chunk in chunks:
            writer.write(chunk)
    return writer


# --- reading ----------------------------------------------------------------------------------


def _open_file(name: str, directory: Path) -> BinaryIO:
    path = directory / _checked_name(name)
    try:
        # O_NOFOLLOW: a symbolic link planted in the directory is not followed.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise DocumentNotFound(f"No stored file is named {name!r}.") from None
    except OSError as error:
        if error.errno != errno.ELOOP:
            raise
        raise DocumentTampered(f"The stored file {name!r} was replaced by a link.") from None
    return os.fdopen(fd, "rb")


class SegmentedReader:
    """An open segmented file: its header checked, the key that sealed it found. Iterating
    decrypts it segment by segment (each pass from the start); :class:`DocumentTampered` is
    raised at the first segment that fails, before its content is given out."""

    def __init__(self, name: str, file: BinaryIO, keys: Sequence[bytes]) -> None:
        self.name = name
        self._file = file
        header = file.read(HEADER_BYTES)
        if len(header) < HEADER_BYTES:
            raise self._tampered("it is shorter than its header")
        magic, version, sealed_by, size, salt = _HEADER.unpack(header)
        if magic != MAGIC or version != VERSION:
            raise self._tampered("it is not in the segmented format (version 1)")
        if not MIN_SEGMENT_SIZE <= size <= MAX_SEGMENT_SIZE:
            raise self._tampered("its header was altered")
        ids = [key_id(key) for key in keys]
        if sealed_by not in ids:
            raise DocumentTampered(
                f"The stored file {name!r} was sealed with another key than the current and "
                "previous ones (PC_*_KEY, PC_*_PREVIOUS_KEYS), or its header was altered."
            )
        self.key_index = ids.index(sealed_by)
        self.segment_size = size
        self._cipher = _file_cipher(keys[self.key_index], salt, name)
        self._associated = header + name.encode("ascii")
        total = os.fstat(file.fileno()).st_size - HEADER_BYTES
        block = size + TAG_BYTES
        self.segments = max(1, -(-total // block))
        # What the plain content measures if the file is intact (checked while reading).
        self.plain_size = total - self.segments * TAG_BYTES

    def _tampered(self, why: str) -> DocumentTampered:
        return DocumentTampered(
            f"The stored file {self.name!r} fails its integrity check: {why}. It was altered, "
            "truncated, extended or renamed."
        )

    def __iter__(self) -> Iterator[bytes]:
        block = self.segment_size + TAG_BYTES
        self._file.seek(HEADER_BYTES)
        sealed = self._file.read(block)
        index = 0
        while True:
            following = self._file.read(block) if len(sealed) == block else b""
            last = not following
            if len(sealed) < TAG_BYTES:
                raise self._tampered(f"segment {index} is missing or cut short")
            try:
                plain = self._cipher.decrypt(_nonce(index, last), sealed, self._associated)
            except InvalidTag:
                raise self._tampered(
                    f"segment {index} does not authenticate" + (" as the last one" if last else "")
                ) from None
            if plain:
                yield plain
            if last:
                return
            sealed = following
            index += 1

    def verify(self) -> None:
        """Read the whole file once, keeping nothing: raises DocumentTampered if any of it fails."""
        for _segment in self:
            pass

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> SegmentedReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass
class WholeFileReader:
    """A file of the older format (uploads.storage.store_document), read whole (such files were
    written whole) and handed out in segments like a segmented one."""

    name: str
    plain: bytes
    key_index: int

    @property
    def plain_size(self) -> int:
        return len(self.plain)

    def __iter__(self) -> Iterator[bytes]:
        view = memoryview(self.plain)
        for start in range(0, len(self.plain), SEGMENT_SIZE):
            yield bytes(view[start : start + SEGMENT_SIZE])

    def verify(self) -> None:
        """Already checked when it was read."""

    def close(self) -> None:
        self.plain = b""

    def __enter__(self) -> WholeFileReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_segmented(name: str, *, directory: Path, keys: Sequence[bytes]) -> SegmentedReader:
    file = _open_file(name, directory)
    try:
        return SegmentedReader(name, file, keys)
    except BaseException:
        file.close()
        raise


def open_stored(
    name: str, *, directory: Path, key: bytes, previous_keys: Sequence[bytes] = ()
) -> SegmentedReader | WholeFileReader:
    """A stored file of either format, ready to be read in segments. Raises DocumentNotFound,
    or DocumentTampered when its header is altered or no configured key sealed it."""
    keys = (key, *previous_keys)
    file = _open_file(name, directory)
    try:
        magic = file.read(len(MAGIC))
        if magic == WHOLE_FILE_MAGIC:
            file.close()
            # read_document tells which key opened it only through reencrypt; try in order.
            for index, candidate in enumerate(keys):
                try:
                    plain = read_document(name, directory=directory, key=candidate)
                except DocumentTampered:
                    continue
                return WholeFileReader(name, plain, index)
            raise DocumentTampered(
                f"The stored file {name!r} fails its integrity check: it was altered or "
                "renamed, or sealed with another key than the current and previous ones."
            )
        file.seek(0)
        return SegmentedReader(name, file, keys)
    except BaseException:
        file.close()
        raise


def read_stored(
    name: str, *, directory: Path, key: bytes, previous_keys: Sequence[bytes] = ()
) -> bytes:
    """The whole plain content of a stored file of either format (for small files)."""
    with open_stored(name, directory=directory, key=key, previous_keys=previous_keys) as reader:
        return b"".join(reader)


def is_segmented(name: str, *, directory: Path) -> bool:
    with _open_file(name, directory) as file:
        return file.read(len(MAGIC)) == MAGIC


def reencrypt_stored(
    name: str, *, directory: Path, key: bytes, previous_keys: Sequence[bytes]
) -> bool:
    """Re-encrypt a stored file of either format with the current ``key`` if a previous key
    sealed it (same name, same format, replaced atomically); True when it was rewritten. A
    segmented file is streamed through, never whole in memory, and checked to its last segment
    before it replaces the old one."""
    if not is_segmented(name, directory=directory):
        return reencrypt_document(name, directory=directory, key=key, previous_keys=previous_keys)
    with open_segmented(name, directory=directory, keys=(key, *previous_keys)) as reader:
        if reader.key_index == 0:
            return False
        # The same name: the rows keep pointing at it.
        with SegmentedWriter(directory, key, segment_size=reader.segment_size, name=name) as writer:
            for plain in reader:
                writer.write(plain)
    return True
