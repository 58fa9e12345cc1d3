"""Wire account sign-in into the application."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from ..extensions import csrf, db, login_manager
from ..models import Account
from .views import bp, unsubscribe_page


def load_user(user_id: str) -> Account | None:
    """Flask-Login's loader: session ids are "account:<id>" (staff members get their own prefix)."""
    kind, _, number = user_id.partition(":")
    if kind != "account" or not number.isdigit():
        return None
    account = db.session.get(Account, int(number))
    return account if account is not None and account.is_active else None


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please sign in to see this page.")
    # RFC 8058 one-click unsubscribe: mail clients post without any CSRF token (see the view).
    csrf.exempt(unsubscribe_page)
    app.register_blueprint(bp)
