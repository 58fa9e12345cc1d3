"""Communication preferences: the page, the proofs, one-click unsubscribe (RFC 8058), objections."""

from __future__ import annotations

import re
import shutil
from datetime import date
from urllib.parse import urlsplit

import pytest
from conftest import sign_in
from sqlalchemy import select

from privacy_center.accounts.preferences import (
    current_preferences,
    may_send,
    set_preferences,
    unsubscribe_all,
)
from privacy_center.accounts.unsubscribe import (
    marketing_headers,
    read_unsubscribe_token,
    unsubscribe_token,
    unsubscribe_url,
)
from privacy_center.config import PROJECT_ROOT
from privacy_center.content import get_content, load_content
from privacy_center.models import CommunicationPreference, PreferenceChange, Subscription
from privacy_center.models.types import utcnow
from privacy_center.operator import (
    Communication,
    CommunicationTopic,
    ContentError,
    Translated,
)

CONTENT_DIR = PROJECT_ROOT / "content"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
PAIRS = [
    (channel, topic)
    for topic in ("news", "offers", "similar_services")
    for channel in ("email", "sms")
]


def proofs(db, email: str) -> list[PreferenceChange]:
    return list(
        db.scalars(
            select(PreferenceChange)
            .where(PreferenceChange.email == email)
            .order_by(PreferenceChange.id)
        )
    )


def customer(db, make_account, **fields):
    """An account holder with a subscription (the soft opt-in applies to customers only)."""
    account = make_account(**fields)
    db.add(
        Subscription(
            account_id=account.id,
            service="Passerelle de paiement",
            plan="Pro",
            started_on=date(2024, 1, 1),
            price_cents=2900,
        )
    )
    db.flush()
    return account


def test_the_operator_declares_its_topics_and_channels(app):
    with app.app_context():
        communication = get_content().operator.communication
    assert communication.channels == ("email", "sms")
    assert communication.pairs() == PAIRS
    for topic in communication.topics:
        assert set(topic.label) == {"fr", "en", "es", "de"} and all(topic.label.values())
    assert [t.key for t in communication.topics if t.default] == ["similar_services"]


def test_the_page_requires_signing_in(client):
    answer = client.get("/rights/preferences")
    assert answer.status_code == 302
    target = urlsplit(answer.location)
    assert target.path == "/rights/sign-in" and target.query == "next=%2Frights%2Fpreferences"


def test_the_page_shows_one_box_per_channel_and_topic(client, db, make_account):
    sign_in(client, customer(db, make_account))
    page = client.get("/rights/preferences?lang=en").get_data(as_text=True)
    for channel, topic in PAIRS:
        assert f'id="{channel}__{topic}"' in page and f'for="{channel}__{topic}"' in page
    assert "Offers and benefits" in page and "<legend>" in page
    # Without a choice, only the soft opt-in topic is ticked (for a customer).
    ticked = re.findall(r'<input checked id="(\w+)"', page)
    assert sorted(ticked) == ["email__similar_services", "sms__similar_services"]


def test_saving_records_one_proof_per_change(client, db, make_account):
    account = customer(db, make_account)
    sign_in(client, account)
    token = CSRF.search(client.get("/rights/preferences?lang=en").get_data(as_text=True)).group(1)
    # Ticked: email news (was off), email similar_services (was on); sms similar_services unticked.
    form = {"csrf_token": token, "email__news": "y", "email__similar_services": "y"}
    answer = client.post("/rights/preferences", data=form)
    assert answer.status_code == 302 and answer.location == "/rights/preferences"
    assert "2 changes" in client.get("/rights/preferences?lang=en").get_data(as_text=True)
    recorded = proofs(db, account.email)
    assert {(p.channel, p.topic, p.subscribed) for p in recorded} == {
        ("email", "news", True),
        ("sms", "similar_services", False),
    }
    assert all(p.method == "preferences" and p.account_id == account.id for p in recorded)
    assert current_preferences(db, account)[("email", "news")] is True
    assert may_send(db, email=account.email, channel="email", topic="news")
    assert not may_send(db, email=account.email, channel="sms", topic="similar_services")
    # Saving the same choices again changes nothing and records nothing.
    client.post("/rights/preferences", data=form)
    assert len(proofs(db, account.email)) == 2
    assert "Nothing changed" in client.get("/rights/preferences?lang=en").get_data(as_text=True)


def test_saving_needs_the_csrf_token(client, db, make_account):
    account = make_account()
    sign_in(client, account)
    assert client.post("/rights/preferences", data={"email__news": "y"}).status_code == 400
    assert proofs(db, account.email) == []


def test_set_preferences_refuses_an_undeclared_pair(db, make_account, app):
    account = make_account()
    with pytest.raises(ValueError, match="not a declared"):
        set_preferences(db, account, {("email", "horoscope"): True}, method="preferences")
    with pytest.raises(ValueError, match="unknown preference method"):
        set_preferences(db, account, {("email", "news"): True}, method="telepathy")
    assert proofs(db, account.email) == []


def test_the_soft_opt_in_is_for_customers_only(db, make_account):
    prospect = make_account()
    assert not may_send(db, email=prospect.email, channel="email", topic="similar_services")
    buyer = customer(db, make_account)
    assert may_send(db, email=buyer.email.upper(), channel="email", topic="similar_services")
    assert not may_send(db, email=buyer.email, channel="email", topic="offers")
    assert not may_send(db, email="nobody@example.org", channel="email", topic="news")


def test_a_deactivated_account_gets_nothing(db, make_account):
    account = customer(db, make_account)
    set_preferences(db, account, {("email", "news"): True}, method="preferences")
    account.deactivated_at = utcnow()
    assert not may_send(db, email=account.email, channel="email", topic="news")


# --- one-click unsubscribe ----------------------------------------------------------------------


def url_for_unsubscribe(app, **target) -> str:
    with app.test_request_context():
        return unsubscribe_url(app.config, **target)


def test_one_click_unsubscribes_without_session_or_csrf_and_records_proof(app, db, make_account):
    account = customer(db, make_account)
    set_preferences(db, account, {("email", "offers"): True}, method="preferences")
    url = url_for_unsubscribe(app, channel="email", topic="offers", account_id=account.id)
    assert url.startswith("http://localhost/rights/unsubscribe/")
    fresh = app.test_client()  # a mail provider: no cookie, no session, no CSRF token
    answer = fresh.post(urlsplit(url).path, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert "Set-Cookie" not in answer.headers
    assert not may_send(db, email=account.email, channel="email", topic="offers")
    last = proofs(db, account.email)[-1]
    assert (last.channel, last.topic, last.subscribed, last.method) == (
        "email",
        "offers",
        False,
        "one-click",
    )
    assert last.account_id == account.id and last.recorded_at.tzinfo is not None
    # Other topics and channels are untouched.
    assert may_send(db, email=account.email, channel="email", topic="similar_services")


def test_the_page_asks_before_unsubscribing(app, db, make_account):
    account = make_account()
    set_preferences(db, account, {("sms", "news"): True}, method="preferences")
    path = urlsplit(
        url_for_unsubscribe(app, channel="sms", topic="news", account_id=account.id)
    ).path
    fresh = app.test_client()
    page = fresh.get(path + "?lang=en")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "ALLOPASS news" in text and "SMS" in text and f'action="{path}"' in text
    assert account.email not in text and account.email[0] + "…@example.org" in text
    assert may_send(db, email=account.email, channel="sms", topic="news")  # a GET changes nothing
    done = fresh.post(path + "?lang=en")
    assert done.status_code == 200 and "Done" in done.get_data(as_text=True)
    assert proofs(db, account.email)[-1].method == "link"
    assert not may_send(db, email=account.email, channel="sms", topic="news")


def test_unsubscribing_from_every_topic_of_a_channel(app, db, make_account):
    account = customer(db, make_account)
    set_preferences(
        db, account, {("email", "news"): True, ("sms", "news"): True}, method="preferences"
    )
    path = urlsplit(
        url_for_unsubscribe(app, channel="email", topic="*", account_id=account.id)
    ).path
    app.test_client().post(path, data={"List-Unsubscribe": "One-Click"})
    state = current_preferences(db, account)
    assert not any(state[("email", topic)] for topic in ("news", "offers", "similar_services"))
    assert state[("sms", "news")] is True


def test_an_unsubscribe_link_for_a_bare_address(app, db):
    path = urlsplit(
        url_for_unsubscribe(app, channel="email", topic="news", email="Lead@X.org")
    ).path
    assert app.test_client().post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    (proof,) = proofs(db, "lead@x.org")
    assert proof.account_id is None and (proof.channel, proof.topic) == ("email", "news")


@pytest.mark.parametrize("damage", ["tampered", "other key", "garbage", "unsigned"])
def test_a_bad_token_is_refused_with_a_clear_page(app, db, make_account, damage):
    account = make_account()
    good = unsubscribe_token(
        app.config["SECRET_KEY"], channel="email", topic="news", account_id=account.id
    )
    token = {
        "tampered": good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),
        "other key": unsubscribe_token(
            "another-secret-key-" + "y" * 30, channel="email", topic="news", account_id=account.id
        ),
        "garbage": "x" * 40,
        "unsigned": "eyJhIjoxLCJjIjoiZW1haWwiLCJ0IjoibmV3cyJ9",
    }[damage]
    fresh = app.test_client()
    page = fresh.get(f"/rights/unsubscribe/{token}?lang=en")
    assert page.status_code == 404
    assert "This unsubscribe link is not valid" in page.get_data(as_text=True)
    posted = fresh.post(f"/rights/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert posted.status_code == 404
    assert proofs(db, account.email) == []


def test_a_token_for_an_account_that_is_gone(app, db):
    token = unsubscribe_token(app.config["SECRET_KEY"], channel="email", topic="*", account_id=9**9)
    assert app.test_client().get(f"/rights/unsubscribe/{token}").status_code == 404


def test_tokens_name_one_target_and_survive_a_round_trip(app):
    key = app.config["SECRET_KEY"]
    token = unsubscribe_token(key, channel="sms", topic="*", account_id=7)
    target = read_unsubscribe_token(key, token)
    assert (target.channel, target.topic, target.account_id, target.email) == ("sms", "*", 7, None)
    with pytest.raises(ValueError):
        unsubscribe_token(key, channel="sms", topic="news")
    with pytest.raises(ValueError):
        unsubscribe_token(key, channel="pigeon", topic="news", account_id=7)


def test_marketing_mails_carry_the_rfc_8058_headers(app, db, make_account):
    account = make_account()
    with app.test_request_context():
        headers = marketing_headers(app.config, account, "email", "offers")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = headers["List-Unsubscribe"].strip("<>")
    target = read_unsubscribe_token(app.config["SECRET_KEY"], urlsplit(url).path.rsplit("/", 1)[1])
    assert (target.account_id, target.channel, target.topic) == (account.id, "email", "offers")


# --- objection to marketing ---------------------------------------------------------------------


def test_unsubscribe_all_for_a_known_email(db, make_account):
    account = customer(db, make_account)
    set_preferences(
        db, account, {("email", "news"): True, ("sms", "offers"): True}, method="preferences"
    )
    before = len(proofs(db, account.email))
    count = unsubscribe_all(
        db, email=" " + account.email.upper(), method="objection", request_reference="R-2025-0001"
    )
    recorded = proofs(db, account.email)[before:]
    # Turned off: email news, sms offers, and the two soft opt-in defaults; plus the blanket.
    assert count == len(recorded) == 5
    assert all(p.method == "objection" and p.request_reference == "R-2025-0001" for p in recorded)
    assert ("*", "*") in {(p.channel, p.topic) for p in recorded}
    assert not any(may_send(db, email=account.email, channel=c, topic=t) for c, t in PAIRS)
    rows = db.scalars(
        select(CommunicationPreference).where(CommunicationPreference.account_id == account.id)
    ).all()
    assert rows and not any(row.subscribed for row in rows)
    # A topic the operator declares later, sent by default, is covered by the objection too.
    later = Communication(
        channels=("email",),
        topics=(
            CommunicationTopic(
                key="partners",
                label=Translated({"en": "Partners"}),
                description=Translated({"en": "x"}),
                default=True,
            ),
        ),
    )
    assert not may_send(
        db, email=account.email, channel="email", topic="partners", communication=later
    )


def test_unsubscribe_all_for_an_unknown_email_stops_mail_to_it(db, make_account):
    count = unsubscribe_all(db, email="Someone@Example.org", method="objection")
    assert count == 1
    (proof,) = proofs(db, "someone@example.org")
    assert proof.account_id is None and (proof.channel, proof.topic) == ("*", "*")
    assert not proof.subscribed and proof.method == "objection"
    # An account opened later with that address starts with everything off...
    account = customer(db, make_account, email="someone@example.org")
    assert not any(current_preferences(db, account).values())
    assert not may_send(db, email=account.email, channel="email", topic="similar_services")
    # ...until its holder says yes to something.
    set_preferences(db, account, {("email", "news"): True}, method="preferences")
    assert may_send(db, email=account.email, channel="email", topic="news")
    assert not may_send(db, email=account.email, channel="email", topic="similar_services")


# --- the operator's declaration -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("channels: [email, sms]", "channels must be distinct"),
        ("key: offers", "declared twice"),
        ("default: true", "default is true or false"),
        ("de: Angebote und Vorteile", "no text for de"),
        ("key: news", "a key is lower-case"),
    ],
)
def test_a_wrong_communication_declaration_stops_start_up(tmp_path, change, message):
    target = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, target)
    operator = target / "operator.yaml"
    text = operator.read_text(encoding="utf-8")
    replacement = {
        "channels: [email, sms]": "channels: [email, pigeon]",
        "key: offers": "key: news",
        "default: true": "default: yes please",
        "de: Angebote und Vorteile": "de: ''",
        "key: news": "key: News-Letter",
    }[change]
    assert change in text
    operator.write_text(text.replace(change, replacement), encoding="utf-8")
    with pytest.raises(ContentError, match=message):
        load_content(target)


def test_an_operator_may_declare_no_communication(tmp_path):
    target = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, target)
    operator = target / "operator.yaml"
    text = operator.read_text(encoding="utf-8")
    operator.write_text(text[: text.index("communication:")], encoding="utf-8")
    assert load_content(target).operator.communication.pairs() == []
