"""Plug the consent records pages into the application."""

from __future__ import annotations

from flask import Flask

from ..errors import use_error_layout
from .views import bp


def init_app(app: Flask) -> None:
    use_error_layout(app, "consent_records", "staff/_layout.html")
    app.register_blueprint(bp)
