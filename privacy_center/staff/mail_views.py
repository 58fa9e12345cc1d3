"""The console's view of the outbox (mail_queue.py): the mails to requesters that could not be
delivered, shown on every console page until they are, and "retry now"."""

from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from .. import mail_queue
from ..extensions import db
from ..models import OutgoingMail, PrivacyRequest
from .auth.access import current_staff, has_role, staff_required
from .blueprint import bp
from .forms import RetryMailForm


@bp.app_template_global("undelivered_mail_count")
def undelivered_mail_count() -> int:
    """How many mails wait after a failed delivery (the console's warning)."""
    return mail_queue.count_undelivered(db.session)


@bp.get("/mail")
@staff_required()
def undelivered_mail() -> str:
    mails = mail_queue.undelivered(db.session)
    ids = {mail.request_id for mail in mails if mail.request_id is not None}
    references = dict(
        db.session.execute(
            select(PrivacyRequest.id, PrivacyRequest.reference).where(PrivacyRequest.id.in_(ids))
        ).all()
    )
    member = current_staff()
    return render_template(
        "staff/mail.html",
        mails=mails,
        references=references,
        retry_form=RetryMailForm(prefix="retry"),
        me=member,
        can_see_figures=has_role(member, "dpo"),
    )


@bp.post("/mail/<int:mail_id>/retry")
@staff_required()
def retry_mail(mail_id: int) -> Response:
    form = RetryMailForm(prefix="retry")
    if not form.validate_on_submit():
        abort(400)
    mail = db.session.get(OutgoingMail, mail_id)
    if mail is None:
        abort(404)
    request_id = mail.request_id
    outcome = mail_queue.retry_now(db.session, mail_id, current_app.config)
    if outcome:
        flash(_("The mail was delivered."))
    elif outcome is False:
        flash(_("The mail could not be delivered again; it stays queued and will be retried."))
    else:
        flash(_("The mail was already delivered, or is being sent right now."))
    reference = db.session.scalar(
        select(PrivacyRequest.reference).where(PrivacyRequest.id == request_id)
    )
    if form.back.data == "request" and reference:
        return redirect(url_for(".detail", reference=reference), 303)
    return redirect(url_for(".undelivered_mail"), 303)
