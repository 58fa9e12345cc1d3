"""``flask demo seed``: load the demo operator into the database (idempotent): its sites, the
demo account holders of ``demo.py`` and their consent receipts' daily rollup."""

from __future__ import annotations

from dataclasses import dataclass

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..consent.rollup import backfill
from ..content import OperatorContent, get_content
from ..extensions import db
from ..models import Site
from .demo import seed_audience_statistics, seed_demo_accounts

demo_cli = AppGroup("demo", help="The demo operator.")


@dataclass(frozen=True)
class SeedReport:
    created: int
    updated: int
    unchanged: int
    accounts_created: int = 0
    audience_rows: int = 0


def seed_demo(session: Session, content: OperatorContent) -> SeedReport:
    """Create or update the operator's sites, create the demo account holders and add the
    audience statistics of the days not recorded yet; running it again changes nothing."""
    created = updated = unchanged = 0
    for declared in content.operator.sites:
        site = session.scalar(select(Site).where(Site.key == declared.key))
        origins = list(declared.origins)
        if site is None:
            session.add(Site(key=declared.key, name=declared.name, origins=origins))
            created += 1
        elif site.name != declared.name or site.origins != origins:
            site.name, site.origins = declared.name, origins
            updated += 1
        else:
            unchanged += 1
    session.flush()
    accounts = seed_demo_accounts(session, content.operator.today(), content=content)
    audience = seed_audience_statistics(session, content.operator.today())
    session.commit()
    if accounts:
        # The demo holders' consent receipts, counted on the consent dashboard.
        backfill(session)
    return SeedReport(created, updated, unchanged, accounts, audience)


@demo_cli.command("seed")
@click.option(
    "--allow-production",
    is_flag=True,
    help="Run even in production (PC_ENV=production): it adds made-up account holders.",
)
def seed_command(allow_production: bool) -> None:
    """Load the demo operator's sites and accounts (running it twice changes nothing)."""
    if current_app.config["ENVIRONMENT"] == "production" and not allow_production:
        raise click.ClickException(
            "refusing to load the demo operator in production (PC_ENV=production): it creates "
            "demo account holders with known passwords and made-up data beside real people's. "
            "Nothing was changed. Use PC_ENV=development for a demo, or pass --allow-production "
            "if this database really is a demonstration."
        )
    report = seed_demo(db.session, get_content())
    click.echo(
        f"Sites: {report.created} created, {report.updated} updated, {report.unchanged} unchanged"
    )
    click.echo(f"Demo accounts: {report.accounts_created} created")
    click.echo(f"Audience statistics: {report.audience_rows} daily rows added")


def init_app(app: Flask) -> None:
    app.cli.add_command(demo_cli)
