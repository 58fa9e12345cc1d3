"""Hypothesis drives the main forms with arbitrary text and files: no answer is a server
error, and a refused submission changes nothing (no request, no document row, no stored file).

Each test's examples share the ``db`` fixture's transaction (rolled back after the test); the
counts are taken before and after each example, so an accepted example does not hide a refused
one's leftovers.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from test_consent_api import ORIGIN
from test_hostile_uploads import multipart
from test_uploads import image_bytes, simple_pdf
from werkzeug.datastructures import FileStorage

from privacy_center.models import Account, IdentityDocument, PrivacyRequest

FORM_SETTINGS = settings(
    max_examples=40,
    derandomize=True,  # the same examples on every run: CI is deterministic
    database=None,  # no .hypothesis/ folder left in the working tree
    deadline=None,  # timing is not what is tested
    # The application and the transaction serve every example on purpose; each example
    # compares what is stored before and after itself.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

PDF = simple_pdf()
PNG = image_bytes("PNG")

# Arbitrary text, and the values a real form sends (so that some examples get through the
# form's checks and reach the services).
TEXT = st.text(max_size=300)
EMAILS = st.one_of(TEXT, st.sampled_from(["camille@example.org", "CAMILLE@Example.ORG "]))
LANGUAGES = st.one_of(TEXT, st.sampled_from(["fr", "en", "es", "de"]))
FILENAMES = st.one_of(
    st.text(max_size=120), st.sampled_from(["id.pdf", "id.png", "../../x.pdf", "id.pdf.exe"])
)
CONTENTS = st.one_of(
    st.binary(max_size=2048),
    st.sampled_from([PDF, PNG, b"", PDF[:100], b"%PDF-1.7\n" + PNG]),
    st.binary(max_size=64).map(lambda tail: PNG + tail),
)


def upload(data: bytes, filename: str) -> FileStorage:
    return FileStorage(io.BytesIO(data), filename, content_type="application/octet-stream")


@pytest.fixture(scope="module")
def fuzz_app(make_app, app, tmp_path_factory):
    """Forms without CSRF tokens (Flask-WTF's WTF_CSRF_ENABLED), limits no run reaches, its own
    documents and outbox folders. (``app`` is requested for the migrated database.)"""
    folder = tmp_path_factory.mktemp("form-fuzz")
    return make_app(
        WTF_CSRF_ENABLED=False,
        REQUEST_RATE_LIMIT="1000000 per hour",
        UPLOAD_RATE_LIMIT="1000000 per hour",
        LOGIN_RATE_LIMIT="1000000 per minute",
        SIGN_IN_LINK_RATE_LIMIT="1000000 per hour",
        CONSENT_RATE_LIMIT="1000000 per minute",
        IDENTITY_DOCUMENT_DIR=str(folder / "documents"),
        MAIL_OUTBOX_DIR=str(folder / "outbox"),
        MAIL_SERVER=None,
    )


def stored(app, db) -> tuple[int, int, int, int]:
    """Requests, document rows, stored files and accounts."""
    documents = Path(app.config["IDENTITY_DOCUMENT_DIR"])
    files = len(list(documents.iterdir())) if documents.exists() else 0
    return (
        db.scalar(select(func.count()).select_from(PrivacyRequest)),
        db.scalar(select(func.count()).select_from(IdentityDocument)),
        files,
        db.scalar(select(func.count()).select_from(Account)),
    )


def assert_no_server_error_and_nothing_kept_when_refused(answer, before, after) -> None:
    assert answer.status_code < 500, answer.get_data(as_text=True)[:2000]
    if answer.status_code != 302:  # refused (the form again, 4xx): nothing changed
        assert after == before


@pytest.mark.parametrize("kind", ["access", "erasure", "rectification", "objection_marketing"])
@FORM_SETTINGS
@given(
    name=TEXT,
    email=EMAILS,
    language=LANGUAGES,
    details=TEXT,
    specific=TEXT,
    content=CONTENTS,
    filename=FILENAMES,
)
def test_rights_request_form(
    fuzz_app, db, kind, name, email, language, details, specific, content, filename
):
    fields = {
        "name": name,
        "email": email,
        "language": language,
        "details": details,
        "specific_scope": specific,
        "specific_data_item": specific,
        "specific_new_value": specific,
        "document": upload(content, filename),
    }
    before = stored(fuzz_app, db)
    answer = fuzz_app.test_client().post(f"/rights/requests/new/{kind}", **multipart(fields))
    assert_no_server_error_and_nothing_kept_when_refused(answer, before, stored(fuzz_app, db))


@FORM_SETTINGS
@given(
    purpose=st.one_of(TEXT, st.sampled_from(["postmortem_estate", "postmortem_closure"])),
    capacity=st.one_of(TEXT, st.sampled_from(["heir", "notary", "designated_person"])),
    deceased_name=TEXT,
    deceased_identifier=st.one_of(TEXT, st.just("holder@example.org")),
    name=TEXT,
    email=EMAILS,
    language=LANGUAGES,
    details=TEXT,
    files=st.lists(st.tuples(CONTENTS, FILENAMES), min_size=3, max_size=3),
)
def test_post_mortem_request_form(
    fuzz_app,
    db,
    purpose,
    capacity,
    deceased_name,
    deceased_identifier,
    name,
    email,
    language,
    details,
    files,
):
    fields = {
        "purpose": purpose,
        "capacity": capacity,
        "deceased_name": deceased_name,
        "deceased_identifier": deceased_identifier,
        "name": name,
        "email": email,
        "language": language,
        "details": details,
    }
    for field, (content, filename) in zip(
        ("death_certificate", "capacity_proof", "identity"), files, strict=True
    ):
        fields[field] = upload(content, filename)
    before = stored(fuzz_app, db)
    answer = fuzz_app.test_client().post("/rights/post-mortem/request", **multipart(fields))
    assert_no_server_error_and_nothing_kept_when_refused(answer, before, stored(fuzz_app, db))


# Fewer: every attempt verifies a password hash (argon2), on purpose slow.
@settings(FORM_SETTINGS, max_examples=20)
@given(email=EMAILS, password=TEXT, next_url=st.one_of(TEXT, st.just("//evil.example/")))
def test_sign_in_form(fuzz_app, db, email, password, next_url):
    before = stored(fuzz_app, db)
    answer = fuzz_app.test_client().post(
        "/rights/sign-in", data={"email": email, "password": password, "next": next_url}
    )
    assert answer.status_code < 500, answer.get_data(as_text=True)[:2000]
    assert answer.status_code != 302  # nobody has these credentials
    assert stored(fuzz_app, db) == before


@FORM_SETTINGS
@given(email=EMAILS, reference=st.one_of(TEXT, st.just("PC-2026-00001")))
def test_find_my_request_form(fuzz_app, db, email, reference):
    before = stored(fuzz_app, db)
    answer = fuzz_app.test_client().post(
        "/rights/requests/find", data={"email": email, "reference": reference}
    )
    assert answer.status_code < 500, answer.get_data(as_text=True)[:2000]
    assert stored(fuzz_app, db) == before


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
RECEIPT_KEYS = st.sampled_from(
    ["receiptId", "visitorId", "site", "policyVersion", "build", "textsHash", "language",
     "action", "gpc", "choices"]
)  # fmt: skip


@FORM_SETTINGS
@given(
    body=st.one_of(
        st.binary(max_size=2100),
        JSON_VALUES.map(lambda value: json.dumps(value).encode()),
        st.dictionaries(RECEIPT_KEYS, JSON_VALUES, max_size=10).map(
            lambda value: json.dumps(value).encode()
        ),
    ),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/x-www-form-urlencoded"]
    ),
)
def test_consent_api_body(fuzz_app, db, body, content_type):
    answer = fuzz_app.test_client().post(
        "/api/v1/consents", data=body, content_type=content_type, headers={"Origin": ORIGIN}
    )
    assert answer.status_code < 500, answer.get_data(as_text=True)
    assert (answer.is_json and "error" in answer.get_json()) or answer.status_code in (200, 201)


def test_a_nul_character_in_a_request_is_refused_on_its_field(fuzz_app, db):
    """Found by the run above on PostgreSQL (which cannot store NUL in text): it was a 500."""
    before = stored(fuzz_app, db)
    fields = {"name": "Camille\x00", "email": "camille@example.org", "language": "en",
              "details": "no\x00 more mail"}  # fmt: skip
    answer = fuzz_app.test_client().post(
        "/rights/requests/new/objection_marketing", data=fields, headers={"Accept-Language": "en"}
    )
    assert answer.status_code == 422
    assert answer.get_data(as_text=True).count("contains a NUL character") >= 2
    assert stored(fuzz_app, db) == before
