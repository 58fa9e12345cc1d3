"""Plan and run the retention rules, in batches.

Every rule is one or more *steps* (warn, deactivate, erase, archive, delete; their base is in
steps.py, the erasure of deactivated accounts in erasure.py). A step works on rows of one table,
found by conditions that say "this row's time is up" and read again by the statement that acts
on them, and walks the table by primary key (``id > last done ORDER BY id LIMIT n``): each batch
is its own short transaction, committed (with its audit event and the run's progress) before the
next one starts. Running again after an interruption is safe: what was committed is not selected
again (it is gone, archived, warned, deactivated or erased) and what was not is selected again;
nothing is done twice, nothing is lost.

Services take the session, the moment (``now``) and the settings explicitly: tests freeze the
clock by passing ``now``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlalchemy import ColumnElement, delete, not_, or_, select, update
from sqlalchemy.orm import Session

from .. import audit, locks
from ..mail import MailNotSent, send_mail
from ..models import (
    Account,
    ConsentReceipt,
    IdentityDocument,
    Invoice,
    PrivacyRequest,
    RetentionRun,
    Site,
)
from ..models.types import UTCDateTime, utcnow
from ..operator import MAX_CONSENT_LIFETIME_MONTHS
from ..uploads.storage import delete_document
from ..workflow import FINAL_STATES
from . import activity
from .erasure import DeleteEvidence, EraseDeactivatedAccounts
from .rules import (
    ARCHIVE_INVOICES,
    DEACTIVATE_ACCOUNTS,
    DELETE_CLOSED_REQUESTS,
    DELETE_CONSENT_RECEIPTS,
    DELETE_IDENTITY_DOCUMENTS,
    DELETE_ROWS,
    EnforcedRule,
    Target,
)
from .steps import Batch, Context, Estimate, RetentionError, Step, add_categories

__all__ = ["Batch", "Context", "Estimate", "RetentionBusy", "RetentionError", "Step"]

log = logging.getLogger(__name__)

# The audit log's actor of every retention event (the details say which run).
ACTOR = "system"
DEFAULT_BATCH_SIZE = 5000


class RetentionBusy(RetentionError):
    """Another retention run is under way."""


# The advisory lock's key on PostgreSQL (any constant the application uses for nothing else).
RUN_LOCK_KEY = 0x70635F72657465  # "pc_rete"


def exclusive_run(session: Session) -> AbstractContextManager[None]:
    """Held for a whole run, so that two runs (cron and a person, two hosts) never overlap:
    a second one would mark the first "interrupted" and send its warnings again. Raises
    :class:`RetentionBusy` at once when another run holds it."""
    return locks.exclusive(session, key=RUN_LOCK_KEY, purpose="retention", busy=RetentionBusy)


# --- accounts -----------------------------------------------------------------------------------


def _language(ctx: Context, wanted: str) -> str:
    operator = ctx.content.operator
    return wanted if wanted in operator.languages else operator.default_language


class WarnInactiveAccounts(Step):
    """Mail the holders whose account will be deactivated within ``warn_days_before`` days."""

    name = "warned"
    what = "accounts"

    model = Account
    date_column = "last_active_at"

    def conditions(self, session: Session, ctx: Context) -> list[ColumnElement[bool]]:
        threshold = ctx.now - self.rule.period.delta + timedelta(days=self.rule.warn_days_before)
        return [
            Account.deactivated_at.is_(None),
            # No activity anywhere (activity.py): a sign-in here, the site, the emails.
            activity.inactive_since(threshold),
            # Never warned since the last activity (activity after a warning starts over).
            or_(
                Account.inactivity_warned_at.is_(None),
                activity.active_after(Account.inactivity_warned_at),
            ),
        ]

    def act(self, session: Session, ctx: Context, first: int, last: int) -> Batch:
        accounts = session.scalars(
            select(Account).where(*self._in_range(session, ctx, first, last)).order_by(Account.id)
        ).all()
        sign_in_url = f"{ctx.base_url.rstrip('/')}/rights/sign-in" if ctx.base_url else None
        warned = skipped = 0
        latest = activity.last_activity(session, accounts)
        for account in accounts:
            deactivation = max(
                latest[account.id] + self.rule.period.delta,
                ctx.now + timedelta(days=self.rule.warn_days_before),
            )
            try:
                send_mail(
                    ctx.settings,
                    to=account.email,
                    template="retention/inactivity_warning",
                    language=_language(ctx, account.language),
                    context={
                        "account": account,
                        "deactivation_on": deactivation.astimezone(ctx.zone).date(),
                        "last_active_on": latest[account.id].astimezone(ctx.zone).date(),
                        "activity_sources": self.rule.activity,
                        "sign_in_url": sign_in_url,
                        "period": self.rule.period,
                    },
                )
            except MailNotSent:
                # Not recorded: the next run tries again, and nobody is deactivated unwarned.
                log.exception("inactivity warning to account %s not sent", account.id)
                skipped += 1
                continue
            account.inactivity_warned_at = ctx.now
            warned += 1
        session.flush()
        return Batch(warned, first, last, skipped)


class DeactivateInactiveAccounts(Step):
    """Deactivate the accounts inactive for the period whose holder was warned in time."""

    name = "deactivated"
    what = "accounts"

    model = Account
    date_column = "last_active_at"

    def conditions(self, session: Session, ctx: Context) -> list[ColumnElement[bool]]:
        return [
            Account.deactivated_at.is_(None),
            activity.inactive_since(ctx.now - self.rule.period.delta),
            # Warned after the last activity, at least warn_days_before days ago.
            Account.inactivity_warned_at.is_not(None),
            not_(activity.active_after(Account.inactivity_warned_at)),
            Account.inactivity_warned_at <= ctx.now - timedelta(days=self.rule.warn_days_before),
        ]

    def act(self, session: Session, ctx: Context, first: int, last: int) -> Batch:
        return self._set(session, ctx, first, last, deactivated_at=ctx.now)


# --- rows of any table --------------------------------------------------------------------------


class DeleteOldRows(Step):
    """Delete the rows of ``target`` whose date column is older than the period."""

    name = "deleted"

    def __init__(self, rule: EnforcedRule, target: Target) -> None:
        self.rule = rule
        self.target = target
        self.what = f"rows of {target.table}"
        self._table: sa.Table | None = None

    def table(self, session: Session) -> sa.Table:
        if self._table is None:
            known = sa.MetaData()
            metadata_table = Account.metadata.tables.get(self.target.table)
            try:
                self._table = (
                    metadata_table
                    if metadata_table is not None
                    else sa.Table(self.target.table, known, autoload_with=session.connection())
                )
            except sa.exc.NoSuchTableError:
                raise RetentionError(
                    f"rule {self.rule.key!r}: table {self.target.table!r} does not exist in the "
                    "privacy center's database (content/retention.yaml, enforce: targets)"
                ) from None
            for name in (self.target.column, self.target.key):
                if name not in self._table.c:
                    raise RetentionError(
                        f"rule {self.rule.key!r}: table {self.target.table!r} has no column "
                        f"{name!r} (content/retention.yaml, enforce: targets)"
                    )
        return self._table

    def key(self, session: Session) -> sa.ColumnElement[int]:
        return self.table(session).c[self.target.key]

    def dated_by(self, session: Session) -> sa.ColumnElement[Any]:
        return self.table(session).c[self.target.column]

    def conditions(self, session: Session, ctx: Context) -> list[ColumnElement[bool]]:
        column = self.dated_by(session)
        kind = column.type
        if isinstance(kind, sa.Date) and not isinstance(kind, sa.DateTime):
            # Collected on a day: kept while that day plus the period has not come.
            return [column <= ctx.today - self.rule.period.delta]
        cutoff = ctx.now - self.rule.period.delta
        if not isinstance(kind, UTCDateTime) and not getattr(kind, "timezone", False):
            # A naive timestamp column declared by the operator: read as UTC.
            return [column <= cutoff.astimezone(UTC).replace(tzinfo=None)]
        return [column <= cutoff]


# --- invoices -----------------------------------------------------------------------------------


def financial_year_end_on_or_before(day: date, month_day: tuple[int, int]) -> date:
    month, dom = month_day
    end = date(day.year, month, dom)
    return end if end <= day else date(day.year - 1, month, dom)


class ArchiveInvoices(Step):
    """Move to the intermediate archive the invoices whose account is closed or deactivated."""

    name = "archived"
    what = "invoices"

    model = Invoice
    date_column = "issued_on"

    def conditions(self, session: Session, ctx: Context) -> list[ColumnElement[bool]]:
        closed = select(Account.id).where(Account.deactivated_at.is_not(None))
        return [
            Invoice.archived_at.is_(None),
            or_(Invoice.account_id.is_(None), Invoice.account_id.in_(closed)),
        ]

    def act(self, session: Session, ctx: Context, first: int, last: int) -> Batch:
        return self._set(session, ctx, first, last, archived_at=ctx.now)


class DeleteExpiredInvoices(Step):
    """Delete the invoices kept for the period after the end of their financial year."""

    name = "deleted"
    what = "invoices"

    model = Invoice
    date_column = "issued_on"

    def last_deletable_issue_date(self, ctx: Context) -> date:
        """Kept for the period counted from the end of the financial year, that day included:
        an invoice goes once the day after (year end + period) has come."""
        limit = ctx.today - self.rule.period.delta - timedelta(days=1)
        return financial_year_end_on_or_before(limit, self.rule.financial_year_end)

    def conditions(self, session: Session, ctx: Context) -> list[ColumnElement[bool]]:
        return [Invoice.issued_on <= self.last_deletable_issue_date(ctx)]


# --- consent receipts ---------------------------------------------------------------------------


class DeleteConsentReceipts(Step):
    """Delete the receipts kept for the period after they stopped being valid.

    A receipt stops being valid at the first of: the end of the site's consent lifetime
    (content/operator.yaml), the day a new policy version came into force (the widget asks
    again). A receipt replaced earlier by the visitor's next choice is kept until then too (at
    most 13 months more): finding the next choice would need an index on visitor ids, which
    every consent written would pay for, and a per-row search that cannot scale to years of
    receipts. Both conditions read the date index only.
    """

    name = "deleted"
    what = "consent receipts"

    model = ConsentReceipt
    date_column = "recorded_at"

    def conditions(self, session: Session, ctx: Context) -> list[ColumnElement[bool]]:
        # Validity ended on or before `ended`: its period of keeping is over.
        ended = ctx.now - self.rule.period.delta
        operator = ctx.content.operator
        expired: list[ColumnElement[bool]] = []
        for site_id, site_key in session.execute(select(Site.id, Site.key)).all():
            site = operator.site(site_key)
            months = site.consent_lifetime_months if site else MAX_CONSENT_LIFETIME_MONTHS
            expired.append(
                sa.and_(
                    ConsentReceipt.site_id == site_id,
                    ConsentReceipt.recorded_at <= ended - _months(months),
                )
            )
        reasons = list(expired)
        in_force = [
            version.number
            for version in ctx.content.versions
            if ctx.start_of(version.effective) <= ended
        ]
        if in_force:
            reasons.append(ConsentReceipt.policy_version < max(in_force))
        return [ConsentReceipt.recorded_at <= ended, or_(*reasons)]


def _months(count: int) -> relativedelta:
    return relativedelta(months=count)


# --- requests and identity documents -----------------------------------------------------------


def _document_dir(settings: Mapping[str, Any]) -> Path:
    return Path(settings["IDENTITY_DOCUMENT_DIR"])


class DeleteClosedRequests(Step):
    """Delete the requests closed for the period, with their history, letters, notes, tokens
    and documents (the database cascades); the audit log keeps what was done."""

    name = "deleted"
    what = "closed requests"

    model = PrivacyRequest
    date_column = "closed_at"

    def conditions(self, session: Session, ctx: Context) -> list[ColumnElement[bool]]:
        return [
            PrivacyRequest.state.in_([str(state) for state in FINAL_STATES]),
            PrivacyRequest.closed_at.is_not(None),
            PrivacyRequest.closed_at <= ctx.now - self.rule.period.delta,
        ]

    def act(self, session: Session, ctx: Context, first: int, last: int) -> Batch:
        in_range = self._in_range(session, ctx, first, last)
        # Files first: a document still on disk (it should not be) goes with its request.
        stored = session.scalars(
            select(IdentityDocument.stored_name).where(
                IdentityDocument.deleted_at.is_(None),
                IdentityDocument.request_id.in_(select(PrivacyRequest.id).where(*in_range)),
            )
        ).all()
        for name in stored:
            delete_document(name, directory=_document_dir(ctx.settings))
        result = session.execute(
            delete(PrivacyRequest).where(*in_range).execution_options(synchronize_session=False)
        )
        return Batch(result.rowcount, first, last)


class DeleteIdentityDocuments(Step):
    """Destroy the identity documents received the period ago or more (the decision on
    identity destroys them earlier); the request keeps who checked, when, type and outcome."""

    name = "deleted"
    what = "identity documents"

    model = IdentityDocument
    date_column = "uploaded_at"

    def conditions(self, session: Session, ctx: Context) -> list[ColumnElement[bool]]:
        return [
            IdentityDocument.deleted_at.is_(None),
            IdentityDocument.uploaded_at <= ctx.now - self.rule.period.delta,
        ]

    def act(self, session: Session, ctx: Context, first: int, last: int) -> Batch:
        documents = session.scalars(
            select(IdentityDocument).where(*self._in_range(session, ctx, first, last))
        ).all()
        for document in documents:
            delete_document(document.stored_name, directory=_document_dir(ctx.settings))
            document.deleted_at = ctx.now
        session.flush()
        return Batch(len(documents), first, last)


# --- rules, plan, run ---------------------------------------------------------------------------


def steps_of(rule: EnforcedRule) -> list[Step]:
    """The steps of ``rule``, in the order they run."""
    if rule.action == DEACTIVATE_ACCOUNTS:
        deactivate = DeactivateInactiveAccounts(rule)
        return [WarnInactiveAccounts(rule), deactivate, EraseDeactivatedAccounts(rule, deactivate)]
    if rule.action == DELETE_ROWS:
        return [DeleteOldRows(rule, target) for target in rule.targets]
    if rule.action == ARCHIVE_INVOICES:
        return [ArchiveInvoices(rule), DeleteExpiredInvoices(rule)]
    if rule.action == DELETE_CONSENT_RECEIPTS:
        return [DeleteConsentReceipts(rule)]
    if rule.action == DELETE_CLOSED_REQUESTS:
        evidence = [DeleteEvidence(rule, table) for table in rule.evidence]
        return [DeleteClosedRequests(rule), *evidence]
    if rule.action == DELETE_IDENTITY_DOCUMENTS:
        return [DeleteIdentityDocuments(rule)]
    raise ValueError(f"unknown retention action {rule.action!r}")


def step_key(step: Step, session: Session) -> str:
    """The key of a step in a run's results: "deleted", or "deleted:TABLE" for delete-rows."""
    if isinstance(step, DeleteOldRows | DeleteEvidence):
        return f"{step.name}:{step.table_name(session)}"
    return step.name


@dataclass
class PlannedStep:
    rule: str
    step: str
    what: str
    count: int
    oldest: date | None
    categories: Mapping[str, Mapping[str, int]]


def plan(session: Session, rules: Sequence[EnforcedRule], ctx: Context) -> list[PlannedStep]:
    """What a run at ``ctx.now`` would do, per rule and step (reads only)."""
    planned = []
    for rule in rules:
        for step in steps_of(rule):
            estimate = step.estimate(session, ctx)
            planned.append(
                PlannedStep(
                    rule.key,
                    step_key(step, session),
                    step.what,
                    estimate.count,
                    estimate.oldest,
                    estimate.categories,
                )
            )
    return planned


@dataclass
class Progress:
    """Called after each committed batch (the CLI prints it; tests inject failures)."""

    rule: str
    step: str
    batch: Batch


def _oldest(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _fresh_results(planned: list[PlannedStep], rules: Sequence[EnforcedRule]) -> dict[str, Any]:
    results: dict[str, Any] = {rule.key: {} for rule in rules}
    for item in planned:
        results[item.rule][item.step] = {
            "what": item.what,
            "planned": item.count,
            "oldest": _oldest(item.oldest),
            "count": 0,
            "batches": 0,
        }
        if item.categories:
            results[item.rule][item.step]["planned_categories"] = item.categories
    return results


def mark_abandoned_runs(session: Session, now: datetime) -> int:
    """Runs still "running" were killed before they could say so: mark them interrupted."""
    result = session.execute(
        update(RetentionRun)
        .where(RetentionRun.status == "running")
        .values(status="interrupted", finished_at=now, error="stopped before it finished")
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def run_retention(
    session: Session,
    rules: Sequence[EnforcedRule],
    ctx: Context,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    on_batch: Callable[[Progress], None] | None = None,
) -> RetentionRun:
    """Apply ``rules`` at ``ctx.now``, batch by batch, each batch committed on its own.

    The dry run only plans: it changes no data and writes no audit event; it is recorded as a
    :class:`RetentionRun` with ``dry_run`` set, holding the plan. A real run is recorded as it
    goes; an exception (or Ctrl-C) rolls back only the batch under way, marks the run failed
    (or interrupted) and is raised again.
    """
    if batch_size < 1:
        raise ValueError(f"the batch size must be 1 or more; got {batch_size}")
    started = utcnow()
    with activity.gathered(session, rules, ctx.now, keep=not dry_run):
        planned = plan(session, rules, replace(ctx, dry_run=True) if dry_run else ctx)
    results = _fresh_results(planned, rules)
    if dry_run:
        # Only the run's own record is written (the staff page lists previews too): no data,
        # no audit event.
        preview = RetentionRun(
            started_at=started,
            finished_at=utcnow(),
            reference_time=ctx.now,
            dry_run=True,
            status="completed",
            batch_size=batch_size,
            results=results,
        )
        session.add(preview)
        session.commit()
        return preview

    with exclusive_run(session):
        try:
            return _run_batches(session, rules, ctx, batch_size, started, results, on_batch)
        finally:  # completed or stopped: the audit log's head is checkpointed (audit.py)
            audit.checkpoint_quietly(session, ctx.settings, reason="retention run")


def _run_batches(
    session: Session,
    rules: Sequence[EnforcedRule],
    ctx: Context,
    batch_size: int,
    started: datetime,
    results: dict[str, Any],
    on_batch: Callable[[Progress], None] | None,
) -> RetentionRun:
    # Under the run lock: a run still "running" was stopped without finishing.
    mark_abandoned_runs(session, started)
    run = RetentionRun(
        started_at=started,
        reference_time=ctx.now,
        dry_run=False,
        status="running",
        batch_size=batch_size,
        results=results,
    )
    session.add(run)
    session.commit()
    run_id = run.id
    try:
        for rule in rules:
            for step in steps_of(rule):
                name = step_key(step, session)
                after = 0
                while True:
                    batch = step.batch(session, ctx, after, min(batch_size, step.max_batch))
                    if batch is None:
                        break
                    audit.record(
                        session,
                        actor=ACTOR,
                        action="retention.batch",
                        details={
                            "run": run_id,
                            "rule": rule.key,
                            "step": name,
                            "table": step.table_name(session),
                            "count": batch.count,
                            "skipped": batch.skipped,
                            "first_id": batch.first_id,
                            "last_id": batch.last_id,
                            "reference_time": ctx.now.isoformat(),
                            **({"categories": batch.categories} if batch.categories else {}),
                        },
                    )
                    totals = dict(results[rule.key][name])
                    totals["count"] += batch.count
                    totals["batches"] += 1
                    if batch.skipped:
                        totals["skipped"] = totals.get("skipped", 0) + batch.skipped
                    if batch.categories:
                        totals["categories"] = add_categories(
                            totals.get("categories", {}), batch.categories
                        )
                    results = {**results, rule.key: {**results[rule.key], name: totals}}
                    run.results = results
                    session.commit()
                    after = batch.last_id
                    if on_batch is not None:
                        on_batch(Progress(rule.key, name, batch))
        run.status = "completed"
        run.finished_at = utcnow()
        audit.record(
            session,
            actor=ACTOR,
            action="retention.run_completed",
            details={"run": run_id, "totals": _totals(results)},
        )
        session.commit()
    except BaseException as error:
        session.rollback()
        failed = session.get(RetentionRun, run_id)
        assert failed is not None
        failed.status = (
            "interrupted" if isinstance(error, KeyboardInterrupt | SystemExit) else "failed"
        )
        failed.finished_at = utcnow()
        failed.error = f"{type(error).__name__}: {error}"[:2000]
        audit.record(
            session,
            actor=ACTOR,
            action="retention.run_stopped",
            details={
                "run": run_id,
                "status": failed.status,
                "error": failed.error,
                "totals": _totals(failed.results),
            },
        )
        session.commit()
        raise
    return run


def _totals(results: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    return {
        rule: {step: values["count"] for step, values in steps.items()}
        for rule, steps in results.items()
        if steps
    }


def last_runs(session: Session, limit: int = 20) -> list[RetentionRun]:
    return list(
        session.scalars(
            select(RetentionRun)
            .order_by(RetentionRun.started_at.desc(), RetentionRun.id.desc())
            .limit(limit)
        )
    )
