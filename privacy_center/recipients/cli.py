"""``flask --app wsgi recipients notify [--base-url URL]``: tell the recipients whose
notification is due (for cron, every few minutes)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from ..cli_options import moment_option
from ..extensions import db
from .delivery import deliver_due, due_rows

recipients_cli = AppGroup("recipients", help="Article 19: tell the recipients of a person's data.")


@recipients_cli.command("notify")
@click.option(
    "--base-url",
    envvar="PC_BASE_URL",
    help="The privacy center's public address, for the acknowledgement link of emails "
    "(env PC_BASE_URL).",
)
@click.option(
    "--now",
    "now_text",
    help="Run as if it were this moment (ISO, with its offset), to test a schedule.",
)
def notify_command(base_url: str | None, now_text: str | None) -> None:
    """Try every notification that is due (new ones, and failed ones whose wait is over)."""
    now = moment_option(now_text)
    due = due_rows(db.session, now)
    if not base_url and any(row.channel == "email" for row in due):
        raise click.ClickException(
            "an email notification is due and its acknowledgement link needs the privacy "
            "center's address: pass --base-url https://privacy.example.com or set PC_BASE_URL"
        )
    if base_url and not base_url.startswith(("http://", "https://")):
        raise click.BadParameter(
            "give an address like https://privacy.example.com", param_hint="--base-url"
        )
    outcomes = deliver_due(db.session, settings=current_app.config, base_url=base_url, now=now)
    for outcome in outcomes:
        line = f"{outcome.reference}: {outcome.recipient} {outcome.state}"
        click.echo(f"{line} ({outcome.error})" if outcome.error else line)
    failed = sum(1 for outcome in outcomes if outcome.error)
    click.echo(f"{len(outcomes)} notification(s) tried, {failed} not reached.")
