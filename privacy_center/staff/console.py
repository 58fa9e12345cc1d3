"""What every console page needs: the signed-in member, the operator's today, the request named
in the address; and what the console's layout (templates/staff/_layout.html) asks of any page,
whichever feature draws it: the member signed in and whether they may see the figures."""

from __future__ import annotations

from datetime import date

from flask import abort

from ..content import get_content
from ..extensions import db
from ..models import PrivacyRequest, StaffMember
from .auth.access import current_staff, has_role
from .auth.forms import ROLE_LABELS
from .blueprint import bp
from .queue import find_request


def operator_today() -> date:
    """Today in the operator's time zone."""
    return get_content().operator.today()


def signed_in() -> StaffMember:
    """The member signed in (on a route guarded by ``staff_required``)."""
    member = current_staff()
    assert member is not None  # staff_required let the request in
    return member


def request_or_404(reference: str) -> PrivacyRequest:
    """The request of ``reference`` (any spelling), or a 404."""
    found = find_request(db.session, reference)
    if found is None:
        abort(404)
    return found


@bp.app_template_global("console_member")
def consolemember() -> StaffMember | None:
    """The member signed in with both factors, for the console's header (None on the sign-in
    steps)."""
    return current_staff()


@bp.app_template_global("console_sees_figures")
def console_sees_figures(signed_in: StaffMember) -> bool:
    """Whether the navigation offers the DPO's pages (dashboard, register, retention...)."""
    return has_role(signed_in, "dpo")


@bp.app_template_global("console_role")
def console_role(role: str) -> str:
    """A member's role in words (the console's header)."""
    return str(ROLE_LABELS.get(role, role))
