"""Plugs the letters into the application: their templates (letters/ and the mail that carries
a letter) join the app's template loader. The letters have no pages of their own."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("letters", __name__, template_folder="templates")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
