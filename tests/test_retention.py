"""Retention: every rule at its boundary (the day before and the day of), the inactivity
warning, interrupted runs, the dry run, the command and the staff page.

The clock is frozen by passing ``now`` to the services (and the hidden ``--now`` to the
command). The test database may hold other tests' committed rows, so assertions look at the
rows each test creates.
"""

from __future__ import annotations

import itertools
import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select

from privacy_center.accounts.sign_in import record_sign_in
from privacy_center.config import document_key
from privacy_center.connectors import get_connectors
from privacy_center.connectors.base import Subject
from privacy_center.content import get_content
from privacy_center.mail import read_outbox
from privacy_center.models import (
    AuditEvent,
    BrowsingEvent,
    ConsentReceipt,
    IdentityDocument,
    Interest,
    Invoice,
    Letter,
    PrivacyRequest,
    RequestNote,
    RequestTransition,
    RetentionRun,
    Site,
)
from privacy_center.operator import ContentError, Period, RetentionRule, Translated
from privacy_center.retention.rules import (
    DELETE_ROWS,
    EnforcedRule,
    Target,
    enforced_rules,
    load_enforcement,
    parse_enforce,
)
from privacy_center.retention.services import RetentionBusy, exclusive_run, plan, run_retention
from privacy_center.retention.steps import Context, RetentionError
from privacy_center.uploads.storage import store_document

T = datetime(2030, 1, 15, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def rule(key: str) -> EnforcedRule:
    return next(item for item in enforced_rules() if item.key == key)


def ctx(app, now: datetime, base_url: str | None = "https://privacy.example.com") -> Context:
    return Context(now=now, content=get_content(), settings=app.config, base_url=base_url)


def run(app, db, key: str | EnforcedRule, now: datetime, **options) -> RetentionRun:
    rules = [key if isinstance(key, EnforcedRule) else rule(key)]
    return run_retention(db, rules, ctx(app, now), **options)


def exists(db, row) -> bool:
    """Whether ``row`` is still in the database (its id is known even once it is expired)."""
    identity = sa.inspect(row).identity
    db.expire_all()
    return db.get(type(row), identity[0]) is not None


def site_id(db) -> int:
    found = db.scalar(select(Site).where(Site.key == "demo"))
    if found is None:
        found = Site(key="demo", name="Demo", origins=[])
        db.add(found)
        db.flush()
    return found.id


# --- configuration ------------------------------------------------------------------------------


def test_demo_rules_enforce_the_policy_periods(app):
    with app.app_context():
        rules = {item.key: item for item in enforced_rules()}
        periods = {item.key: item.period for item in get_content().retention}
    assert {key: item.action for key, item in rules.items()} == {
        "account": "deactivate-accounts",
        "audience-statistics": "delete-rows",
        "raw-visits": "delete-rows",
        "invoices": "archive-invoices",
        "claims": "delete-closed-requests",
        "consent-proof": "delete-consent-receipts",
        "identity-documents": "delete-identity-documents",
    }
    assert all(item.period == periods[key] for key, item in rules.items())
    assert rules["account"].warn_days_before == 30
    assert rules["raw-visits"].targets == (Target("browsing_event", "occurred_at"),)
    assert rules["account"].erase_after_days == 0
    assert rules["audience-statistics"].targets == (Target("audience_statistic", "day"),)
    assert rules["claims"].evidence == ("complaint", "preference_change", "consent_link")


POLICY_RULE = RetentionRule(
    key="raw-visits",
    data=Translated({"en": "x"}),
    period=Period(months=13),
    starts=Translated({"en": "x"}),
    then=Translated({"en": "x"}),
    section="retention",
)


@pytest.mark.parametrize(
    ("enforce", "message"),
    [
        ({"action": "shred"}, "action 'shred' is not known"),
        ({"action": "delete-rows"}, "'targets' is missing"),
        (
            {"action": "delete-rows", "targets": [{"table": "visits; drop", "column": "at"}]},
            "is not a table or column name",
        ),
        ({"action": "deactivate-accounts", "warn_days_before": 0}, "warn_days_before"),
        ({"action": "archive-invoices", "financial_year_end": "02-29"}, "financial_year_end"),
        ({"action": "delete-consent-receipts", "targets": []}, "is not a setting of"),
    ],
)
def test_a_wrong_rule_names_the_file_and_the_rule(enforce, message):
    with pytest.raises(ContentError, match=message) as caught:
        parse_enforce(enforce, POLICY_RULE, "content/retention.yaml: rule 'raw-visits': enforce")
    assert "content/retention.yaml: rule 'raw-visits'" in str(caught.value)


def test_an_enforced_rule_must_be_a_policy_rule(tmp_path: Path):
    path = tmp_path / "retention.yaml"
    path.write_text("rules:\n  - key: ghost\n    enforce: {action: delete-closed-requests}\n")
    with pytest.raises(ContentError, match=r"retention.yaml: rule 'ghost'"):
        load_enforcement(path, (POLICY_RULE,))


# --- raw visit data (13 months) -----------------------------------------------------------------


def test_raw_visits_are_deleted_13_months_after_collection(app, db, make_account):
    account = make_account()
    event = BrowsingEvent(account_id=account.id, occurred_at=T, path="/a", device="desktop")
    fresh = BrowsingEvent(account_id=account.id, occurred_at=T + DAY, path="/b", device="mobile")
    db.add_all([event, fresh])
    db.flush()
    limit = T + relativedelta(months=13)

    run(app, db, "raw-visits", limit - DAY)
    assert exists(db, event)

    done = run(app, db, "raw-visits", limit)
    assert not exists(db, event)
    assert exists(db, fresh)
    assert done.status == "completed"
    assert done.results["raw-visits"]["deleted:browsing_event"]["count"] >= 1


def test_delete_rows_works_on_any_declared_table(app, db, make_account):
    """Rules are data: the operator may point one at another table of the database."""
    account = make_account()
    old = Interest(account_id=account.id, topic="jazz", source="inferred", recorded_at=T)
    db.add(old)
    db.flush()
    declared = EnforcedRule(
        key="audience-statistics",
        period=Period(months=13),
        action=DELETE_ROWS,
        targets=(Target("interest", "recorded_at"),),
    )
    run(app, db, declared, T + relativedelta(months=13) - DAY)
    assert exists(db, old)
    run(app, db, declared, T + relativedelta(months=13))
    assert not exists(db, old)


def test_a_declared_table_that_does_not_exist_is_a_clear_error(app, db):
    declared = EnforcedRule(
        key="audience-statistics",
        period=Period(months=13),
        action=DELETE_ROWS,
        targets=(Target("audience_hits", "day"),),
    )
    with pytest.raises(RetentionError, match="table 'audience_hits' does not exist"):
        run(app, db, declared, T)


# --- accounts (5 years of inactivity, warned 30 days before) ------------------------------------


def test_inactive_account_is_warned_30_days_before_then_deactivated(app, db, make_account, outbox):
    account = make_account(language="en", last_active_at=T)
    five_years = T + relativedelta(years=5)
    warn_day = five_years - timedelta(days=30)

    run(app, db, "account", warn_day - DAY)
    assert read_outbox(outbox) == []

    run(app, db, "account", warn_day)
    mails = [mail for mail in read_outbox(outbox) if mail["To"] == account.email]
    assert len(mails) == 1
    assert mails[0]["Content-Language"] == "en"
    assert "will be deactivated on" in mails[0]["Subject"]
    body = mails[0].get_body(("plain",)).get_content()
    assert "January 15, 2035" in body  # the day of deactivation, in English
    assert "https://privacy.example.com/rights/sign-in" in body
    db.refresh(account)
    assert account.inactivity_warned_at == warn_day

    # Sent once: the next days' runs do not warn again.
    run(app, db, "account", warn_day + DAY)
    run(app, db, "account", five_years - DAY)
    assert len([mail for mail in read_outbox(outbox) if mail["To"] == account.email]) == 1
    db.refresh(account)
    assert account.deactivated_at is None

    run(app, db, "account", five_years)
    db.refresh(account)
    assert account.deactivated_at == five_years
    assert not account.is_active


def test_the_warning_is_in_the_holders_language(app, db, make_account, outbox):
    french = make_account(language="fr", last_active_at=T)
    german = make_account(language="de", last_active_at=T)
    run(app, db, "account", T + relativedelta(years=5) - timedelta(days=30))
    by_address = {mail["To"]: mail for mail in read_outbox(outbox)}
    assert by_address[french.email]["Content-Language"] == "fr"
    # Rendered in their locale (the dates show it; the sentences are translated with the .po).
    assert "15 janvier 2035" in by_address[french.email]["Subject"]
    assert by_address[german.email]["Content-Language"] == "de"
    assert "15. Januar 2035" in by_address[german.email]["Subject"]


def test_signing_in_after_the_warning_keeps_the_account(app, db, make_account, outbox):
    account = make_account(language="fr", last_active_at=T)
    five_years = T + relativedelta(years=5)
    run(app, db, "account", five_years - timedelta(days=30))
    assert len(read_outbox(outbox)) == 1

    signed_in = five_years - timedelta(days=3)
    record_sign_in(db, account, visitor_id=None, now=signed_in)
    db.flush()
    run(app, db, "account", five_years)
    db.refresh(account)
    assert account.deactivated_at is None

    # A later inactivity warns again, and only then deactivates.
    again = signed_in + relativedelta(years=5)
    run(app, db, "account", again - timedelta(days=31))
    assert len(read_outbox(outbox)) == 1
    run(app, db, "account", again - timedelta(days=30))
    assert len(read_outbox(outbox)) == 2
    run(app, db, "account", again)
    db.refresh(account)
    assert account.deactivated_at == again


def test_an_account_found_past_the_limit_is_warned_before_it_is_deactivated(
    app, db, make_account, outbox
):
    """The first run after years without one: nobody is deactivated without 30 days' notice."""
    account = make_account(last_active_at=T)
    late = T + relativedelta(years=7)
    run(app, db, "account", late)
    db.refresh(account)
    assert account.deactivated_at is None
    assert len(read_outbox(outbox)) == 1
    run(app, db, "account", late + timedelta(days=29))
    db.refresh(account)
    assert account.deactivated_at is None
    run(app, db, "account", late + timedelta(days=30))
    db.refresh(account)
    assert account.deactivated_at is not None


# --- invoices (archive, then 10 years after the end of the financial year) ---------------------


def test_invoices_of_closed_accounts_go_to_the_archive_and_leave_the_export(
    app, db, make_account, make_invoice
):
    active = make_account()
    closed = make_account()
    kept = make_invoice(active.id, issued_on=date(2029, 6, 1))
    archived = make_invoice(closed.id, issued_on=date(2029, 6, 1))
    orphan = make_invoice(None, issued_on=date(2029, 6, 1))
    closed.deactivated_at = T
    db.flush()

    connector = get_connectors()[0]
    subject = Subject(email=closed.email, account_id=closed.id)
    assert len(list(connector.collect(subject, "invoices"))) == 1

    run(app, db, "invoices", T)
    db.expire_all()
    assert db.get(Invoice, kept.id).archived_at is None
    assert db.get(Invoice, archived.id).archived_at == T
    assert db.get(Invoice, orphan.id).archived_at == T
    # Out of the person's normal export; the active customer still sees theirs.
    assert list(connector.collect(subject, "invoices")) == []
    active_subject = Subject(email=active.email, account_id=active.id)
    assert len(list(connector.collect(active_subject, "invoices"))) == 1


def test_invoices_are_deleted_10_years_after_the_end_of_their_financial_year(
    app, db, make_account, make_invoice
):
    account = make_account()
    invoice = make_invoice(account.id, issued_on=date(2030, 6, 1))  # financial year ends 2030-12-31
    next_year = make_invoice(account.id, issued_on=date(2031, 1, 1))
    noon = datetime(2040, 12, 31, 11, 0, tzinfo=UTC)  # noon in Paris

    run(app, db, "invoices", noon)  # the last day of the 10 years
    assert exists(db, invoice)
    run(app, db, "invoices", noon + DAY)
    assert not exists(db, invoice)
    assert exists(db, next_year)


# --- consent receipts (5 years after they stop being valid) -------------------------------------


def make_receipt(db, recorded_at: datetime, visitor: str, policy_version: int | None = None):
    # By default, the newest version, in force at T (T is years after every published one).
    receipt = ConsentReceipt(
        receipt_id=secrets.token_hex(16),
        visitor_id=visitor,
        site_id=site_id(db),
        recorded_at=recorded_at,
        policy_version=policy_version or len(get_content().versions),
        widget_build="test",
        texts_hash="0" * 64,
        language="fr",
        action="accept-all",
        method="click",
        gpc=False,
        choices={"analytics": True},
        browser_family="firefox",
    )
    db.add(receipt)
    db.flush()
    return receipt


def test_an_expired_choice_is_kept_5_years_after_its_6_months(app, db):
    receipt = make_receipt(db, T, secrets.token_hex(8))
    end = T + relativedelta(months=6) + relativedelta(years=5)
    run(app, db, "consent-proof", end - DAY)
    assert exists(db, receipt)
    run(app, db, "consent-proof", end)
    assert not exists(db, receipt)


def test_a_replaced_choice_is_kept_until_5_years_after_its_lifetime(app, db):
    # The next choice is not looked for (no index on visitor ids): the first receipt counts
    # as valid for its whole lifetime.
    visitor = secrets.token_hex(8)
    first = make_receipt(db, T, visitor)
    second = make_receipt(db, T + timedelta(days=10), visitor)
    end = T + relativedelta(months=6) + relativedelta(years=5)
    run(app, db, "consent-proof", T + timedelta(days=10) + relativedelta(years=5))
    run(app, db, "consent-proof", end - DAY)
    assert exists(db, first)
    run(app, db, "consent-proof", end)
    assert not exists(db, first)
    assert exists(db, second)


def test_a_choice_made_under_an_earlier_policy_ends_with_the_new_version(app, db):
    # Version 2 came into force on 2026-11-02 (midnight in Paris, 23:00 UTC the day before).
    receipt = make_receipt(db, datetime(2026, 10, 1, tzinfo=UTC), secrets.token_hex(8), 1)
    end = datetime(2026, 11, 1, 23, 0, tzinfo=UTC) + relativedelta(years=5)
    run(app, db, "consent-proof", end - DAY)
    assert exists(db, receipt)
    run(app, db, "consent-proof", end)
    assert not exists(db, receipt)


# --- requests and identity documents ------------------------------------------------------------


def make_request(db, state: str, closed_at: datetime | None) -> PrivacyRequest:
    request = PrivacyRequest(
        reference=f"PC-{secrets.token_hex(4).upper()}",
        kind="access",
        state=state,
        language="fr",
        email="someone@example.org",
        requester_name="Someone",
        status_token_hash=secrets.token_hex(32),
        received_at=T - timedelta(days=20),
        closed_at=closed_at,
    )
    db.add(request)
    db.flush()
    return request


def store(app, db, request: PrivacyRequest, uploaded_at: datetime) -> IdentityDocument:
    directory = Path(app.config["IDENTITY_DOCUMENT_DIR"])
    name = store_document(b"%PDF-1.4 test", directory=directory, key=document_key(app.config))
    document = IdentityDocument(
        request_id=request.id,
        kind="identity",
        stored_name=name,
        mime_type="application/pdf",
        size_bytes=13,
        uploaded_at=uploaded_at,
    )
    db.add(document)
    db.flush()
    return document


def test_closed_requests_are_deleted_5_years_after_closure_with_what_hangs_on_them(app, db):
    closed = make_request(db, "completed", closed_at=T)
    still_open = make_request(db, "in_progress", closed_at=None)
    still_open.received_at = T - relativedelta(years=8)
    db.add_all(
        [
            RequestTransition(request_id=closed.id, to_state="completed", actor="system"),
            Letter(
                request_id=closed.id,
                kind="completion",
                language="fr",
                pdf=b"%PDF",
                sha256="0" * 64,
                sent_by="system",
            ),
            RequestNote(request_id=closed.id, text="done"),
        ]
    )
    document = store(app, db, closed, T - timedelta(days=20))
    path = Path(app.config["IDENTITY_DOCUMENT_DIR"]) / document.stored_name
    db.flush()
    audit_before = db.scalar(select(func.count()).select_from(AuditEvent))
    closed_id = closed.id

    limit = T + relativedelta(years=5)
    run(app, db, "claims", limit - DAY)
    assert exists(db, closed)
    run(app, db, "claims", limit)
    assert not exists(db, closed)
    assert exists(db, still_open)
    for model in (Letter, RequestNote, RequestTransition, IdentityDocument):
        left = db.scalar(
            select(func.count()).select_from(model).where(model.request_id == closed_id)
        )
        assert left == 0, model
    assert not path.exists()
    # The audit log is never deleted; the batch is in it.
    assert db.scalar(select(func.count()).select_from(AuditEvent)) > audit_before


def test_identity_documents_are_destroyed_30_days_after_receipt(app, db):
    request = make_request(db, "awaiting_identity", closed_at=None)
    document = store(app, db, request, T)
    path = Path(app.config["IDENTITY_DOCUMENT_DIR"]) / document.stored_name
    run(app, db, "identity-documents", T + timedelta(days=29))
    db.refresh(document)
    assert document.deleted_at is None and path.exists()
    run(app, db, "identity-documents", T + timedelta(days=30))
    db.refresh(document)
    assert document.deleted_at == T + timedelta(days=30)
    assert not path.exists()
    # The row stays: the request keeps that a document was received, and when.
    assert exists(db, request)


# --- runs: batches, interruption, dry run -------------------------------------------------------


def batch_events(db, run_id: int) -> list[AuditEvent]:
    events = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "retention.batch").order_by(AuditEvent.id)
    ).all()
    return [event for event in events if event.details["run"] == run_id]


def test_an_interrupted_run_resumes_without_doing_anything_twice(app, db, make_account, outbox):
    accounts = [make_account(language="en", last_active_at=T) for _ in range(5)]
    ours = {account.email for account in accounts}
    warn_day = T + relativedelta(years=5) - timedelta(days=30)
    calls = []

    def fail_after_first_batch(progress):
        calls.append(progress)
        if len(calls) == 1:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        run(app, db, "account", warn_day, batch_size=2, on_batch=fail_after_first_batch)
    first = db.scalars(select(RetentionRun).order_by(RetentionRun.id.desc())).first()
    assert first.status == "failed"
    assert "power cut" in first.error
    assert first.finished_at is not None
    # The first batch was committed: its warnings are recorded and in the audit log.
    warned_first = {mail["To"] for mail in read_outbox(outbox)} & ours
    assert first.results["account"]["warned"]["count"] == len(warned_first) == 2
    assert [event.details["count"] for event in batch_events(db, first.id)] == [2]

    second = run(app, db, "account", warn_day, batch_size=2)
    assert second.status == "completed"
    mails = [mail["To"] for mail in read_outbox(outbox) if mail["To"] in ours]
    assert sorted(mails) == sorted(ours)  # every holder warned, and once
    for account in accounts:
        db.refresh(account)
        assert account.inactivity_warned_at == warn_day
    events = batch_events(db, first.id) + batch_events(db, second.id)
    ranges = [(event.details["first_id"], event.details["last_id"]) for event in events]
    # No id range acted on twice, and the counts add up.
    assert all(a[1] < b[0] for a, b in itertools.pairwise(ranges))
    ids = {account.id for account in accounts}
    assert all(any(lo <= i <= hi for lo, hi in ranges) for i in ids)
    assert sum(event.details["count"] for event in events) >= 5
    stopped = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "retention.run_stopped")
    ).all()
    assert any(event.details["run"] == first.id for event in stopped)


def test_a_run_left_running_is_marked_interrupted_by_the_next_one(app, db):
    killed = RetentionRun(reference_time=T, status="running", batch_size=10, results={})
    db.add(killed)
    db.flush()
    run(app, db, "identity-documents", T)
    db.refresh(killed)
    assert killed.status == "interrupted"


def test_a_second_run_waits_for_the_first_to_finish(app, db):
    under_way = RetentionRun(reference_time=T, status="running", batch_size=10, results={})
    db.add(under_way)
    db.flush()
    runs_before = db.scalar(select(sa.func.count()).select_from(RetentionRun))
    with exclusive_run(db):  # the first run, still going
        with pytest.raises(RetentionBusy):
            run(app, db, "identity-documents", T)
        answer = app.test_cli_runner().invoke(args=["retention", "run"])
        assert answer.exit_code == 1
        assert "Another retention run is under way: nothing was done" in answer.output
    db.refresh(under_way)
    assert under_way.status == "running"
    assert db.scalar(select(sa.func.count()).select_from(RetentionRun)) == runs_before
    # Once it has finished, the next run takes the lock.
    assert run(app, db, "identity-documents", T).status == "completed"


def snapshot(db) -> dict[str, object]:
    """Every table's rows (but the runs' own log), to compare before and after."""
    tables = {}
    for table in sorted(db.get_bind().dialect.get_table_names(db.connection())):
        if table in ("retention_run", "alembic_version"):
            continue
        rows = db.execute(sa.text(f'SELECT * FROM "{table}"')).all()  # noqa: S608
        tables[table] = sorted(map(repr, rows))
    return tables


def test_the_dry_run_changes_nothing(app, db, make_account, outbox, make_invoice):
    account = make_account(last_active_at=T)
    make_invoice(account.id, issued_on=date(2030, 6, 1))
    db.add(BrowsingEvent(account_id=account.id, occurred_at=T, path="/a", device="desktop"))
    make_receipt(db, T, secrets.token_hex(8))
    request = make_request(db, "withdrawn", closed_at=T)
    store(app, db, request, T)
    account.deactivated_at = None
    db.flush()
    later = T + relativedelta(years=12)
    before = snapshot(db)

    preview = run_retention(db, list(enforced_rules()), ctx(app, later), dry_run=True)
    assert preview.dry_run and preview.status == "completed"
    assert snapshot(db) == before
    assert read_outbox(outbox) == []
    planned = {(item.rule, item.step): item for item in plan(db, enforced_rules(), ctx(app, later))}
    assert planned[("raw-visits", "deleted:browsing_event")].count >= 1
    assert planned[("raw-visits", "deleted:browsing_event")].oldest <= T.date()
    assert preview.results["claims"]["deleted"]["planned"] >= 1


def test_the_command_prints_the_plan_and_runs(app, db, make_account, outbox):
    account = make_account(last_active_at=T + relativedelta(years=20))
    event = BrowsingEvent(account_id=account.id, occurred_at=T, path="/a", device="desktop")
    db.add(event)
    db.flush()
    later = (T + relativedelta(years=2)).isoformat()
    runner = app.test_cli_runner()

    dry = runner.invoke(args=["retention", "run", "--dry-run", "--now", later])
    assert dry.exit_code == 0, dry.output
    assert "Dry run: nothing changed." in dry.output
    line = next(line for line in dry.output.splitlines() if "raw-visits" in line)
    assert "would delete" in line and "rows of browsing_event" in line
    assert "oldest 2030-01-15" in dry.output or "oldest" in line
    assert exists(db, event)

    real = runner.invoke(args=["retention", "run", "--now", later, "--batch-size", "100"])
    assert real.exit_code == 0, real.output
    assert "completed" in real.output
    assert not exists(db, event)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--batch-size", "0"], "0 is not in the range x>=1"),
        (["--batch-size", "many"], "'many' is not a valid integer"),
        (["--now", "yesterday"], "is not an ISO date and time"),
        (["--now", "2030-01-01T00:00:00"], "give the time zone offset"),
    ],
)
def test_the_command_refuses_bad_input(app, db, arguments, message):
    answer = app.test_cli_runner().invoke(args=["retention", "run", *arguments])
    assert answer.exit_code == 2
    assert message in answer.output


def test_run_refuses_a_batch_size_below_one(app, db):
    with pytest.raises(ValueError, match="batch size"):
        run(app, db, "raw-visits", T, batch_size=0)


# --- staff page ---------------------------------------------------------------------------------


@pytest.fixture
def console(client, make_staff):
    from conftest import staff_sign_in

    def sign_in_as(role: str):
        member = make_staff(role=role)
        staff_sign_in(client, member)
        return client

    return sign_in_as


def test_the_dpo_sees_the_schedule_rules_and_last_runs(app, db, console):
    done = run(app, db, "raw-visits", T)
    failed = RetentionRun(
        reference_time=T,
        status="failed",
        batch_size=10,
        results={"claims": {"deleted": {"what": "closed requests", "count": 3, "planned": 9,
                                        "oldest": "2024-01-02", "batches": 1}}},
        error="RuntimeError: power cut",
        finished_at=T,
    )  # fmt: skip
    db.add(failed)
    db.flush()
    web = console("dpo")
    page = web.get("/staff/retention/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert app.config["RETENTION_SCHEDULE"] in html
    assert "browsing_event.occurred_at" in html
    assert f'id="run-{done.id}"' in html
    assert "Failed" in html and "power cut" in html
    assert "claims: deleted 3 (closed requests)" in html
    # The console's navigation links to it.
    assert 'href="/staff/retention/"' in web.get("/staff/dashboard").get_data(as_text=True)


def test_an_agent_may_not_see_the_retention_page(db, console):
    web = console("agent")
    assert web.get("/staff/retention/").status_code == 403
    assert "/staff/retention/" not in web.get("/staff").get_data(as_text=True)


def test_the_retention_page_needs_a_staff_session(client, db):
    answer = client.get("/staff/retention/")
    assert answer.status_code == 302
    assert "/staff/sign-in" in answer.location
