"""Connectors: the configuration file, the SQL connector (own and external databases) and the
HTTP connector against a real local HTTP server."""

from __future__ import annotations

import inspect
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from privacy_center.config import PROJECT_ROOT
from privacy_center.connectors import ConnectorError, Subject, get_connectors, load_connectors
from privacy_center.connectors.config import ConnectorSet
from privacy_center.models import Account, BrowsingEvent, Invoice
from privacy_center.operator import ContentError
from tests.subject_data import fill_account

LANGUAGES = ("fr", "en", "es", "de")
RETENTION = {"account", "invoices", "raw-visits", "claims", "consent-proof"}
T = {"fr": "t", "en": "t", "es": "t", "de": "t"}


def text(value: str) -> dict[str, str]:
    return dict.fromkeys(LANGUAGES, value)


def write_config(tmp_path: Path, connectors: list[dict], sources: list | None = None) -> Path:
    path = tmp_path / "connectors.yaml"
    path.write_text(
        yaml.safe_dump({"sources": sources or [], "connectors": connectors}, allow_unicode=True),
        encoding="utf-8",
    )
    return path


def sql_category(**overrides: Any) -> dict[str, Any]:
    category = {
        "key": "events",
        "label": text("Events"),
        "query": "SELECT path FROM browsing_event WHERE account_id = :account_id ORDER BY id",
        "fields": [{"key": "path", "description": text("Page")}],
        "erase": {
            "action": "removed",
            "statements": ["DELETE FROM browsing_event WHERE account_id = :account_id"],
            "reason": text("Erased."),
        },
    }
    category.update(overrides)
    return category


def sql_connector(*categories: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    connector = {
        "key": "own",
        "type": "sql",
        "url": None,
        "label": text("Own"),
        "categories": list(categories) or [sql_category()],
    }
    connector.update(overrides)
    return connector


def load(tmp_path: Path, connectors: list[dict], sources: list | None = None) -> ConnectorSet:
    return load_connectors(write_config(tmp_path, connectors, sources), LANGUAGES, RETENTION)


# --- configuration ----------------------------------------------------------------------------


def test_the_demo_operator_declares_every_category_of_its_policy() -> None:
    loaded = load_connectors(PROJECT_ROOT / "content" / "connectors.yaml", LANGUAGES, RETENTION)
    keys = [category.key for category in loaded.categories()]
    assert keys == [
        "identity", "subscriptions", "invoices", "bank_details", "browsing_events", "last_activity",
        "interests",
        "complaints", "support_conversations", "consent_receipts", "marketing_preferences",
        "marketing_preference_changes",
    ]  # fmt: skip
    bank = next(category for category in loaded.categories() if category.key == "bank_details")
    assert bank.held_by is not None and bank.held_by.name == "HIPAY"
    assert "hipay.com" in bank.held_by.note("fr") and not bank.fields
    identity = loaded.categories()[0]
    assert {"civility", "first_name", "last_name", "billing_street", "email", "date_of_birth",
            "phone", "company"} <= set(identity.field_keys)  # fmt: skip
    assert loaded.source("provided") is not None


DELETE_EVENTS = "DELETE FROM browsing_event WHERE account_id = :account_id"
ONE_FIELD = [{"key": "n", "description": text("n")}]
MISTAKES = [
    ({"query": "SELECT path FROM browsing_event"},
     "restricted to the person with :account_id or :email"),
    ({"query": "SELECT path FROM browsing_event WHERE id = :id"}, "unknown parameter(s) :id"),
    ({"query": DELETE_EVENTS}, "a query must be a SELECT"),
    ({"query": "SELECT 1 WHERE 1 = :email; DROP TABLE account"}, "one SQL statement only"),
    ({"fields": [{"key": "path", "type": "blob", "description": text("x")}]},
     "type 'blob' is not one of"),
    ({"fields": [{"key": "path", "description": {"fr": "x"}}]},
     "field 'path': description: no text for en, es, de"),
    ({"erase": {"action": "kept", "statements": [DELETE_EVENTS], "reason": text("r")}},
     "data that is kept has no statements"),
    ({"erase": {"action": "removed", "reason": text("r")}}, "removed needs the statements"),
    ({"erase": None}, "erase: missing"),
    ({"retention": "forever"}, "retention 'forever' is unknown"),
    ({"source": "rumours"}, "source 'rumours' is unknown"),
    ({"key": "Bad Key"}, "must be lower-case letters"),
    ({"held_by": {"name": "HIPAY", "contact": "x", "note": text("n")}},
     "a category held by another company has no"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("connector", "message"),
    [
        *((sql_connector(sql_category(**change)), message) for change, message in MISTAKES),
        (sql_connector(url="postgresql://user:secret@db/crm"), "the url carries a password"),
        (sql_connector(type="ftp"), "type must be sql or http"),
        ({"key": "crm", "type": "http", "url": "https://crm.example", "label": text("CRM"),
          "categories": [sql_category()]},
         "an HTTP connector's endpoint collects and erases"),
        ({"key": "crm", "type": "http", "url": "crm.example", "label": text("CRM"),
          "categories": [{"key": "notes", "label": text("N"), "fields": ONE_FIELD}]},
         "url must look like https://"),
    ],
)  # fmt: skip
def test_mistakes_stop_loading_with_a_message_naming_the_entry(
    tmp_path: Path, connector: dict, message: str
) -> None:
    with pytest.raises(ContentError) as raised:
        load(tmp_path, [connector])
    assert message in str(raised.value)
    assert "connectors.yaml" in str(raised.value)


def test_a_category_lives_in_one_connector(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match="already declared by connector 'own'"):
        load(tmp_path, [sql_connector(), sql_connector(key="other")])


def test_a_broken_connectors_file_stops_the_application(tmp_path: Path, make_app) -> None:
    content = tmp_path / "content"
    shutil.copytree(PROJECT_ROOT / "content", content)
    path = content / "connectors.yaml"
    path.write_text(path.read_text().replace("WHERE id = :account_id", "WHERE 1 = 1"))
    with pytest.raises(ContentError, match="category 'identity': query"):
        make_app(CONTENT_DIR=str(content))


# --- SQL connector on the privacy center's own database ---------------------------------------


@pytest.fixture
def holder(db, make_account) -> Account:
    account = make_account(first_name="Zoé", last_name="Müller-Łukasiewicz")
    fill_account(db, account)
    return account


def own(app) -> Any:
    return next(c for c in get_connectors() if c.key == "allopass")


def test_collect_streams_typed_rows(app, db, holder: Account) -> None:
    connector = own(app)
    subject = Subject(email=holder.email, account_id=holder.id)
    rows = connector.collect(subject, "browsing_events")
    assert inspect.isgenerator(rows)
    first = next(rows)
    assert first == {
        "occurred_at": "2024-03-01T09:30:00Z",
        "path": "/services/0?q=café",
        "referrer": "https://www.example.org/",
        "device": "mobile",
    }
    rows.close()
    (identity,) = connector.collect(subject, "identity")
    assert identity["first_name"] == "Zoé" and identity["date_of_birth"] == "1988-02-29"
    assert identity["phone"] == "+33 6 12 34 56 78" and identity["email"] == holder.email
    (receipt,) = connector.collect(subject, "consent_receipts")
    assert receipt["choices"] == {"functional": True, "analytics": False}
    assert receipt["gpc"] is False and receipt["site"] == "demo"
    # Found by email too: a one-click unsubscribe recorded before the account was linked.
    changes = list(connector.collect(subject, "marketing_preference_changes"))
    assert {change["method"] for change in changes} == {"preferences", "one-click"}
    assert list(connector.collect(subject, "bank_details")) == []


def test_count_matches_what_is_collected(app, db, holder: Account) -> None:
    connector = own(app)
    subject = Subject(email=holder.email, account_id=holder.id)
    for category in connector.categories():
        assert connector.count(subject, category.key) == len(
            list(connector.collect(subject, category.key))
        ), category.key
    assert connector.count(subject, "browsing_events") == 12


def test_another_person_sees_nothing_of_the_first(app, db, holder: Account, make_account) -> None:
    other = make_account()
    connector = own(app)
    subject = Subject(email=other.email, account_id=other.id)
    assert list(connector.collect(subject, "browsing_events")) == []
    assert connector.count(subject, "invoices") == 0
    # Without an account id, only what is found by email.
    assert connector.count(Subject(email=holder.email), "marketing_preference_changes") == 2
    assert connector.count(Subject(email=holder.email), "identity") == 0


def test_erase_reports_what_it_removed_anonymised_and_kept(app, db, holder: Account) -> None:
    connector = own(app)
    subject = Subject(email=holder.email, account_id=holder.id)

    dry = connector.erase(subject, dry_run=True)
    assert dry.dry_run and dry.outcome("browsing_events").rows == 12
    assert db.scalar(sa.select(sa.func.count()).select_from(BrowsingEvent).where(
        BrowsingEvent.account_id == holder.id)) == 12  # fmt: skip

    report = connector.erase(subject)
    assert not report.dry_run
    events = report.outcome("browsing_events")
    assert (events.action, events.rows) == ("removed", 12)
    invoices = report.outcome("invoices")
    assert (invoices.action, invoices.rows) == ("kept", 1)
    assert "L. 123-22" in invoices.reason_in("fr") and "10" in invoices.reason_in("en")
    assert report.outcome("consent_receipts").action == "kept"
    assert "proof" in report.outcome("consent_receipts").reason_in("en")
    assert report.outcome("identity").action == "anonymised"
    bank = report.outcome("bank_details")
    assert bank.action == "elsewhere" and "HIPAY" in bank.reason_in("de")

    # The caller commits with the request it answers; here the test's transaction shows it.
    db.expire_all()
    assert db.scalar(sa.select(sa.func.count()).select_from(BrowsingEvent).where(
        BrowsingEvent.account_id == holder.id)) == 0  # fmt: skip
    assert db.scalar(sa.select(sa.func.count()).select_from(Invoice).where(
        Invoice.account_id == holder.id)) == 1  # fmt: skip
    erased = db.get(Account, holder.id)
    assert erased.email == f"erased-{holder.id}@invalid" and erased.first_name == ""
    assert erased.phone is None and erased.deactivated_at is not None


def test_a_query_that_does_not_return_its_fields_is_an_error(app, db, holder, tmp_path) -> None:
    category = sql_category(
        query="SELECT path, device FROM browsing_event WHERE account_id = :account_id"
    )
    (connector,) = load(tmp_path, [sql_connector(category)]).build(lambda: db)
    with pytest.raises(ConnectorError, match="returns the columns path, device"):
        list(connector.collect(Subject(holder.email, holder.id), "events"))


def test_an_empty_value_in_a_field_not_declared_nullable_is_an_error(app, db, holder, tmp_path):
    category = sql_category(
        query="SELECT referrer FROM browsing_event WHERE account_id = :account_id ORDER BY id",
        fields=[{"key": "referrer", "description": text("From")}],
    )
    (connector,) = load(tmp_path, [sql_connector(category)]).build(lambda: db)
    with pytest.raises(ConnectorError, match=r"'referrer' is empty .*nullable: true"):
        list(connector.collect(Subject(holder.email, holder.id), "events"))


# --- SQL connector on another database --------------------------------------------------------


def test_an_external_database_is_read_and_erased_by_its_own_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE note (email TEXT, body TEXT)")
        connection.exec_driver_sql(
            "INSERT INTO note VALUES ('a@example.org', 'Appel reçu'), ('b@example.org', 'x')"
        )
    category = sql_category(
        key="notes",
        query="SELECT body FROM note WHERE email = :email",
        fields=[{"key": "body", "description": text("Note")}],
        erase={"action": "removed", "statements": ["DELETE FROM note WHERE email = :email"],
               "reason": text("Erased.")},
    )  # fmt: skip
    spec = sql_connector(category, key="crm", url_env="CRM_DATABASE_URL")
    del spec["url"]
    (connector,) = load(tmp_path, [spec]).build(lambda: pytest.fail("not the own database"))
    subject = Subject(email="A@example.org")

    monkeypatch.delenv("CRM_DATABASE_URL", raising=False)
    with pytest.raises(ConnectorError, match=r"CRM_DATABASE_URL .* is not set"):
        connector.count(subject, "notes")

    monkeypatch.setenv("CRM_DATABASE_URL", url)
    assert list(connector.collect(subject, "notes")) == [{"body": "Appel reçu"}]
    report = connector.erase(subject)
    assert report.outcome("notes").rows == 1
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT email FROM note").scalars().all() == [
            "b@example.org"
        ]
    engine.dispose()


# --- HTTP connector against a real server -----------------------------------------------------

TOKEN = "s3cret-token"


class Endpoint:
    """The operator's service: answers are set per test; every call is recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], str | None]] = []
        self.handler: Callable[[str, dict[str, Any], int], Response] = lambda *_: Response(
            "{}", mimetype="application/json"
        )
        self.lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        body = json.loads(request.get_data() or b"{}")
        with self.lock:
            self.calls.append((request.path, body, request.headers.get("Authorization")))
            attempt = len(self.calls)
        return self.handler(request.path, body, attempt)(environ, start_response)


@pytest.fixture(scope="module")
def endpoint_server() -> Iterator[tuple[Endpoint, str]]:
    endpoint = Endpoint()
    server = make_server("127.0.0.1", 0, endpoint, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield endpoint, f"http://127.0.0.1:{server.server_port}/privacy"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def endpoint(endpoint_server, monkeypatch: pytest.MonkeyPatch) -> Endpoint:
    server, _ = endpoint_server
    server.calls.clear()
    monkeypatch.setenv("CRM_TOKEN", TOKEN)
    return server


def json_answer(document: Any, status: int = 200) -> Response:
    return Response(json.dumps(document), status=status, mimetype="application/json")


def http_connector(tmp_path: Path, url: str, **settings: Any) -> Any:
    spec = {
        "key": "crm",
        "type": "http",
        "url": url,
        "token_env": "CRM_TOKEN",
        "timeout_seconds": 2,
        "retries": 2,
        "backoff_seconds": 0.01,
        "label": text("CRM"),
        "categories": [
            {
                "key": "notes",
                "label": text("Notes"),
                "fields": [
                    {"key": "written_at", "type": "datetime", "description": text("When")},
                    {"key": "body", "description": text("Note")},
                    {"key": "stars", "type": "integer", "nullable": True, "description": text("S")},
                ],
            }
        ],
        **settings,
    }
    (connector,) = load(tmp_path, [spec]).build(lambda: pytest.fail("no own database"))
    return connector


SUBJECT = Subject(email="zoe@example.org", account_id=7)


def test_http_collect_follows_pages_with_the_bearer_token(tmp_path, endpoint, endpoint_server):
    pages = {
        None: {"rows": [{"written_at": "2024-03-01T10:00:00+01:00", "body": "Appel reçu",
                         "stars": 4}],
               "next_cursor": "p2"},
        "p2": {"rows": [{"written_at": "2024-03-02T10:00:00Z", "body": "Rappel", "stars": None}],
               "next_cursor": None},
    }  # fmt: skip

    def handler(path: str, body: dict, attempt: int) -> Response:
        if path.endswith("/count"):
            return json_answer({"count": 2})
        if path.endswith("/erase"):
            return json_answer({"categories": [
                {"category": "notes", "action": "anonymised", "rows": 2,
                 "reason": {"en": "Names removed", "fr": "Noms retirés"}}]})  # fmt: skip
        return json_answer(pages[body["cursor"]])

    endpoint.handler = handler
    connector = http_connector(tmp_path, endpoint_server[1])
    rows = list(connector.collect(SUBJECT, "notes"))
    assert rows == [
        {"written_at": "2024-03-01T09:00:00Z", "body": "Appel reçu", "stars": 4},
        {"written_at": "2024-03-02T10:00:00Z", "body": "Rappel", "stars": None},
    ]
    assert connector.count(SUBJECT, "notes") == 2
    report = connector.erase(SUBJECT, dry_run=True)
    assert report.outcome("notes").reason_in("fr") == "Noms retirés"
    paths = [call[0] for call in endpoint.calls]
    assert paths == ["/privacy/collect", "/privacy/collect", "/privacy/count", "/privacy/erase"]
    assert all(call[2] == f"Bearer {TOKEN}" for call in endpoint.calls)
    assert endpoint.calls[0][1] == {
        "subject": {"email": "zoe@example.org", "account_id": 7},
        "category": "notes",
        "cursor": None,
    }
    assert endpoint.calls[-1][1]["dry_run"] is True


def test_http_500_then_success_is_retried(tmp_path, endpoint, endpoint_server) -> None:
    endpoint.handler = lambda path, body, attempt: (
        Response("busy", status=503) if attempt == 1 else json_answer({"count": 5})
    )
    assert http_connector(tmp_path, endpoint_server[1]).count(SUBJECT, "notes") == 5
    assert len(endpoint.calls) == 2


def test_http_500_every_time_fails_after_the_retries(tmp_path, endpoint, endpoint_server) -> None:
    endpoint.handler = lambda *_: Response("down", status=500)
    connector = http_connector(tmp_path, endpoint_server[1], retries=2)
    with pytest.raises(ConnectorError) as raised:
        connector.count(SUBJECT, "notes")
    assert len(endpoint.calls) == 3
    message = str(raised.value)
    assert message.startswith("Connector 'crm':") and "HTTP 500" in message
    assert "3 attempts" in message and "/privacy/count" in message


def test_http_timeout_is_reported_without_waiting_again(tmp_path, endpoint, endpoint_server):
    def slow(path: str, body: dict, attempt: int) -> Response:
        time.sleep(1.5)
        return json_answer({"count": 1})

    endpoint.handler = slow
    connector = http_connector(tmp_path, endpoint_server[1], timeout_seconds=0.2)
    with pytest.raises(ConnectorError, match=r"did not answer within 0\.2 s"):
        connector.count(SUBJECT, "notes")
    assert len(endpoint.calls) == 1


def test_http_answer_that_is_not_json_is_an_error(tmp_path, endpoint, endpoint_server) -> None:
    endpoint.handler = lambda *_: Response("<html>Bad gateway page</html>", mimetype="text/html")
    with pytest.raises(ConnectorError, match="HTTP 200 with something that is not JSON: '<html>"):
        list(http_connector(tmp_path, endpoint_server[1]).collect(SUBJECT, "notes"))


def test_http_rows_that_do_not_match_the_fields_are_an_error(tmp_path, endpoint, endpoint_server):
    endpoint.handler = lambda *_: json_answer({"rows": [{"body": "x"}], "next_cursor": None})
    with pytest.raises(ConnectorError, match="a row with body; the declared fields are"):
        list(http_connector(tmp_path, endpoint_server[1]).collect(SUBJECT, "notes"))
    endpoint.handler = lambda *_: json_answer(
        {"rows": [{"written_at": "yesterday", "body": "x", "stars": 1}], "next_cursor": None}
    )
    with pytest.raises(ConnectorError, match="'written_at' is declared datetime"):
        list(http_connector(tmp_path, endpoint_server[1]).collect(SUBJECT, "notes"))


def test_http_refused_token_is_not_retried(tmp_path, endpoint, endpoint_server) -> None:
    endpoint.handler = lambda *_: Response("no", status=401)
    with pytest.raises(ConnectorError, match=r"HTTP 401 .* check the connector's url and token"):
        http_connector(tmp_path, endpoint_server[1]).count(SUBJECT, "notes")
    assert len(endpoint.calls) == 1


def test_http_missing_token_and_unreachable_service(tmp_path, endpoint, monkeypatch) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    connector = http_connector(tmp_path, f"http://127.0.0.1:{closed_port}/privacy", retries=1)
    with pytest.raises(ConnectorError, match=r"could not be reached .*\(2 attempts\)"):
        connector.count(SUBJECT, "notes")
    monkeypatch.delenv("CRM_TOKEN")
    with pytest.raises(ConnectorError, match=r"CRM_TOKEN .* is not set"):
        connector.count(SUBJECT, "notes")
