"""Group commit of receipts: concurrent posts share transactions; none lost, none doubled."""

from __future__ import annotations

import fcntl
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from conftest import current_policy_version
from flask_migrate import upgrade
from sqlalchemy import delete, func, select
from test_consent_api import ORIGIN

from privacy_center.consent.views import WRITER
from privacy_center.consent.writer import ReceiptNotRecorded
from privacy_center.extensions import db as database
from privacy_center.models import ConsentDay, ConsentReceipt


@pytest.fixture
def grouped_app(app, make_app):
    """An app that group-commits for real; its receipts are deleted after the test.

    (``app`` is requested for the migrated database.)
    """
    grouped = make_app(RECEIPT_GROUP_COMMIT=True, CONSENT_RATE_LIMIT="100000 per minute")
    posted: list[str] = []
    yield grouped, posted
    grouped.extensions[WRITER].close()
    with grouped.app_context():
        database.session.execute(
            delete(ConsentReceipt).where(ConsentReceipt.receipt_id.in_(posted))
        )
        # Their counts too (this file's receipts are of the build "0123456789ab").
        database.session.execute(
            delete(ConsentDay).where(ConsentDay.widget_build == "0123456789ab")
        )
        database.session.commit()
        database.engine.dispose()


VISITOR = str(uuid.uuid4())


def body(receipt_id: str, analytics: bool = True) -> str:
    return json.dumps({
        "receiptId": receipt_id, "visitorId": VISITOR, "site": "demo",
        "policyVersion": current_policy_version(), "build": "0123456789ab",
        "textsHash": "b" * 64, "language": "en",
        "action": "save", "gpc": False,
        "choices": {"functional": True, "analytics": analytics, "advertising": False,
                    "personalization": False, "social": False},
    })  # fmt: skip


def post(app, data: str) -> int:
    response = app.test_client().post(
        "/api/v1/consents", data=data, content_type="application/json", headers={"Origin": ORIGIN}
    )
    return response.status_code


def stored(app, ids: list[str]) -> int:
    with app.app_context():
        query = select(func.count()).where(ConsentReceipt.receipt_id.in_(ids))
        return database.session.scalar(query)


def test_concurrent_receipts_are_all_recorded_once(grouped_app):
    app, posted = grouped_app
    posted += [str(uuid.uuid4()) for _ in range(300)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda rid: post(app, body(rid)), posted))
    assert statuses == [201] * 300
    assert stored(app, posted) == 300


def test_retries_racing_each_other_are_recorded_once(grouped_app):
    app, posted = grouped_app
    receipt_id = str(uuid.uuid4())
    posted.append(receipt_id)
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: post(app, body(receipt_id)), range(16)))
    assert statuses.count(201) == 1 and statuses.count(200) == 15
    assert stored(app, [receipt_id]) == 1
    assert post(app, body(receipt_id, analytics=False)) == 409


def test_database_failure_answers_503_and_stores_nothing(grouped_app):
    app, posted = grouped_app
    writer = app.extensions[WRITER]
    writer._engine = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    receipt_id = str(uuid.uuid4())
    posted.append(receipt_id)
    response = app.test_client().post(
        "/api/v1/consents", data=body(receipt_id), content_type="application/json",
        headers={"Origin": ORIGIN},
    )  # fmt: skip
    assert response.status_code == 503
    assert "nothing was stored" in response.get_json()["error"]
    assert response.headers["Retry-After"]
    assert stored(app, [receipt_id]) == 0


def test_intake_answers_like_the_view(grouped_app):
    """With group commit, the WSGI intake answers receipts: same checks, same headers."""
    app, posted = grouped_app
    client = app.test_client()

    def send(data: str, origin: str, **options):
        return client.post(
            "/api/v1/consents", data=data, content_type="application/json",
            headers={"Origin": origin}, **options,
        )  # fmt: skip

    bad = send("{}", ORIGIN)
    assert bad.status_code == 400 and "missing field" in bad.get_json()["error"]
    assert bad.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert bad.headers["X-Content-Type-Options"] == "nosniff"
    receipt_id = str(uuid.uuid4())
    posted.append(receipt_id)
    foreign = send(body(receipt_id), "https://evil.example")
    assert foreign.status_code == 403 and "Access-Control-Allow-Origin" not in foreign.headers
    created = send(body(receipt_id), ORIGIN, base_url="https://privacy.example")
    assert created.status_code == 201
    assert created.get_json()["url"] == f"https://privacy.example/api/v1/consents/{receipt_id}"
    assert created.headers["Strict-Transport-Security"]
    assert client.get(f"/api/v1/consents/{receipt_id}").get_json()["receiptId"] == receipt_id


def test_one_bad_receipt_does_not_fail_its_batch(grouped_app):
    """A receipt that cannot be written (here: a site without row) fails alone."""
    app, posted = grouped_app
    writer = app.extensions[WRITER]
    now = datetime.now(UTC)

    def values(receipt_id: str, site_key: str) -> dict:
        return {
            "receipt_id": receipt_id, "visitor_id": VISITOR, "recorded_at": now,
            "policy_version": current_policy_version(), "widget_build": "0123456789ab",
            "texts_hash": "c" * 64,
            "language": "de", "action": "save", "method": "click", "gpc": False,
            "choices": {"functional": True}, "services": {}, "browser_family": "Firefox",
            "site_key": site_key,
        }  # fmt: skip

    post(app, body(str(uuid.uuid4())))  # makes sure the demo site has its row
    good = [str(uuid.uuid4()) for _ in range(20)]
    bad = str(uuid.uuid4())
    posted += [*good, bad]

    def record(item: tuple[str, str]) -> object:
        try:
            return writer.record(values(*item))
        except ReceiptNotRecorded as error:
            return error

    items = [(receipt_id, "demo") for receipt_id in good]
    items.insert(7, (bad, "no-such-site"))
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(record, items))
    assert isinstance(results.pop(7), ReceiptNotRecorded)
    assert results == [True] * 20
    assert stored(app, good) == 20 and stored(app, [bad]) == 0


def test_on_sqlite_the_workers_write_their_batches_in_turn(make_app, tmp_path):
    """Gunicorn's workers share a SQLite file: a batch waits while another worker holds the lock
    file beside it (the test holds it here, as a worker would), and is written once freed."""
    database_file = tmp_path / "center.sqlite3"
    app = make_app(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{database_file}",
        RECEIPT_GROUP_COMMIT=True,
        CONSENT_RATE_LIMIT="100000 per minute",
    )
    with app.app_context():
        upgrade()
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    assert post(app, body(first)) == 201
    try:
        with open(f"{database_file}.receipts-lock", "a") as other_worker:
            fcntl.flock(other_worker, fcntl.LOCK_EX)
            with ThreadPoolExecutor(max_workers=1) as pool:
                answer = pool.submit(post, app, body(second))
                with pytest.raises(TimeoutError):
                    answer.result(timeout=0.5)
                assert stored(app, [second]) == 0
                fcntl.flock(other_worker, fcntl.LOCK_UN)
                assert answer.result(timeout=10) == 201
        assert stored(app, [first, second]) == 2
    finally:
        app.extensions[WRITER].close()
        with app.app_context():
            database.engine.dispose()


def rollup_total(app) -> int:
    """Receipts of this file's build counted by the daily rollup."""
    with app.app_context():
        query = select(func.coalesce(func.sum(ConsentDay.total), 0)).where(
            ConsentDay.widget_build == "0123456789ab"
        )
        return database.session.scalar(query)


# A batch's rollup count refused by the database: the statement (PostgreSQL) or transaction
# (SQLite) that writes the receipts with their count fails as a whole.
REFUSE_COUNTS = {
    "postgresql": [
        "CREATE FUNCTION pc_test_refuse_count() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'count refused'; END $$",
        "CREATE TRIGGER pc_test_refuse_count BEFORE INSERT OR UPDATE ON consent_day "
        "FOR EACH ROW EXECUTE FUNCTION pc_test_refuse_count()",
    ],
    "sqlite": [
        "CREATE TRIGGER pc_test_refuse_insert BEFORE INSERT ON consent_day "
        "BEGIN SELECT RAISE(ABORT, 'count refused'); END",
        "CREATE TRIGGER pc_test_refuse_update BEFORE UPDATE ON consent_day "
        "BEGIN SELECT RAISE(ABORT, 'count refused'); END",
    ],
}
ALLOW_COUNTS = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS pc_test_refuse_count ON consent_day",
        "DROP FUNCTION IF EXISTS pc_test_refuse_count()",
    ],
    "sqlite": [
        "DROP TRIGGER IF EXISTS pc_test_refuse_insert",
        "DROP TRIGGER IF EXISTS pc_test_refuse_update",
    ],
}


def run_sql(app, statements: list[str]) -> None:
    with app.app_context(), database.engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)


def test_a_failed_group_commit_answers_no_2xx_and_stores_nothing(grouped_app):
    """Concurrent receipts whose batches fail at their rollup count: every request answers 503,
    no receipt and no count is stored; posted again once the database accepts, all are."""
    app, posted = grouped_app
    posted.append(str(uuid.uuid4()))
    assert post(app, body(posted[0])) == 201  # the demo site has its row
    ids = [str(uuid.uuid4()) for _ in range(48)]
    posted += ids
    with app.app_context():
        dialect = database.engine.dialect.name
    counted = rollup_total(app)
    run_sql(app, REFUSE_COUNTS[dialect])
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(lambda rid: post(app, body(rid)), ids))
    finally:
        run_sql(app, ALLOW_COUNTS[dialect])
    assert statuses == [503] * 48
    assert stored(app, ids) == 0
    assert rollup_total(app) == counted
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda rid: post(app, body(rid)), ids))
    assert statuses == [201] * 48
    assert stored(app, ids) == 48
    assert rollup_total(app) == counted + 48


def test_the_rollup_stays_exact_under_concurrent_writers(grouped_app, make_app):
    """Two processes' writers (gunicorn's workers), each with concurrent requests, count the
    same rollup keys at once: the counts equal the receipts stored and the 201 answered."""
    app, posted = grouped_app
    other = make_app(RECEIPT_GROUP_COMMIT=True, CONSENT_RATE_LIMIT="100000 per minute")
    posted.append(str(uuid.uuid4()))
    assert post(app, body(posted[0])) == 201  # the demo site has its row
    counted = rollup_total(app)
    ids = [str(uuid.uuid4()) for _ in range(400)]
    posted += ids
    # Retries of the same receipts race their first posts, through the other writer.
    work = [(app if n % 2 else other, rid) for n, rid in enumerate(ids)]
    work += [(other if n % 2 else app, rid) for n, rid in enumerate(ids[:60])]
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(lambda item: post(item[0], body(item[1])), work))
    finally:
        other.extensions[WRITER].close()
        with other.app_context():
            database.engine.dispose()
    assert statuses.count(201) == 400 and statuses.count(200) == 60
    assert stored(app, ids) == 400
    assert rollup_total(app) == counted + 400
