"""Plugs the rights pages and the ``requests`` commands into the application."""

from flask import Flask

from .cli import requests_cli
from .views import bp


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.cli.add_command(requests_cli)
