"""``flask --app wsgi requests lapse [--dry-run] [--batch-size N] [--base-url URL]``.

A command of the ``requests`` group (rights/cli.py), in a module of its own so that the group can
hold other commands (``requests intake``) without either module knowing of the other.
"""

from __future__ import annotations

from collections.abc import Callable

import click
from flask import current_app, url_for
from flask.cli import with_appcontext

from ..cli_options import moment_option
from ..extensions import db
from ..models import PrivacyRequest
from .lapsing import DEFAULT_BATCH_SIZE, LapseBusy, LapseReport, run_lapse
from .lapsing import form_address as lapse_form_address

WAITED_FOR = {
    "unconfirmed": "email confirmation",
    "awaiting_identity": "proof of identity",
    "awaiting_requester": "clarification",
}


def _form_url(base_url: str) -> Callable[[PrivacyRequest], str]:
    """Absolute addresses of the request forms, outside any web request."""

    def form_url(request: PrivacyRequest) -> str:
        endpoint, arguments = lapse_form_address(request.kind)
        with current_app.test_request_context("/", base_url=base_url):
            return url_for(endpoint, lang=request.language, _external=True, **arguments)

    return form_url


def describe(report: LapseReport) -> list[str]:
    lines = []
    for stalled in report.lapsed:
        request, lapse = stalled.request, stalled.lapse
        lines.append(
            f"  {request.reference} ({request.kind}): no {WAITED_FOR[lapse.because]} since "
            f"{lapse.waiting_since.isoformat()}, {lapse.period_days} days ended "
            f"{lapse.last_day.isoformat()}"
        )
    return lines


@click.command("lapse")
@click.option("--dry-run", is_flag=True, help="List what would lapse; change nothing.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Requests per batch, each its own transaction.",
)
@click.option(
    "--base-url",
    envvar="PC_BASE_URL",
    default=None,
    help="The privacy center's public address, for the link to file again (env PC_BASE_URL).",
)
# For tests and rehearsals: lapse as on another day.
@click.option("--now", "now_text", default=None, hidden=True)
@with_appcontext
def lapse_command(
    dry_run: bool, batch_size: int, base_url: str | None, now_text: str | None
) -> None:
    """Close the requests that waited too long for their requester (lapse_after_days in
    content/operator.yaml), and mail each requester why and how to file again."""
    now = moment_option(now_text)
    if not dry_run and not base_url:
        raise click.UsageError(
            "The lapse mail links to the request form: give --base-url https://privacy.example.com "
            "or set PC_BASE_URL. Nothing was done."
        )
    try:
        report = run_lapse(
            db.session,
            now=now,
            settings=current_app.config,
            form_url=_form_url(base_url) if base_url else None,
            dry_run=dry_run,
            batch_size=batch_size,
            on_batch=lambda batch: click.echo(f"  batch: {len(batch)} lapsed", err=True),
        )
    except LapseBusy:
        raise click.ClickException(
            "Another lapse run is under way: nothing was done. Run it again once that one has "
            "finished."
        ) from None
    day = report.today.isoformat()
    if dry_run:
        click.echo(
            f"Dry run: nothing changed. {len(report.lapsed)} request(s) would lapse on {day}:"
        )
    else:
        click.echo(f"{len(report.lapsed)} request(s) lapsed on {day}:")
    for line in describe(report):
        click.echo(line)
    if not dry_run:
        click.echo(f"Requesters told by email: {len(report.mailed)}.")
        for reference in report.no_email:
            click.echo(f"  {reference}: no email address; write to the requester by post.")
        if report.not_mailed:
            click.echo(
                f"Not mailed (tried again by the next run): {', '.join(report.not_mailed)}",
                err=True,
            )
            raise SystemExit(1)
