"""Plug the recipients into the application: the register (checked at start-up, after the
connectors whose categories it names), the pages, the command and the staff page's section."""

from __future__ import annotations

from flask import Flask

from ..connectors import EXTENSION_KEY as CONNECTORS_KEY
from ..content import EXTENSION_KEY as CONTENT_KEY
from ..content.recipients import EXTENSION_KEY, check_categories
from .cli import recipients_cli
from .display import category_choices, staff_notifications
from .views import bp


def init_app(app: Flask) -> None:
    # Read with the rest of the content (the policy lists the recipients); the categories
    # each holds are checked now that connectors.yaml is loaded.
    register = app.extensions[CONTENT_KEY].recipients
    check_categories(register, [item.key for item in app.extensions[CONNECTORS_KEY].categories()])
    app.extensions[EXTENSION_KEY] = register
    app.register_blueprint(bp)
    app.cli.add_command(recipients_cli)
    app.add_template_global(staff_notifications, "recipient_notifications")
    app.add_template_global(category_choices, "recipient_category_choices")
