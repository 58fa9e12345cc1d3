"""Pages of the data download: start a copy, follow its preparation, download it."""

from __future__ import annotations

import re
from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField

from ..connectors import get_connectors
from ..content import get_content
from ..extensions import db, rate_limiter
from ..i18n import current_language
from ..models import DataExport
from ..models.types import utcnow
from ..tokens import find_token
from .copies import (
    FeeNotAcknowledged,
    downloadable,
    fee_notice,
    link_export,
    next_copy_number,
    owned_export,
    redeem_download_link,
    start_export,
)
from .serving import queue_export, stream_to_person
from .stored import damaged, open_download

bp = Blueprint("exports", __name__, url_prefix="/rights/download", template_folder="templates")

# Copies listed on the download page.
LISTED_COPIES = 10


class StartExportForm(FlaskForm):
    acknowledge = BooleanField()


class LinkDownloadForm(FlaskForm):
    """Only the CSRF token: the link's page has a button, so that mail scanners opening the
    link do not use it up."""


def _file_name(export: DataExport, day: date) -> str:
    # Only letters, digits and dashes: the operator's name may hold anything.
    operator = re.sub(r"[^a-z0-9]+", "-", get_content().operator.name.lower()).strip("-")
    return f"{operator or 'data'}-my-data-{day.isoformat()}-copy-{export.copy_number}.zip"


def _zip_response(body: object, export: DataExport, length: int | None = None) -> Response:
    response = Response(body, mimetype="application/zip")
    if length is not None:
        # A stream cut short (a file found altered while it is sent) is then visibly incomplete.
        response.content_length = length
    name = _file_name(export, (export.created_at or utcnow()).date())
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    # A copy of someone's data is never kept by a browser or proxy cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("", methods=["GET", "POST"])
@login_required
def index() -> Response | str | tuple[str, int]:
    account = current_user._get_current_object()
    operator = get_content().operator
    language = current_language()
    form = StartExportForm()
    notice = fee_notice(db.session, account.id, operator, language)
    error = None
    if request.method == "POST" and form.validate():
        config = current_app.config
        # Only copies that would start are counted (not a missing acknowledgement).
        if (notice is None or form.acknowledge.data) and not rate_limiter.hit(
            config["EXPORT_RATE_LIMIT"], "export", account.email
        ):
            abort(429)
        try:
            export = start_export(
                db.session,
                account=account,
                language=language,
                fee_acknowledged=bool(form.acknowledge.data),
                operator=operator,
                connectors=get_connectors(),
            )
        except FeeNotAcknowledged:
            error = _(
                "Please confirm that you have read the notice about further copies: tick the box, "
                "then ask for your copy again."
            )
        else:
            if export.state == "failed":
                return redirect(url_for(".status", export_id=export.id), 303)
            if export.rows_total <= config["EXPORT_INLINE_MAX_ROWS"]:
                chunks = stream_to_person(db.session, export.id, base_url=request.url_root)
                return _zip_response(stream_with_context(chunks), export)
            queue_export(db.session, export.id, config, request.url_root)
            return redirect(url_for(".status", export_id=export.id), 303)
    copies = db.session.scalars(
        select(DataExport)
        .where(DataExport.account_id == account.id)
        .order_by(DataExport.id.desc())
        .limit(LISTED_COPIES)
    ).all()
    page = render_template(
        "exports/download.html",
        form=form,
        notice=notice,
        error=error,
        copies=copies,
        next_copy=next_copy_number(db.session, account.id),
        now=utcnow(),
    )
    return (page, 400) if error else page


@bp.get("/<int:export_id>")
@login_required
def status(export_id: int) -> str:
    export = owned_export(db.session, export_id, current_user.id)
    if export is None:
        abort(404)
    return _status_page(export)


def _status_page(export: DataExport) -> str:
    now = utcnow()
    return render_template(
        "exports/status.html",
        export=export,
        refresh=export.state in ("queued", "running"),
        available=downloadable(export, now),
        damaged=damaged(export),
        percent=int(100 * export.rows_done / export.rows_total) if export.rows_total else 0,
        rows_done=format_decimal(export.rows_done),
        rows_total=format_decimal(export.rows_total),
        size_mb=format_decimal(round((export.size_bytes or 0) / 2**20, 1)),
    )


@bp.get("/<int:export_id>/file")
@login_required
def file(export_id: int) -> Response | tuple[str, int]:
    export = owned_export(db.session, export_id, current_user.id)
    if export is None or not downloadable(export, utcnow()):
        abort(404)
    return _download(export)


def _download(export: DataExport) -> Response | tuple[str, int]:
    """The stored copy, decrypted as it is sent; a file that fails its integrity check is not
    sent: the status page says so, with an error status (a browser's download fails)."""
    download = open_download(db.session, export, current_app.config)
    if download is None:
        return _status_page(export), 500
    response = _zip_response(download.chunks(), export, download.length)
    response.call_on_close(download.close)
    return response


@bp.get("/link/<token>")
def link(token: str) -> tuple[str, int]:
    found = find_token(db.session, purpose="download", token=token)
    export = link_export(db.session, found.export_id, utcnow()) if found else None
    return render_template(
        "exports/link.html", form=LinkDownloadForm(), valid=export is not None, export=export
    ), 200 if export is not None else 404


@bp.post("/link/<token>")
def link_download(token: str) -> Response | tuple[str, int]:
    export = redeem_download_link(db.session, token)
    if export is None:
        db.session.commit()  # a used-up or expired link stays used
        return render_template(
            "exports/link.html", form=LinkDownloadForm(), valid=False, export=None
        ), 404
    return _download(export)
