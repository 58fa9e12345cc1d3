"""Hostile identity documents: each is refused with a message a person can act on, and leaves
nothing behind (no stored file, no request, no document row); hostile names never become the
stored file's name.

Every file is made here, from bytes: no binary fixture.
"""

from __future__ import annotations

import io
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from hostile_pdfs import HOSTILE_PDFS
from markupsafe import escape
from sqlalchemy import func, select
from test_uploads import (
    ELF,
    PE,
    image_bytes,
    object_stream_pdf,
    png_with_header,
    pypdf_document,
    simple_pdf,
    stream,
    zip_bytes,
)
from werkzeug.datastructures import FileStorage
from werkzeug.test import stream_encode_multipart

from privacy_center.content import EXTENSION_KEY
from privacy_center.models import IdentityDocument, PrivacyRequest
from privacy_center.rights import filing as rights_filing
from privacy_center.rights.documents import ask_for_identity
from privacy_center.uploads.checks import MAX_DOCUMENT_BYTES, check_identity_document
from privacy_center.uploads.pdf import MAX_PDF_UNPACKED_BYTES
from privacy_center.uploads.refusals import RejectedUpload


@dataclass(frozen=True)
class Hostile:
    filename: str
    data: bytes
    # A part of the message the person reads.
    says: str
    content_type: str = "application/pdf"


PROGRAM = "a program or a script"
WEB_PAGE = "web page (HTML)"
SMUGGLED_IMAGE = "The image also contains something other than the picture"
SMUGGLED_PDF = "The PDF also contains something other than the document"
DAMAGED_PDF = "The PDF is damaged or incomplete"
DAMAGED_IMAGE = "The image is damaged or incomplete"
JAVASCRIPT = "The PDF contains JavaScript"
CONTROL = "invisible control characters"

PNG = image_bytes("PNG")
JPEG = image_bytes("JPEG")
SCRIPT_HTML = b"<!DOCTYPE html><html><body><script>fetch('/staff')</script></body></html>"
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
    b"<script>alert(document.domain)</script></svg>"
)
DOCX = zip_bytes(
    {
        "[Content_Types].xml": b'<?xml version="1.0"?><Types/>',
        "word/document.xml": b"<w:document/>",
    }
)
JAR = zip_bytes({"META-INF/MANIFEST.MF": b"Main-Class: Evil\n", "Evil.class": b"\xca\xfe\xba\xbe"})


def jpeg_with_comment(comment: bytes) -> bytes:
    """A real JPEG with a COM segment right after SOI (where polyglots put their payload)."""
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    return JPEG[:2] + segment + JPEG[2:]


def png_with_text(text: bytes) -> bytes:
    """A real PNG with a tEXt chunk before IEND."""
    chunk = b"Comment\x00" + text
    body = b"tEXt" + chunk
    packed = len(chunk).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")
    return PNG[:-12] + packed + PNG[-12:]


def deflate_bomb_pdf() -> bytes:
    bomb = zlib.compress(b" " * (MAX_PDF_UNPACKED_BYTES + 1), 9)
    return simple_pdf(b"", b"", stream(bomb, b"/Filter /FlateDecode "))


HOSTILE: dict[str, Hostile] = {
    # Wrong signatures: the content is not what the name says.
    "exe-named-pdf": Hostile("passport.pdf", PE, PROGRAM, "application/pdf"),
    "elf-named-png": Hostile("selfie.png", ELF, PROGRAM, "image/png"),
    "script-named-jpg": Hostile("id.jpg", b"#!/bin/sh\nrm -rf ~\n", PROGRAM, "image/jpeg"),
    "html-named-jpg": Hostile("id.jpg", SCRIPT_HTML, WEB_PAGE, "image/jpeg"),
    "svg-with-script-named-png": Hostile(
        "id.png", SVG, "SVG drawings are not accepted", "image/png"
    ),
    "zip-named-pdf": Hostile("id.pdf", zip_bytes({"id.pdf": b"%PDF-1.7"}), "Compressed archives"),
    "docx-named-pdf": Hostile("id.pdf", DOCX, "Word-processor and office files"),
    "gif-named-png": Hostile("id.png", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "not a PNG image"),
    # Polyglots: a file that is two things at once.
    "html-then-pdf": Hostile("id.pdf", SCRIPT_HTML + simple_pdf(), WEB_PAGE),
    "pdf-with-html-comment": Hostile(
        "id.pdf", simple_pdf().replace(b"%\xe2\xe3\xcf\xd3", b"%" + SCRIPT_HTML, 1), SMUGGLED_PDF
    ),
    "pdf-header-then-html": Hostile("id.pdf", b"%PDF-1.7\n" + SCRIPT_HTML, DAMAGED_PDF),
    "pdf-with-zip-appended": Hostile(
        "id.pdf", simple_pdf() + zip_bytes({"x.exe": PE}), DAMAGED_PDF
    ),
    "jpeg-with-zip-appended": Hostile("id.jpg", JPEG + JAR, SMUGGLED_IMAGE, "image/jpeg"),
    "png-with-jar-appended-gifar": Hostile("id.png", PNG + JAR, SMUGGLED_IMAGE, "image/png"),
    "jpeg-with-script-comment": Hostile(
        "id.jpg",
        jpeg_with_comment(b"*/=1;<script>alert(1)</script>/*"),
        SMUGGLED_IMAGE,
        "image/jpeg",
    ),
    "png-with-html-text-chunk": Hostile(
        "id.png", png_with_text(b"<html><iframe src=//evil.example>"), SMUGGLED_IMAGE, "image/png"
    ),
    # Too large, and decompression bombs.
    "body-over-the-request-limit": Hostile(
        "scan.pdf", b"%PDF-1.7\n" + b" " * (12 * 1024 * 1024), "larger than 10 MB"
    ),
    "over-ten-megabytes": Hostile(
        "scan.pdf",
        simple_pdf() + b" " * (MAX_DOCUMENT_BYTES + 1 - len(simple_pdf())),
        "larger than 10 MB",
    ),
    "png-bomb-50000-square": Hostile(
        "id.png", png_with_header(50_000, 50_000), "too many pixels", "image/png"
    ),
    "png-bomb-one-row": Hostile("id.png", png_with_header(65_535, 1_000), "too many pixels"),
    "pdf-flate-bomb": Hostile("id.pdf", deflate_bomb_pdf(), "too complex to be checked"),
    # Active PDFs.
    "pdf-javascript-open-action": Hostile(
        "id.pdf", pypdf_document(javascript="app.alert('hi')"), JAVASCRIPT
    ),
    "pdf-js-in-object-stream": Hostile(
        "id.pdf",
        object_stream_pdf(
            b"<< /S /JavaScript /JS (app.alert(1)) >>", catalog_extra=b"/OpenAction 4 0 R "
        ),
        JAVASCRIPT,
    ),
    "pdf-hex-obfuscated-javascript": Hostile(
        "id.pdf",
        simple_pdf(b"/OpenAction << /S /#4A#61vaScript /#4A#53 (app.alert(1)) >> "),
        JAVASCRIPT,
    ),
    "pdf-launch": Hostile(
        "id.pdf",
        simple_pdf(b"/OpenAction << /S /Launch /F (cmd.exe) >> "),
        "starts another program",
    ),
    "pdf-embedded-file": Hostile(
        "id.pdf", pypdf_document(attachment=b"MZ payload"), "contains attached files"
    ),
    "pdf-encrypted": Hostile(
        "id.pdf", pypdf_document(password="secret"), "protected by a password or encrypted"
    ),
    # Damaged or empty.
    "pdf-truncated": Hostile("id.pdf", simple_pdf()[:300], DAMAGED_PDF),
    "png-truncated": Hostile("id.png", PNG[: len(PNG) // 2], DAMAGED_IMAGE, "image/png"),
    "jpeg-truncated": Hostile("id.jpg", JPEG[: len(JPEG) - 40], DAMAGED_IMAGE, "image/jpeg"),
    "empty": Hostile("id.pdf", b"", "The file is empty"),
    # Hostile names (a sound document, or a program, behind them).
    "nul-in-name": Hostile("id.pdf\x00.exe", simple_pdf(), CONTROL),
    "escape-sequence-in-name": Hostile("id\x1b[2J\x1b[31m.pdf", simple_pdf(), CONTROL),
    "tab-in-name": Hostile("passport\t.pdf", simple_pdf(), CONTROL),
    "double-extension-program": Hostile("id.pdf.exe", PE, PROGRAM, "application/octet-stream"),
    "wrong-content-type": Hostile("id.pdf", SCRIPT_HTML, WEB_PAGE, "application/pdf"),
    # Active content wherever it sits in a PDF (after decompression, in object streams, under
    # escaped names), and a PDF too large to parse (hostile_pdfs.py).
    **{name: Hostile("id.pdf", data, says) for name, (data, says) in HOSTILE_PDFS.items()},
}

# Names that are harmless once the content is sound: accepted, and never used to store it.
HOSTILE_NAMES = [
    "../../etc/passwd.pdf",
    "..\\..\\windows\\win.ini.png",
    "/etc/cron.d/evil.pdf",
    "C:\\Windows\\System32\\id.pdf",
    "a" * 4000 + ".pdf",
    "id.pdf.exe",
    "‮fdp.exe",  # right-to-left override: shows as "exe.pdf"
]


def test_there_are_at_least_twenty_hostile_files():
    assert len(HOSTILE) >= 20
    # Every PDF trick of issue 16: scripts, XFA, /URI, /SubmitForm, /GoToR, /Launch,
    # /ImportData, attached files, rich media, OpenAction and AA, 200,000 objects.
    assert len(HOSTILE_PDFS) >= 19 and set(HOSTILE_PDFS) <= set(HOSTILE)


@pytest.mark.parametrize("case", HOSTILE.values(), ids=HOSTILE.keys())
def test_the_check_refuses_with_a_message_to_act_on(case: Hostile):
    with pytest.raises(RejectedUpload) as refused:
        check_identity_document(case.filename, case.data)
    message = str(refused.value)
    assert case.says in message
    # A sentence for a person: what is wrong and what to do, no code or traceback.
    assert message.endswith(".") and len(message) > 40
    assert not re.search(r"Traceback|Error\b|Exception|\bline \d+|0x[0-9a-f]+", message)


@pytest.mark.parametrize("filename", HOSTILE_NAMES)
def test_a_hostile_name_does_not_matter_when_the_content_is_sound(filename):
    content = simple_pdf() if ".pdf" in filename else PNG
    if filename.endswith(".png"):
        content = PNG
    assert check_identity_document(filename, content) in {"application/pdf", "image/png"}


# --- Through the pages ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def upload_app(make_app, app, tmp_path_factory):
    """Forms without CSRF tokens, limits no test reaches, a documents folder of its own (so
    that nothing another test stores is counted). Its writes go through the ``db`` fixture's
    transaction (requested by each test); ``app`` is requested for the migrated database."""
    folder = tmp_path_factory.mktemp("hostile")
    return make_app(
        WTF_CSRF_ENABLED=False,
        REQUEST_RATE_LIMIT="100000 per hour",
        UPLOAD_RATE_LIMIT="100000 per hour",
        IDENTITY_DOCUMENT_DIR=str(folder / "documents"),
        MAIL_OUTBOX_DIR=str(folder / "outbox"),
        MAIL_SERVER=None,
    )


def multipart(fields: dict) -> dict:
    """A multipart body built in memory (the test client would spool a big one to a temporary
    file that it never closes: a ResourceWarning)."""
    body, _length, boundary = stream_encode_multipart(fields, use_tempfile=False)
    return {
        "data": body.getvalue(),
        "content_type": f'multipart/form-data; boundary="{boundary}"',
        "headers": {"Accept-Language": "en"},
    }


def everything_stored(app, db) -> tuple[int, int, list[str]]:
    documents = Path(app.config["IDENTITY_DOCUMENT_DIR"])
    files = sorted(str(p.relative_to(documents)) for p in documents.rglob("*"))
    return (
        db.scalar(select(func.count()).select_from(PrivacyRequest)),
        db.scalar(select(func.count()).select_from(IdentityDocument)),
        files,
    )


def file_request(client, filename: str, data: bytes, content_type: str):
    fields = {
        "name": "Camille Martin",
        "email": "camille@example.org",
        "language": "en",
        "details": "Everything you hold about me.",
        "document": FileStorage(io.BytesIO(data), filename, content_type=content_type),
    }
    return client.post("/rights/requests/new/access", **multipart(fields))


def assert_refused_on_the_field(answer, case: Hostile, app) -> None:
    page = answer.get_data(as_text=True)
    assert 400 <= answer.status_code < 500, page[:500]
    if answer.status_code == 413:  # the body itself was too large to be read
        assert "10 MB" in page
        return
    assert answer.status_code == 422
    assert_message_on_the_field(page, check_message(case, app))


def assert_message_on_the_field(page: str, message: str) -> None:
    """The message is shown with the document field (the error paragraph it refers to)."""
    shown = re.search(r'<p class="field-error" id="document-error">(.*?)</p>', page, re.S)
    assert shown is not None, page[:2000]
    assert str(escape(message)) in shown.group(1)
    tag = re.search(r'<input[^>]*name="document"[^>]*>', page)
    assert tag is not None and 'aria-invalid="true"' in tag.group(0)


def check_message(case: Hostile, app) -> str:
    """The message ``check_identity_document`` gives, in English, as the pages show it."""
    with app.test_request_context(headers={"Accept-Language": "en"}):
        with pytest.raises(RejectedUpload) as refused:
            check_identity_document(case.filename, case.data)
        return str(refused.value)


@pytest.mark.parametrize("case", HOSTILE.values(), ids=HOSTILE.keys())
def test_the_request_form_refuses_and_keeps_nothing(upload_app, db, case: Hostile):
    client = upload_app.test_client()
    before = everything_stored(upload_app, db)
    answer = file_request(client, case.filename, case.data, case.content_type)
    assert_refused_on_the_field(answer, case, upload_app)
    assert everything_stored(upload_app, db) == before


@pytest.mark.parametrize("filename", HOSTILE_NAMES)
def test_a_hostile_name_is_never_used_to_store_the_file(upload_app, db, filename):
    client = upload_app.test_client()
    png = filename.endswith(".png")
    content, mime = (PNG, "image/png") if png else (simple_pdf(), "application/pdf")
    before = everything_stored(upload_app, db)
    answer = file_request(client, filename, content, mime)
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    requests, documents, files = everything_stored(upload_app, db)
    assert (requests, documents) == (before[0] + 1, before[1] + 1)
    new = sorted(set(files) - set(before[2]))
    assert len(new) == 1 and re.fullmatch(r"[A-Za-z0-9_-]{43}", new[0])
    stored = db.scalar(select(IdentityDocument).order_by(IdentityDocument.id.desc()))
    assert stored.stored_name == new[0] and stored.mime_type == mime
    basename = re.split(r"[/\\]", filename)[-1]
    tree = Path(upload_app.config["IDENTITY_DOCUMENT_DIR"]).parent
    assert not any(path.name == basename for path in tree.rglob("*"))


def test_a_status_page_refuses_hostile_documents_and_keeps_nothing(upload_app, db, make_account):
    account = make_account(email="holder-hostile@example.org")
    with upload_app.test_request_context():
        filed = rights_filing.file_request(
            db,
            kind="access",
            email=account.email,
            name="Camille Martin",
            language="en",
            details="",
            specifics={},
            account=account,
            document=None,
            today=upload_app.extensions[EXTENSION_KEY].operator.today(),
            settings=upload_app.config,
        )
        # The status page offers an upload only to a request that needs a proof of identity:
        # staff ask for one.
        ask_for_identity(
            db,
            filed.request,
            reason="The name differs from the account's.",
            actor="staff:1",
            today=upload_app.extensions[EXTENSION_KEY].operator.today(),
        )
        db.commit()
        status = f"/rights/requests/{filed.request.reference}/{filed.status_token}"
    client = upload_app.test_client()
    assert client.get(status).status_code == 200
    before = everything_stored(upload_app, db)
    for name in (
        "exe-named-pdf",
        "jpeg-with-zip-appended",
        "pdf-js-in-object-stream",
        "png-bomb-50000-square",
        "nul-in-name",
        "over-ten-megabytes",
    ):
        case = HOSTILE[name]
        document = FileStorage(io.BytesIO(case.data), case.filename, content_type=case.content_type)
        answer = client.post(f"{status}/document", **multipart({"document": document}))
        assert answer.status_code == 422, name
        assert_message_on_the_field(answer.get_data(as_text=True), check_message(case, upload_app))
        assert everything_stored(upload_app, db) == before, name
