"""Pages of the article 19 notifications: staff try a failed one again or record an
acknowledgement; an email recipient acknowledges with the link of its mail. Thin: validate, call
one service, redirect."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..models import PrivacyRequest, RecipientNotification
from ..staff.auth.access import current_staff, staff_required
from . import delivery, services

bp = Blueprint("recipients", __name__, template_folder="templates")


def _row_or_404(reference: str, notification_id: int) -> RecipientNotification:
    found = db.session.scalar(select(PrivacyRequest).where(PrivacyRequest.reference == reference))
    row = services.find_notification(db.session, found, notification_id) if found else None
    if row is None:
        abort(404)
    return row


def _back(reference: str) -> Response:
    return redirect(url_for("staff.detail", reference=reference) + "#recipients", 303)


@bp.post("/staff/requests/<reference>/recipients/<int:notification_id>/retry")
@staff_required()
def retry(reference: str, notification_id: int) -> Response:
    row = _row_or_404(reference, notification_id)
    member = current_staff()
    assert member is not None
    try:
        services.retry(db.session, row, staff=member)
    except services.NotificationRefused:
        flash(_("Only a failed notification can be tried again."))
        return _back(reference)
    outcome = delivery.deliver_one(
        db.session, row, settings=current_app.config, base_url=request.url_root
    )
    if outcome is not None and outcome.error is None:
        delivery.inform_requesters(db.session, settings=current_app.config)
        flash(_("%(recipient)s has been told.", recipient=row.recipient_name))
    else:
        flash(_("%(recipient)s could not be reached again.", recipient=row.recipient_name))
    return _back(reference)


@bp.post("/staff/requests/<reference>/recipients/<int:notification_id>/acknowledged")
@staff_required()
def mark_acknowledged(reference: str, notification_id: int) -> Response:
    row = _row_or_404(reference, notification_id)
    member = current_staff()
    assert member is not None
    if services.acknowledge(db.session, row, actor=member.get_id()):
        delivery.inform_requesters(db.session, settings=current_app.config)
        flash(_("Recorded: %(recipient)s acknowledged.", recipient=row.recipient_name))
    return _back(reference)


def _by_token(token: str) -> RecipientNotification | None:
    if not token or len(token) > 100:
        return None
    return db.session.scalar(
        select(RecipientNotification).where(
            RecipientNotification.ack_token_hash == delivery.token_hash(token)
        )
    )


@bp.route("/recipients/acknowledge/<token>", methods=["GET", "POST"])
def acknowledge(token: str) -> str | tuple[str, int]:
    """The link of a recipient's mail: a page with a button (mail scanners that fetch every
    link acknowledge nothing), then the acknowledgement."""
    row = _by_token(token)
    if row is None:
        return render_template("recipients/acknowledge.html", row=None), 404
    done = row.state == "acknowledged"
    if request.method == "POST" and not done:
        services.acknowledge(db.session, row, actor="recipient")
        delivery.inform_requesters(db.session, settings=current_app.config)
        done = True
    reference = db.session.get(PrivacyRequest, row.request_id).reference  # type: ignore[union-attr]
    return render_template("recipients/acknowledge.html", row=row, reference=reference, done=done)
