"""The signed-cookie session, opened only when the browser sent one.

Most pages (the policy above all) never use the session; not building a signing serializer for
each of their requests keeps them as fast as a bare route.

The staff console (paths under ``/staff``) has a session of its own: another cookie
(``pc_staff``: Path=/staff, HttpOnly, SameSite=Strict, host-only, Secure wherever the main
session cookie is), signed with another salt. An account holder's session is never read there,
and the staff cookie is never sent anywhere else: the two can never be mistaken for each other.
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.wrappers import Response

STAFF_PREFIX = "/staff"
STAFF_COOKIE = "pc_staff"


def is_staff_path(path: str) -> bool:
    """True for ``/staff`` and every path below it (not for ``/staffing``)."""
    return path == STAFF_PREFIX or path.startswith(STAFF_PREFIX + "/")


class StaffSession(SecureCookieSession):
    """The session of the staff console; saved in the staff cookie only."""


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
