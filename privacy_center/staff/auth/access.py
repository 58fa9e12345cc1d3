"""Who may do what in the staff console.

Roles form a ladder; each role may do everything the roles below it may:

| role  | may |
|-------|-----|
| agent | the queue, requests and their actions except refusing and extending, notes, letters |
| dpo   | and refuse, extend, the dashboard, the register export, retention, the cookie scan |
| admin | and manage staff accounts (/staff/members) |

``staff_required("dpo")`` lets a DPO and an admin in, and answers an agent 403. A route is
only reached by a member signed in with both factors: without a session the browser goes to
the sign-in page, with only the password checked to the code step.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import make_response, redirect, render_template, request, session, url_for
from flask_login import current_user

from ...models import STAFF_ROLES, StaffMember

ROLE_RANK = {role: rank for rank, role in enumerate(STAFF_ROLES)}
# Set in the staff session after the password: the member's id, waiting for the code.
PENDING_KEY = "staff_pending"
PENDING_AT_KEY = "staff_pending_at"

View = TypeVar("View", bound=Callable[..., Any])


def has_role(member: StaffMember, *roles: str) -> bool:
    """True when ``member`` stands at or above the lowest of ``roles`` (any member if none)."""
    unknown = [role for role in roles if role not in ROLE_RANK]
    if unknown:
        raise ValueError(f"unknown staff roles: {unknown}")
    if not roles:
        return True
    return ROLE_RANK.get(member.role, -1) >= min(ROLE_RANK[role] for role in roles)


def current_staff() -> StaffMember | None:
    """The staff member signed in with both factors on this request, or None."""
    user = current_user._get_current_object()  # type: ignore[attr-defined]
    if isinstance(user, StaffMember) and user.is_authenticated:
        return user
    return None


def staff_actor() -> str:
    """The audit log's actor for the signed-in member: "staff:<id>"."""
    member = current_staff()
    if member is None:
        raise RuntimeError("staff_actor() needs a signed-in staff member")
    return member.get_id()


def target_path() -> str | None:
    """Where to come back after signing in: this page (for a GET)."""
    if request.method != "GET":
        return None
    return request.full_path.rstrip("?")


def staff_required(*roles: str) -> Callable[[View], View]:
    """Decorate a staff view: signed in with both factors, and at least one of ``roles``."""
    for role in roles:
        if role not in ROLE_RANK:
            raise ValueError(f"unknown staff role {role!r}: use one of {', '.join(STAFF_ROLES)}")

    def decorate(view: View) -> View:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            member = current_staff()
            if member is None:
                step = "staff.code" if session.get(PENDING_KEY) else "staff.sign_in"
                return redirect(url_for(step, next=target_path()))
            if not has_role(member, *roles):
                page = render_template(
                    "staff/auth/forbidden.html",
                    member=member,
                    roles=roles,
                )
                return make_response(page, 403)
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate
