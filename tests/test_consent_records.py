"""Consent records for staff: search, exports (CSV, JSON, streamed, audited), the daily rollup
kept with each receipt write, its backfill, and the dashboard read from it."""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest
from conftest import current_policy_version, staff_sign_in, valid_receipt
from sqlalchemy import delete, func, select
from test_consent_api import ORIGIN

from privacy_center.consent.records import ReceiptFilter, export_csv, export_json
from privacy_center.consent.rollup import backfill
from privacy_center.consent.services import ensure_site
from privacy_center.consent.views import WRITER
from privacy_center.consent.widget import Build, Builds
from privacy_center.content import EXTENSION_KEY
from privacy_center.extensions import db as database
from privacy_center.models import AuditEvent, ConsentDay, ConsentReceipt

RECORDS = "/staff/consent-records/"
TODAY = datetime.now(UTC).date()


def new_build() -> str:
    """A widget build of this test alone: its rollup rows are this test's."""
    return secrets.token_hex(8)


def post(client, **overrides) -> str:
    payload = valid_receipt(**overrides)
    answer = client.post(
        "/api/v1/consents",
        data=json.dumps(payload),
        content_type="application/json",
        headers={"Origin": ORIGIN},
    )
    assert answer.status_code in (200, 201), answer.get_data(as_text=True)
    return str(payload["receiptId"])


def choices(**granted: bool) -> dict[str, bool]:
    base = dict.fromkeys(("analytics", "advertising", "personalization", "social"), False)
    return {"functional": True, **base, **granted}


def rollup(db, build: str) -> dict[str, int]:
    """The rollup rows of ``build``, summed per count."""
    rows = db.scalars(select(ConsentDay).where(ConsentDay.widget_build == build)).all()
    names = ("total", "accept_all", "reject_all", "customised", "closed", "embed",
             "granted_analytics", "granted_advertising", "granted_personalization",
             "granted_social")  # fmt: skip
    return {name: sum(getattr(row, name) for row in rows) for name in names}


def direct_count(db, build: str) -> dict[str, int]:
    """The same counts, from the receipts themselves."""
    receipts = db.scalars(select(ConsentReceipt).where(ConsentReceipt.widget_build == build)).all()
    actions = {"accept-all": "accept_all", "reject-all": "reject_all", "save": "customised",
               "close": "closed", "embed": "embed"}  # fmt: skip
    counts = dict.fromkeys(
        ["total", *actions.values()]
        + [f"granted_{c}" for c in ("analytics", "advertising", "personalization", "social")],
        0,
    )
    for receipt in receipts:
        counts["total"] += 1
        counts[actions[receipt.action]] += 1
        for category in ("analytics", "advertising", "personalization", "social"):
            counts[f"granted_{category}"] += bool(receipt.choices[category])
    return counts


def demo_site_id(app, db) -> int:
    return ensure_site(db, app.extensions[EXTENSION_KEY].operator.site("demo"))


def stored_receipt(app, db, *, build: str, at: datetime, **fields) -> ConsentReceipt:
    """A receipt written straight to the table (as receipts stored before the rollup were)."""
    receipt = ConsentReceipt(
        receipt_id=str(uuid.uuid4()),
        visitor_id=str(uuid.uuid4()),
        site_id=demo_site_id(app, db),
        recorded_at=at,
        policy_version=fields.pop("policy_version", 1),
        widget_build=build,
        texts_hash=fields.pop("texts_hash", "c" * 64),
        language=fields.pop("language", "fr"),
        action=fields.pop("action", "save"),
        method="click",
        gpc=False,
        choices=fields.pop("choices", choices(analytics=True)),
        services=fields.pop("services", {"google-analytics": True}),
        browser_family="Firefox",
    )
    db.add(receipt)
    db.flush()
    return receipt


@pytest.fixture
def dpo_client(app, db, make_staff):
    client = app.test_client()
    member = make_staff("dpo")
    staff_sign_in(client, member)
    client.member = member  # type: ignore[attr-defined]
    return client


# --- the rollup ---------------------------------------------------------------------------------


def test_each_receipt_is_counted_in_the_rollup_as_it_is_written(client, db):
    build = new_build()
    post(client, build=build, action="accept-all", choices=choices(analytics=True,
         advertising=True, personalization=True, social=True))  # fmt: skip
    post(client, build=build, action="reject-all", choices=choices())
    post(client, build=build, action="save", choices=choices(analytics=True))
    post(client, build=build, action="close", choices=choices())
    retried = valid_receipt(build=build, action="save", choices=choices(social=True))
    for _ in range(2):  # a retried post is recorded, and counted, once
        client.post("/api/v1/consents", data=json.dumps(retried),
                    content_type="application/json", headers={"Origin": ORIGIN})  # fmt: skip
    counts = rollup(db, build)
    assert counts == {
        "total": 5, "accept_all": 1, "reject_all": 1, "customised": 2, "closed": 1, "embed": 0,
        "granted_analytics": 2, "granted_advertising": 1, "granted_personalization": 1,
        "granted_social": 2,
    }  # fmt: skip
    assert counts == direct_count(db, build)
    row = db.scalar(select(ConsentDay).where(ConsentDay.widget_build == build))
    assert (row.day, row.language) == (TODAY, "fr")


@pytest.fixture
def grouped_app(app, make_app):
    """An app that group-commits for real; its receipts and rollup rows are deleted after."""
    grouped = make_app(RECEIPT_GROUP_COMMIT=True, CONSENT_RATE_LIMIT="100000 per minute")
    build = new_build()
    yield grouped, build
    grouped.extensions[WRITER].close()
    with grouped.app_context():
        session = database.session
        session.execute(delete(ConsentReceipt).where(ConsentReceipt.widget_build == build))
        session.execute(delete(ConsentDay).where(ConsentDay.widget_build == build))
        session.commit()
        database.engine.dispose()


def test_group_committed_batches_update_the_rollup_with_their_receipts(grouped_app):
    app, build = grouped_app
    bodies = []
    for number in range(240):
        action = ("accept-all", "reject-all", "save", "close")[number % 4]
        granted = choices(analytics=number % 3 == 0, social=number % 5 == 0)
        bodies.append(json.dumps(valid_receipt(build=build, action=action, choices=granted)))
    bodies += bodies[:40]  # retries racing the first posts

    def send(body: str) -> int:
        answer = app.test_client().post("/api/v1/consents", data=body,
                                        content_type="application/json",
                                        headers={"Origin": ORIGIN})  # fmt: skip
        return answer.status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(send, bodies))
    assert all(status in (200, 201) for status in statuses)
    with app.app_context():
        counts = rollup(database.session, build)
        assert counts == direct_count(database.session, build)
        assert counts["total"] == 240
        assert counts["granted_analytics"] == sum(n % 3 == 0 for n in range(240))


def test_backfill_counts_existing_receipts_and_is_idempotent(app, db):
    build = new_build()
    day = datetime(2021, 3, 4, 23, 30, tzinfo=UTC)
    for action in ("accept-all", "reject-all", "save", "save"):
        stored_receipt(app, db, build=build, at=day, action=action)
    stored_receipt(app, db, build=build, at=day + timedelta(hours=1), action="embed")
    assert rollup(db, build)["total"] == 0  # written around the rollup, as before it existed

    runner = app.test_cli_runner()
    first = runner.invoke(args=["consent", "rollup-backfill"])
    assert first.exit_code == 0, first.output
    once = sorted(
        (row.day, row.language, row.total, row.customised, row.embed)
        for row in db.scalars(select(ConsentDay).where(ConsentDay.widget_build == build))
    )
    assert once == [(date(2021, 3, 4), "fr", 4, 2, 0), (date(2021, 3, 5), "fr", 1, 0, 1)]
    assert rollup(db, build) == direct_count(db, build)
    rows_before = db.scalar(select(func.count()).select_from(ConsentDay))
    backfill(db)
    again = sorted(
        (row.day, row.language, row.total, row.customised, row.embed)
        for row in db.scalars(select(ConsentDay).where(ConsentDay.widget_build == build))
    )
    assert again == once
    assert db.scalar(select(func.count()).select_from(ConsentDay)) == rows_before


# --- the dashboard ------------------------------------------------------------------------------


def table_row(page: str, day: date) -> list[int]:
    row = re.search(rf'<tr id="day-{day.isoformat()}">(.*?)</tr>', page, re.S)
    assert row, f"no row for {day}"
    return [int(cell) for cell in re.findall(r"<td>(\d+)</td>", row.group(1))]


def test_dashboard_figures_from_the_rollup_equal_a_direct_count(client, dpo_client, db):
    build = new_build()
    for action, granted in (
        ("accept-all", choices(analytics=True, advertising=True, personalization=True,
                               social=True)),
        ("accept-all", choices(analytics=True, advertising=True, personalization=True,
                               social=True)),
        ("reject-all", choices()),
        ("save", choices(personalization=True)),
        ("close", choices()),
    ):  # fmt: skip
        post(client, build=build, action=action, choices=granted)
    page = dpo_client.get(f"/staff/consent-records/dashboard?build={build}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    expected = direct_count(db, build)
    # Choices, accept all, refuse all (and close), customised (and embed), then each category.
    assert table_row(text, TODAY) == [
        expected["total"], expected["accept_all"], expected["reject_all"] + expected["closed"],
        expected["customised"] + expected["embed"], expected["granted_analytics"],
        expected["granted_advertising"], expected["granted_personalization"],
        expected["granted_social"],
    ]  # fmt: skip
    assert 'id="figure-total">5<' in text
    assert 'id="figure-accept-all">40.0 %<' in text
    assert 'id="figure-refuse-all">40.0 %<' in text
    assert "<svg" in text and 'class="accept-all"' in text


def test_the_dashboard_reads_the_rollup_not_the_receipts(app, dpo_client, db):
    build = new_build()
    day = date(2022, 6, 1)
    db.add(ConsentDay(day=day, site_id=demo_site_id(app, db), language="de", widget_build=build,
                      total=7, accept_all=3, reject_all=2, customised=1, closed=1, embed=0,
                      granted_analytics=4, granted_advertising=3, granted_personalization=3,
                      granted_social=3))  # fmt: skip
    db.flush()
    page = dpo_client.get(f"/staff/consent-records/dashboard?from=2022-05-30&to=2022-06-02"
                          f"&build={build}&language=de")  # fmt: skip
    assert page.status_code == 200
    assert table_row(page.get_data(as_text=True), day) == [7, 3, 3, 1, 4, 3, 3, 3]
    assert table_row(page.get_data(as_text=True), date(2022, 5, 31)) == [0] * 8
    other_language = dpo_client.get(
        f"/staff/consent-records/dashboard?from=2022-05-30&to=2022-06-02&build={build}&language=fr"
    )
    assert table_row(other_language.get_data(as_text=True), day) == [0] * 8


@pytest.mark.parametrize(
    "query, message",
    [
        ("from=2024-02-30", "The start date must be a date written YYYY-MM-DD"),
        ("from=2024-03-02&to=2024-03-01", "The end date is before the start date."),
        ("from=2020-01-01&to=2024-01-01", "at most 366 days"),
        ("site=nowhere", "Unknown site"),
    ],
)
def test_bad_dashboard_filters_are_refused_with_a_message(dpo_client, query, message):
    answer = dpo_client.get(f"/staff/consent-records/dashboard?{query}")
    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True)


def listed(receipt_id: str) -> str:
    """How a receipt appears in the results table (the search form repeats the id asked)."""
    return f"<td><code>{receipt_id}</code></td>"


# --- search -------------------------------------------------------------------------------------


@pytest.fixture
def old_receipts(app, db):
    """Receipts of 2020 with a build of their own: two days, two versions, three choices."""
    build = new_build()
    made = {
        "march-accept": stored_receipt(app, db, build=build, action="accept-all",
                                       at=datetime(2020, 3, 1, 10, tzinfo=UTC)),
        "march-save-v2": stored_receipt(app, db, build=build, action="save", policy_version=2,
                                        at=datetime(2020, 3, 1, 23, 59, tzinfo=UTC)),
        "april-reject": stored_receipt(app, db, build=build, action="reject-all",
                                       at=datetime(2020, 4, 2, 0, 0, 1, tzinfo=UTC)),
    }  # fmt: skip
    return build, {name: receipt.receipt_id for name, receipt in made.items()}


@pytest.mark.parametrize(
    "query, found",
    [
        ("from=2020-03-01&to=2020-03-01", {"march-accept", "march-save-v2"}),
        ("from=2020-04-02&to=2020-04-02", {"april-reject"}),
        ("from=2020-03-01&to=2020-04-30&action=reject-all", {"april-reject"}),
        ("from=2020-03-01&to=2020-04-30&version=2", {"march-save-v2"}),
        ("from=2020-03-01&to=2020-04-30&site=demo&action=accept-all", {"march-accept"}),
        ("from=2020-02-01&to=2020-02-28", set()),
    ],
)
def test_search_filters(dpo_client, old_receipts, query, found):
    _build, ids = old_receipts
    page = dpo_client.get(f"{RECORDS}?{query}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert {name for name, receipt_id in ids.items() if listed(receipt_id) in text} == found


def test_search_by_receipt_id(dpo_client, old_receipts):
    _build, ids = old_receipts
    page = dpo_client.get(f"{RECORDS}?receipt={ids['april-reject'].upper()}")
    text = page.get_data(as_text=True)
    assert listed(ids["april-reject"]) in text
    assert ids["march-accept"] not in text


@pytest.mark.parametrize(
    "query, message",
    [
        ("from=2020-13-01", "The start date must be a date written YYYY-MM-DD"),
        ("to=yesterday", "The end date must be a date written YYYY-MM-DD"),
        ("from=2020-03-02&to=2020-03-01", "The end date is before the start date."),
        ("receipt=not-a-uuid", "The receipt id must be a UUID."),
        ("version=two", "The policy version must be a whole number."),
        ("action=maybe", "Unknown choice"),
        ("site=elsewhere", "Unknown site"),
    ],
)
@pytest.mark.parametrize("page", ["", "export.csv", "export.json"])
def test_bad_filters_are_refused_with_a_message_and_export_nothing(
    dpo_client, db, page, query, message
):
    exports_before = db.scalar(
        select(func.count()).where(AuditEvent.action == "consent-records-exported")
    )
    answer = dpo_client.get(f"{RECORDS}{page}?{query}")
    assert answer.status_code == 400
    assert answer.mimetype == "text/html"
    assert message in answer.get_data(as_text=True)
    exports_after = db.scalar(
        select(func.count()).where(AuditEvent.action == "consent-records-exported")
    )
    assert exports_after == exports_before


# --- exports ------------------------------------------------------------------------------------


def test_csv_export_streams_receipts_with_their_texts_hash_and_build(dpo_client, db, old_receipts):
    build, ids = old_receipts
    answer = dpo_client.get(f"{RECORDS}export.csv?from=2020-03-01&to=2020-04-30")
    assert answer.status_code == 200
    assert answer.is_streamed
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    mine = {row["receipt_id"]: row for row in rows if row["widget_build"] == build}
    assert set(mine) == set(ids.values())
    row = mine[ids["march-save-v2"]]
    assert row["texts_hash"] == "c" * 64
    assert (row["policy_version"], row["action"], row["site"]) == ("2", "save", "demo")
    assert (row["choice_functional"], row["choice_analytics"]) == ("true", "true")
    assert json.loads(row["services"]) == {"google-analytics": True}
    assert row["recorded_at"] == "2020-03-01T23:59:00Z"
    # Oldest first.
    order = [row["receipt_id"] for row in rows if row["widget_build"] == build]
    assert order == [ids["march-accept"], ids["march-save-v2"], ids["april-reject"]]


def test_exports_name_the_widget_build_files_and_integrity(app, db, old_receipts):
    build, ids = old_receipts
    listed = Build(build=build, js=f"widget.{build}.js", css=f"widget.{build}.css",
                   integrity={"js": "sha384-JS", "css": "sha384-CSS"}, gzip={},
                   built_at="2020-02-01T00:00:00Z")  # fmt: skip
    builds = Builds(current=listed, all=(listed,))
    query = ReceiptFilter(start=date(2020, 3, 1), end=date(2020, 4, 30))
    with app.test_request_context():
        chunks = list(export_csv(db, query, builds))
        document = json.loads(b"".join(export_json(db, query, builds, exported_at=TODAY_AT)))
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode().lstrip("\ufeff"))))
    mine = [row for row in rows if row["widget_build"] == build]
    assert {row["widget_build_js"] for row in mine} == {f"widget.{build}.js"}
    assert {row["widget_build_js_integrity"] for row in mine} == {"sha384-JS"}
    assert document["builds"][build]["jsIntegrity"] == "sha384-JS"
    assert document["builds"][build]["builtAt"] == "2020-02-01T00:00:00Z"
    receipts = [r for r in document["receipts"] if r["build"] == build]
    assert {r["receiptId"] for r in receipts} == set(ids.values())
    assert {json.dumps(r["services"]) for r in receipts} == {'{"google-analytics": true}'}
    assert {"textsHash": "c" * 64, "receipts": 3} in document["textsHashes"]
    assert document["filter"] == {"from": "2020-03-01", "to": "2020-04-30"}


TODAY_AT = datetime(2026, 1, 1, tzinfo=UTC)


def test_json_export_is_one_document_streamed_in_pieces(app, dpo_client, db):
    build = new_build()
    at = datetime(2019, 5, 5, 12, tzinfo=UTC)
    made = [stored_receipt(app, db, build=build, at=at + timedelta(seconds=n)).receipt_id
            for n in range(120)]  # fmt: skip
    answer = dpo_client.get(f"{RECORDS}export.json?from=2019-05-05&to=2019-05-05")
    assert answer.status_code == 200
    assert answer.is_streamed
    pieces = list(answer.response)
    assert len(pieces) > 100  # one piece per receipt, not one body built in memory
    document = json.loads(b"".join(pieces))
    ours = [r["receiptId"] for r in document["receipts"] if r["build"] == build]
    assert ours == made
    assert document["builds"][build] is None  # a build the manifest no longer lists
    assert all(set(r) >= {"textsHash", "build", "choices", "policyVersion"}
               for r in document["receipts"])  # fmt: skip
    assert "visitorId" not in json.dumps(document)


def test_every_export_is_audited_with_its_filter(dpo_client, db, old_receipts):
    for kind in ("csv", "json"):
        answer = dpo_client.get(f"{RECORDS}export.{kind}?from=2020-03-01&action=save")
        assert answer.status_code == 200
        answer.get_data()
        event = db.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "consent-records-exported")
            .order_by(AuditEvent.id.desc())
        ).first()
        assert event.actor == f"staff:{dpo_client.member.id}"
        assert event.details == {"format": kind, "filter": {"from": "2020-03-01",
                                                           "action": "save"}}  # fmt: skip


@pytest.mark.parametrize("role, status", [("agent", 403), ("dpo", 200), ("admin", 200)])
def test_consent_records_pages_by_role(app, db, make_staff, role, status):
    client = app.test_client()
    staff_sign_in(client, make_staff(role))
    for path in ("", "export.csv", "export.json", "dashboard"):
        answer = client.get(f"{RECORDS}{path}?from=2020-01-01&to=2020-01-02")
        answer.get_data()  # an export is read to its end (its generator closes)
        assert answer.status_code == status, path
    page = client.get("/staff/").get_data(as_text=True)
    assert ('href="/staff/consent-records/"' in page) is (role != "agent")


def test_version_filter_uses_the_current_policy_version(dpo_client, client):
    receipt_id = post(client, build=new_build())
    page = dpo_client.get(f"{RECORDS}?receipt={receipt_id}&version={current_policy_version()}")
    assert listed(receipt_id) in page.get_data(as_text=True)
    other = dpo_client.get(f"{RECORDS}?receipt={receipt_id}&version={current_policy_version() + 1}")
    assert listed(receipt_id) not in other.get_data(as_text=True)
    assert 'id="no-receipts"' in other.get_data(as_text=True)
