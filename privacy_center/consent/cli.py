"""``flask consent receipt ID``: look a consent receipt up (for staff)."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from ..extensions import db
from .rollup import backfill
from .services import find_receipt, receipt_document

consent_cli = AppGroup("consent", help="Proof of consent.")


@consent_cli.command("receipt")
@click.argument("receipt_id")
def receipt_command(receipt_id: str) -> None:
    """Print the consent receipt RECEIPT_ID as JSON."""
    stored = find_receipt(db.session, receipt_id)
    if stored is None:
        raise click.ClickException(f"no consent receipt has the id {receipt_id!r}")
    click.echo(json.dumps(receipt_document(stored, stored.site.key), indent=2, ensure_ascii=False))


@consent_cli.command("rollup-backfill")
def rollup_backfill_command() -> None:
    """Rebuild the consent dashboard's daily counts from the stored receipts (idempotent)."""
    days, rows = backfill(db.session)
    click.echo(f"consent rollup rebuilt: {days} day(s), {rows} row(s)")
