"""Wire account sign-in into the application."""

from __future__ import annotations

from flask import Flask, has_request_context, request
from flask_babel import lazy_gettext as _l

from ..extensions import csrf, db, login_manager
from ..models import Account, StaffMember
from ..sessions import is_staff_path
from .views import bp, unsubscribe_page


def load_user(user_id: str) -> Account | StaffMember | None:
    """Flask-Login's loader: session ids are "account:<id>" or "staff:<id>".

    A staff member is loaded only under /staff and an account holder only elsewhere: even a
    session that somehow reached the wrong place opens nothing there.
    """
    kind, _, number = user_id.partition(":")
    if not number.isdigit():
        return None
    staff_path = has_request_context() and is_staff_path(request.path)
    user: Account | StaffMember | None
    if kind == "staff" and staff_path:
        user = db.session.get(StaffMember, int(number))
    elif kind == "account" and not staff_path:
        user = db.session.get(Account, int(number))
    else:
        return None
    return user if user is not None and user.is_active else None


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please sign in to see this page.")
    # RFC 8058 one-click unsubscribe: mail clients post without any CSRF token (see the view).
    csrf.exempt(unsubscribe_page)
    app.register_blueprint(bp)
