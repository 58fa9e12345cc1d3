"""Plan and run the retention rules, in batches.

Every rule is one or more *steps* (warn, deactivate, erase, archive, delete; their base is in
steps.py, the steps themselves in inactive_accounts.py, erasure.py and deletions.py). A step works
on rows of one table, found by conditions that say "this row's time is up" and read again by the
statement that acts on them, and walks the table by primary key (``id > last done ORDER BY id LIMIT
n``): each batch is its own short transaction, committed (with its audit event and the run's
progress) before the next one starts. Running again after an interruption is safe: what was
committed is not selected again (it is gone, archived, warned, deactivated or erased) and what was
not is selected again; nothing is done twice, nothing is lost.

Services take the session, the moment (``now``) and the settings explicitly: tests freeze the
clock by passing ``now``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import audit, locks
from ..models import (
    RetentionRun,
)
from ..models.types import utcnow
from . import activity
from .deletions import (
    ArchiveInvoices,
    DeleteClosedRequests,
    DeleteConsentReceipts,
    DeleteExpiredInvoices,
    DeleteIdentityDocuments,
    DeleteOldRows,
)
from .erasure import DeleteEvidence, EraseDeactivatedAccounts
from .inactive_accounts import DeactivateInactiveAccounts, WarnInactiveAccounts
from .rules import (
    ARCHIVE_INVOICES,
    DEACTIVATE_ACCOUNTS,
    DELETE_CLOSED_REQUESTS,
    DELETE_CONSENT_RECEIPTS,
    DELETE_IDENTITY_DOCUMENTS,
    DELETE_ROWS,
    EnforcedRule,
)
from .steps import Batch, Context, RetentionError, Step, add_categories

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
