"""Plugs the policy feature into the application."""

from flask import Flask

from .cli import policy_cli
from .fastpath import PrerenderedPages
from .services import PageCache
from .views import CACHE_KEY, bp


def init_app(app: Flask) -> None:
    app.extensions[CACHE_KEY] = PageCache()
    app.register_blueprint(bp)
    app.cli.add_command(policy_cli)
    app.wsgi_app = PrerenderedPages(app.wsgi_app, app, CACHE_KEY)  # type: ignore[method-assign]
