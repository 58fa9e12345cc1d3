"""Which files are accepted as identity documents: ``check_identity_document`` decides a file's
type from its bytes (never from its name), accepts only PDF, JPEG and PNG of at most
``MAX_DOCUMENT_BYTES``, refuses programs, archives and web pages whatever their name says, and
hands the image or PDF to its own checks (images.py, pdf.py)."""

from __future__ import annotations

import os
import re

import filetype
from flask_babel import gettext as _

from .images import check_image
from .pdf import check_pdf
from .refusals import RejectedUpload

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
# The only types accepted, as detected from the file's signature.
ACCEPTED_MIME_TYPES = frozenset({"application/pdf", "image/jpeg", "image/png"})


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
        check_pdf(data)
    else:
        check_image(data, detected)
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
