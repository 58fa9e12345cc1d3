"""Plugs the rights pages and the ``requests`` commands into the application."""

from flask import Flask

from .cli import requests_cli
from .intake import CHANNEL_LABELS
from .views import bp


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.cli.add_command(requests_cli)
    # How a request arrived, in words, for the console's pages.
    app.jinja_env.globals["channel_labels"] = CHANNEL_LABELS
