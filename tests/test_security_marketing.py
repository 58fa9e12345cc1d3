"""Marketing objections by strangers (issue 16, item 9).

Anyone can type anyone's address in the objection form. Stopping the marketing of that address
on a stranger's word let anyone cut a holder off the news they asked for, as many addresses as
they liked. Marketing now stops at once only when the requester has shown the address is theirs
(signed in to its account, or, entered by staff, an email sent from that very address);
otherwise it stops when the single-use link mailed to the address is used, and an objection
never confirmed lapses with nothing stopped.
"""

from __future__ import annotations

import io
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from conftest import sign_in, staff_sign_in
from pypdf import PdfReader
from sqlalchemy import select, update
from test_intake import intake, post_form
from test_rights_requests import (
    CSRF,
    file_via_form,
    link_in,
    mails_to,
    request_for,
    text_of,
    today,
)

from privacy_center.accounts.preferences import may_send, set_preferences
from privacy_center.audit import events_of_request
from privacy_center.content import get_content
from privacy_center.letters import services as letters
from privacy_center.models import EmailToken, PreferenceChange, PrivacyRequest
from privacy_center.models.types import utcnow
from privacy_center.rights.lapsing import period_days, run_lapse
from privacy_center.workflow import RequestState

S = RequestState
NEW_SENTENCE = (
    "If you object to our marketing while signed in to your account, with the unsubscribe link "
    "of our emails or in an email sent from the address concerned, it stops at once; otherwise "
    "it stops when you confirm your request with the link we send to that email address, so "
    "that nobody can stop the messages of someone else."
)


@pytest.fixture
def web(client):
    client.environ_base["REMOTE_ADDR"] = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.16"
    return client


@pytest.fixture
def subscribed(db, make_account):
    """An account holder who accepts every topic on every channel."""
    holder = make_account(f"victim-{secrets.token_hex(4)}@example.org")
    pairs = get_content().operator.communication.pairs()
    set_preferences(db, holder, dict.fromkeys(pairs, True), method="preferences")
    db.commit()
    return holder


def receives_marketing(db, email: str) -> bool:
    db.expire_all()
    pairs = get_content().operator.communication.pairs()
    return all(may_send(db, email=email, channel=c, topic=t) for c, t in pairs)


def stopped_by(db, reference: str) -> list[PreferenceChange]:
    return list(
        db.scalars(select(PreferenceChange).where(PreferenceChange.request_reference == reference))
    )


def effect_rows(db, request: PrivacyRequest) -> list:
    return [e for e in events_of_request(db, request.id) if e.action == "request.effect"]


def confirmation_link(outbox, email: str) -> str:
    (mail,) = mails_to(outbox, email)
    return urlsplit(link_in(mail, "/confirm/")).path


def press_confirm(web, path: str):
    page = web.get(path)
    if page.status_code != 200:
        return page
    return web.post(path, data={"csrf_token": CSRF.search(page.get_data(as_text=True))[1]})


def pdf_plain(data: bytes) -> str:
    return " ".join(
        " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split()
    )


# --- the attack ---------------------------------------------------------------------------------


def test_a_stranger_cannot_stop_someone_elses_marketing(web, db, outbox, subscribed):
    """The attack: an anonymous objection naming the victim's address. Recorded, a link mailed
    to the victim, and nothing stopped."""
    answer = file_via_form(web, "objection_marketing", email=subscribed.email, document=None)
    assert answer.status_code == 302
    filed = request_for(db, subscribed.email)
    assert filed.state == S.AWAITING_CONFIRMATION
    assert receives_marketing(db, subscribed.email)
    assert stopped_by(db, filed.reference) == [] and effect_rows(db, filed) == []
    assert "nothing stopped yet" in filed.transitions[0].reason
    # The page the stranger sees promises nothing has stopped; the link goes to the victim only.
    sent = web.get("/rights/requests/sent?lang=en").get_data(as_text=True)
    assert "Nothing has stopped yet" in sent and "already stopped" not in sent
    (mail,) = mails_to(outbox, subscribed.email)
    assert "Our marketing to this address stops when you press the button." in text_of(mail)
    # Only opening the link changes nothing either (mail scanners fetch links).
    assert web.get(confirmation_link(outbox, subscribed.email)).status_code == 200
    assert receives_marketing(db, subscribed.email)


def test_the_confirmation_link_stops_marketing_once(web, db, outbox, subscribed):
    file_via_form(web, "objection_marketing", email=subscribed.email.upper(), document=None)
    path = confirmation_link(outbox, subscribed.email)
    answer = press_confirm(web, path)
    assert answer.status_code == 302
    filed = request_for(db, subscribed.email)
    assert filed.state == S.IN_PROGRESS and filed.clock_started_on == today()
    assert not receives_marketing(db, subscribed.email)
    proofs = stopped_by(db, filed.reference)
    assert proofs and {proof.method for proof in proofs} == {"objection"}
    (row,) = effect_rows(db, filed)
    assert row.actor == "requester" and row.details["proof"].startswith("confirmation link")
    assert "marketing communications stopped" in filed.transitions[-1].reason
    # The acknowledgement mail and the status page say it.
    acknowledgement = [
        m for m in mails_to(outbox, subscribed.email) if "/confirm/" not in text_of(m)
    ]
    assert "Marketing to your address has already stopped." in text_of(acknowledgement[-1])
    assert "already stopped" in web.get(answer.location).get_data(as_text=True)

    # A used link does nothing more: the holder subscribes again, the old link stays dead.
    pairs = get_content().operator.communication.pairs()
    set_preferences(db, subscribed, dict.fromkeys(pairs, True), method="preferences")
    db.commit()
    assert press_confirm(web, path).status_code == 404
    assert receives_marketing(db, subscribed.email)


def test_an_expired_or_forged_link_stops_nothing(web, db, outbox, subscribed):
    file_via_form(web, "objection_marketing", email=subscribed.email, document=None)
    path = confirmation_link(outbox, subscribed.email)
    forged = path.rsplit("/", 1)[0] + "/" + secrets.token_urlsafe(32)
    assert press_confirm(web, forged).status_code == 404
    assert web.post(forged, data={"csrf_token": "x"}).status_code in (400, 404)
    filed = request_for(db, subscribed.email)
    db.execute(
        update(EmailToken)
        .where(EmailToken.request_id == filed.id)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db.commit()
    assert press_confirm(web, path).status_code == 404
    assert receives_marketing(db, subscribed.email)
    assert request_for(db, subscribed.email).state == S.AWAITING_CONFIRMATION


def test_an_unconfirmed_objection_lapses_with_nothing_stopped(app, db, outbox, web, subscribed):
    file_via_form(web, "objection_marketing", email=subscribed.email, document=None)
    filed = request_for(db, subscribed.email)
    days = period_days("unconfirmed")
    later = utcnow() + timedelta(days=days + 2)
    report = run_lapse(db, now=later, settings=app.config, form_url=lambda r: "http://x/form")
    assert filed.reference in [stalled.request.reference for stalled in report.lapsed]
    assert request_for(db, subscribed.email).state == S.LAPSED
    assert receives_marketing(db, subscribed.email) and stopped_by(db, filed.reference) == []
    notice = [m for m in mails_to(outbox, subscribed.email) if "lapsed" in text_of(m)]
    assert "Our marketing to this address was therefore not stopped." in text_of(notice[-1])


# --- the holder ---------------------------------------------------------------------------------


def test_a_signed_in_holder_stops_their_marketing_at_once(web, db, outbox, subscribed):
    sign_in(web, subscribed)
    form = web.get("/rights/requests/new/objection_marketing?lang=en").get_data(as_text=True)
    assert f"we stop sending marketing to {subscribed.email}" in form
    answer = file_via_form(web, "objection_marketing", document=None)
    assert answer.status_code == 302
    filed = request_for(db, subscribed.email)
    assert filed.state == S.IN_PROGRESS and filed.account_id == subscribed.id
    assert not receives_marketing(db, subscribed.email)
    (row,) = effect_rows(db, filed)
    assert row.details["proof"].startswith("signed in")
    assert db.scalar(select(EmailToken).where(EmailToken.request_id == filed.id)) is None
    (mail,) = mails_to(outbox, subscribed.email)
    assert "Marketing to your address has already stopped." in text_of(mail)


def test_a_signed_in_stranger_cannot_object_for_another_address(web, db, make_account, subscribed):
    """Signed in to one's own account, the form answers for that account's address only."""
    intruder = make_account(f"intruder-{secrets.token_hex(4)}@example.org")
    sign_in(web, intruder)
    answer = file_via_form(web, "objection_marketing", email=subscribed.email, document=None)
    assert answer.status_code == 302
    assert db.scalar(select(PrivacyRequest).where(PrivacyRequest.email == subscribed.email)) is None
    assert receives_marketing(db, subscribed.email)


# --- requests entered by staff ------------------------------------------------------------------


@pytest.fixture
def console(client, make_staff):
    member = make_staff(role="agent")
    staff_sign_in(client, member)
    return client


def objection_form(console, email: str, **fields):
    return post_form(
        console,
        **{
            "intake-kind": "objection_marketing",
            "intake-email": email,
            "intake-postal_address": "",
            "intake-received_on": today().isoformat(),
            "intake-language": "en",
            **fields,
        },
    )


def created(db, answer) -> PrivacyRequest:
    assert answer.status_code == 303, answer.get_data(as_text=True)
    reference = answer.headers["Location"].rsplit("/", 1)[1]
    db.expire_all()
    return db.scalar(select(PrivacyRequest).where(PrivacyRequest.reference == reference))


def test_a_letter_or_a_call_naming_an_address_waits_for_its_confirmation(
    db, console, outbox, subscribed
):
    page = console.get("/staff/requests/new").get_data(as_text=True)
    assert "A letter, a call or a signature does not prove" in page
    for channel in ("post", "phone"):
        answer = objection_form(console, subscribed.email, **{"intake-channel": channel})
        request = created(db, answer)
        assert request.state == S.AWAITING_CONFIRMATION and request.clock_started_on == today()
        assert receives_marketing(db, subscribed.email) and effect_rows(db, request) == []
    # Ticking "came from this address" for a letter is refused, and nothing is recorded.
    before = db.scalar(select(PrivacyRequest.id).order_by(PrivacyRequest.id.desc()).limit(1))
    refused = objection_form(
        console, subscribed.email, **{"intake-channel": "post", "intake-address_verified": "y"}
    )
    assert refused.status_code == 422
    assert "Only a request received by email" in refused.get_data(as_text=True)
    assert (
        db.scalar(select(PrivacyRequest.id).order_by(PrivacyRequest.id.desc()).limit(1)) == before
    )

    # The holder uses the link mailed for the call: marketing stops, the clock is kept.
    paths = [urlsplit(link_in(m, "/confirm/")).path for m in mails_to(outbox, subscribed.email)]
    assert len(paths) == 2
    assert press_confirm(console, paths[-1]).status_code == 302
    db.expire_all()
    assert not receives_marketing(db, subscribed.email)
    confirmed = db.scalar(select(PrivacyRequest).where(PrivacyRequest.channel == "phone"))
    assert confirmed.state == S.IN_PROGRESS and confirmed.clock_started_on == today()


def test_an_email_from_the_address_itself_stops_marketing_at_once(db, console, subscribed):
    answer = objection_form(
        console, subscribed.email, **{"intake-channel": "email", "intake-address_verified": "y"}
    )
    request = created(db, answer)
    assert request.state == S.IN_PROGRESS
    assert not receives_marketing(db, subscribed.email)
    (row,) = effect_rows(db, request)
    assert row.actor.startswith("staff:") and "email from the address" in row.details["proof"]


def test_the_acknowledgement_letter_says_whether_marketing_stopped(db, console, subscribed):
    waiting = created(db, objection_form(console, subscribed.email, **{"intake-channel": "post"}))
    pdf = letters.preview_letter(db, waiting, "acknowledgement", {}, today=today())
    text = pdf_plain(pdf)
    assert "as soon as the confirmation link we emailed to that address is used" in text
    assert "already stopped" not in text
    stopped = created(
        db,
        objection_form(
            console, subscribed.email, **{"intake-channel": "email", "intake-address_verified": "y"}
        ),
    )
    assert "Marketing to your address has already stopped." in pdf_plain(
        letters.preview_letter(db, stopped, "acknowledgement", {}, today=today())
    )


def test_the_command_line_needs_the_link_address_or_the_senders_proof(app, db, outbox):
    email = f"caller-{secrets.token_hex(4)}@example.org"
    common = ["--kind", "objection_marketing", "--name", "Jeanne Martin", "--email", email]
    common += ["--received-on", "2026-02-02"]
    refused = intake(app, *common, "--channel", "phone")
    assert refused.exit_code != 0 and "--base-url" in refused.output
    assert db.scalar(select(PrivacyRequest).where(PrivacyRequest.email == email)) is None
    waiting = intake(
        app, *common, "--channel", "phone", "--base-url", "https://privacy.example.com"
    )
    assert waiting.exit_code == 0, waiting.output
    assert "stops when the link mailed to it is used" in waiting.output
    (mail,) = mails_to(outbox, email)
    assert "https://privacy.example.com/rights/requests/confirm/" in text_of(mail)
    reference = waiting.output.split()[0]
    assert stopped_by(db, reference) == []
    at_once = intake(app, *common, "--channel", "email", "--address-verified")
    assert at_once.exit_code == 0, at_once.output
    assert stopped_by(db, at_once.output.split()[0])


# --- what the policy says -----------------------------------------------------------------------


def test_the_policy_says_when_marketing_stops(app, client, monkeypatch):
    """Version 4 says it from its effective date; the versions before it stay as published."""
    with app.app_context():
        versions = get_content().versions
        operator = get_content().operator
    newest = next(version for version in versions if version.number == 4)
    monkeypatch.setattr(type(operator), "today", lambda self: newest.effective)
    page = client.get("/policy?lang=en").get_data(as_text=True)
    assert NEW_SENTENCE in " ".join(page.split())
    earlier = client.get("/policy/versions/3?lang=en").get_data(as_text=True)
    assert "nobody can stop the messages of someone else" not in earlier
    # The day before, version 3 is in force.
    monkeypatch.setattr(type(operator), "today", lambda self: newest.effective - timedelta(days=1))
    assert "nobody can stop" not in client.get("/policy?lang=en").get_data(as_text=True)
