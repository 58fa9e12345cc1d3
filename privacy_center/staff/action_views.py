"""The routes of a request's actions: each validates its form, calls one action (actions/) and
redirects to the request's page, or shows the page again with the error."""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from ..connectors import get_connectors
from ..extensions import db
from ..i18n import current_language
from ..ids import parse_id
from ..letters import services as letters
from ..mail_queue import undelivered
from ..models import PrivacyRequest, StaffMember
from ..postmortem import handling as postmortem
from ..rights.transitions import ExtensionTooLate
from .actions import assignment, clarification, completion, deceased, extension, identity, refusal
from .actions.rules import ActionRefused
from .auth.access import staff_required
from .blueprint import bp
from .console import operator_today, request_or_404, signed_in
from .request_views import available_actions, category_labels, page_forms, render_detail


def flash_undelivered(privacy_request: PrivacyRequest) -> None:
    if undelivered(db.session, request_id=privacy_request.id):
        flash(
            _(
                "A mail to the requester could not be delivered yet: its letter is recorded, "
                "and the mail stays queued and is tried again (see Letters below)."
            )
        )


def _run_action(
    reference: str,
    name: str,
    action: Callable[[PrivacyRequest, FlaskForm], object],
    done: str,
) -> Response | tuple[str, int]:
    privacy_request = request_or_404(reference)
    member = signed_in()
    forms = page_forms(privacy_request)
    form = forms[name]
    if name not in available_actions(privacy_request, member):
        return render_detail(
            privacy_request,
            forms=forms,
            errors={name: _("This action is not possible in the request's current state.")},
            status=409,
        )
    if not form.validate_on_submit():
        return render_detail(privacy_request, forms=forms, status=422)
    try:
        action(privacy_request, form)
    except ActionRefused as error:
        db.session.rollback()
        field = getattr(form, error.field, None) if error.field else None
        if field is not None:
            field.errors = [*field.errors, str(error)]
            return render_detail(privacy_request, forms=forms, status=422)
        return render_detail(privacy_request, forms=forms, errors={name: str(error)}, status=409)
    except ExtensionTooLate:
        db.session.rollback()
        message = _(
            "Too late to extend: an extension must be notified on or before the first due date."
        )
        return render_detail(privacy_request, forms=forms, errors={name: message}, status=409)
    except letters.LetterError as error:  # nothing was written: the letter goes with the action
        db.session.rollback()
        return render_detail(privacy_request, forms=forms, errors={name: str(error)}, status=409)
    flash(done)
    flash_undelivered(privacy_request)
    return redirect(url_for(".detail", reference=privacy_request.reference), 303)


@bp.post("/requests/<reference>/confirm-identity")
@staff_required()
def confirm_identity(reference: str) -> Response | tuple[str, int]:
    return _run_action(
        reference,
        "confirm",
        lambda req, form: identity.confirm_identity(
            db.session,
            req,
            staff=signed_in(),
            document_type=form.document_type.data,
            today=operator_today(),
            settings=current_app.config,
        ),
        _("Identity confirmed; the documents were deleted."),
    )


@bp.post("/requests/<reference>/ask-identity")
@staff_required()
def ask_identity(reference: str) -> Response | tuple[str, int]:
    return _run_action(
        reference,
        "identity",
        lambda req, form: identity.ask_identity(
            db.session,
            req,
            staff=signed_in(),
            reason=form.reason.data,
            today=operator_today(),
            settings=current_app.config,
        ),
        _("A proof of identity was asked for; the clock is suspended."),
    )


@bp.post("/requests/<reference>/clarification")
@staff_required()
def ask_clarification(reference: str) -> Response | tuple[str, int]:
    return _run_action(
        reference,
        "clarify",
        lambda req, form: clarification.ask_clarification(
            db.session,
            req,
            staff=signed_in(),
            questions=form.questions.data,
            today=operator_today(),
            settings=current_app.config,
        ),
        _("Clarification asked for; the clock keeps running."),
    )


@bp.post("/requests/<reference>/resume")
@staff_required()
def resume(reference: str) -> Response | tuple[str, int]:
    return _run_action(
        reference,
        "resume",
        lambda req, form: clarification.resume(
            db.session, req, staff=signed_in(), reason=form.reason.data, today=operator_today()
        ),
        _("Work resumed; the clock runs again."),
    )


@bp.post("/requests/<reference>/extend")
@staff_required("dpo")
def extend(reference: str) -> Response | tuple[str, int]:
    return _run_action(
        reference,
        "extend",
        lambda req, form: extension.extend(
            db.session,
            req,
            staff=signed_in(),
            reasons=form.reasons.data,
            today=operator_today(),
            settings=current_app.config,
        ),
        _("The time limit is extended; the notice was sent."),
    )


@bp.post("/requests/<reference>/refuse")
@staff_required("dpo")
def refuse(reference: str) -> Response | tuple[str, int]:
    return _run_action(
        reference,
        "refuse",
        lambda req, form: refusal.refuse(
            db.session,
            req,
            staff=signed_in(),
            reasons=form.reasons.data,
            today=operator_today(),
            settings=current_app.config,
        ),
        _("The request is refused; the letter was sent."),
    )


@bp.post("/requests/<reference>/complete")
@staff_required()
def complete(reference: str) -> Response | tuple[str, int]:
    return _run_action(
        reference,
        "complete",
        lambda req, form: completion.complete(
            db.session,
            req,
            staff=signed_in(),
            today=operator_today(),
            settings=current_app.config,
            connectors=get_connectors(),
            base_url=request.url_root,
            summary=form.summary.data or "",
            fee_acknowledged=bool(form.fee_acknowledged.data),
            recipient_categories=form.recipient_categories.data or (),
        ),
        _("The request is completed; the letter was sent."),
    )


def _release(req: PrivacyRequest, form: FlaskForm) -> None:
    chosen = form.categories  # type: ignore[attr-defined]
    try:
        deceased.release_postmortem_data(
            db.session,
            req,
            staff=signed_in(),
            categories=chosen.data or [],
            estate_need=form.estate_need.data or "",  # type: ignore[attr-defined]
            settings=current_app.config,
            base_url=request.url_root,
        )
    except postmortem.ReleaseBlocked as blocked:
        # A refused category is never left ticked on the form shown again.
        chosen.data = [key for key in chosen.data or [] if key not in blocked.against]
        labels = category_labels(current_language())
        names = ", ".join(labels.get(key, key) for key in blocked.against)
        if blocked.communicate_nothing:
            message = _(
                "Refused: the deceased asked that nothing be communicated to any third party "
                "after their death (%(categories)s). Record below which estate-settlement need "
                "requires this release, or do not release these data.",
                categories=names,
            )
        else:
            message = _(
                "Refused: the deceased's directives do not allow communicating %(categories)s "
                "to this requester. Record below which estate-settlement need requires it, or "
                "do not release these data.",
                categories=names,
            )
        raise ActionRefused(message, "estate_need") from None


@bp.post("/requests/<reference>/release")
@staff_required()
def release(reference: str) -> Response | tuple[str, int]:
    return _run_action(
        reference,
        "release",
        _release,
        _(
            "The data were mailed to the requester as an encrypted download link that works "
            "once; the completion letter will list them."
        ),
    )


@bp.post("/requests/<reference>/close-account")
@staff_required()
def close_account(reference: str) -> Response | tuple[str, int]:
    return _run_action(
        reference,
        "close_account",
        lambda req, _form: deceased.close_deceased_account(
            db.session, req, staff=signed_in(), today=operator_today(), settings=current_app.config
        ),
        _("The account is closed and the request completed; the confirmation letter was sent."),
    )


def _assign(req: PrivacyRequest, form: FlaskForm) -> None:
    chosen = form.assignee.data or ""  # type: ignore[attr-defined]
    member_id = parse_id(chosen)
    assignee = db.session.get(StaffMember, member_id) if member_id else None
    if chosen and assignee is None:
        raise ActionRefused(_("Choose one of the staff members offered."), "assignee")
    assignment.assign(db.session, req, staff=signed_in(), assignee=assignee)


@bp.post("/requests/<reference>/assign")
@staff_required()
def assign(reference: str) -> Response | tuple[str, int]:
    return _run_action(reference, "assign", _assign, _("Assignment saved."))


@bp.post("/requests/<reference>/notes")
@staff_required()
def add_note(reference: str) -> Response | tuple[str, int]:
    return _run_action(
        reference,
        "note",
        lambda req, form: assignment.add_note(
            db.session, req, staff=signed_in(), text=form.text.data
        ),
        _("Note added."),
    )
