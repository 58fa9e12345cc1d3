"""Plugs the consent feature into the application."""

from flask import Flask

from ..extensions import csrf, db
from .cli import consent_cli
from .intake import ReceiptIntake
from .services import batch_insert_for
from .views import WRITER, bp
from .writer import ReceiptWriter


def init_app(app: Flask) -> None:
    # A JSON API for other origins: the Origin check and CORS protect it, not a CSRF token.
    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.cli.add_command(consent_cli)
    if app.config["RECEIPT_GROUP_COMMIT"]:
        with app.app_context():
            writer = ReceiptWriter(db.engine, batch_insert_for(db.engine.dialect))
        app.extensions[WRITER] = writer
        app.wsgi_app = ReceiptIntake(app.wsgi_app, app, writer)  # type: ignore[method-assign]
