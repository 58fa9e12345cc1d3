"""Plug retention into the application: its rules (checked at start-up), staff page, command."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from ..content import EXTENSION_KEY as CONTENT_KEY
from .cli import retention_cli
from .rules import EXTENSION_KEY, load_enforcement
from .views import bp


def init_app(app: Flask) -> None:
    content = app.extensions[CONTENT_KEY]
    app.extensions[EXTENSION_KEY] = load_enforcement(
        Path(app.config["CONTENT_DIR"]) / "retention.yaml", content.retention
    )
    app.register_blueprint(bp)
    app.cli.add_command(retention_cli)
