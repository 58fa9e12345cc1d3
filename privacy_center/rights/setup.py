"""Plugs the rights pages and the ``requests`` commands into the application."""

from flask import Flask

from ..letters.services import register_request_facts
from .cli import requests_cli
from .intake import CHANNEL_LABELS
from .letter_facts import letter_facts
from .views import bp


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.cli.add_command(requests_cli)
    # How a request arrived, in words, for the console's pages.
    app.jinja_env.globals["channel_labels"] = CHANNEL_LABELS
    # What a letter says of a request: the letters know no feature.
    register_request_facts(app, letter_facts)
