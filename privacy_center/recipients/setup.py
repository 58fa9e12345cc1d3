"""Plug the recipients into the application: the register (checked at start-up, after the
connectors whose categories it names), the pages, the command and the staff page's section."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from ..connectors import EXTENSION_KEY as CONNECTORS_KEY
from ..content import EXTENSION_KEY as CONTENT_KEY
from .cli import recipients_cli
from .display import category_choices, staff_notifications
from .register import EXTENSION_KEY, load_recipients
from .views import bp


def init_app(app: Flask) -> None:
    content = app.extensions[CONTENT_KEY]
    connectors = app.extensions[CONNECTORS_KEY]
    app.extensions[EXTENSION_KEY] = load_recipients(
        Path(app.config["CONTENT_DIR"]) / "recipients.yaml",
        content.operator.languages,
        [category.key for category in connectors.categories()],
    )
    app.register_blueprint(bp)
    app.cli.add_command(recipients_cli)
    app.add_template_global(staff_notifications, "recipient_notifications")
    app.add_template_global(category_choices, "recipient_category_choices")
