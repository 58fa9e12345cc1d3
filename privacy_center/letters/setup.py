"""Plugs the letters into the application: their templates (letters/ and the mail that carries
a letter) join the app's template loader, and the outbox's command (``mail deliver``) its CLI.
The letters have no pages of their own."""

from __future__ import annotations

from flask import Blueprint, Flask

from .. import mail_cli
from .samples import letters_cli

bp = Blueprint("letters", __name__, template_folder="templates")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    # The outbox that carries letters by mail: ``flask mail deliver``.
    mail_cli.init_app(app)
    # Every letter with demo data, for review: ``flask letters sample``.
    app.cli.add_command(letters_cli)
