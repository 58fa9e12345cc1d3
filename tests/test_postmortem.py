"""Post-mortem directives (record, change, withdraw with the separate consent; the certificate
and its fingerprint check) and the requests of heirs with their three documents, over HTTP."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import sign_in, staff_sign_in
from sqlalchemy import func, select, update
from test_rights_requests import (
    confirm_through_mail,
    csrf_token,
    mails_to,
    pdf_bytes,
    png_bytes,
    post_multipart,
    request_for,
    stored_files,
    unique_email,
)

from privacy_center.accounts.preferences import may_send
from privacy_center.connectors import get_connector_set
from privacy_center.content import get_content
from privacy_center.letters.services import preview_letter
from privacy_center.models import AuditEvent, IdentityDocument, Invoice, PrivacyRequest
from privacy_center.models.postmortem import PostmortemDirective
from privacy_center.postmortem import handling, services
from privacy_center.rights.kinds import KINDS, POSTMORTEM_KINDS, get_kind
from privacy_center.workflow import RequestState

S = RequestState
PAGE = "/rights/post-mortem"


@pytest.fixture
def web(client):
    client.environ_base["REMOTE_ADDR"] = "10.85.85.85"
    return client


@pytest.fixture
def documents(app, tmp_path, monkeypatch) -> Path:
    directory = tmp_path / "documents"
    monkeypatch.setitem(app.config, "IDENTITY_DOCUMENT_DIR", str(directory))
    return directory


def category_keys() -> list[str]:
    return [category.key for category in get_connector_set().categories()]


def directive_form(client, **overrides: str) -> dict[str, str]:
    data = {
        "csrf_token": csrf_token(client, f"{PAGE}?lang=en"),
        **{f"choice_{key}": "delete" for key in category_keys()},
        "consent": "y",
        **overrides,
    }
    return {name: value for name, value in data.items() if value != ""}


def versions_of(db, account) -> list[PostmortemDirective]:
    db.expire_all()
    return list(
        db.scalars(
            select(PostmortemDirective)
            .where(PostmortemDirective.account_id == account.id)
            .order_by(PostmortemDirective.version)
        )
    )


def pdf_text(pdf: bytes) -> str:
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return " ".join(result.stdout.decode().split())


# --- Directives of the living -------------------------------------------------------------------


def test_the_page_needs_a_signed_in_holder(web, db):
    answer = web.get(PAGE)
    assert answer.status_code == 302
    assert urlsplit(answer.location).path == "/rights/sign-in"


def test_directives_are_recorded_only_with_the_separate_consent(web, db, make_account):
    account = make_account()
    sign_in(web, account)
    page = web.get(f"{PAGE}?lang=en").get_data(as_text=True)
    # Its own checkbox, never pre-ticked, with its own wording.
    assert re.search(r'<input id="consent" name="consent" type="checkbox" value="y">', page)
    with web.application.test_request_context():
        assert str(services.CONSENT_WORDING) in page

    answer = web.post(PAGE, data=directive_form(web, consent=""))
    assert answer.status_code == 422
    assert "specific consent" in answer.get_data(as_text=True)
    assert versions_of(db, account) == []

    answer = web.post(PAGE, data=directive_form(web))
    assert answer.status_code == 302
    (recorded,) = versions_of(db, account)
    assert recorded.version == 1
    assert recorded.choices == dict.fromkeys(category_keys(), "delete")
    assert recorded.consent_wording_version == services.CONSENT_WORDING_VERSION
    assert recorded.consent_given_at == recorded.recorded_at
    assert recorded.fingerprint == hashlib.sha256(services.canonical_content(recorded)).hexdigest()
    event = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "postmortem.directives_recorded")
    ).all()[-1]
    assert event.actor == account.get_id()
    assert event.details["fingerprint"] == recorded.fingerprint


def test_changing_and_withdrawing_keep_every_version(web, db, make_account):
    account = make_account()
    sign_in(web, account)
    web.post(PAGE, data=directive_form(web))
    first_key = category_keys()[0]
    changed = directive_form(
        web,
        **{f"choice_{first_key}": "communicate"},
        designated_name="Alex Martin",
        designated_email="Alex@Example.org",
        designated_relation="son",
    )
    assert web.post(PAGE, data=changed).status_code == 302
    first, second = versions_of(db, account)
    assert first.choices[first_key] == "delete" and first.withdrawn_at is None
    assert second.version == 2 and second.choices[first_key] == "communicate"
    assert (second.designated_name, second.designated_email) == ("Alex Martin", "alex@example.org")
    assert first.fingerprint != second.fingerprint
    assert services.current_directives(db, account).id == second.id
    # The form starts from what is in force.
    assert 'value="Alex Martin"' in web.get(f"{PAGE}?lang=en").get_data(as_text=True)

    token = csrf_token(web, f"{PAGE}?lang=en")
    assert web.post(f"{PAGE}/withdraw", data={"csrf_token": token}).status_code == 302
    first, second = versions_of(db, account)
    assert second.withdrawn_at is not None
    assert services.current_directives(db, account) is None
    assert "You have no directives in force." in web.get(f"{PAGE}?lang=en").get_data(as_text=True)

    web.post(PAGE, data=directive_form(web))
    assert [item.version for item in versions_of(db, account)] == [1, 2, 3]
    assert services.current_directives(db, account).version == 3


def test_inconsistent_directives_are_refused_with_reasons(web, db, make_account):
    account = make_account()
    sign_in(web, account)
    key = category_keys()[0]
    answer = web.post(PAGE, data=directive_form(web, **{f"choice_{key}": "communicate"}))
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "designated person&#39;s full name" in html or "designated person's full name" in html
    answer = web.post(
        PAGE,
        data=directive_form(
            web, communicate_nothing="y", designated_name="Alex", designated_email="a@b.org"
        ),
    )
    assert answer.status_code == 422
    assert "nothing be communicated" in answer.get_data(as_text=True)
    assert versions_of(db, account) == []

    # "Communicate nothing" alone is a valid directive.
    assert web.post(PAGE, data=directive_form(web, communicate_nothing="y")).status_code == 302
    (recorded,) = versions_of(db, account)
    assert recorded.communicate_nothing and recorded.designated_email is None


def test_the_certificate_is_in_the_holders_language_with_its_fingerprint(web, db, make_account):
    account = make_account(language="fr")
    sign_in(web, account)
    web.post(PAGE, data=directive_form(web, communicate_nothing="y"))
    (recorded,) = versions_of(db, account)
    # The page is in English, the certificate in the holder's language.
    answer = web.get(f"{PAGE}/certificate.pdf?lang=en")
    assert answer.status_code == 200
    assert answer.mimetype == "application/pdf"
    text = pdf_text(answer.data)
    assert services.group_fingerprint(recorded.fingerprint) in text
    labels = {category.key: category.label("fr") for category in get_connector_set().categories()}
    assert labels[category_keys()[0]] in text
    assert account.email in text


def test_the_fingerprint_check(web, db, make_account):
    account = make_account()
    sign_in(web, account)
    web.post(PAGE, data=directive_form(web))
    web.post(PAGE, data=directive_form(web, communicate_nothing="y"))
    first, second = versions_of(db, account)

    def check(value: str) -> str:
        answer = web.get(f"{PAGE}/verify", query_string={"fingerprint": value, "lang": "en"})
        assert answer.status_code == 200
        return answer.get_data(as_text=True)

    # Copied from the paper, with its spaces and in capitals.
    assert "is in force" in check(services.group_fingerprint(second.fingerprint).upper())
    assert "replaced by a later version" in check(first.fingerprint)
    assert "No certificate has this fingerprint" in check("0" * 64)
    assert "No certificate has this fingerprint" in check("not a fingerprint")

    services.withdraw_directives(db, account=account)
    assert "was withdrawn on" in check(second.fingerprint)

    # A stored version altered afterwards no longer matches its fingerprint.
    db.execute(
        update(PostmortemDirective)
        .where(PostmortemDirective.id == first.id)
        .values(communicate_nothing=True)
    )
    db.expire_all()
    assert services.verify_fingerprint(db, first.fingerprint).intact is False
    assert "No certificate has this fingerprint" in check(first.fingerprint)


MOMENT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_canonical_content_is_stable_json():
    directive = PostmortemDirective(
        account_id=7,
        version=2,
        choices={"b": "keep", "a": "delete"},
        communicate_nothing=False,
        designated_name="Zoé",
        designated_email="zoe@example.org",
        designated_relation="fille",
        consent_wording_version="2026-11",
        consent_given_at=MOMENT,
        language="fr",
        recorded_at=MOMENT,
    )
    content = services.canonical_content(directive)
    assert json.loads(content)["choices"] == {"a": "delete", "b": "keep"}
    assert "Zoé".encode() in content
    assert b" " not in content.replace("Zoé".encode(), b"")
    assert services.compute_fingerprint(directive) == hashlib.sha256(content).hexdigest()


# --- Requests of heirs --------------------------------------------------------------------------


def heir_form(client, **overrides: object) -> dict[str, object]:
    path = f"{PAGE}/request?lang=en"
    data: dict[str, object] = {
        "csrf_token": csrf_token(client, path),
        "purpose": "postmortem_closure",
        "deceased_name": "Jeanne Martin",
        "deceased_identifier": "jeanne.martin@example.org",
        "capacity": "heir",
        "name": "Paul Martin",
        "email": unique_email(),
        "language": "de",
        "details": "",
        "death_certificate": (io.BytesIO(pdf_bytes()), "acte-de-deces.pdf"),
        "capacity_proof": (io.BytesIO(pdf_bytes()), "acte-de-notoriete.pdf"),
        "identity": (io.BytesIO(png_bytes()), "passeport.png"),
        **overrides,
    }
    return {name: value for name, value in data.items() if value is not None}


def test_post_mortem_kinds_are_data_with_their_own_form(web, db):
    assert set(POSTMORTEM_KINDS).isdisjoint(KINDS)
    for key in POSTMORTEM_KINDS:
        assert get_kind(key).key == key
        assert web.get(f"/rights/requests/new/{key}").status_code == 404
    entry = web.get("/rights?lang=en").get_data(as_text=True)
    assert f'href="{PAGE}"' in entry and f'href="{PAGE}/request"' in entry
    for language in ("fr", "en", "es", "de"):
        page = web.get(f"{PAGE}/request?lang={language}")
        assert page.status_code == 200
        assert f'<html lang="{language}">' in page.get_data(as_text=True)


def test_an_heirs_request_with_the_three_documents(web, db, outbox, documents):
    data = heir_form(web)
    answer = post_multipart(web, f"{PAGE}/request?lang=en", data)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    assert urlsplit(answer.location).path == "/rights/requests/sent"
    filed = request_for(db, data["email"])
    assert filed.kind == "postmortem_closure"
    assert filed.state == S.AWAITING_CONFIRMATION
    assert filed.language == "de"
    assert filed.specifics == {
        "deceased_name": "Jeanne Martin",
        "deceased_identifier": "jeanne.martin@example.org",
        "capacity": "heir",
    }
    assert filed.identity_required
    assert sorted(document.kind for document in filed.documents) == [
        "death_certificate",
        "heir_identity",
        "heirship",
    ]
    assert len(stored_files(documents)) == 3
    assert len(mails_to(outbox, data["email"])) == 1

    # The same machinery as every request: confirming the email starts work.
    confirm_through_mail(web, outbox, data["email"])
    assert request_for(db, data["email"]).state == S.IN_PROGRESS


@pytest.mark.parametrize("missing", ["death_certificate", "capacity_proof", "identity"])
def test_each_document_is_required(web, db, outbox, documents, missing):
    data = heir_form(web, **{missing: None})
    answer = post_multipart(web, f"{PAGE}/request?lang=en", data)
    assert answer.status_code == 422
    assert f'id="{missing}-error"' in answer.get_data(as_text=True)
    assert db.scalar(select(PrivacyRequest).where(PrivacyRequest.email == data["email"])) is None
    assert stored_files(documents) == []


def test_a_refused_file_is_named_and_nothing_is_kept(web, db, outbox, documents):
    # Browser tests commit their requests (live server): count what this post adds.
    documents_before = db.scalar(select(func.count()).select_from(IdentityDocument))
    data = heir_form(
        web, capacity_proof=(io.BytesIO(b"<!DOCTYPE html><script></script>"), "deed.pdf")
    )
    answer = post_multipart(web, f"{PAGE}/request?lang=en", data)
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    error = re.search(r'id="capacity_proof-error">(.*?)</p>', html, re.S)
    assert error and error.group(1).strip()
    assert db.scalar(select(PrivacyRequest).where(PrivacyRequest.email == data["email"])) is None
    assert db.scalar(select(func.count()).select_from(IdentityDocument)) == documents_before
    assert stored_files(documents) == []


def test_purposes_are_limited_to_article_85(web, db, outbox, documents):
    data = heir_form(web, purpose="access")
    answer = post_multipart(web, f"{PAGE}/request?lang=en", data)
    assert answer.status_code == 422
    assert db.scalar(select(PrivacyRequest).where(PrivacyRequest.email == data["email"])) is None


# --- What staff need (postmortem/handling.py; the console: test_postmortem_staff.py) ---------


def filed_heir_request(web, db, documents, **overrides: object) -> PrivacyRequest:
    data = heir_form(web, **overrides)
    answer = post_multipart(web, f"{PAGE}/request?lang=en", data)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return request_for(db, data["email"])


def record(db, account, **fields: object) -> PostmortemDirective:
    values: dict[str, object] = {
        "choices": dict.fromkeys(category_keys(), "keep"),
        "category_keys": category_keys(),
        "communicate_nothing": False,
        "designated_name": "",
        "designated_email": "",
        "designated_relation": "",
        "consent": True,
        "language": "fr",
    }
    values.update(fields)
    return services.record_directives(db, account=account, **values)


def test_the_deceased_is_found_by_email_or_invoice_number(
    web, db, outbox, documents, make_account, make_invoice
):
    account = make_account()
    make_invoice(account.id, number=f"F-{account.id}-001")
    assert handling.deceased_account(db, account.email.upper()) == account
    assert handling.deceased_account(db, f"F-{account.id}-001") == account
    assert handling.deceased_account(db, "nobody@example.org") is None
    directive = record(db, account)
    filed = filed_heir_request(web, db, documents, deceased_identifier=account.email)
    assert handling.directives_for_request(db, filed) == (account, directive)


def test_a_designated_person_takes_precedence_over_heirs(web, db, outbox, documents, make_account):
    account = make_account()
    first_key = category_keys()[0]
    designated = unique_email()
    directive = record(
        db,
        account,
        choices={**dict.fromkeys(category_keys(), "keep"), first_key: "communicate"},
        designated_name="Alex Martin",
        designated_email=designated,
        designated_relation="son",
    )
    by_designated = filed_heir_request(
        web, db, documents, email=designated, capacity="designated_person"
    )
    by_heir = filed_heir_request(web, db, documents)
    assert handling.standing(by_designated, directive).role == "designated_person"
    assert handling.standing(by_heir, directive) == handling.Standing(
        "heir_subordinate", designated
    )
    assert handling.standing(by_heir, None).role == "heir"


def test_communicate_nothing_blocks_a_release_unless_an_estate_need_is_recorded(db, make_account):
    account = make_account()
    directive = record(db, account, communicate_nothing=True)
    with pytest.raises(handling.ReleaseBlocked, match="nothing be communicated"):
        handling.check_release(directive, category_keys()[:1])
    need = "the notary needs the list of subscriptions to settle the estate"
    assert (
        handling.check_release(directive, category_keys()[:1], estate_need=need)
        == (category_keys()[:1])
    )
    # Without directives, or within them, nothing is released against them.
    assert handling.check_release(None, category_keys()) == []
    allowed = record(
        db,
        account,
        choices={**dict.fromkeys(category_keys(), "keep"), category_keys()[0]: "communicate"},
        designated_name="Alex",
        designated_email="alex@example.org",
        designated_relation="son",
    )
    assert handling.check_release(allowed, category_keys()[:1]) == []
    with pytest.raises(handling.ReleaseBlocked):
        handling.check_release(allowed, category_keys()[1:2])


def test_closing_the_account_keeps_invoices_and_stops_marketing(
    web, db, outbox, documents, make_account, make_invoice
):
    account = make_account()
    make_invoice(account.id, number=f"F-{account.id}-002")
    filed = filed_heir_request(web, db, documents, deceased_identifier=account.email)
    report = handling.close_account(db, account, request=filed, actor="staff:1")
    assert account.deactivated_at is not None
    assert report == handling.ClosureReport(
        deactivated=True, consents_withdrawn=report.consents_withdrawn, invoices_kept=1
    )
    assert report.consents_withdrawn > 0
    assert db.scalar(select(Invoice).where(Invoice.account_id == account.id)) is not None
    topics = get_content().operator.communication.topics
    for topic in topics:
        assert not may_send(db, email=account.email, channel="email", topic=topic.key)
    event = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "postmortem.account_closed")
    ).all()[-1]
    assert event.details["invoices_kept"] == 1 and event.details["deactivated"] is True
    assert event.request_id == filed.id


def test_the_staff_console_shows_the_directives_first(
    web, db, outbox, documents, make_staff, make_account
):
    account = make_account()
    record(db, account, communicate_nothing=True)
    filed = filed_heir_request(web, db, documents, deceased_identifier=account.email)
    staff_sign_in(web, make_staff(role="agent"))
    page = web.get(f"/staff/requests/{filed.reference}?lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert filed.reference in html
    # Before the request's facts, "communicate nothing" announced to assistive technology.
    nothing = html.index("asked that nothing be communicated")
    assert nothing < html.index("staff-facts")
    assert 'role="alert"><strong>The deceased asked that nothing' in html
    # The free confirmation letter is offered, with what was done to fill in.
    assert 'name="letter-completion-done"' in html and "What was done" in html

    unknown = filed_heir_request(web, db, documents, deceased_identifier="nobody@example.org")
    html = web.get(f"/staff/requests/{unknown.reference}?lang=en").get_data(as_text=True)
    assert "No account matches the deceased" in html


@pytest.mark.parametrize("language", ["fr", "en", "es", "de"])
def test_the_closure_confirmation_letter_says_what_was_done(
    web, db, outbox, documents, make_account, language
):
    account = make_account()
    filed = filed_heir_request(
        web, db, documents, deceased_identifier=account.email, language=language
    )
    report = handling.close_account(db, account, request=filed, actor="staff:1")
    done = report.lines(language)
    today = get_content().operator.today()
    pdf = preview_letter(None, filed, "completion", {"done": "\n".join(done)}, today=today)
    text = " ".join(pdf_text(pdf).split())  # a long line wraps in the PDF
    assert filed.reference in text
    assert "Jeanne Martin" in text and "78-17" in text
    for line in done:
        assert " ".join(line.split()) in text  # no-break spaces read as spaces
