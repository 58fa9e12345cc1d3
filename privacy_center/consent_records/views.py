"""Consent records for the DPO and admins: search, export (CSV, JSON) and the dashboard.

Thin views: the filter is checked by a service (a bad one answers 400 with its message), one
service function gives the page or the streamed export.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import Blueprint, Response, current_app, render_template, request, stream_with_context

from ..consent import dashboard as figures
from ..consent import records
from ..consent.rollup import OPTIONAL_CATEGORIES
from ..consent.services import ACTIONS
from ..consent.widget import load_builds
from ..content import EXTENSION_KEY
from ..extensions import db
from ..i18n import current_language
from ..staff.auth.access import current_staff, staff_actor, staff_required

bp = Blueprint(
    "consent_records",
    __name__,
    url_prefix="/staff/consent-records",
    template_folder="templates",
)


def _categories() -> dict[str, str]:
    registry = current_app.extensions[EXTENSION_KEY].registry
    names = {category.key: category.name(current_language()) for category in registry.categories}
    return {key: names.get(key, key) for key in OPTIONAL_CATEGORIES}


def _page(template: str, status: int = 200, **context: object) -> tuple[str, int]:
    page = render_template(
        template, me=current_staff(), can_see_figures=True, actions=ACTIONS, **context
    )
    return page, status


@bp.get("/")
@staff_required("dpo")
def search() -> tuple[str, int]:
    sites = records.site_keys(db.session)
    try:
        query = records.parse_filter(request.args, sites)
    except records.InvalidFilter as error:
        return _page("consent_records/search.html", 400, sites=sites, error=str(error),
                     args=request.args, found=None, query=None)  # fmt: skip
    page = request.args.get("page", "1")
    found = records.search_receipts(db.session, query, int(page) if page.isdigit() else 1)
    return _page("consent_records/search.html", sites=sites, error=None, args=request.args,
                 found=found, query=query)  # fmt: skip


def _export(kind: str) -> Response | tuple[str, int]:
    sites = records.site_keys(db.session)
    try:
        query = records.parse_filter(request.args, sites)
    except records.InvalidFilter as error:
        return _page("consent_records/search.html", 400, sites=sites, error=str(error),
                     args=request.args, found=None, query=None)  # fmt: skip
    records.audit_export(db.session, actor=staff_actor(), query=query, kind=kind)
    now = datetime.now(UTC)
    if kind == "csv":
        body = records.export_csv(db.session, query, load_builds())
        mimetype = "text/csv; charset=utf-8"
    else:
        body = records.export_json(db.session, query, load_builds(), exported_at=now)
        mimetype = "application/json"
    response = Response(stream_with_context(body), mimetype=mimetype)
    response.headers["Content-Type"] = mimetype
    name = f"consent-receipts-{now:%Y%m%dT%H%M%SZ}.{kind}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.get("/export.csv")
@staff_required("dpo")
def export_csv() -> Response | tuple[str, int]:
    return _export("csv")


@bp.get("/export.json")
@staff_required("dpo")
def export_json() -> Response | tuple[str, int]:
    return _export("json")


@bp.get("/dashboard")
@staff_required("dpo")
def dashboard() -> tuple[str, int]:
    sites = records.site_keys(db.session)
    today: date = datetime.now(UTC).date()
    try:
        query = figures.parse_dashboard_filter(request.args, today=today, sites=sites)
    except records.InvalidFilter as error:
        return _page("consent_records/dashboard.html", 400, sites=sites, error=str(error),
                     args=request.args, numbers=None, chart=None, query=None,
                     categories=_categories())  # fmt: skip
    numbers = figures.consent_figures(db.session, query)
    return _page(
        "consent_records/dashboard.html",
        sites=sites,
        error=None,
        args=request.args,
        numbers=numbers,
        chart=figures.chart_svg(numbers.days, language=current_language()),
        query=query,
        categories=_categories(),
        series=figures.series_labels(),
    )
