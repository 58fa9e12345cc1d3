"""``flask --app wsgi mail deliver``: the durable fallback for every mail not yet delivered.

It attempts the queued mails of the outbox that are due (mail_queue.py), then works out the
sign-in and status links asked for that are still waiting (mail_intents.py). Run it every few
minutes from cron or a systemd timer (README).
"""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from .extensions import db
from .mail_intents import work_due
from .mail_queue import DEFAULT_BATCH, deliver_due

mail_cli = AppGroup("mail", help="The outbox of mails to requesters.")


@mail_cli.command("deliver")
@click.option(
    "--limit", type=click.IntRange(min=1), default=DEFAULT_BATCH, show_default=True,
    help="Mails attempted in this run at most (and as many links asked for).",
)  # fmt: skip
def deliver_command(limit: int) -> None:
    """Deliver the queued mails that are due (run it every few minutes from cron or systemd).

    Exits with status 1 when a mail failed again: it stays queued and is shown to staff."""
    run = deliver_due(db.session, current_app.config, limit=limit)
    click.echo(f"delivered {len(run.sent)}, failed {len(run.failed)}, waiting {run.waiting}")
    for mail in run.failed:
        click.echo(
            f"not delivered: mail {mail.id} to {mail.to_address} (attempt {mail.attempts}, next "
            f"{mail.next_attempt_at:%Y-%m-%d %H:%M} UTC): {mail.last_error}",
            err=True,
        )
    links = work_due(db.session, current_app.config, limit=limit)
    click.echo(
        f"links asked for: sent {links.sent}, nothing to send {links.nothing}, "
        f"failed {len(links.failed)}"
    )
    for intent in links.failed:
        # The intent's id, not the address typed: it may be anyone's.
        click.echo(
            f"not sent: link asked for (intent {intent.id}, {intent.kind}, attempt "
            f"{intent.attempts}, next {intent.next_attempt_at:%Y-%m-%d %H:%M} UTC): "
            f"{intent.last_error}",
            err=True,
        )
    if run.failed or links.failed:
        raise SystemExit(1)


def init_app(app: Flask) -> None:
    app.cli.add_command(mail_cli)
