"""``flask --app wsgi retention run [--dry-run] [--batch-size N]``."""

from __future__ import annotations

from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup

from ..cli_options import moment_option
from ..content import get_content
from ..extensions import db
from ..models import RetentionRun
from ..models.types import utcnow
from ..session_records import ENDED_KEPT, purge_ended
from .rules import enforced_rules
from .services import Progress, RetentionBusy, run_retention
from .steps import Context, RetentionError

retention_cli = AppGroup("retention", help="Retention periods of the policy, enforced.")

VERBS = {
    "warned": ("would warn", "warned"),
    "deactivated": ("would deactivate", "deactivated"),
    "archived": ("would archive", "archived"),
    "deleted": ("would delete", "deleted"),
    "erased": ("would erase", "erased"),
}


def describe(run: RetentionRun) -> list[str]:
    """One line per rule and step: what was (or would be) done, how many, the oldest date."""
    lines = []
    for rule, steps in run.results.items():
        if not steps:
            lines.append(f"  {rule}: nothing to do (no data declared for this rule)")
            continue
        for step, values in steps.items():
            verb = VERBS[step.split(":")[0]][0 if run.dry_run else 1]
            count = values["planned"] if run.dry_run else values["count"]
            oldest = f", oldest {values['oldest']}" if values.get("oldest") else ""
            skipped = (
                f", {values['skipped']} left for the next run" if values.get("skipped") else ""
            )
            batches = "" if run.dry_run else f" in {values['batches']} batch(es)"
            lines.append(f"  {rule}: {verb} {count} {values['what']}{batches}{oldest}{skipped}")
            categories = values.get("planned_categories" if run.dry_run else "categories") or {}
            for category, actions in categories.items():
                done = ", ".join(f"{action} {rows}" for action, rows in actions.items())
                lines.append(f"    {category}: {done}")
    return lines


@retention_cli.command("run")
@click.option("--dry-run", is_flag=True, help="Print what would be done; change nothing.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Rows per batch, each its own transaction (default: RETENTION_BATCH_SIZE, 5000).",
)
@click.option(
    "--base-url",
    envvar="PC_BASE_URL",
    default=None,
    help="The privacy center's public address, for the sign-in link of warnings (env PC_BASE_URL).",
)
# For tests and rehearsals: apply the rules as on another day.
@click.option("--now", "now_text", default=None, hidden=True)
def run_command(
    dry_run: bool, batch_size: int | None, base_url: str | None, now_text: str | None
) -> None:
    """Deactivate, archive and delete what the retention periods say, in batches."""
    ctx = Context(
        now=moment_option(now_text),
        content=get_content(),
        settings=current_app.config,
        base_url=base_url,
    )
    size = batch_size or int(current_app.config["RETENTION_BATCH_SIZE"])

    def progress(step: Progress) -> None:
        batch = step.batch
        click.echo(
            f"  batch: {step.rule} {step.step} {batch.count} "
            f"(ids {batch.first_id}-{batch.last_id})",
            err=True,
        )

    try:
        run = run_retention(
            db.session, enforced_rules(), ctx, batch_size=size, dry_run=dry_run, on_batch=progress
        )
    except RetentionBusy:
        raise click.ClickException(
            "Another retention run is under way: nothing was done. Run it again once that one "
            "has finished."
        ) from None
    except RetentionError as error:
        raise click.ClickException(
            f"The retention run stopped: {error}. What was committed before stays done; fix the "
            "rule and run it again."
        ) from None
    title = "Dry run: nothing changed." if dry_run else f"Retention run {run.id} completed."
    click.echo(f"{title} Rules applied as of {ctx.now.isoformat(timespec='seconds')}:")
    for line in describe(run):
        click.echo(line)
    if not dry_run:
        # Housekeeping rather than a rule of the policy: signed-in sessions that ended. By the
        # clock, not --now: a rehearsal "as on another day" must not sign anyone out.
        idle = timedelta(minutes=current_app.config["STAFF_IDLE_MINUTES"])
        purged = purge_ended(db.session, now=utcnow(), idle=idle)
        db.session.commit()
        days = ENDED_KEPT.days
        click.echo(f"  sessions: deleted {purged} ended more than {days} day(s) ago")
