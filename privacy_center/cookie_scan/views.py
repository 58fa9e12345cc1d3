"""The staff page of the cookie scanner: the last scan's report and when it ran (DPO, admin)."""

from __future__ import annotations

from flask import Blueprint, render_template

from ..extensions import db
from ..staff.auth.access import current_staff, staff_required
from .services import last_scan

bp = Blueprint(
    "cookie_scan", __name__, url_prefix="/staff/cookie-scan", template_folder="templates"
)


@bp.get("/")
@staff_required("dpo")
def index() -> str:
    scan = last_scan(db.session)
    return render_template(
        "cookie_scan/staff.html", scan=scan, me=current_staff(), can_see_figures=True
    )
