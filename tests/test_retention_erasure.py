"""The retention run erases: an account inactive for five years is deactivated, then every
category of its data is erased in the privacy center's tables and through the connectors (an
HTTP service served by a real local server), keeping only what another period requires; the
audience statistics lose what is older than 13 months."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from privacy_center.accounts.demo import AUDIENCE_MONTHS, seed_audience_statistics
from privacy_center.config import document_key
from privacy_center.connectors import get_connectors, load_connectors
from privacy_center.content import get_content
from privacy_center.extensions import db as database
from privacy_center.models import (
    Account,
    AudienceStatistic,
    AuditEvent,
    DataExport,
    EmailToken,
    Invoice,
    PostmortemDirective,
    PrivacyRequest,
    RetentionRun,
)
from privacy_center.operator import ContentError
from privacy_center.retention.erasure import erased_email
from privacy_center.retention.rules import enforced_rules, parse_enforce
from privacy_center.retention.services import run_retention
from privacy_center.retention.steps import Context, RetentionError
from privacy_center.session_records import open_record
from privacy_center.uploads.storage import store_document
from tests.subject_data import START, fill_account

LANGUAGES = ("fr", "en", "es", "de")
# The holder's last activity is START (2024-03-01); six years later the run erases.
SIX_YEARS = START + relativedelta(years=6)
# Warned a month before (the run warns 30 days before it deactivates).
WARNED = SIX_YEARS - timedelta(days=31)
DAY = timedelta(days=1)


# --- the operator's CRM, reached over HTTP -----------------------------------------------------


class Crm:
    """The operator's CRM: notes per account; it answers /count and /erase as http.py says."""

    def __init__(self) -> None:
        self.notes: dict[int, int] = {}
        self.erase_calls: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.fail = False

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        body = json.loads(request.get_data() or b"{}")
        account = body["subject"]["account_id"]
        with self.lock:
            if request.path.endswith("/erase"):
                if self.fail and not body["dry_run"]:
                    answer = Response("down", status=400)
                    return answer(environ, start_response)
                self.erase_calls.append(body)
                rows = self.notes.get(account, 0)
                if not body["dry_run"]:
                    self.notes.pop(account, None)
                document: dict[str, Any] = {
                    "categories": [
                        {"category": "notes", "action": "removed", "rows": rows, "reason": "Gone."}
                    ]
                }
            else:
                document = {"count": self.notes.get(account, 0)}
        return Response(json.dumps(document), mimetype="application/json")(environ, start_response)

    def erased(self, account_id: int) -> list[dict[str, Any]]:
        """The real (not dry-run) erase calls about ``account_id``."""
        return [
            call
            for call in self.erase_calls
            if call["subject"]["account_id"] == account_id and not call["dry_run"]
        ]


@pytest.fixture(scope="module")
def crm_server() -> Iterator[tuple[Crm, str]]:
    crm = Crm()
    server = make_server("127.0.0.1", 0, crm, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield crm, f"http://127.0.0.1:{server.server_port}/privacy"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def crm(crm_server, tmp_path: Path, db) -> tuple[Crm, list[Any]]:
    """The CRM and the connectors of a run: the demo operator's own (SQL) and the CRM (HTTP)."""
    server, url = crm_server
    server.notes.clear()
    server.erase_calls.clear()
    server.fail = False
    text = dict.fromkeys(LANGUAGES, "CRM")
    spec = {
        "key": "crm",
        "type": "http",
        "url": url,
        "timeout_seconds": 5,
        "retries": 0,
        "label": text,
        "categories": [
            {
                "key": "notes",
                "label": text,
                "retention": "account",
                "fields": [{"key": "body", "description": text}],
            }
        ],
    }
    path = tmp_path / "connectors.yaml"
    path.write_text(yaml.safe_dump({"sources": [], "connectors": [spec]}), encoding="utf-8")
    retention = {rule.key for rule in get_content().retention}
    (http,) = load_connectors(path, LANGUAGES, retention).build(lambda: db)
    return server, [*get_connectors(lambda: db), http]


def context(app, connectors: list[Any], now: datetime) -> Context:
    return Context(now=now, content=get_content(), settings=app.config, connectors=connectors)


def run_all(app, db, connectors, now: datetime, **options) -> RetentionRun:
    return run_retention(db, list(enforced_rules()), context(app, connectors, now), **options)


# --- a holder with data everywhere -------------------------------------------------------------


def make_holder(app, db, make_account, crm: Crm) -> dict[str, Any]:
    """An account last active on START, warned a month before SIX_YEARS, with a row in every
    category: the operator's tables, the CRM, the privacy center's own (a copy of the data and
    its file, post-mortem directives, a sign-in link, a request closed long ago)."""
    account = make_account(last_active_at=START, created_at=START - relativedelta(years=2))
    fill_account(db, account, events=3)
    account.inactivity_warned_at = WARNED
    crm.notes[account.id] = 2
    directory = Path(app.config["EXPORT_DIR"])
    stored = store_document(b"PK zip", directory=directory, key=document_key(app.config))
    export = DataExport(
        account_id=account.id, copy_number=1, language="fr", state="ready", stored_name=stored
    )
    db.add(export)
    db.add(
        PostmortemDirective(
            account_id=account.id,
            version=1,
            choices={"photos": "delete"},
            designated_name="Louise Martin",
            designated_email="louise@example.org",
            consent_wording_version="1",
            consent_given_at=START,
            language="fr",
            fingerprint=secrets.token_hex(32),
        )
    )
    db.add(
        EmailToken(
            purpose="sign_in",
            token_hash=secrets.token_hex(32),
            email=account.email,
            account_id=account.id,
            expires_at=START + DAY,
        )
    )
    open_record(db, account, lifetime=timedelta(days=3650), now=START)
    request = PrivacyRequest(
        reference=f"PC-{secrets.token_hex(4).upper()}",
        kind="access",
        state="completed",
        language="fr",
        email=account.email,
        requester_name="Camille Martin",
        account_id=account.id,
        status_token_hash=secrets.token_hex(32),
        received_at=START,
        closed_at=START + relativedelta(months=1),
    )
    db.add(request)
    db.flush()
    return {
        "account": account,
        "id": account.id,
        "email": account.email,
        "export_file": directory / stored,
        "request": request.id,
    }


# Every table of the models and what a run leaves of a holder's data in it. A new table
# without an entry here makes the test fail: say what the retention run does with it.
KEPT = {
    # accounting law: 10 years from the end of the invoice's financial year (archived)
    "invoice": "invoices",
    # evidence for the limitation period (5 years from the erasure): rule `claims`, `evidence`
    "complaint": "claims",
    "preference_change": "claims",
    "consent_link": "claims",
}
ERASED = {
    "subscription",
    "browsing_event",
    "interest",
    "support_conversation",
    "communication_preference",
    "data_export",
    "postmortem_directive",
    "email_token",
    # kept as proof by their own period (consent-proof: 5 years after the choice stopped
    # being valid); this holder's choice of 2024 is past it in 2030
    "consent_receipt",
    # requests, and what hangs on them, go 5 years after closure (rule `claims`)
    "privacy_request",
    "request_transition",
    "identity_document",
    "letter",
    "request_note",
    "reminder_sent",
    "outgoing_mail",
    "postmortem_delivery",
    "recipient_notification",
    # the activity seen on the operator's site and emails: connectors.yaml `last_activity`
    "account_activity",
    # signed-in sessions (ended with the deactivation, deleted with the erasure)
    "session_record",
}
# The anonymised row: its number (the invoices kept refer to it), language and dates.
ANONYMISED = {"account"}
# Tables that hold nothing about an account holder, or only what the audit log keeps (never
# deleted; the retention run's events hold counts, not identities).
NOT_ABOUT_HOLDERS = {
    "site",
    "staff_member",
    "staff_sign_in_failure",
    "audience_statistic",
    "retention_run",
    "audit_event",
    # an address typed to ask for a sign-in or status link, kept only until the link is mailed
    # (mail_intents.py deletes it once handled: minutes, or the next `mail deliver`)
    "mail_intent",
    # the cookie scanner's reports: what a fresh headless browser saw on the operator's site
    "cookie_scan",
    # daily counts of consent choices per site, language and build: no visitor, no receipt id
    "consent_day",
}


def rows_about(db, table: sa.Table, holder: dict[str, Any]) -> int:
    """Rows of ``table`` that point at the holder: by account, by request, or by their email
    address anywhere in a text or JSON column."""
    found: list[sa.ColumnElement[bool]] = []
    if "account_id" in table.c:
        found.append(table.c.account_id == holder["id"])
    if "request_id" in table.c:
        found.append(table.c.request_id == holder["request"])
    if table.name == "privacy_request":
        found.append(table.c.id == holder["request"])
    for column in table.c:
        if isinstance(column.type, sa.String | sa.Text | sa.JSON):
            found.append(sa.cast(column, sa.Text).contains(holder["email"]))
    if table.name == "consent_receipt":
        links = select(sa.text("visitor_id")).select_from(sa.table("consent_link"))
        found.append(table.c.visitor_id.in_(links.where(sa.column("account_id") == holder["id"])))
    return int(db.scalar(select(func.count()).select_from(table).where(sa.or_(*found))) or 0)


def left_of(db, holder: dict[str, Any]) -> dict[str, int]:
    db.expire_all()
    return {
        name: rows_about(db, table, holder)
        for name, table in database.metadata.tables.items()
        if name not in NOT_ABOUT_HOLDERS | ANONYMISED
    }


def test_every_table_says_what_the_run_does_with_a_holders_data():
    assert set(database.metadata.tables) == set(KEPT) | ERASED | ANONYMISED | NOT_ABOUT_HOLDERS


def test_an_account_inactive_for_six_years_has_nothing_left_but_what_a_period_keeps(
    app, db, make_account, crm
):
    server, connectors = crm
    holder = make_holder(app, db, make_account, server)
    before = left_of(db, holder)
    assert all(before[name] for name in KEPT)  # the holder has data in each of them

    done = run_all(app, db, connectors, SIX_YEARS)

    assert done.status == "completed"
    left = left_of(db, holder)
    assert {name for name, rows in left.items() if rows} == set(KEPT)
    assert left["invoice"] == before["invoice"]
    assert left["preference_change"] == 2  # with the one recorded for the bare address
    account = db.get(Account, holder["id"])
    assert account.deactivated_at == SIX_YEARS and account.erased_at == SIX_YEARS
    assert account.email == erased_email(account.id)
    identifying = (
        "password_hash", "civility", "date_of_birth", "phone", "company", "billing_street",
        "billing_postal_code", "billing_city", "billing_country",
    )  # fmt: skip
    assert all(getattr(account, name) is None for name in identifying)
    assert account.first_name == account.last_name == ""
    assert not holder["export_file"].exists()
    # The invoices went to the intermediate archive; the CRM erased its notes.
    assert all(
        invoice.archived_at == SIX_YEARS
        for invoice in db.scalars(select(Invoice).where(Invoice.account_id == holder["id"]))
    )
    assert len(server.erased(holder["id"])) == 1
    assert holder["id"] not in server.notes
    # Per category, in the run and in the audit log.
    erased = done.results["account"]["erased"]
    assert erased["count"] >= 1
    categories = erased["categories"]
    assert categories["allopass:subscriptions"]["removed"] >= 1
    assert categories["allopass:identity"]["anonymised"] >= 1
    assert categories["allopass:invoices"]["kept"] >= 1
    assert categories["allopass:complaints"]["kept"] >= 1
    assert categories["crm:notes"]["removed"] >= 2
    assert categories["privacy-center:data_exports"]["removed"] >= 1
    assert categories["privacy-center:postmortem_directives"]["removed"] >= 1
    batches = db.scalars(select(AuditEvent).where(AuditEvent.action == "retention.batch")).all()
    erasures = [
        event.details
        for event in batches
        if event.details["run"] == done.id and event.details["step"] == "erased"
    ]
    assert sum(item["categories"]["crm:notes"]["removed"] for item in erasures) >= 2
    # Neither the audit log nor the run's record names the holder.
    assert holder["email"] not in json.dumps([item for item in erasures])
    assert holder["email"] not in json.dumps(done.results)

    # A run the next day erases nothing again.
    run_all(app, db, connectors, SIX_YEARS + DAY)
    assert len(server.erased(holder["id"])) == 1
    db.expire_all()
    assert db.get(Account, holder["id"]).erased_at == SIX_YEARS


def test_what_is_kept_goes_when_its_own_period_ends(app, db, make_account, crm):
    server, connectors = crm
    holder = make_holder(app, db, make_account, server)
    run_all(app, db, connectors, SIX_YEARS)

    # The invoice of January 2024: kept 10 years from the end of 2024, that day included.
    run_all(app, db, connectors, datetime(2034, 12, 31, 12, tzinfo=UTC))
    assert left_of(db, holder)["invoice"] == 1
    run_all(app, db, connectors, datetime(2035, 1, 1, 12, tzinfo=UTC))
    assert left_of(db, holder)["invoice"] == 0

    # The evidence: 5 years from the erasure.
    evidence = set(KEPT) - {"invoice"}
    run_all(app, db, connectors, SIX_YEARS + relativedelta(years=5) - DAY)
    assert all(left_of(db, holder)[name] for name in evidence)
    later = run_all(app, db, connectors, SIX_YEARS + relativedelta(years=5))
    left = left_of(db, holder)
    assert not any(left.values()), left
    assert later.results["claims"]["deleted:complaint"]["count"] >= 1


def test_the_dry_run_lists_per_category_and_changes_nothing(app, db, make_account, crm):
    from tests.test_retention import snapshot

    server, connectors = crm
    holder = make_holder(app, db, make_account, server)
    before = snapshot(db)

    preview = run_all(app, db, connectors, SIX_YEARS, dry_run=True)

    assert snapshot(db) == before
    assert server.erased(holder["id"]) == []
    assert server.notes[holder["id"]] == 2
    assert holder["export_file"].exists()
    planned = preview.results["account"]["erased"]
    assert planned["planned"] >= 1  # deactivated and erased by the same run
    categories = planned["planned_categories"]
    assert categories["crm:notes"]["removed"] >= 2
    assert categories["allopass:subscriptions"]["removed"] >= 1
    assert categories["allopass:invoices"]["kept"] >= 1
    assert categories["privacy-center:email_links"]["removed"] >= 1

    # The command prints the same, category by category.
    answer = app.test_cli_runner().invoke(
        args=["retention", "run", "--dry-run", "--now", SIX_YEARS.isoformat()]
    )
    assert answer.exit_code == 0, answer.output
    assert "account: would erase" in answer.output
    assert "allopass:subscriptions: removed" in answer.output


def test_an_interrupted_erasure_resumes_without_doing_anything_twice(app, db, make_account, crm):
    server, connectors = crm
    first, second = (make_holder(app, db, make_account, server) for _ in range(2))
    stops = []

    def stop_after_first_erasure(progress):
        if progress.step == "erased":
            stops.append(progress)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_all(app, db, connectors, SIX_YEARS, batch_size=1, on_batch=stop_after_first_erasure)
    db.expire_all()
    stopped = db.scalars(select(RetentionRun).order_by(RetentionRun.id.desc())).first()
    assert stopped.status == "interrupted"
    erased_ids = {
        account.id for account in db.scalars(select(Account).where(Account.erased_at.is_not(None)))
    } & {first["id"], second["id"]}
    assert len(erased_ids) == 1

    resumed = run_all(app, db, connectors, SIX_YEARS, batch_size=1)
    assert resumed.status == "completed"
    for holder in (first, second):
        assert len(server.erased(holder["id"])) == 1  # the CRM was asked once per account
        assert {name for name, rows in left_of(db, holder).items() if rows} == set(KEPT)
    assert resumed.results["account"]["erased"]["count"] >= 1


def test_a_failing_connector_leaves_the_account_for_the_next_run(
    app, db, make_account, crm, client, make_staff
):
    from conftest import staff_sign_in

    server, connectors = crm
    holder = make_holder(app, db, make_account, server)
    server.fail = True
    done = run_all(app, db, connectors, SIX_YEARS, batch_size=1)
    assert done.status == "completed"  # the other accounts and rules went on
    db.expire_all()
    account = db.get(Account, holder["id"])
    # Deactivated, not erased: the SQL connector's erasure was rolled back with it.
    assert account.deactivated_at == SIX_YEARS and account.erased_at is None
    assert account.email == holder["email"]
    assert left_of(db, holder)["subscription"] == 1
    assert done.results["account"]["erased"]["skipped"] >= 1
    assert done.results["account"]["erased"]["categories"]["crm:*"] == {"failed": 1}
    assert done.results["claims"]["deleted"]["count"] >= 1  # a later rule ran
    staff_sign_in(client, make_staff(role="dpo"))
    html = client.get("/staff/retention/").get_data(as_text=True)
    assert "account: erased 0 (accounts), 1 left for the next run" in html
    assert "<code>crm:*</code>: not reached: accounts left for the next run 1" in html

    server.fail = False
    run_all(app, db, connectors, SIX_YEARS + DAY)
    db.expire_all()
    assert db.get(Account, holder["id"]).erased_at == SIX_YEARS + DAY
    assert len(server.erased(holder["id"])) == 1
    assert {name for name, rows in left_of(db, holder).items() if rows} == set(KEPT)


@pytest.mark.parametrize("by", ["account", "address"])
def test_an_account_with_an_open_request_waits_for_it(app, db, make_account, crm, by):
    server, connectors = crm
    holder = make_holder(app, db, make_account, server)
    open_request = db.get(PrivacyRequest, holder["request"])
    open_request.state, open_request.closed_at = "in_progress", None
    if by == "address":  # filed without signing in, with the account's address
        open_request.account_id = None
    db.flush()
    run_all(app, db, connectors, SIX_YEARS)
    db.expire_all()
    account = db.get(Account, holder["id"])
    assert account.deactivated_at == SIX_YEARS and account.erased_at is None
    assert server.erased(holder["id"]) == []

    # Once the request is closed, the next run erases the account.
    open_request = db.get(PrivacyRequest, holder["request"])
    open_request.state, open_request.closed_at = "completed", SIX_YEARS + DAY
    db.flush()
    run_all(app, db, connectors, SIX_YEARS + 2 * DAY)
    db.expire_all()
    assert db.get(Account, holder["id"]).erased_at == SIX_YEARS + 2 * DAY


@pytest.mark.parametrize(
    ("enforce", "message"),
    [
        ({"action": "deactivate-accounts", "erase_after_days": -1}, "erase_after_days"),
        ({"action": "deactivate-accounts", "erase_after_days": "soon"}, "erase_after_days"),
        ({"action": "delete-closed-requests", "evidence": "complaint"}, "list of table names"),
        ({"action": "delete-closed-requests", "evidence": ["a b"]}, "not a table or column"),
    ],
)
def test_a_wrong_erasure_setting_names_the_rule(enforce, message):
    from tests.test_retention import POLICY_RULE

    with pytest.raises(ContentError, match=message):
        parse_enforce(enforce, POLICY_RULE, "content/retention.yaml: rule 'account': enforce")


def test_an_evidence_table_without_account_is_a_clear_error(app, db):
    from dataclasses import replace

    claims = next(rule for rule in enforced_rules() if rule.key == "claims")
    with pytest.raises(RetentionError, match="evidence table 'site' is not a table"):
        run_retention(db, [replace(claims, evidence=("site",))], context(app, [], SIX_YEARS))


def test_erase_after_days_delays_the_erasure(app, db, make_account, crm):
    from dataclasses import replace

    server, connectors = crm
    holder = make_holder(app, db, make_account, server)
    rules = [
        replace(rule, erase_after_days=30) if rule.key == "account" else rule
        for rule in enforced_rules()
    ]
    run_retention(db, rules, context(app, connectors, SIX_YEARS))
    run_retention(db, rules, context(app, connectors, SIX_YEARS + timedelta(days=29)))
    db.expire_all()
    assert db.get(Account, holder["id"]).erased_at is None
    moment = SIX_YEARS + timedelta(days=30)
    run_retention(db, rules, context(app, connectors, moment))
    db.expire_all()
    assert db.get(Account, holder["id"]).erased_at == moment


def test_the_staff_page_shows_the_erasure_and_what_each_category_lost(
    app, db, make_account, crm, client, make_staff
):
    from conftest import staff_sign_in

    server, connectors = crm
    make_holder(app, db, make_account, server)
    done = run_all(app, db, connectors, SIX_YEARS)
    staff_sign_in(client, make_staff(role="dpo"))
    html = client.get("/staff/retention/").get_data(as_text=True)
    assert "The account is erased in the run that deactivates it" in html
    assert "<code>complaint</code>, <code>preference_change</code>, <code>consent_link</code>" in (
        html
    )
    row = html[html.index(f'id="run-{done.id}"') :]
    assert "account: erased" in row
    assert "<code>crm:notes</code>: removed" in row
    assert "<code>allopass:invoices</code>: kept" in row


# --- audience statistics (13 months) -----------------------------------------------------------


def test_audience_statistics_older_than_13_months_are_deleted_and_only_those(app, db):
    today = date(2031, 5, 20)
    limit = today - relativedelta(months=13)
    db.execute(sa.delete(AudienceStatistic))
    added = seed_audience_statistics(db, today)
    assert added > 0
    assert seed_audience_statistics(db, today) == 0  # the seed runs twice: nothing more
    oldest = db.scalar(select(func.min(AudienceStatistic.day)))
    assert oldest == today - relativedelta(months=AUDIENCE_MONTHS)
    kept = db.scalar(
        select(func.count()).select_from(AudienceStatistic).where(AudienceStatistic.day > limit)
    )
    assert kept < added

    now = datetime(2031, 5, 20, 12, tzinfo=UTC)
    rule = next(item for item in enforced_rules() if item.key == "audience-statistics")
    done = run_retention(db, [rule], context(app, [], now))

    assert done.results["audience-statistics"]["deleted:audience_statistic"]["count"] == (
        added - kept
    )
    assert db.scalar(select(func.min(AudienceStatistic.day))) == limit + DAY
    assert db.scalar(select(func.count()).select_from(AudienceStatistic)) == kept
    # The seed does not add back what the rule deleted.
    assert seed_audience_statistics(db, today) == 0
