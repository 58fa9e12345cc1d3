"""Plug retention into the application: its rules (checked at start-up), staff page, command."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from ..connectors import EXTENSION_KEY as CONNECTORS_KEY
from ..content import EXTENSION_KEY as CONTENT_KEY
from ..errors import use_error_layout
from ..extensions import csrf
from .activity_sources import activity_kinds, check_connectors
from .activity_views import api as activity_api
from .activity_views import links as activity_links
from .cli import retention_cli
from .rules import EXTENSION_KEY, load_enforcement
from .views import bp


def init_app(app: Flask) -> None:
    use_error_layout(app, "retention", "staff/_layout.html")
    content = app.extensions[CONTENT_KEY]
    path = Path(app.config["CONTENT_DIR"]) / "retention.yaml"
    rules = load_enforcement(path, content.retention, content.operator.languages)
    connectors = app.extensions[CONNECTORS_KEY]
    for rule in rules:
        check_connectors(rule.activity, connectors, f"{path}: rule {rule.key!r}: enforce")
    app.extensions[EXTENSION_KEY] = rules
    app.register_blueprint(bp)
    app.jinja_env.globals["activity_kinds"] = activity_kinds
    # The mailer's feed is a JSON API authenticated by its bearer token, not a form.
    csrf.exempt(activity_api)
    app.register_blueprint(activity_api)
    app.register_blueprint(activity_links)
    app.cli.add_command(retention_cli)
