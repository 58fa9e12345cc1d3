"""The console's page for a request received by post, email or phone (rights/intake.py)."""

from __future__ import annotations

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from ..content import get_content
from ..extensions import db
from ..i18n import LANGUAGE_NAMES
from ..rights.documents import RequestClosed
from ..rights.emails import external_links
from ..rights.filing import InvalidRequest
from ..rights.intake import (
    MAX_ADDRESS_LINE_LENGTH,
    MAX_ADDRESS_LINES,
    MAX_DOCUMENTS,
    add_scanned_documents,
    intake_request,
)
from ..rights.kinds import KINDS
from ..workflow import RequestState
from .auth.access import current_staff, has_role, staff_required
from .blueprint import bp
from .intake_forms import IntakeForm, ScanForm
from .queue import find_request


def _form() -> IntakeForm:
    operator = get_content().operator
    form = IntakeForm(prefix="intake")
    form.language.choices = [
        SelectChoice(lang, LANGUAGE_NAMES.get(lang, lang)) for lang in operator.languages
    ]
    form.kind.choices = [
        SelectChoice(key, f"{kind.label} ({kind.article})") for key, kind in KINDS.items()
    ]
    if not form.is_submitted():
        form.language.data = operator.default_language
        form.received_on.data = operator.today()
    return form


def _page(form: IntakeForm, status: int = 200) -> tuple[str, int]:
    member = current_staff()
    assert member is not None
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    page = render_template(
        "staff/new_request.html",
        form=form,
        me=member,
        can_see_figures=has_role(member, "dpo"),
        max_documents=MAX_DOCUMENTS,
        address_lines=MAX_ADDRESS_LINES,
        address_line_length=MAX_ADDRESS_LINE_LENGTH,
        limit_mb=limit // (1024 * 1024),
        today=get_content().operator.today(),
    )
    return page, status


@bp.route("/requests/new", methods=["GET", "POST"])
@staff_required()
def new_request() -> Response | tuple[str, int]:
    form = _form()
    if not form.is_submitted():
        return _page(form)
    if not form.validate_on_submit():
        return _page(form, 422)
    documents = _uploads(form.documents.name)
    member = current_staff()
    assert member is not None
    try:
        created = intake_request(
            db.session,
            kind=form.kind.data or "",
            name=form.name.data or "",
            email=form.email.data,
            received_on=form.received_on.data,
            channel=form.channel.data or "",
            language=form.language.data or "",
            postal_address=form.postal_address.data,
            details=form.details.data or "",
            documents=documents,
            actor=member.get_id(),
            today=get_content().operator.today(),
            settings=current_app.config,
            address_verified=bool(form.address_verified.data),
            links=external_links(),
        )
    except InvalidRequest as error:
        for name, message in error.errors.items():
            field = getattr(form, name, None)
            if field is not None:
                field.errors = [*field.errors, message]
        return _page(form, 422)
    if created.state == RequestState.AWAITING_CONFIRMATION:
        flash(
            _(
                "Marketing to %(email)s is not stopped yet: it stops when the confirmation link "
                "we emailed to that address is used.",
                email=created.email,
            )
        )
    flash(
        _(
            "Request %(reference)s recorded; the reply is due by %(date)s.",
            reference=created.reference,
            date=format_date(created.due_on, "long") if created.due_on else "—",
        )
    )
    return redirect(url_for(".detail", reference=created.reference), 303)


def _uploads(field_name: str) -> list[tuple[str, bytes]]:
    return [
        (upload.filename or "document", upload.read())
        for upload in request.files.getlist(field_name)
        if upload.filename
    ]


@bp.post("/requests/<reference>/documents")
@staff_required()
def add_documents(reference: str) -> Response:
    """Documents the requester sent later (by post or email), scanned: added to the request;
    one awaiting a proof of identity moves on. Errors are flashed on the request's page."""
    found = find_request(db.session, reference)
    if found is None:
        abort(404)
    form = ScanForm(prefix="scan")
    if not form.validate_on_submit():
        abort(400)
    member = current_staff()
    assert member is not None
    try:
        added = add_scanned_documents(
            db.session,
            found,
            documents=_uploads(form.documents.name),
            actor=member.get_id(),
            today=get_content().operator.today(),
            settings=current_app.config,
        )
    except InvalidRequest as error:
        flash(" ".join(error.errors.values()))
    except RequestClosed:
        flash(_("This action is not possible in the request's current state."))
    else:
        flash(ngettext("%(num)d document added.", "%(num)d documents added.", len(added)))
    return redirect(url_for(".detail", reference=found.reference), 303)
