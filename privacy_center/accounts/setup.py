"""Wire account sign-in into the application."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import lazy_gettext as _l

from ..extensions import csrf, db, login_manager
from ..models import Account, StaffMember
from ..session_records import RECORD_KEY, SESSION_ID_KEY, live_record
from ..sessions import is_staff_path
from .views import bp, unsubscribe_page


def load_user(user_id: str) -> Account | StaffMember | None:
    """Flask-Login's loader: session ids are "account:<id>" or "staff:<id>".

    A staff member is loaded only under /staff and an account holder only elsewhere: even a
    session that somehow reached the wrong place opens nothing there. And only while the
    session's record on the server is live (session_records.py): a copy of a cookie taken before
    signing out, or a session ended by an admin, a reset or its time, opens nothing.
    """
    kind, _, number = user_id.partition(":")
    if not number.isdigit() or not has_request_context():
        return None
    staff_path = is_staff_path(request.path)
    model: type[Account] | type[StaffMember]
    if kind == "staff" and staff_path:
        model = StaffMember
        idle = timedelta(minutes=current_app.config["STAFF_IDLE_MINUTES"])
    elif kind == "account" and not staff_path:
        model, idle = Account, None
    else:
        return None
    record = live_record(db.session, session.get(SESSION_ID_KEY), user_id=user_id, idle=idle)
    if record is None:
        return None
    user = db.session.get(model, int(number))
    if user is None or not user.is_active:
        return None
    setattr(g, RECORD_KEY, record)
    return user


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please sign in to see this page.")
    # RFC 8058 one-click unsubscribe: mail clients post without any CSRF token (see the view).
    csrf.exempt(unsubscribe_page)
    app.register_blueprint(bp)
