"""Data of a deceased holder communicated to an heir or designated person (French law 78-17,
art. 85; postmortem/delivery.py), over HTTP: the categories staff release are mailed to the
requester as an encrypted, single-use download of exactly those data; the completion letter
lists exactly what was communicated; a category refused by the directives is not left ticked.
Also the certificate's verification address and the hints of the heirs' document fields."""

from __future__ import annotations

import io
import json
import os
import re
import time
import zipfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import free_port, sign_in, staff_sign_in
from flask import url_for
from sqlalchemy import func, select, update
from test_postmortem import (  # noqa: F401
    category_keys,
    directive_form,
    documents,
    pdf_text,
    record,
)
from test_postmortem_staff import (
    confirm_documents,
    labels,
    release,
    releases,
    started,
    token_of,
    web,  # noqa: F401
)
from test_rights_requests import CSRF, mails_to, text_of, unique_email

from privacy_center.content import get_content
from privacy_center.exports.archive import FORMAT
from privacy_center.models import AuditEvent, PostmortemDelivery
from privacy_center.models.types import utcnow
from privacy_center.postmortem import delivery
from privacy_center.storage import SWEEP_GRACE_SECONDS, sweep_all
from privacy_center.uploads import ACCEPTED_MIME_TYPES, MAX_DOCUMENT_BYTES, stored_names
from privacy_center.workflow import RequestState

S = RequestState
LINK = "/rights/post-mortem/data/"
# The deceased's first name: found in the data only when "identity" is communicated.
FIRST_NAME = "Zéphyrine"


@pytest.fixture
def copies(app, tmp_path, monkeypatch) -> Path:
    """The encrypted folder of copies (EXPORT_DIR), empty and the test's own."""
    directory = tmp_path / "copies"
    monkeypatch.setitem(app.config, "EXPORT_DIR", str(directory))
    return directory


def deceased(make_account, make_invoice):
    account = make_account(first_name=FIRST_NAME)
    make_invoice(account.id, number=f"F-{account.id}-777")
    return account


def ready_request(web, db, outbox, documents, make_staff, account, **overrides):  # noqa: F811
    """An heir's estate request about ``account``, documents checked, staff signed in."""
    filed = started(
        web,
        db,
        outbox,
        documents,
        purpose=overrides.pop("purpose", "postmortem_estate"),
        deceased_identifier=account.email,
        language="en",
        **overrides,
    )
    staff_sign_in(web, make_staff(role="agent"))
    confirm_documents(web, db, filed)
    return filed


def deliveries(db, filed) -> list[PostmortemDelivery]:
    db.expire_all()
    return list(
        db.scalars(
            select(PostmortemDelivery)
            .where(PostmortemDelivery.request_id == filed.id)
            .order_by(PostmortemDelivery.id)
        )
    )


def audit_actions(db, filed) -> list[str]:
    db.expire_all()
    return list(
        db.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.request_id == filed.id, AuditEvent.action.like("postmortem.%"))
            .order_by(AuditEvent.id)
        )
    )


def data_link(mail) -> str:
    """The path of the one download link in a mail."""
    (found,) = set(
        re.findall(r"https?://localhost(/rights/post-mortem/data/[^\s\"<>]+)", text_of(mail))
    )
    return found


def press_download(client, path: str, csrf: str | None = None):
    """Press the page's download button (``csrf``: the token of a page seen before)."""
    if csrf is None:
        csrf = CSRF.search(client.get(path).get_data(as_text=True))[1]
    return client.post(path, data={"csrf_token": csrf})


def checked_boxes(html: str) -> set[str]:
    """The category keys ticked on the release form."""
    boxes = re.findall(r'<input[^>]*name="release-categories"[^>]*>', html)
    return {
        re.search(r'value="([^"]+)"', box)[1] for box in boxes if re.search(r"\bchecked\b", box)
    }


# --- the delivery -------------------------------------------------------------------------------


def test_a_release_mails_a_single_use_encrypted_download_of_exactly_those_data(
    app,
    web,  # noqa: F811
    db,
    outbox,
    documents,  # noqa: F811
    copies,
    smtp_server,
    make_account,
    make_invoice,
    make_staff,
    monkeypatch,
):
    account = deceased(make_account, make_invoice)
    filed = ready_request(web, db, outbox, documents, make_staff, account)
    released = ["invoices", "subscriptions"]

    # Sent through a real SMTP server.
    smtp_server.clear()
    for name, value in smtp_server.settings().items():
        monkeypatch.setitem(app.config, name, value)
    answer = release(web, filed, released)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    (mail,) = [m for m in smtp_server.messages if m["To"] == filed.email]
    text = text_of(mail)
    assert filed.reference in text
    for key in released:
        assert labels("en")[key] in text
    assert labels("en")["identity"] not in text
    days = app.config["EXPORT_LIFETIME_DAYS"]
    assert f"for {days} days (until" in text
    path = data_link(mail)

    # Stored encrypted: no zip, no name, no invoice number in the file on disk.
    (made,) = deliveries(db, filed)
    assert made.categories == released and made.email == filed.email
    assert made.expires_at - made.created_at == timedelta(days=days)
    assert stored_names(copies) == [made.stored_name]
    raw = (copies / made.stored_name).read_bytes()
    for plain in (b"PK\x03\x04", b"data.json", f"F-{account.id}-777".encode(), b"invoices"):
        assert plain not in raw
    # Only the token's hash is kept.
    token = path.removeprefix(LINK)
    assert (
        token.encode()
        not in json.dumps(
            {c.name: str(getattr(made, c.name)) for c in PostmortemDelivery.__table__.columns}
        ).encode()
    )
    assert audit_actions(db, filed) == [
        "postmortem.data_released",
        "postmortem.delivery_created",
        "postmortem.delivery_mailed",
    ]

    # Opening the link uses nothing; the button downloads.
    requester = app.test_client()
    page = requester.get(f"{path}?lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert all(labels("en")[key] in html for key in released)
    assert "works once" in html
    csrf = CSRF.search(html)[1]
    answer = press_download(requester, f"{path}?lang=en", csrf)
    assert answer.status_code == 200
    assert answer.mimetype == "application/zip"
    assert answer.headers["Cache-Control"] == "no-store"

    # Exactly the released categories, and nothing else.
    archive = zipfile.ZipFile(io.BytesIO(answer.data))
    data = json.loads(archive.read("data.json"))
    assert data["format"] == FORMAT
    assert sorted(data["categories"]) == sorted(released)
    assert [row["number"] for row in data["categories"]["invoices"]["rows"]] == [
        f"F-{account.id}-777"
    ]
    csv_files = sorted(name for name in archive.namelist() if name.startswith("csv/"))
    assert csv_files == ["csv/invoices.csv", "csv/subscriptions.csv"]
    for name in archive.namelist():
        assert FIRST_NAME.encode() not in archive.read(name), name
    schema = json.loads(archive.read("data.schema.json"))
    assert sorted(schema["properties"]["categories"]["properties"]) == sorted(released)
    summary = archive.read("summary.html").decode()
    assert filed.reference in summary and "Jeanne Martin" in summary

    # Used once: the file is gone, the download audited.
    (made,) = deliveries(db, filed)
    assert made.downloaded_at is not None and made.stored_name is None
    assert stored_names(copies) == []
    assert audit_actions(db, filed)[-1] == "postmortem.delivery_downloaded"

    # A second use gets a page that says so, and how to ask again.
    for again in (
        requester.get(f"{path}?lang=en"),
        press_download(requester, f"{path}?lang=en", csrf),
    ):
        assert again.status_code == 410
        assert again.mimetype == "text/html"
        html = again.get_data(as_text=True)
        assert "This link was already used" in html
        assert 'id="ask-again"' in html and filed.reference in html
        assert "/rights/post-mortem/request" in html
    assert audit_actions(db, filed).count("postmortem.delivery_downloaded") == 1
    assert web.get(f"{LINK}not-a-token?lang=en").status_code == 404


def test_an_expired_link_is_refused_and_its_file_deleted(
    app,
    web,  # noqa: F811
    db,
    outbox,
    documents,  # noqa: F811
    copies,
    make_account,
    make_invoice,
    make_staff,
):
    account = deceased(make_account, make_invoice)
    filed = ready_request(web, db, outbox, documents, make_staff, account)
    assert release(web, filed, ["invoices"]).status_code == 303
    path = data_link(mails_to(outbox, filed.email)[-1])
    (made,) = deliveries(db, filed)
    db.execute(
        update(PostmortemDelivery)
        .where(PostmortemDelivery.id == made.id)
        .values(expires_at=utcnow() - timedelta(minutes=1))
    )
    requester = app.test_client()
    page = requester.get(f"{path}?lang=en")
    assert page.status_code == 410
    # "... and the file was deleted": at once, whether the purge ran or not.
    assert "This link expired on" in page.get_data(as_text=True)
    assert "and the file was deleted" in page.get_data(as_text=True)
    assert stored_names(copies) == []
    csrf = CSRF.search(requester.get("/rights/post-mortem/request?lang=en").get_data(True))[1]
    answer = press_download(requester, f"{path}?lang=en", csrf)
    assert answer.status_code == 410 and answer.mimetype == "text/html"
    assert "postmortem.delivery_downloaded" not in audit_actions(db, filed)

    assert delivery.purge_expired(db, utcnow(), directory=copies) == 0
    runner = app.test_cli_runner()
    result = runner.invoke(args=["exports", "purge"])
    assert result.exit_code == 0 and "Expired post-mortem data deleted: 0" in result.output


def test_a_mail_that_fails_communicates_and_records_nothing(
    app,
    web,  # noqa: F811
    db,
    outbox,
    documents,  # noqa: F811
    copies,
    make_account,
    make_invoice,
    make_staff,
    monkeypatch,
):
    account = deceased(make_account, make_invoice)
    filed = ready_request(web, db, outbox, documents, make_staff, account)
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())  # nothing listens there
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT", 2)
    answer = release(web, filed, ["invoices"])
    assert answer.status_code == 409
    assert "could not be sent, so nothing was communicated" in answer.get_data(as_text=True)
    assert releases(db, filed) == [] and deliveries(db, filed) == []
    assert stored_names(copies) == []


def test_without_a_matching_account_nothing_is_released(
    web,  # noqa: F811
    db,
    outbox,
    documents,  # noqa: F811
    copies,
    make_staff,
):
    filed = started(
        web,
        db,
        outbox,
        documents,
        purpose="postmortem_memories",
        deceased_identifier="nobody-at-all@example.org",
        language="en",
    )
    staff_sign_in(web, make_staff(role="agent"))
    confirm_documents(web, db, filed)
    answer = release(web, filed, ["invoices"])
    assert answer.status_code == 409
    assert "there are no data to communicate" in answer.get_data(as_text=True)
    assert releases(db, filed) == [] and stored_names(copies) == []


# --- the completion letter ----------------------------------------------------------------------


def test_the_completion_letter_lists_exactly_the_categories_communicated(
    web,  # noqa: F811
    db,
    outbox,
    documents,  # noqa: F811
    copies,
    make_account,
    make_invoice,
    make_staff,
):
    account = deceased(make_account, make_invoice)
    filed = ready_request(web, db, outbox, documents, make_staff, account)
    # Two releases; staff's text names another category: the letter keeps to the releases.
    assert release(web, filed, ["invoices"]).status_code == 303
    assert release(web, filed, ["subscriptions", "invoices"]).status_code == 303
    assert len(deliveries(db, filed)) == 2
    note = "The notary has the rest of the file."
    answer = web.post(
        f"/staff/requests/{filed.reference}/complete",
        data={"complete-csrf_token": token_of(web, filed), "complete-summary": note},
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)
    db.expire_all()
    assert filed.state == S.COMPLETED
    (letter,) = filed.letters
    names = labels("en")
    communicated = f"{names['invoices']}, {names['subscriptions']}"
    assert letter.fields["note"] == note
    text = pdf_text(letter.pdf)
    sentence = f"We communicated to you the following data of the deceased: {communicated}."
    assert sentence in text
    assert f"at {filed.email}, as an encrypted download link that works once" in text
    for key in set(category_keys()) - {"invoices", "subscriptions"}:
        assert names[key] not in text
    # The mailed letter is the same PDF.
    mail = mails_to(outbox, filed.email)[-1]
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_content() == letter.pdf


def test_completing_without_a_release_says_nothing_was_communicated(
    web,  # noqa: F811
    db,
    outbox,
    documents,  # noqa: F811
    make_account,
    make_invoice,
    make_staff,
):
    account = deceased(make_account, make_invoice)
    filed = ready_request(web, db, outbox, documents, make_staff, account)

    def complete(summary: str):
        return web.post(
            f"/staff/requests/{filed.reference}/complete",
            data={"complete-csrf_token": token_of(web, filed), "complete-summary": summary},
        )

    answer = complete("")
    assert answer.status_code == 422
    assert "say why no data were communicated" in answer.get_data(as_text=True)
    reason = "The estate needs none of these data."
    assert complete(reason).status_code == 303
    db.expire_all()
    (letter,) = filed.letters
    assert letter.fields == {
        "done": "No data of the deceased were communicated to you.",
        "note": reason,
    }


# --- a refused category is not left ticked ------------------------------------------------------


def test_a_category_refused_by_the_directives_is_not_ticked_after_the_error(
    web,  # noqa: F811
    db,
    outbox,
    documents,  # noqa: F811
    copies,
    make_account,
    make_invoice,
    make_staff,
):
    account = deceased(make_account, make_invoice)
    designated = unique_email()
    record(
        db,
        account,
        choices={**dict.fromkeys(category_keys(), "keep"), "invoices": "communicate"},
        designated_name="Alex Martin",
        designated_email=designated,
        designated_relation="son",
    )
    filed = ready_request(
        web,
        db,
        outbox,
        documents,
        make_staff,
        account,
        purpose="postmortem_memories",
        email=designated,
        capacity="designated_person",
    )
    answer = release(web, filed, ["invoices", "subscriptions"])
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "do not allow communicating" in html and labels("en")["subscriptions"] in html
    # The allowed one stays ticked, the refused one does not.
    assert checked_boxes(html) == {"invoices"}
    assert releases(db, filed) == [] and deliveries(db, filed) == []
    # Sending the form as shown releases only what is allowed.
    assert release(web, filed, sorted(checked_boxes(html))).status_code == 303
    (made,) = deliveries(db, filed)
    assert made.categories == ["invoices"]


# --- item 8: the certificate's address, the heirs' hints ----------------------------------------


def test_the_certificate_names_the_privacy_centers_own_verification_page(
    app,
    web,  # noqa: F811
    db,
    make_account,
):
    account = make_account(language="en")
    sign_in(web, account)
    assert web.post("/rights/post-mortem", data=directive_form(web)).status_code == 302
    answer = web.get("/rights/post-mortem/certificate.pdf?lang=en")
    assert answer.status_code == 200
    text = pdf_text(answer.data)
    with app.test_request_context():
        address = url_for("postmortem.verify", _external=True)
    assert urlsplit(address).path == "/rights/post-mortem/verify"
    assert f"Anyone can check it on {address}" in text
    # Not on the operator's website (which has no such page), as it was.
    assert get_content().operator.website.rstrip("/") + "/rights" not in text
    # And the page is there.
    assert web.get(urlsplit(address).path + "?lang=en").status_code == 200


@pytest.mark.parametrize("language", ["en", "fr", "es", "de"])
def test_each_heirs_document_field_has_its_own_hint(web, db, language):  # noqa: F811
    html = web.get(f"/rights/post-mortem/request?lang={language}").get_data(as_text=True)
    limit = f"{MAX_DOCUMENT_BYTES // (1024 * 1024)}"
    type_names = {"application/pdf": "PDF", "image/jpeg": "JPEG", "image/png": "PNG"}
    assert set(type_names) == ACCEPTED_MIME_TYPES
    hints = {}
    for field in ("death_certificate", "capacity_proof", "identity"):
        found = re.search(rf'<p class="field-hint" id="{field}-hint">([^<]+)</p>', html)
        assert found, field
        hint = found[1]
        assert limit in hint and all(name in hint for name in type_names.values()), hint
        described = re.search(rf'<input[^>]*id="{field}"[^>]*>', html)[0]
        assert f'aria-describedby="{field}-hint"' in described
        hints[field] = hint
    assert len(set(hints.values())) == 3
    if language == "en":
        assert "death certificate" in hints["death_certificate"]
        for capacity in ("heir", "notary", "designated person"):
            assert capacity in hints["capacity_proof"]
        assert "your own identity document" in hints["identity"]


def test_the_staff_timeline_names_each_step_of_the_delivery(
    web,  # noqa: F811
    db,
    outbox,
    documents,  # noqa: F811
    copies,
    make_account,
    make_invoice,
    make_staff,
):
    account = deceased(make_account, make_invoice)
    filed = ready_request(web, db, outbox, documents, make_staff, account)
    assert release(web, filed, ["invoices"]).status_code == 303
    html = web.get(f"/staff/requests/{filed.reference}?lang=en").get_data(as_text=True)
    for label in (
        "Data of the deceased communicated",
        "Data of the deceased prepared, encrypted",
        "Download link mailed to the requester",
    ):
        assert label in html
    assert db.scalar(select(func.count()).select_from(PostmortemDelivery)) >= 1


def test_the_purge_deletes_the_files_of_expired_links(
    app,
    web,  # noqa: F811
    db,
    outbox,
    documents,  # noqa: F811
    copies,
    make_account,
    make_invoice,
    make_staff,
):
    account = deceased(make_account, make_invoice)
    filed = ready_request(web, db, outbox, documents, make_staff, account)
    assert release(web, filed, ["invoices"]).status_code == 303
    (made,) = deliveries(db, filed)
    due = made.created_at + timedelta(days=app.config["EXPORT_LIFETIME_DAYS"])
    assert delivery.purge_expired(db, due - timedelta(minutes=1), directory=copies) == 0
    assert stored_names(copies) == [made.stored_name]
    assert delivery.purge_expired(db, due, directory=copies) == 1
    assert stored_names(copies) == []
    assert delivery.purge_expired(db, due, directory=copies) == 0
    (made,) = deliveries(db, filed)
    assert made.stored_name is None and made.deleted_at is not None


def test_the_storage_sweep_keeps_a_file_awaiting_its_download(
    app,
    web,  # noqa: F811
    db,
    outbox,
    documents,  # noqa: F811
    copies,
    make_account,
    make_invoice,
    make_staff,
):
    account = deceased(make_account, make_invoice)
    filed = ready_request(web, db, outbox, documents, make_staff, account)
    assert release(web, filed, ["invoices"]).status_code == 303
    (made,) = deliveries(db, filed)
    old = time.time() - SWEEP_GRACE_SECONDS - 60
    os.utime(copies / made.stored_name, (old, old))
    reports = sweep_all(db, app.config)
    assert reports["exports"].orphans == 0
    assert stored_names(copies) == [made.stored_name]
