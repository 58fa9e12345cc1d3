"""PDF identity documents: cheap checks on the bytes here; the PDF itself is opened only in the
sandbox's child process (document_sandbox.py, document_worker.py), whose findings (scripts,
actions, links, forms that send data, attached files, multimedia...) become the messages a
person reads."""

from __future__ import annotations

from flask_babel import gettext as _

from ..document_sandbox import (
    DEFAULT_LIMITS,
    ENCRYPTED,
    TOO_COMPLEX,
    TOO_MANY_PAGES,
    Limits,
    SandboxRefusal,
    inspect_pdf,
)
from .refusals import RejectedUpload, smuggled_in_image

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


def check_pdf(data: bytes, limits: Limits = DEFAULT_LIMITS) -> None:
    # A complete PDF ends with %%EOF; anything after it but whitespace is a truncated update
    # or something appended to the document.
    if not data.rstrip(_PDF_WHITESPACE).endswith(b"%%EOF"):
        raise _pdf_damaged()
    if smuggled_in_image(data):
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
