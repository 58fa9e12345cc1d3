"""The staff console's actions on post-mortem requests (French law 78-17, art. 85), over HTTP:
a release of the deceased's data checked against their directives ("communicate nothing", a
designated person's precedence) and recorded with the estate-settlement need; closing the
deceased's account with the request's completion and the free confirmation letter, mailed as a
PDF in the requester's language."""

from __future__ import annotations

import secrets

import pytest
from conftest import staff_sign_in
from sqlalchemy import select
from test_postmortem import (  # noqa: F401
    category_keys,
    documents,
    filed_heir_request,
    pdf_text,
    record,
)
from test_rights_requests import confirm_through_mail, mails_to, unique_email
from test_staff_console import TOKEN

from privacy_center.accounts.preferences import current_preferences, may_send, set_preferences
from privacy_center.connectors import get_connector_set
from privacy_center.content import get_content
from privacy_center.models import AuditEvent, Invoice, PrivacyRequest
from privacy_center.postmortem import delivery, handling
from privacy_center.workflow import RequestState

S = RequestState


@pytest.fixture
def web(client):
    """A client on an address of its own: the forms' and the sign-in's rate limits count per
    address across the whole test session."""
    client.environ_base["REMOTE_ADDR"] = (
        f"10.86.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"
    )
    return client


def labels(language: str) -> dict[str, str]:
    return {c.key: c.label(language) for c in get_connector_set().categories()}


def token_of(web, filed: PrivacyRequest) -> str:
    page = web.get(f"/staff/requests/{filed.reference}")
    assert page.status_code == 200
    return TOKEN.search(page.get_data(as_text=True))[1]


def started(web, db, outbox, documents, **overrides) -> PrivacyRequest:  # noqa: F811
    """An heir's request filed through the form and confirmed from the mail: in progress."""
    email = overrides.pop("email", None) or unique_email()
    filed = filed_heir_request(web, db, documents, email=email, **overrides)
    confirm_through_mail(web, outbox, email)
    db.refresh(filed)
    assert filed.state == S.IN_PROGRESS
    return filed


def confirm_documents(web, db, filed: PrivacyRequest) -> None:
    answer = web.post(
        f"/staff/requests/{filed.reference}/confirm-identity",
        data={"confirm-csrf_token": token_of(web, filed), "confirm-document_type": "passport"},
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)
    db.refresh(filed)
    assert filed.identity_outcome == "confirmed"


def release(web, filed: PrivacyRequest, categories: list[str], need: str = ""):
    return web.post(
        f"/staff/requests/{filed.reference}/release",
        data={
            "release-csrf_token": token_of(web, filed),
            "release-categories": categories,
            "release-estate_need": need,
        },
    )


def releases(db, filed: PrivacyRequest) -> list[AuditEvent]:
    db.expire_all()
    return list(
        db.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.request_id == filed.id,
                AuditEvent.action == "postmortem.data_released",
            )
            .order_by(AuditEvent.id)
        )
    )


# --- Release of data ----------------------------------------------------------------------------


def test_communicate_nothing_refuses_a_release_unless_an_estate_need_is_recorded(
    web,
    db,
    outbox,
    documents,  # noqa: F811
    make_account,
    make_staff,
):
    account = make_account()
    record(db, account, communicate_nothing=True)
    filed = started(
        web,
        db,
        outbox,
        documents,
        purpose="postmortem_estate",
        deceased_identifier=account.email,
        language="en",
    )
    member = make_staff(role="agent")
    staff_sign_in(web, member)
    html = web.get(f"/staff/requests/{filed.reference}").get_data(as_text=True)
    # The directives first, then the release form with one checkbox per data category.
    assert html.index("asked that nothing be communicated") < html.index('id="action-release"')
    for key in category_keys():
        assert f'type="checkbox" value="{key}"' in html, html[html.index("action-release") :][:2000]
    assert 'id="action-close_account"' not in html

    key = category_keys()[0]
    # The documents of the deceased and of the requester are checked first.
    answer = release(web, filed, [key])
    assert answer.status_code == 409
    assert "Check the death certificate" in answer.get_data(as_text=True)
    confirm_documents(web, db, filed)

    answer = release(web, filed, [])
    assert answer.status_code == 422
    assert "Choose the data to communicate." in answer.get_data(as_text=True)

    answer = release(web, filed, [key])
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert 'id="release-estate_need-error"' in html
    assert "Refused: the deceased asked that nothing be communicated" in html
    assert labels("en")[key] in html
    assert releases(db, filed) == []

    need = "The notary needs the list of subscriptions to settle the estate."
    answer = release(web, filed, [key], need)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    (event,) = releases(db, filed)
    assert event.actor == member.get_id()
    assert event.details["categories"] == [key]
    assert event.details["against_directives"] == [key]
    assert event.details["estate_need"] == need
    assert event.details["requester"] == "heir"
    db.refresh(filed)
    assert filed.state == S.IN_PROGRESS

    # The completion form shows what the letter will say was communicated, in the requester's
    # language; the letter says it by itself (nothing to retype).
    page = web.get(answer.location).get_data(as_text=True)
    assert "The data were mailed to the requester" in page
    assert "Data of the deceased communicated" in page
    (done, *_sent) = delivery.completion_lines(db, filed)
    assert done == handling.release_lines([key], labels("en"), "en")[0]
    assert done in page
    answer = web.post(
        f"/staff/requests/{filed.reference}/complete",
        data={"complete-csrf_token": token_of(web, filed), "complete-summary": ""},
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)
    db.expire_all()
    assert filed.state == S.COMPLETED
    (letter,) = filed.letters
    assert letter.kind == "completion"
    assert letter.fields == {"done": "\n".join(delivery.completion_lines(db, filed))}
    assert done in pdf_text(letter.pdf)


def test_a_designated_person_takes_precedence_in_a_release(
    web,
    db,
    outbox,
    documents,  # noqa: F811
    make_account,
    make_staff,
):
    account = make_account()
    first, second = category_keys()[:2]
    designated = unique_email()
    record(
        db,
        account,
        choices={**dict.fromkeys(category_keys(), "keep"), first: "communicate"},
        designated_name="Alex Martin",
        designated_email=designated,
        designated_relation="son",
    )
    common = {
        "purpose": "postmortem_memories",
        "deceased_identifier": account.email,
        "language": "en",
    }
    by_designated = started(
        web, db, outbox, documents, email=designated, capacity="designated_person", **common
    )
    by_heir = started(web, db, outbox, documents, **common)
    staff_sign_in(web, make_staff(role="agent"))
    for filed in (by_designated, by_heir):
        confirm_documents(web, db, filed)

    html = web.get(f"/staff/requests/{by_designated.reference}").get_data(as_text=True)
    assert "The requester is the designated person." in html
    # To the designated person, what the deceased asked to communicate: no need to record.
    assert release(web, by_designated, [first]).status_code == 303
    (event,) = releases(db, by_designated)
    assert event.details["against_directives"] == [] and event.details["requester"] == (
        "designated_person"
    )
    # Not what they asked to keep.
    answer = release(web, by_designated, [second])
    assert answer.status_code == 422
    assert "do not allow communicating" in answer.get_data(as_text=True)

    # An heir comes after the designated person: even the "communicate" data need a reason.
    html = web.get(f"/staff/requests/{by_heir.reference}").get_data(as_text=True)
    assert "A designated person takes precedence over this requester." in html
    assert html.index("takes precedence") < html.index('id="action-release"')
    answer = release(web, by_heir, [first])
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "do not allow communicating" in html and labels("en")[first] in html
    assert releases(db, by_heir) == []


# --- Closing the account ------------------------------------------------------------------------


def marketing_on(db, account) -> None:
    pairs = get_content().operator.communication.pairs()
    set_preferences(db, account, dict.fromkeys(pairs, True), method="preferences")
    assert all(current_preferences(db, account).values())


@pytest.mark.parametrize(
    ("language", "greeting"), [("fr", "Madame, Monsieur"), ("en", "Dear Paul Martin")]
)
def test_closing_the_account_from_the_console_sends_the_confirmation_letter(
    web,
    db,
    outbox,
    documents,  # noqa: F811
    make_account,
    make_staff,
    make_invoice,
    language,
    greeting,
):
    account = make_account()
    kept = make_invoice(account.id, number=f"F-{account.id}-900")
    marketing_on(db, account)
    record(db, account, communicate_nothing=True)
    filed = started(
        web,
        db,
        outbox,
        documents,
        purpose="postmortem_closure",
        deceased_identifier=f"F-{account.id}-900",
        language=language,
    )
    member = make_staff(role="agent")
    staff_sign_in(web, member)
    confirm_documents(web, db, filed)
    html = web.get(f"/staff/requests/{filed.reference}?lang=en").get_data(as_text=True)
    assert html.index("asked that nothing be communicated") < html.index(
        'id="action-close_account"'
    )
    assert 'id="action-release"' not in html

    answer = web.post(
        f"/staff/requests/{filed.reference}/close-account",
        data={"close_account-csrf_token": token_of(web, filed)},
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)
    page = web.get(answer.location).get_data(as_text=True)
    assert "The account is closed and the request completed" in page
    assert "could not be sent" not in page

    db.expire_all()
    assert account.deactivated_at is not None
    assert not any(current_preferences(db, account).values())
    for channel, topic in get_content().operator.communication.pairs():
        assert not may_send(db, email=account.email, channel=channel, topic=topic)
    assert db.get(Invoice, kept.id) is not None
    assert filed.state == S.COMPLETED
    actions = [event.action for event in db.scalars(select(AuditEvent)).all()[-6:]]
    assert "postmortem.account_closed" in actions and "request.completed" in actions

    # The free confirmation letter, mailed as a PDF in the requester's language.
    (letter,) = filed.letters
    assert letter.kind == "completion" and letter.language == language
    mail = mails_to(outbox, filed.email)[-1]
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    pdf = attachment.get_content()
    assert pdf == letter.pdf
    text = " ".join(pdf_text(pdf).split())  # long lines wrap in the PDF
    assert filed.reference in text and "Jeanne Martin" in text and "78-17" in text
    assert greeting in text
    report = handling.ClosureReport(deactivated=True, consents_withdrawn=1, invoices_kept=1)
    for line in report.lines(language):
        assert " ".join(line.split()) in text  # no-break spaces read as spaces


def test_a_failed_closure_leaves_nothing_half_written(
    web,
    db,
    outbox,
    documents,  # noqa: F811
    make_account,
    make_staff,
    monkeypatch,
):
    account = make_account()
    marketing_on(db, account)
    filed = started(
        web,
        db,
        outbox,
        documents,
        purpose="postmortem_objection",
        deceased_identifier=account.email,
        language="en",
    )
    staff_sign_in(web, make_staff(role="agent"))
    confirm_documents(web, db, filed)
    before = len(mails_to(outbox, filed.email))

    from privacy_center.staff.actions import deceased, rules

    def broken(*args, **kwargs):
        raise rules.ActionRefused("the workflow refused the completion")

    monkeypatch.setattr(deceased, "transition", broken)
    answer = web.post(
        f"/staff/requests/{filed.reference}/close-account",
        data={"close_account-csrf_token": token_of(web, filed)},
    )
    assert answer.status_code == 409
    assert "the workflow refused the completion" in answer.get_data(as_text=True)
    db.expire_all()
    assert account.deactivated_at is None
    assert all(current_preferences(db, account).values())
    assert filed.state == S.IN_PROGRESS and filed.letters == []
    assert len(mails_to(outbox, filed.email)) == before
    assert not db.scalars(
        select(AuditEvent).where(
            AuditEvent.request_id == filed.id, AuditEvent.action == "postmortem.account_closed"
        )
    ).all()


def test_closing_needs_an_account_that_matches(
    web,
    db,
    outbox,
    documents,  # noqa: F811
    make_staff,
):
    filed = started(
        web,
        db,
        outbox,
        documents,
        purpose="postmortem_closure",
        deceased_identifier="nobody-here@example.org",
        language="en",
    )
    staff_sign_in(web, make_staff(role="agent"))
    confirm_documents(web, db, filed)
    answer = web.post(
        f"/staff/requests/{filed.reference}/close-account",
        data={"close_account-csrf_token": token_of(web, filed)},
    )
    assert answer.status_code == 409
    assert "there is no account to close" in answer.get_data(as_text=True)
    db.refresh(filed)
    assert filed.state == S.IN_PROGRESS


def test_the_queue_filters_post_mortem_kinds(
    web,
    db,
    outbox,
    documents,  # noqa: F811
    make_staff,
):
    filed = started(web, db, outbox, documents, purpose="postmortem_closure", language="en")
    staff_sign_in(web, make_staff(role="agent"))
    html = web.get("/staff/").get_data(as_text=True)
    assert '<option value="postmortem_closure">Close the deceased\'s account</option>' in html
    assert '<option value="postmortem_estate">' in html
    html = web.get("/staff/?kind=postmortem_closure").get_data(as_text=True)
    assert filed.reference in html
    assert filed.reference not in web.get("/staff/?kind=postmortem_estate").get_data(as_text=True)
