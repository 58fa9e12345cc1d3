"""Wire the staff console into the application: its blueprint, pages and commands."""

from __future__ import annotations

from flask import Flask

from ..errors import use_error_layout

# Imported for their routes, which they add to the shared blueprint.
from . import (  # noqa: F401
    action_views,
    document_views,
    intake_views,
    letter_views,
    mail_views,
    request_views,
    views,
)
from .auth import member_views  # noqa: F401
from .auth import views as auth_views  # noqa: F401
from .auth.cli import staff_cli
from .blueprint import bp
from .reminders import reminders_cli


def init_app(app: Flask) -> None:
    use_error_layout(app, "staff", "staff/_layout.html")
    app.register_blueprint(bp)
    app.cli.add_command(staff_cli)
    app.cli.add_command(reminders_cli)
