"""Plugs the consent feature into the application."""

from flask import Flask

from ..extensions import csrf
from .cli import consent_cli
from .views import bp


def init_app(app: Flask) -> None:
    # A JSON API for other origins: the Origin check and CORS protect it, not a CSRF token.
    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.cli.add_command(consent_cli)
