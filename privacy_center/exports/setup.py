"""Plugs the data download into the application: connectors, art. 15 information, pages, CLI."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from .. import connectors, jobs
from ..content import EXTENSION_KEY as CONTENT_KEY
from ..extensions import db
from ..models.types import utcnow
from .copies import purge_expired_exports
from .information import PROCESSING_KEY, load_processing
from .views import bp

exports_cli = AppGroup("exports", help="Copies of people's data prepared for download.")


@exports_cli.command("purge")
def purge_command() -> None:
    """Delete the prepared copies and the post-mortem data whose time is up
    (EXPORT_LIFETIME_DAYS), and the files a killed process left behind (flask storage sweep)."""
    from ..postmortem.delivery import purge_expired
    from ..storage import sweep_all

    expired = purge_expired_exports(db.session, utcnow())
    click.echo(f"Expired copies deleted: {expired}")
    directory = Path(current_app.config["EXPORT_DIR"])
    delivered = purge_expired(db.session, utcnow(), directory=directory)
    click.echo(f"Expired post-mortem data deleted: {delivered}")
    for name, report in sweep_all(db.session, current_app.config).items():
        if report.temporaries or report.orphans:
            click.echo(
                f"Left behind in {name}: {report.temporaries} temporary and {report.orphans} "
                "orphaned file(s) removed"
            )


def init_app(app: Flask) -> None:
    connectors.init_app(app)
    content = app.extensions[CONTENT_KEY]
    app.extensions[PROCESSING_KEY] = load_processing(
        Path(app.config["CONTENT_DIR"]) / "processing.yaml", content.operator.languages
    )
    app.register_blueprint(bp)
    app.cli.add_command(exports_cli)
    jobs.init_app(app)
