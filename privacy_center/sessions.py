"""The signed-cookie session, opened only when the browser sent one.

Most pages (the policy above all) never use the session; not building a signing serializer for
each of their requests keeps them as fast as a bare route.

The staff console (paths under ``/staff``) has a session of its own: another cookie
(``pc_staff``: Path=/staff, HttpOnly, SameSite=Strict, host-only, Secure wherever the main
session cookie is), signed with another salt. An account holder's session is never read there,
and the staff cookie is never sent anywhere else: the two can never be mistaken for each other.

A session counts as used (``Vary: Cookie``) only when the request's own code looks at it:
Flask-Login's after-request bookkeeping of a remember-me cookie (a feature not used here) looks at
every session, which made public files and the widget configuration vary on the cookie and
defeated shared caches. That look is made quietly (``quietly``).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_login import LoginManager
from werkzeug.wrappers import Response

STAFF_PREFIX = "/staff"
STAFF_COOKIE = "pc_staff"


def is_staff_path(path: str) -> bool:
    """True for ``/staff`` and every path below it (not for ``/staffing``)."""
    return path == STAFF_PREFIX or path.startswith(STAFF_PREFIX + "/")


_QUIET: ContextVar[bool] = ContextVar("pc_session_quiet", default=False)


class _CountedAccess:
    """``accessed`` as Flask sets it, except while bookkeeping looks quietly."""

    @property
    def accessed(self) -> bool:
        return bool(self.__dict__.get("_pc_accessed", False))

    @accessed.setter
    def accessed(self, value: bool) -> None:
        if not _QUIET.get():
            self.__dict__["_pc_accessed"] = value


class Session(_CountedAccess, SecureCookieSession):
    """The account holders' session."""


class StaffSession(_CountedAccess, SecureCookieSession):
    """The session of the staff console; saved in the staff cookie only."""


AfterRequest = Callable[[Response], Response]


def quietly(hook: AfterRequest) -> AfterRequest:
    """Run an after-request hook whose look at the session is no use of it."""

    def run(response: Response) -> Response:
        token = _QUIET.set(True)
        try:
            return hook(response)
        finally:
            _QUIET.reset(token)

    return run


class StaffCookieInterface(SecureCookieSessionInterface):
    salt = "pc-staff-session"
    session_class = StaffSession

    def get_cookie_name(self, app: Flask) -> str:
        return STAFF_COOKIE

    def get_cookie_domain(self, app: Flask) -> str | None:
        return None  # host-only: never shared with a sibling domain

    def get_cookie_path(self, app: Flask) -> str:
        return STAFF_PREFIX

    def get_cookie_httponly(self, app: Flask) -> bool:
        return True

    def get_cookie_samesite(self, app: Flask) -> str:
        return "Strict"


class LazySessionInterface(SecureCookieSessionInterface):
    session_class = Session

    def __init__(self) -> None:
        self.staff = StaffCookieInterface()

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        staff = is_staff_path(request.path)
        interface = self.staff if staff else super()
        if "HTTP_COOKIE" not in request.environ or not request.cookies.get(
            interface.get_cookie_name(app)
        ):
            return StaffSession() if staff else self.session_class()
        return interface.open_session(app, request)

    def save_session(self, app: Flask, session: SecureCookieSession, response: Response) -> None:
        if isinstance(session, StaffSession):
            self.staff.save_session(app, session, response)
        else:
            super().save_session(app, session, response)


def init_app(app: Flask, login_manager: LoginManager) -> None:
    """Flask-Login's remember-cookie hook looks at the session quietly (call after its init)."""
    hooks = app.after_request_funcs.setdefault(None, [])
    remember = login_manager._update_remember_cookie
    app.after_request_funcs[None] = [quietly(h) if h == remember else h for h in hooks]
