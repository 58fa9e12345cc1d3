"""The letters panel of a request's page: preview or send a letter staff may write, and the PDF
of a letter sent."""

from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _

from ..extensions import db
from ..letters import outbox
from ..letters import services as letters
from ..letters.download import sent_letter_response
from ..models import PrivacyRequest
from .action_views import flash_undelivered
from .auth.access import has_role, staff_required
from .blueprint import bp
from .console import operator_today, request_or_404, signed_in
from .forms import LetterForm
from .request_views import DPO_LETTERS, render_detail, writable_letters


def _letter_input(privacy_request: PrivacyRequest) -> tuple[str, dict[str, str]]:
    kind = request.form.get("kind", "")
    member = signed_in()
    allowed = {item.key: item for item in writable_letters(privacy_request, member)}
    if kind in DPO_LETTERS and not has_role(member, "dpo"):
        abort(403)
    if kind not in allowed:
        abort(400)
    fields = {}
    for spec in allowed[kind].fields_for(privacy_request.kind):
        value = request.form.get(f"letter-{kind}-{spec.name}", "").strip()
        if value:
            fields[spec.name] = value
    return kind, fields


def _letter_failed(
    privacy_request: PrivacyRequest,
    kind: str,
    fields: dict[str, str],
    error: Exception,
    status: int = 422,
) -> tuple[str, int]:
    if isinstance(error, letters.LetterFieldsMissing):
        problems = {name: _("Fill in this field.") for name in error.missing}
    else:
        problems = {"": str(error)}
    return render_detail(
        privacy_request,
        letter_errors={kind: problems},
        letter_values={kind: fields},
        status=status,
    )


@bp.post("/requests/<reference>/letters/preview")
@staff_required()
def preview_letter(reference: str) -> Response | tuple[str, int]:
    privacy_request = request_or_404(reference)
    if not LetterForm(prefix="letter").validate_on_submit():
        abort(400)
    kind, fields = _letter_input(privacy_request)
    try:
        pdf = letters.preview_letter(
            db.session, privacy_request, kind, fields, today=operator_today()
        )
    except letters.LetterError as error:
        return _letter_failed(privacy_request, kind, fields, error)
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'inline; filename="{privacy_request.reference}-{kind}-preview.pdf"'
    )
    return response


@bp.post("/requests/<reference>/letters/send")
@staff_required()
def send_letter(reference: str) -> Response | tuple[str, int]:
    privacy_request = request_or_404(reference)
    if not LetterForm(prefix="letter").validate_on_submit():
        abort(400)
    kind, fields = _letter_input(privacy_request)
    try:
        outbox.send_letter(
            db.session,
            privacy_request,
            kind,
            fields,
            actor=signed_in().get_id(),
            today=operator_today(),
            app_config=current_app.config,
        )
    except outbox.LegalLetterOnlyByAction:
        message = _(
            "This letter is sent only by its action above, together with the change it "
            "announces; here it can only be previewed."
        )
        return _letter_failed(privacy_request, kind, fields, RuntimeError(message), 409)
    except letters.LetterError as error:
        return _letter_failed(privacy_request, kind, fields, error)
    flash(_("The letter was sent."))
    flash_undelivered(privacy_request)
    return redirect(url_for(".detail", reference=privacy_request.reference), 303)


@bp.get("/requests/<reference>/letters/<int:letter_id>.pdf")
@staff_required()
def letter_pdf(reference: str, letter_id: int) -> Response:
    return sent_letter_response(request_or_404(reference), letter_id)
