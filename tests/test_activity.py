"""Inactivity means no activity anywhere: a sign-in here, the operator's site, its emails.

The retention run's clock is frozen by passing ``now`` (as in test_retention.py); the tracked
link and the mailer's feed are exercised through their HTTP endpoints. The test database may
hold other tests' committed rows, so assertions look at the rows each test creates.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
import yaml
from dateutil.relativedelta import relativedelta
from itsdangerous import URLSafeSerializer
from sqlalchemy import select
from test_forms_security import HOSTILE_TARGETS
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from privacy_center.config import PROJECT_ROOT
from privacy_center.connectors import ConnectorError, Subject, get_connectors, load_connectors
from privacy_center.content import get_content
from privacy_center.mail import read_outbox
from privacy_center.models import Account, AccountActivity, BrowsingEvent
from privacy_center.models.types import utcnow
from privacy_center.operator import ContentError
from privacy_center.retention import activity, activity_sources
from privacy_center.retention.activity_links import (
    LINK_SALT,
    LinkRefused,
    allowed_target,
    link_token,
)
from privacy_center.retention.activity_sources import (
    ActivitySource,
    check_connectors,
    parse_activity,
)
from privacy_center.retention.rules import EnforcedRule, enforced_rules
from privacy_center.retention.services import plan, run_retention
from privacy_center.retention.steps import Context

T = datetime(2030, 1, 15, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)
LANGUAGES = ("fr", "en", "es", "de")
MAILER_TOKEN = "mailer-token-of-the-test-0123456789"
SITE = "https://www.allopass.com/offers/summer?utm=mail"


def account_rule() -> EnforcedRule:
    return next(item for item in enforced_rules() if item.key == "account")


def ctx(app, now: datetime) -> Context:
    return Context(
        now=now, content=get_content(), settings=app.config, base_url="https://pc.example"
    )


def run(app, db, now: datetime, rule: EnforcedRule | None = None, **options):
    return run_retention(db, [rule or account_rule()], ctx(app, now), **options)


def mails_to(outbox, account: Account) -> list[Any]:
    return [mail for mail in read_outbox(outbox) if mail["To"] == account.email]


def email_source() -> ActivitySource:
    found = activity_sources.email_source(account_rule().activity)
    assert found is not None
    return found


def recorded(db, account: Account) -> dict[str, datetime]:
    db.expire_all()
    rows = db.scalars(select(AccountActivity).where(AccountActivity.account_id == account.id))
    return {row.source: row.last_at for row in rows}


@pytest.fixture
def mailer(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("PC_MAILER_TOKEN", MAILER_TOKEN)
    return {"Authorization": f"Bearer {MAILER_TOKEN}"}


# --- the demo declaration -----------------------------------------------------------------------


def test_the_demo_operator_counts_its_site_and_its_emails(app):
    with app.app_context():
        sources = {source.key: source for source in account_rule().activity}
    assert {key: source.type for key, source in sources.items()} == {
        "site": "sql",
        "emails": "email",
    }
    assert sources["site"].connector == "allopass"
    assert "browsing_event" in (sources["site"].query or "")
    assert sources["emails"].redirect_to == ("https://www.allopass.com/", "https://allopass.com/")


# --- activity on the site -----------------------------------------------------------------------


def test_a_customer_active_only_on_the_site_is_neither_warned_nor_deactivated(
    app, db, make_account, outbox
):
    # No sign-in here for six years, but pages viewed on the site last week.
    customer = make_account(language="en", last_active_at=T - relativedelta(years=6))
    db.add_all(
        BrowsingEvent(account_id=customer.id, occurred_at=T - days * DAY, path="/", device="x")
        for days in (400, 30, 7)
    )
    db.flush()

    run(app, db, T)
    run(app, db, T + 31 * DAY)
    run(app, db, T + relativedelta(years=1))
    db.refresh(customer)
    assert mails_to(outbox, customer) == []
    assert customer.inactivity_warned_at is None
    assert customer.deactivated_at is None
    assert recorded(db, customer) == {"site": T - 7 * DAY}

    # Five years after that last page view, with nothing since, the rule applies again.
    last_view = T - 7 * DAY
    warn_day = last_view + relativedelta(years=5) - timedelta(days=30)
    run(app, db, warn_day - DAY)
    assert mails_to(outbox, customer) == []
    run(app, db, warn_day)
    (warning,) = mails_to(outbox, customer)
    body = warning.get_body(("plain",)).get_content()
    assert "since January 8, 2030" in body  # the last page view, not the last sign-in
    run(app, db, last_view + relativedelta(years=5))
    db.refresh(customer)
    assert customer.deactivated_at == last_view + relativedelta(years=5)


def test_a_page_view_after_the_warning_keeps_the_account(app, db, make_account, outbox):
    customer = make_account(language="fr", last_active_at=T)
    five_years = T + relativedelta(years=5)
    run(app, db, five_years - 30 * DAY)
    assert len(mails_to(outbox, customer)) == 1

    db.add(BrowsingEvent(account_id=customer.id, occurred_at=five_years - 2 * DAY, path="/"))
    db.flush()
    run(app, db, five_years)
    run(app, db, five_years + 40 * DAY)
    db.refresh(customer)
    assert customer.deactivated_at is None
    assert len(mails_to(outbox, customer)) == 1


def test_the_dry_run_counts_site_activity_and_records_nothing(app, db, make_account, outbox):
    customer = make_account(last_active_at=T - relativedelta(years=6))
    idle = make_account(last_active_at=T - relativedelta(years=6))
    db.add(BrowsingEvent(account_id=customer.id, occurred_at=T - DAY, path="/", device="x"))
    db.flush()

    preview = run(app, db, T, dry_run=True)
    assert preview.dry_run
    assert recorded(db, customer) == {}
    assert read_outbox(outbox) == []
    # What the plan counts is what the real run then does: the idle holder only.
    planned = {item.step: item.count for item in plan(db, [account_rule()], ctx(app, T))}
    done = run(app, db, T)
    assert (
        done.results["account"]["warned"]["count"]
        == preview.results["account"]["warned"]["planned"]
    )
    assert planned["warned"] >= 1
    assert mails_to(outbox, customer) == []
    assert len(mails_to(outbox, idle)) == 1


def test_the_recorded_activity_is_in_the_holders_copy_and_erased_with_the_account(
    app, db, make_account
):
    customer = make_account(last_active_at=T - relativedelta(years=6))
    db.add(BrowsingEvent(account_id=customer.id, occurred_at=T - DAY, path="/", device="x"))
    db.flush()
    run(app, db, T)
    own = next(connector for connector in get_connectors() if connector.key == "allopass")
    subject = Subject(email=customer.email, account_id=customer.id)
    assert list(own.collect(subject, "last_activity")) == [
        {"source": "site", "last_at": "2030-01-14T10:00:00Z"}
    ]
    report = own.erase(subject)
    assert report.outcome("last_activity").action == "removed"
    assert recorded(db, customer) == {}


# --- no activity anywhere -----------------------------------------------------------------------


def test_no_activity_anywhere_is_warned_then_deactivated(app, db, make_account, outbox):
    holder = make_account(language="en", last_active_at=T)
    # Page views older than the last sign-in change nothing.
    db.add(BrowsingEvent(account_id=holder.id, occurred_at=T - 90 * DAY, path="/", device="x"))
    db.flush()
    five_years = T + relativedelta(years=5)

    run(app, db, five_years - 31 * DAY)
    assert mails_to(outbox, holder) == []
    run(app, db, five_years - 30 * DAY)
    (warning,) = mails_to(outbox, holder)
    for body in (
        warning.get_body(("plain",)).get_content(),
        warning.get_body(("html",)).get_content(),
    ):
        assert (
            "Any of these counts as activity and keeps your account: signing in to your account, "
            "visiting the ALLOPASS site while signed in, or opening a link in an email from "
            "ALLOPASS."
        ) in body.replace("\n", " ").replace("  ", " ")
    run(app, db, five_years - DAY)
    db.refresh(holder)
    assert holder.deactivated_at is None
    run(app, db, five_years)
    db.refresh(holder)
    assert holder.deactivated_at == five_years


def test_the_warning_says_what_counts_in_the_holders_language(app, db, make_account, outbox):
    holder = make_account(language="fr", last_active_at=T)
    run(app, db, T + relativedelta(years=5) - 30 * DAY)
    (warning,) = mails_to(outbox, holder)
    body = warning.get_body(("plain",)).get_content().replace("\n", " ")
    assert (
        "Chacune de ces actions compte comme une activité et conserve votre compte : la connexion "
        "à votre compte, une visite du site d’ALLOPASS en étant connecté à votre compte ou "
        "l’ouverture d’un lien dans un e-mail d’ALLOPASS."
    ) in body.replace("  ", " ")


# --- engagement with the emails: the tracked link -----------------------------------------------


def test_a_customer_who_only_clicked_a_tracked_email_link_is_kept(
    app, db, client, make_account, outbox
):
    now = utcnow()
    customer = make_account(language="en", last_active_at=now - relativedelta(years=6))
    with app.test_request_context():
        token = link_token(app.secret_key, email_source(), customer.id, SITE)

    answer = client.get(f"/go/{token}")
    assert answer.status_code == 302
    assert answer.location == SITE
    assert answer.headers["Cache-Control"] == "no-store"
    clicked = recorded(db, customer)["emails"]
    assert now <= clicked <= utcnow()

    run(app, db, now + DAY)
    run(app, db, now + 40 * DAY)
    db.refresh(customer)
    assert mails_to(outbox, customer) == []
    assert customer.deactivated_at is None

    # And five years after that click, with nothing since, the holder is warned.
    run(app, db, clicked + relativedelta(years=5) - 30 * DAY)
    assert len(mails_to(outbox, customer)) == 1


@pytest.mark.parametrize(
    "forge",
    [
        lambda token: "not-a-token",
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: URLSafeSerializer("another key" * 4, salt=LINK_SALT).dumps([1, SITE]),
        lambda token: (
            URLSafeSerializer("unused", salt=LINK_SALT)
            .dumps([1, "https://evil.example/"])
            .split(".")[0]
            + "."
            + token.split(".")[1]
        ),
    ],
    ids=["garbage", "tampered", "other-key", "spliced"],
)
def test_the_tracked_link_refuses_forged_tokens(app, db, client, make_account, forge):
    customer = make_account(last_active_at=T)
    token = link_token(app.secret_key, email_source(), customer.id, SITE)
    answer = client.get(f"/go/{forge(token)}")
    assert answer.status_code == 404
    assert "Location" not in answer.headers
    assert recorded(db, customer) == {}


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "https://www.allopass.com.evil.example/",
        "https://www.allopass.com@evil.example/",
        "http://www.allopass.com/",  # another scheme
        "https://www.allopass.com:8443/",
        "//evil.example/",
        "javascript:alert(1)",
        "https://www.allopass.com/\\@evil.example",
        "https://www.allopass.com/\t/x",
        *HOSTILE_TARGETS,  # every redirect trick the sign-in's ?next= refuses too
    ],
)
def test_the_tracked_link_refuses_foreign_redirect_targets(app, db, client, make_account, target):
    customer = make_account(last_active_at=T)
    assert not allowed_target(email_source(), target)
    with pytest.raises(LinkRefused, match="is not under an address of redirect_to"):
        link_token(app.secret_key, email_source(), customer.id, target)
    # Even signed with our own key, a link to an address not declared is not followed.
    signed = URLSafeSerializer(app.secret_key, salt=LINK_SALT).dumps([customer.id, target])
    answer = client.get(f"/go/{signed}")
    assert answer.status_code == 404
    assert "Location" not in answer.headers
    assert recorded(db, customer) == {}


def test_the_mailer_gets_tracked_links_from_the_api(app, db, client, make_account, mailer):
    customer = make_account(last_active_at=T)
    answer = client.post(
        "/api/v1/activity/links",
        json={"links": [{"email": customer.email.upper(), "url": SITE},
                        {"email": "nobody@example.org", "url": SITE}]},
        headers=mailer,
    )  # fmt: skip
    assert answer.status_code == 200, answer.get_data(as_text=True)
    link, unknown = answer.get_json()["links"]
    assert unknown is None
    assert "/go/" in link
    followed = client.get(urlsplit(link).path)
    assert followed.location == SITE
    assert "emails" in recorded(db, customer)

    refused = client.post(
        "/api/v1/activity/links",
        json={"links": [{"account_id": customer.id, "url": "https://evil.example/"}]},
        headers=mailer,
    )
    assert refused.status_code == 400
    assert "links[0]" in refused.get_json()["error"]
    assert client.post("/api/v1/activity/links", json={"links": []}).status_code == 401


# --- engagement with the emails: the mailer's feed ----------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {MAILER_TOKEN}"},
        {"Authorization": "Bearer "},
    ],
    ids=["none", "wrong", "not-bearer", "empty"],
)
def test_the_feed_refuses_unauthenticated_posts(app, db, client, make_account, mailer, headers):
    customer = make_account(last_active_at=T)
    answer = client.post(
        "/api/v1/activity",
        json={"activity": [{"email": customer.email, "at": "2030-01-01T10:00:00Z"}]},
        headers=headers,
    )
    assert answer.status_code == 401
    assert "Bearer" in answer.get_json()["error"]
    assert recorded(db, customer) == {}


def test_the_feed_is_closed_while_its_token_is_not_set(app, db, client, make_account, monkeypatch):
    monkeypatch.delenv("PC_MAILER_TOKEN", raising=False)
    customer = make_account(last_active_at=T)
    answer = client.post(
        "/api/v1/activity",
        json={"activity": [{"account_id": customer.id, "at": "2020-01-01T10:00:00Z"}]},
        headers={"Authorization": "Bearer "},
    )
    assert answer.status_code == 401
    assert recorded(db, customer) == {}


def test_the_feed_records_the_latest_engagement(app, db, client, make_account, mailer, outbox):
    """The feed is dated by the mailer: the run's clock follows the real one here."""
    now = utcnow().replace(microsecond=0)
    customer = make_account(language="en", last_active_at=now - relativedelta(years=6))
    other = make_account(last_active_at=now - relativedelta(years=6))
    opened, earlier = now - 10 * DAY, now - 40 * DAY
    answer = client.post(
        "/api/v1/activity",
        json={"activity": [
            {"email": customer.email, "at": opened.isoformat().replace("+00:00", "Z")},
            {"email": customer.email.upper(), "at": earlier.isoformat()},
            {"account_id": other.id, "at": earlier.replace(tzinfo=None).isoformat()},
            {"email": "nobody@example.org", "at": opened.isoformat()},
            {"account_id": 2**31 - 1, "at": opened.isoformat()},
        ]},
        headers=mailer,
    )  # fmt: skip
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json() == {"recorded": 2, "unknown": 2}
    assert recorded(db, customer) == {"emails": opened}
    assert recorded(db, other) == {"emails": earlier}

    # An older report never moves the last activity back.
    client.post(
        "/api/v1/activity",
        json={"activity": [{"email": customer.email, "at": "2025-01-01T00:00:00Z"}]},
        headers=mailer,
    )
    assert recorded(db, customer) == {"emails": opened}

    run(app, db, now + DAY)
    run(app, db, now + 40 * DAY)
    db.refresh(customer)
    assert mails_to(outbox, customer) == []
    assert customer.deactivated_at is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"activity": []}, "a list of 1 to 1000 entries"),
        ({"events": []}, 'expected a JSON object {"activity": [...]}'),
        ({"activity": [{"at": "2025-01-01T00:00:00Z"}]}, "activity[0]: give account_id"),
        ({"activity": [{"account_id": 1, "at": "yesterday"}]}, "activity[0]: at must be"),
        ({"activity": [{"account_id": 1, "at": "2999-01-01T00:00:00Z"}]}, "in the future"),
    ],
)
def test_a_bad_feed_post_is_refused_whole(app, db, client, make_account, mailer, body, message):
    customer = make_account(last_active_at=T)
    entries = [{"account_id": customer.id, "at": "2025-01-01T00:00:00Z"}]
    if "activity" in body:
        body = {"activity": entries + body["activity"]} if body["activity"] else body
        message = message.replace("[0]", "[1]")
    answer = client.post("/api/v1/activity", json=body, headers=mailer)
    assert answer.status_code == 400
    assert message in answer.get_json()["error"]
    assert recorded(db, customer) == {}


# --- an operator's service over HTTP ------------------------------------------------------------


class LastActivityService:
    """The operator's service answering /last-activity in pages; every call is recorded."""

    def __init__(self, pages: dict[str | None, dict[str, Any]]) -> None:
        self.pages = pages
        self.calls: list[tuple[str, dict[str, Any], str | None]] = []

    def __call__(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        body = json.loads(request.get_data() or b"{}")
        self.calls.append((request.path, body, request.headers.get("Authorization")))
        answer = self.pages.get(body.get("cursor"), {"activity": [], "next_cursor": None})
        return Response(json.dumps(answer), mimetype="application/json")(environ, start_response)


@pytest.fixture
def service() -> Iterator[tuple[LastActivityService, str]]:
    endpoint = LastActivityService({})
    server = make_server("127.0.0.1", 0, endpoint, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield endpoint, f"http://127.0.0.1:{server.server_port}/privacy"
    server.shutdown()
    thread.join(timeout=5)


def http_set(tmp_path: Path, url: str):
    label = dict.fromkeys(LANGUAGES, "CRM")
    path = tmp_path / "connectors.yaml"
    path.write_text(
        yaml.safe_dump({"connectors": [{
            "key": "crm", "type": "http", "url": url, "token_env": "CRM_TOKEN", "retries": 0,
            "label": label, "categories": [{"key": "notes", "label": label, "fields": [
                {"key": "body", "description": label}]}],
        }]}),
        encoding="utf-8",
    )  # fmt: skip
    return load_connectors(path, LANGUAGES, {"account"})


def test_an_http_service_is_asked_once_per_run_for_everyone(
    app, db, make_account, outbox, service, tmp_path, monkeypatch
):
    endpoint, url = service
    monkeypatch.setenv("CRM_TOKEN", "crm-token")
    customer = make_account(last_active_at=T - relativedelta(years=6))
    idle = make_account(last_active_at=T - relativedelta(years=6))
    endpoint.pages.update({
        None: {"activity": [{"email": customer.email, "at": "2029-12-24T09:00:00Z"}],
               "next_cursor": "p2"},
        "p2": {"activity": [{"account_id": customer.id, "at": "2029-12-20T09:00:00Z"},
                            {"email": "nobody@example.org", "at": "2029-12-20T09:00:00Z"}],
               "next_cursor": None},
    })  # fmt: skip
    sources = parse_activity(
        [{"key": "crm_logins", "type": "http", "connector": "crm",
          "label": dict.fromkeys(LANGUAGES, "using the app")}],
        LANGUAGES, "retention.yaml: rule 'account': enforce",
    )  # fmt: skip
    connectors = http_set(tmp_path, url)
    check_connectors(sources, connectors, "retention.yaml")

    counts = activity.collect(db, sources, connectors, T)
    assert counts == {"crm_logins": 1}
    assert [(path, body["since"]) for path, body, _ in endpoint.calls] == [
        ("/privacy/last-activity", None),
        ("/privacy/last-activity", None),
    ]
    assert {auth for _, _, auth in endpoint.calls} == {"Bearer crm-token"}
    assert recorded(db, customer) == {"crm_logins": datetime(2029, 12, 24, 9, tzinfo=UTC)}

    # The next collection asks only for what is newer (less a margin for late reports).
    endpoint.calls.clear()
    activity.collect(db, sources, connectors, T)
    assert endpoint.calls[0][1]["since"] == "2029-12-17T09:00:00+00:00"

    # The run then counts it, whatever the source (the demo rule declares no http source).
    run(app, db, T)
    assert mails_to(outbox, customer) == []
    assert len(mails_to(outbox, idle)) == 1


def test_a_broken_answer_of_the_service_is_a_clear_error(app, db, service, tmp_path, monkeypatch):
    endpoint, url = service
    monkeypatch.setenv("CRM_TOKEN", "crm-token")
    endpoint.pages[None] = {"activity": [{"at": "2029-12-24T09:00:00Z"}], "next_cursor": None}
    sources = parse_activity(
        [{"key": "crm_logins", "type": "http", "connector": "crm",
          "label": dict.fromkeys(LANGUAGES, "x")}], LANGUAGES, "here",
    )  # fmt: skip
    with pytest.raises(ConnectorError, match=r"/last-activity answered an entry: .*\[0\]"):
        activity.collect(db, sources, http_set(tmp_path, url), T)


def test_a_query_on_another_database_is_collected_from_since(
    app, db, make_account, tmp_path, monkeypatch
):
    """An sql source on the operator's own database (url_env), not the privacy center's."""
    customer = make_account(last_active_at=T - relativedelta(years=6))
    url = f"sqlite:///{tmp_path / 'app.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE app_login (account_id INTEGER, at TEXT)")
        connection.exec_driver_sql(
            "INSERT INTO app_login VALUES (?, '2029-12-24 09:00:00.000000'), "
            "(?, '2029-12-01 09:00:00.000000'), (999999999, '2029-12-24 09:00:00.000000')",
            (customer.id, customer.id),
        )
    engine.dispose()
    monkeypatch.setenv("APP_DATABASE_URL", url)
    label = dict.fromkeys(LANGUAGES, "x")
    path = tmp_path / "connectors.yaml"
    path.write_text(
        yaml.safe_dump({"connectors": [{
            "key": "app", "type": "sql", "url_env": "APP_DATABASE_URL", "label": label,
            "categories": [{"key": "logins", "label": label,
                            "query": "SELECT at FROM app_login WHERE account_id = :account_id",
                            "fields": [{"key": "at", "description": label}],
                            "erase": {"action": "kept", "reason": label}}],
        }]}),
        encoding="utf-8",
    )  # fmt: skip
    connectors = load_connectors(path, LANGUAGES, {"account"})
    sources = parse_activity(
        [{"key": "app", "type": "sql", "connector": "app", "label": label,
          "query": "SELECT account_id, MAX(at) FROM app_login WHERE at > :since "
                   "GROUP BY account_id"}],
        LANGUAGES, "here",
    )  # fmt: skip
    check_connectors(sources, connectors, "here")

    assert activity.collect(db, sources, connectors, T) == {"app": 1}
    assert recorded(db, customer) == {"app": datetime(2029, 12, 24, 9, tzinfo=UTC)}
    # A run whose clock is earlier counts the moment as its clock: older, so nothing moves back.
    assert activity.collect(db, sources, connectors, datetime(2029, 12, 20, tzinfo=UTC)) == {
        "app": 1
    }
    assert recorded(db, customer) == {"app": datetime(2029, 12, 24, 9, tzinfo=UTC)}


# --- bad declarations ---------------------------------------------------------------------------


def source(**entry: Any) -> dict[str, Any]:
    return {"key": "site", "label": dict.fromkeys(LANGUAGES, "x"), **entry}


SQL_QUERY = "SELECT account_id, MAX(occurred_at) FROM browsing_event GROUP BY account_id"


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"type": "sql"}, "activity is a list of sources"),
        ([source(type="carrier-pigeon")], "activity 'site': type 'carrier-pigeon' is not one of"),
        ([source(type="sql", query=SQL_QUERY)], "activity 'site': connector: the key of"),
        ([source(type="sql", connector="allopass", query="DELETE FROM account")], "a SELECT"),
        (
            [source(type="sql", connector="allopass", query=SQL_QUERY + " HAVING :who = 1")],
            "unknown parameter(s) :who",
        ),
        ([source(type="sql", connector="allopass", query=SQL_QUERY + "; DROP TABLE x")], "one SQL"),
        ([source(type="http", connector="crm", query=SQL_QUERY)], "query is not a setting of"),
        (
            [source(type="email", token_env="T", redirect_to=["https://a.example"])],
            "redirect_to[0]: 'https://a.example' is not an address prefix",
        ),
        (
            [source(type="email", token_env="T", redirect_to=["https://u@a.example/"])],
            "is not an address prefix",
        ),
        ([source(type="email", token_env="T", redirect_to=[])], "redirect_to lists"),
        (
            [source(type="email", token_env="lower", redirect_to=["https://a.example/"])],
            "token_env",
        ),
        (
            [source(type="email", token_env="T", redirect_to=["https://a.example/"]),
             {**source(type="email", token_env="T", redirect_to=["https://a.example/"]),
              "key": "more"}],
            "activity 'more': only one email source",
        ),
        ([source(type="http", connector="crm"), source(type="http", connector="crm")], "twice"),
        ([{"key": "site", "type": "http", "connector": "crm", "label": {"en": "x"}}], "no text"),
    ],
)  # fmt: skip
def test_a_wrong_activity_source_names_the_rule_and_the_entry(entries, message):
    with pytest.raises(ContentError) as caught:
        parse_activity(entries, LANGUAGES, "content/retention.yaml: rule 'account': enforce")
    assert message in str(caught.value)
    assert str(caught.value).startswith("content/retention.yaml: rule 'account': enforce")


def test_a_source_must_name_a_connector_of_its_type():
    connectors = load_connectors(
        PROJECT_ROOT / "content" / "connectors.yaml", LANGUAGES, {"account", "raw-visits",
        "invoices", "claims", "consent-proof", "audience-statistics", "identity-documents",
        "cookie-choice", "cookies"},
    )  # fmt: skip
    for entry, message in (
        (source(type="sql", connector="crm", query=SQL_QUERY), "connector 'crm' is not a sql"),
        (source(type="http", connector="allopass"), "(http connectors: none)"),
    ):
        sources = parse_activity([entry], LANGUAGES, "retention.yaml: rule 'account': enforce")
        with pytest.raises(ContentError, match="activity 'site'") as caught:
            check_connectors(sources, connectors, "retention.yaml: rule 'account': enforce")
        assert message in str(caught.value)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("connector: allopass", "connector: crm", "activity 'site': connector 'crm' is not a sql"),
        ("token_env: PC_MAILER_TOKEN", "token_env: pc-token", "activity 'emails': token_env"),
        ("- https://allopass.com/", "- allopass.com", "activity 'emails': redirect_to[1]"),
    ],
)
def test_a_bad_declaration_stops_the_application(tmp_path, make_app, old, new, message):
    content = tmp_path / "content"
    shutil.copytree(PROJECT_ROOT / "content", content)
    path = content / "retention.yaml"
    assert old in path.read_text(encoding="utf-8")
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        make_app(CONTENT_DIR=str(content))
    assert "retention.yaml: rule 'account': enforce: " in str(caught.value)
    assert message in str(caught.value)


# --- the staff page -----------------------------------------------------------------------------


def test_the_staff_retention_page_says_which_activity_counts(app, db, client, make_staff):
    from conftest import staff_sign_in

    staff_sign_in(client, make_staff(role="dpo"))
    html = client.get("/staff/retention/?lang=en").get_data(as_text=True)
    assert (
        "Inactive means no activity anywhere; the last activity is the latest of: signing in to "
        "your account, visiting the ALLOPASS site while signed in, and opening a link in an "
        "email from ALLOPASS."
    ) in html
    assert "<code>site</code>: read from the connector's database once per run" in html
    assert "<code>emails</code>: recorded as it happens" in html
