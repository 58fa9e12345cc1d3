"""Identity documents: which files are accepted, and how they are kept.

``check_identity_document`` decides a file's type from its bytes (never from its name), accepts
only PDF, JPEG and PNG, and refuses anything a staff member should not open: programs, archives,
web pages, damaged files, image bombs, PDFs with active content (scripts, actions, links to
addresses or files, forms that send data, XFA forms, attached files, multimedia).

``store_document``, ``read_document`` and ``delete_document`` keep accepted documents encrypted
at rest (AES-256-GCM), under random names, in a directory outside the web root.

A PDF is opened only in a separate, limited process (document_sandbox.py, document_worker.py):
this module checks its bytes, then turns what the child found into a message.
"""

from __future__ import annotations

import errno
import io
import os
import re
import secrets
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import filetype
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask_babel import gettext as _
from PIL import Image, ImageFile

from .document_sandbox import (
    DEFAULT_LIMITS,
    ENCRYPTED,
    TOO_COMPLEX,
    TOO_MANY_PAGES,
    Limits,
    SandboxRefusal,
    inspect_pdf,
)
from .files import write_atomically

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
# The only types accepted, as detected from the file's signature.
ACCEPTED_MIME_TYPES = frozenset({"application/pdf", "image/jpeg", "image/png"})


class RejectedUpload(ValueError):
    """The file is refused; ``str()`` tells the person what to do instead (translated)."""


# --- File type ----------------------------------------------------------------------------------

# What a file's name claims, by extension (lower case).
_CLAIMED_TYPES = {
    ".pdf": "application/pdf",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".jpe": "image/jpeg",
    ".jfif": "image/jpeg",
    ".png": "image/png",
}
# An animated PNG is still a PNG file; Pillow checks its default image like any other.
_MIME_ALIASES = {"image/apng": "image/png"}

# ELF, Windows PE ("MZ"), Mach-O (32/64-bit, both byte orders, universal), WebAssembly, Android
# DEX, and scripts (#!). Checked on the first bytes, after an optional UTF-8 byte-order mark.
_EXECUTABLE_SIGNATURES = (
    b"\x7fELF",
    b"MZ",
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
    b"\x00asm",
    b"dex\n",
    b"#!",
)
_EXECUTABLE_MIMES = frozenset(
    {"application/x-msdownload", "application/x-executable", "application/wasm"}
)
_ARCHIVE_MIMES = frozenset(
    {
        "application/zip",
        "application/x-tar",
        "application/x-rar-compressed",
        "application/gzip",
        "application/x-bzip2",
        "application/x-7z-compressed",
        "application/x-xz",
        "application/zstd",
        "application/x-compress",
        "application/x-lzop",
        "application/x-lzip",
        "application/x-lz4",
        "application/x-brotli",
        "application/vnd.ms-cab-compressed",
        "application/x-deb",
        "application/x-rpm",
        "application/x-unix-archive",
        "application/x-google-chrome-extension",
        "application/epub+zip",
    }
)
_OFFICE_MIMES = frozenset(
    {
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.presentation",
        "application/rtf",
    }
)
# Office files are zip archives: a name saying so earns the "export it as PDF" advice.
_OFFICE_EXTENSIONS = frozenset(
    {".docx", ".docm", ".xlsx", ".pptx", ".odt", ".ods", ".odp", ".doc", ".xls", ".ppt", ".rtf"}
)
_TEXT_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def check_identity_document(filename: str, data: bytes) -> str:
    """The MIME type of an acceptable identity document, detected from its bytes.

    Raises ``RejectedUpload``, whose message says what is wrong and what to do, for anything
    but a sound PDF, JPEG or PNG file of at most ``MAX_DOCUMENT_BYTES``.
    """
    if _CONTROL_CHARACTERS.search(filename or ""):
        # No file picker sends them: a name made to fool a program that reads it (a NUL ending
        # "passport.pdf\0.exe" early, a line break forging a log line).
        raise RejectedUpload(
            _(
                "The file's name contains invisible control characters, which ordinary file "
                "names do not have. Rename the file (for example to passport.pdf) and choose "
                "it again."
            )
        )
    if not data:
        raise RejectedUpload(
            _(
                "The file is empty. Choose it again; if it comes from a scanner or a phone, "
                "check that it was saved completely."
            )
        )
    if len(data) > MAX_DOCUMENT_BYTES:
        raise RejectedUpload(
            _(
                "The file is larger than %(limit)d MB, the most we accept. Scan it at a lower "
                "resolution, or save it as a smaller PDF or JPEG, and try again.",
                limit=MAX_DOCUMENT_BYTES // (1024 * 1024),
            )
        )
    extension = _extension(filename)
    kind = filetype.guess(data)
    detected = _MIME_ALIASES.get(kind.mime, kind.mime) if kind else None
    _refuse_dangerous_kinds(data, detected, extension)

    claimed = _CLAIMED_TYPES.get(extension)
    if claimed is not None and detected != claimed:
        raise RejectedUpload(_name_mismatch_message(claimed, extension))
    if detected not in ACCEPTED_MIME_TYPES:
        raise RejectedUpload(
            _(
                "This type of file is not accepted: only PDF, JPEG or PNG files are. Convert it "
                "first (for example, print or export it to PDF, or save the photo as JPEG), "
                "then upload the new file."
            )
        )
    if detected == "application/pdf":
        _check_pdf(data)
    else:
        _check_image(data, detected)
    return detected


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _extension(filename: str) -> str:
    # Some browsers send a full client path; only the last part's extension matters.
    name = re.split(r"[/\\]", filename or "")[-1].strip().rstrip(".")
    return os.path.splitext(name)[1].lower()


def _refuse_dangerous_kinds(data: bytes, detected: str | None, extension: str) -> None:
    """Programs, text markup and archives are refused whatever their name says."""
    head = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if head.startswith(_EXECUTABLE_SIGNATURES) or detected in _EXECUTABLE_MIMES:
        raise RejectedUpload(
            _(
                "This file is a program or a script, not a document, so it cannot be accepted. "
                "Upload a scan or a photo of the document as PDF, JPEG or PNG."
            )
        )
    markup = _markup_kind(data)
    if markup == "svg":
        raise RejectedUpload(
            _(
                "SVG drawings are not accepted, because they can carry scripts. Export the "
                "drawing as PNG or PDF and upload that file."
            )
        )
    if markup == "html":
        raise RejectedUpload(
            _(
                "This file is a web page (HTML), not a scan or a photo. Open it in your browser "
                "and print it to PDF, or take a screenshot, then upload that file."
            )
        )
    if detected in _OFFICE_MIMES or (
        detected in _ARCHIVE_MIMES and extension in _OFFICE_EXTENSIONS
    ):
        raise RejectedUpload(
            _(
                "Word-processor and office files (such as .docx or .odt) are not accepted. "
                "Export the document as PDF (File, then Export or Print to PDF) and upload "
                "the PDF."
            )
        )
    if detected in _ARCHIVE_MIMES:
        raise RejectedUpload(
            _(
                "Compressed archives (zip, rar, 7z, gz, tar) are not accepted. Take the "
                "document out of the archive and upload it on its own as PDF, JPEG or PNG."
            )
        )


def _markup_kind(data: bytes) -> str | None:
    """``"svg"`` or ``"html"`` when the file is text markup (whatever its name), else None."""
    head = data[:4096]
    for bom, encoding in _TEXT_BOMS:
        if head.startswith(bom):
            text = head[len(bom) :].decode(encoding, "ignore")
            break
    else:
        text = head.decode("latin-1")
    text = text.lstrip().lower()
    if not text.startswith("<"):
        return None
    # Any markup is refused: SVG gets its own advice, everything else (HTML, XHTML, XML) the
    # web page's.
    return "svg" if "<svg" in text else "html"


def _name_mismatch_message(claimed: str, extension: str) -> str:
    if claimed == "application/pdf":
        return _(
            "The file's name ends in .pdf, but its content is not a PDF document. Check that "
            "you chose the right file, or save it again as PDF, and try again."
        )
    if claimed == "image/jpeg":
        return _(
            "The file's name ends in %(extension)s, but its content is not a JPEG image. Check "
            "that you chose the right file, or save it again as JPEG, and try again.",
            extension=extension,
        )
    return _(
        "The file's name ends in .png, but its content is not a PNG image. Check that you chose "
        "the right file, or save it again as PNG, and try again."
    )


# --- Images -------------------------------------------------------------------------------------

_PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}
_PILLOW_LOCK = threading.Lock()
# What Pillow raises on damaged data (its plugins are not consistent about it).
_IMAGE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    zlib.error,
)


def _too_many_pixels() -> RejectedUpload:
    return RejectedUpload(
        _(
            "The image has too many pixels (more than %(limit)d megapixels). Resize it, for "
            "example to 4000 × 3000 pixels, or scan at a lower resolution, and try again.",
            limit=MAX_IMAGE_PIXELS // 1_000_000,
        )
    )


def _check_image(data: bytes, mime: str) -> None:
    """Decode the whole image: a truncated or corrupt file is refused, not half-shown."""
    pillow_format = _PILLOW_FORMATS[mime]
    try:
        with _strict_pillow():
            with Image.open(io.BytesIO(data), formats=[pillow_format]) as image:
                # Image.open has read the header only: the size is known before any pixel is
                # decoded.
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    raise _too_many_pixels()
                image.verify()  # chunk checksums (PNG) and structure
            # verify() leaves the image unusable: decode a fresh one completely.
            with Image.open(io.BytesIO(data), formats=[pillow_format]) as image:
                image.load()
        if mime == "image/jpeg" and not _jpeg_ends(data):
            raise OSError("no end-of-image marker after the last scan")
        if _smuggled_in_image(data):
            raise RejectedUpload(
                _(
                    "The image also contains something other than the picture (such as a "
                    "hidden archive, program or web page code). Open it and save it again as "
                    "a new JPEG or PNG file (or take a screenshot of it), then upload that file."
                )
            )
    except RejectedUpload:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise _too_many_pixels() from None
    except _IMAGE_ERRORS:
        raise RejectedUpload(
            _(
                "The image is damaged or incomplete, so it cannot be read. Take the photo or "
                "the scan again (or export it again as JPEG or PNG) and upload the new file."
            )
        ) from None


# What a polyglot hides in an image or a PDF (in a comment, metadata, after the end): web
# page code, archives and programs. Each pattern is long enough never to occur by chance in
# the compressed pixels of a 10 MB photo.
_SMUGGLED_ANYWHERE = re.compile(
    rb"<\s*(?:script|html|iframe|object|embed)[\s/>]|<\?php|javascript:"
    rb"|Rar!\x1a\x07|7z\xbc\xaf\x27\x1c|This program cannot be run in DOS mode",
    re.IGNORECASE,
)
# A zip archive (or a jar, docx...) is found by readers from its end record, in the last 64 KB.
_ZIP_END = b"PK\x05\x06"
_ZIP_END_WINDOW = 22 + 65535


def _smuggled_in_image(data: bytes) -> bool:
    """Whether an image (or a PDF) is also another kind of file: a polyglot, such as a
    "GIFAR"."""
    return _SMUGGLED_ANYWHERE.search(data) is not None or _ZIP_END in data[-_ZIP_END_WINDOW:]


def _jpeg_ends(data: bytes) -> bool:
    """Whether the end-of-image marker follows the last scan.

    libjpeg pads a scan cut short (with a warning Pillow does not raise), so a truncated photo
    can decode "successfully". Inside a scan every 0xFF byte is followed by 0x00 or a restart
    marker, so the end marker cannot appear by chance; bytes after it (some phones add a
    trailer) do not matter.
    """
    last_scan = data.rfind(b"\xff\xda")
    return last_scan != -1 and data.find(b"\xff\xd9", last_scan) != -1


@contextmanager
def _strict_pillow() -> Iterator[None]:
    """Pillow as strict as it gets, for one check at a time.

    WeasyPrint sets Pillow's global ``ImageFile.LOAD_TRUNCATED_IMAGES`` to True when it is
    imported (to show what it can of broken images): Pillow would then pad a truncated image
    and ignore decoding errors. The check runs with it False and puts back what it found; the
    lock keeps two checks from restoring each other's value. Pillow's bomb warning (above
    ~89 MP, while opening) is turned into an error, never a warning that escapes.
    """
    with _PILLOW_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        previous = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = previous


# --- PDF ----------------------------------------------------------------------------------------

# The PDF itself is opened only in the sandbox's child process (document_sandbox.py): here, only
# cheap checks on the bytes, then the child's findings turned into messages.
_PDF_WHITESPACE = b"\x00\t\n\x0c\r "
MAX_PDF_UNPACKED_BYTES = DEFAULT_LIMITS.max_unpacked_bytes
MAX_PDF_PAGES = DEFAULT_LIMITS.max_pages


def _pdf_damaged() -> RejectedUpload:
    return RejectedUpload(
        _(
            "The PDF is damaged or incomplete (for example, the download or the scan was "
            "interrupted), so it cannot be read. Save or export it again and upload the new file."
        )
    )


def _check_pdf(data: bytes, limits: Limits = DEFAULT_LIMITS) -> None:
    # A complete PDF ends with %%EOF; anything after it but whitespace is a truncated update
    # or something appended to the document.
    if not data.rstrip(_PDF_WHITESPACE).endswith(b"%%EOF"):
        raise _pdf_damaged()
    if _smuggled_in_image(data):
        raise RejectedUpload(
            _(
                "The PDF also contains something other than the document (such as web page "
                "code, a hidden archive or a program). Print it to a new PDF, or scan the paper "
                "document, and upload that file."
            )
        )
    try:
        findings = inspect_pdf(data, limits).findings
    except SandboxRefusal as refusal:
        raise _pdf_refusal(refusal.reason) from None
    for finding in (_JAVASCRIPT, _LAUNCH, _EMBEDDED, _ACTIVE):
        if finding in findings:
            raise _pdf_refusal(finding)


_JAVASCRIPT, _LAUNCH, _EMBEDDED, _ACTIVE = "javascript", "launch", "embedded", "active"


def _pdf_refusal(finding: str) -> RejectedUpload:
    if finding == ENCRYPTED:
        return RejectedUpload(
            _(
                "The PDF is protected by a password or encrypted, so we cannot check it. Remove "
                "the protection (or print it to a new PDF) and upload the unprotected file."
            )
        )
    if finding == TOO_COMPLEX:
        return RejectedUpload(
            _(
                "The PDF is too complex to be checked. Print it to a new PDF, or scan the paper "
                "document, and upload that file."
            )
        )
    if finding == TOO_MANY_PAGES:
        return RejectedUpload(
            _(
                "The PDF has more than %(limit)d pages. Upload only the pages needed (for "
                "example, the pages of the identity document), as one or more smaller files.",
                limit=MAX_PDF_PAGES,
            )
        )
    if finding == _JAVASCRIPT:
        return RejectedUpload(
            _(
                "The PDF contains JavaScript (code that runs when it is opened), which we do not "
                "accept for security reasons. Print it to a new PDF, or scan the paper "
                "document, and upload that file."
            )
        )
    if finding == _LAUNCH:
        return RejectedUpload(
            _(
                "The PDF contains an action that starts another program, which we do not accept "
                "for security reasons. Print it to a new PDF, or scan the paper document, and "
                "upload that file."
            )
        )
    if finding == _EMBEDDED:
        return RejectedUpload(
            _(
                "The PDF contains attached files, which we do not accept. Upload each document "
                "as its own PDF, JPEG or PNG file (printing the PDF to a new PDF drops the "
                "attachments)."
            )
        )
    if finding == _ACTIVE:
        return RejectedUpload(
            _(
                "The PDF contains interactive content (links to web addresses or other files, "
                "forms that send or import data, or multimedia), which we do not accept for "
                "security reasons. Print it to a new PDF, or scan the paper document, and "
                "upload that file."
            )
        )
    return _pdf_damaged()


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
