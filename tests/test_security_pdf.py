"""Identity documents cannot attack the staff who open them (issue 16, item 2).

Each hostile PDF of hostile_pdfs.py is refused, wherever its active content sits, through the
request form (nothing stored, the rest of the form kept); parsing runs in a child process
under limits the kernel enforces; staff see server-rendered PNG images of the pages, never the
original in the browser, which is only a download.
"""

from __future__ import annotations

import io
import os
import re
import resource
from pathlib import Path

import pikepdf
import pytest
from conftest import staff_sign_in
from hostile_pdfs import HOSTILE_PDFS, TOO_COMPLEX, many_objects
from PIL import Image
from test_hostile_uploads import (
    Hostile,
    assert_refused_on_the_field,
    everything_stored,
    file_request,
    upload_app,  # noqa: F401 (a fixture)
)
from test_uploads import image_bytes

from privacy_center.audit import events_of_request
from privacy_center.config import document_key
from privacy_center.content import EXTENSION_KEY
from privacy_center.document_sandbox import (
    DEFAULT_LIMITS,
    SandboxRefusal,
    inspect_pdf,
    limits_with,
    render_pages,
)
from privacy_center.models import IdentityDocument, PrivacyRequest
from privacy_center.page_images import SUFFIX, cache_path
from privacy_center.rights import filing as rights_filing
from privacy_center.storage import rotate_folder, sweep_folder
from privacy_center.uploads.checks import check_identity_document
from privacy_center.uploads.refusals import RejectedUpload
from privacy_center.uploads.storage import store_document
from privacy_center.workflow import RequestState

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def clean_pdf(pages: int) -> bytes:
    """A sound PDF of ``pages`` pages, each with a drawing, as a scanner would make."""
    pdf = pikepdf.new()
    for number in range(pages):
        page = pdf.add_blank_page(page_size=(595, 842))
        page.Contents = pdf.make_stream(b"0 0 1 rg %d 100 200 300 re f" % (50 + 40 * number))
    out = io.BytesIO()
    pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    return out.getvalue()


# --- Every attack is refused, through the form --------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE_PDFS, ids=HOSTILE_PDFS)
def test_each_pdf_attack_is_refused_and_the_form_keeps_the_rest(upload_app, db, name):  # noqa: F811
    data, says = HOSTILE_PDFS[name]
    case = Hostile("passport.pdf", data, says)
    client = upload_app.test_client()
    before = everything_stored(upload_app, db)
    answer = file_request(client, case.filename, case.data, case.content_type)
    assert_refused_on_the_field(answer, case, upload_app)
    assert everything_stored(upload_app, db) == before
    # The person loses nothing else they typed.
    page = answer.get_data(as_text=True)
    assert 'value="Camille Martin"' in page and "Everything you hold about me." in page


@pytest.mark.parametrize("name", HOSTILE_PDFS, ids=HOSTILE_PDFS)
def test_the_attack_is_found_by_the_child_process_not_by_a_byte_pattern(name):
    data, says = HOSTILE_PDFS[name]
    if says == TOO_COMPLEX:
        with pytest.raises(SandboxRefusal) as refused:
            inspect_pdf(data)
        assert refused.value.reason == "too_complex"
    else:
        assert inspect_pdf(data).findings, name


def test_a_clean_pdf_made_with_object_streams_is_accepted():
    inspection = inspect_pdf(clean_pdf(3))
    assert inspection.findings == frozenset() and inspection.pages == 3
    assert check_identity_document("scan.pdf", clean_pdf(3)) == "application/pdf"


def test_a_pdf_with_more_pages_than_the_limit_is_refused_with_the_limit():
    with pytest.raises(RejectedUpload) as refused:
        check_identity_document("scan.pdf", clean_pdf(DEFAULT_LIMITS.max_pages + 1))
    assert f"more than {DEFAULT_LIMITS.max_pages} pages" in str(refused.value)


# --- Parsing is bounded ------------------------------------------------------------------------


def test_the_child_runs_under_the_limits_the_kernel_enforces():
    inspection = inspect_pdf(clean_pdf(1))
    assert inspection.limits == {
        "RLIMIT_AS": DEFAULT_LIMITS.memory_bytes,
        "RLIMIT_CPU": DEFAULT_LIMITS.cpu_seconds,
        "RLIMIT_FSIZE": 0,  # it cannot write a file
    }


def test_two_hundred_thousand_objects_are_refused_by_the_child_the_parent_unchanged():
    data = many_objects()
    assert len(data) < 10 * 1024 * 1024
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # The trailer says how many objects there are...
    with pytest.raises(SandboxRefusal) as refused:
        inspect_pdf(data)
    assert refused.value.reason == "too_complex"
    assert refused.value.limits["RLIMIT_AS"] == DEFAULT_LIMITS.memory_bytes
    # ...and when it lies, the objects are counted as they are parsed, in the child.
    lying = data.replace(b"/Size 200004 ", b"/Size 4 ")
    assert lying != data
    with pytest.raises(SandboxRefusal) as refused:
        inspect_pdf(lying)
    assert refused.value.reason == "too_complex"
    # Nothing was parsed here: this process's peak memory did not grow (ru_maxrss, KB).
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 32 * 1024


def test_a_child_out_of_memory_is_a_refusal_not_a_crash():
    # Under a limit too small to hold the objects, the child fails, and the file is refused.
    tight = limits_with(memory_bytes=150 * 1024 * 1024, max_objects=10_000_000)
    with pytest.raises(SandboxRefusal) as refused:
        inspect_pdf(many_objects().replace(b"/Size 200004 ", b"/Size 4 "), tight)
    assert refused.value.reason == "too_complex"


def test_a_child_out_of_time_is_killed_and_refused():
    # A limit of no processor time at all: the kernel stops the child before it answers.
    with pytest.raises(SandboxRefusal) as refused:
        inspect_pdf(clean_pdf(1), limits_with(cpu_seconds=0))
    assert refused.value.reason == "too_complex"


def test_a_child_past_its_wall_clock_time_is_killed_and_refused():
    # No child starts Python and qpdf in a millisecond: it is killed, the file refused.
    with pytest.raises(SandboxRefusal) as refused:
        inspect_pdf(clean_pdf(1), limits_with(wall_seconds=0.001))
    assert refused.value.reason == "too_complex"


def test_a_child_writing_more_than_its_output_limit_is_refused():
    with pytest.raises(SandboxRefusal) as refused:
        render_pages(clean_pdf(3), limits_with(max_output_bytes=1000))
    assert refused.value.reason == "too_complex"


def test_the_child_gets_none_of_our_environment(monkeypatch):
    # The keys may live in the environment (PC_*): a child taken over by a PDF reads none.
    monkeypatch.setenv("PC_IDENTITY_DOCUMENT_KEY", "secret-that-must-not-leak")
    import privacy_center.document_sandbox as sandbox

    started = []
    real_popen = sandbox.subprocess.Popen

    def popen(*args, **kwargs):
        started.append(kwargs)
        return real_popen(*args, **kwargs)

    monkeypatch.setattr(sandbox.subprocess, "Popen", popen)
    assert inspect_pdf(clean_pdf(1)).pages == 1
    (kwargs,) = started
    assert set(kwargs["env"]) == {"PATH", "LC_ALL"}
    assert "secret-that-must-not-leak" not in str(kwargs)


def test_rendering_bounds_pages_and_pixels():
    images = render_pages(clean_pdf(3), limits_with(max_pages=2, max_page_pixels=100_000))
    assert len(images) == 2
    for image in images:
        with Image.open(io.BytesIO(image)) as opened:
            assert opened.format == "PNG" and opened.width * opened.height <= 100_000


# --- What staff see ----------------------------------------------------------------------------


@pytest.fixture
def documents(app, tmp_path, monkeypatch) -> Path:
    directory = tmp_path / "documents"
    monkeypatch.setitem(app.config, "IDENTITY_DOCUMENT_DIR", str(directory))
    return directory


def filed_with(app, db, filename: str, data: bytes) -> PrivacyRequest:
    with app.test_request_context():
        filed = rights_filing.file_request(
            db,
            kind="access",
            email="camille@example.org",
            name="Camille Martin",
            language="en",
            details="",
            specifics={},
            account=None,
            document=(filename, data),
            today=app.extensions[EXTENSION_KEY].operator.today(),
            settings=app.config,
        )
    # As staff find it once the email address is confirmed.
    filed.request.state = RequestState.IN_PROGRESS
    filed.request.clock_started_on = app.extensions[EXTENSION_KEY].operator.today()
    db.flush()
    return filed.request


@pytest.fixture
def staff_web(client, make_staff):
    staff_sign_in(client, make_staff(role="agent"))
    return client


IMAGE_TAG = re.compile(r'<img src="([^"]+)" alt="Page (\d+) of (\d+)"')


def test_staff_see_each_page_as_a_png_and_the_original_only_as_a_download(
    app, db, documents, staff_web
):
    original = clean_pdf(3)
    request = filed_with(app, db, "scan.pdf", original)
    document = request.documents[0]
    base = f"/staff/requests/{request.reference}/documents/{document.id}"

    shown = staff_web.get(base)
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    html = shown.get_data(as_text=True)
    sources = IMAGE_TAG.findall(html)
    assert [(page, total) for _src, page, total in sources] == [("1", "3"), ("2", "3"), ("3", "3")]
    # Never the original in the page: no frame, embed or object of it.
    assert not re.search(r"<(iframe|embed|object)\b", html)
    assert f'href="{base}/original"' in html

    for source, _page, _total in sources:
        image = staff_web.get(source)
        assert image.status_code == 200 and image.data.startswith(PNG_SIGNATURE)
        assert image.headers["Content-Type"] == "image/png"
        assert image.headers["Cache-Control"] == "no-store"
        assert image.headers["X-Content-Type-Options"] == "nosniff"
        assert original[:64] not in image.data
        with Image.open(io.BytesIO(image.data)) as opened:
            opened.load()
            assert opened.width * opened.height <= DEFAULT_LIMITS.max_page_pixels
    assert staff_web.get(f"{base}/pages/4.png").status_code == 404
    assert staff_web.get(f"{base}/pages/0.png").status_code == 404

    download = staff_web.get(f"{base}/original")
    assert download.status_code == 200 and download.data == original
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Security-Policy"].startswith("sandbox")
    assert download.headers["Cache-Control"] == "no-store"

    # Every image and the download were recorded.
    viewed = [
        event.details
        for event in events_of_request(db, request.id)
        if event.action == "identity_document.viewed"
    ]
    assert [details.get("page") for details in viewed] == [1, 2, 3, None]

    # The images are kept encrypted beside the document, and go with it.
    cache = cache_path(documents, document.stored_name)
    assert cache.exists() and PNG_SIGNATURE not in cache.read_bytes()
    token = re.search(
        r'name="confirm-csrf_token"[^>]*value="([^"]+)"',
        staff_web.get(f"/staff/requests/{request.reference}").get_data(as_text=True),
    )
    assert token is not None
    answer = staff_web.post(
        f"/staff/requests/{request.reference}/confirm-identity",
        data={"confirm-csrf_token": token.group(1), "confirm-document_type": "passport"},
    )
    assert answer.status_code == 303
    assert not cache.exists() and list(documents.iterdir()) == []
    assert staff_web.get(f"{base}/pages/1.png").status_code == 404


def test_a_photo_is_shown_as_a_png_rendered_on_the_server(app, db, documents, staff_web):
    request = filed_with(app, db, "photo.jpg", image_bytes("JPEG", size=(320, 200)))
    document = request.documents[0]
    base = f"/staff/requests/{request.reference}/documents/{document.id}"
    sources = IMAGE_TAG.findall(staff_web.get(base).get_data(as_text=True))
    assert len(sources) == 1
    image = staff_web.get(sources[0][0])
    assert image.headers["Content-Type"] == "image/png"
    with Image.open(io.BytesIO(image.data)) as opened:
        assert opened.format == "PNG" and opened.size == (320, 200)
    download = staff_web.get(f"{base}/original")
    assert download.mimetype == "image/jpeg"
    assert download.headers["Content-Disposition"].startswith("attachment;")


def test_a_document_stored_before_is_rendered_at_its_first_view(app, db, documents, staff_web):
    # Uploaded before page images existed: no cache beside it.
    request = filed_with(app, db, "photo.png", image_bytes("PNG"))
    data = clean_pdf(2)
    name = store_document(data, directory=documents, key=document_key(app.config))
    request.documents.append(
        IdentityDocument(
            kind="identity", stored_name=name, mime_type="application/pdf", size_bytes=len(data)
        )
    )
    db.flush()
    document = request.documents[-1]
    assert not cache_path(documents, name).exists()
    base = f"/staff/requests/{request.reference}/documents/{document.id}"
    assert len(IMAGE_TAG.findall(staff_web.get(base).get_data(as_text=True))) == 2
    assert cache_path(documents, name).exists()


def test_a_document_that_cannot_be_rendered_offers_only_its_download(app, db, documents, staff_web):
    request = filed_with(app, db, "photo.png", image_bytes("PNG"))
    data = b"%PDF-1.7 not a real document"
    name = store_document(data, directory=documents, key=document_key(app.config))
    request.documents.append(
        IdentityDocument(
            kind="identity", stored_name=name, mime_type="application/pdf", size_bytes=len(data)
        )
    )
    db.flush()
    base = f"/staff/requests/{request.reference}/documents/{request.documents[-1].id}"
    html = staff_web.get(base).get_data(as_text=True)
    assert 'id="document-not-rendered"' in html and not IMAGE_TAG.search(html)
    assert staff_web.get(f"{base}/pages/1.png").status_code == 404


def test_another_requests_document_is_not_shown(app, db, documents, staff_web):
    mine = filed_with(app, db, "scan.pdf", clean_pdf(1))
    other = filed_with(app, db, "photo.png", image_bytes("PNG"))
    document = mine.documents[0]
    for suffix in ("", "/pages/1.png", "/original"):
        path = f"/staff/requests/{other.reference}/documents/{document.id}{suffix}"
        assert staff_web.get(path).status_code == 404


def test_key_rotation_drops_the_images_and_the_sweep_removes_orphans(app, db, documents):
    key = document_key(app.config)
    name = store_document(clean_pdf(1), directory=documents, key=key)
    from privacy_center.page_images import page_images

    assert len(page_images(name, directory=documents, key=key)) == 1
    cache = cache_path(documents, name)
    new_key = os.urandom(32)
    report = rotate_folder(documents, new_key, [key])
    assert report.rewritten == 1 and not cache.exists()
    # Rendered again, under the new key, at the next view.
    assert len(page_images(name, directory=documents, key=new_key)) == 1
    # A cache whose document is gone (killed between two deletions) is swept.
    orphan = documents / ("A" * 43 + SUFFIX)
    orphan.write_bytes(cache.read_bytes())
    sweep_folder(documents, {name}, grace_seconds=-1)
    assert not orphan.exists() and cache.exists()


def test_the_document_routes_are_these_three(app):
    rules = {rule.endpoint for rule in app.url_map.iter_rules() if "document_id" in rule.arguments}
    assert rules == {"staff.document", "staff.document_page", "staff.document_original"}
