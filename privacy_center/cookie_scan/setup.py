"""Plug the cookie scanner into the application: its command and its staff page."""

from __future__ import annotations

from flask import Flask

from ..errors import use_error_layout
from .cli import cookies_cli
from .views import bp


def init_app(app: Flask) -> None:
    use_error_layout(app, "cookie_scan", "staff/_layout.html")
    app.register_blueprint(bp)
    app.cli.add_command(cookies_cli)
