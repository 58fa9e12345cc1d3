"""The staff console's pages: the queue, a request's page and its actions, letters, the
dashboard and the request register. Thin: validate, call one service, render or redirect."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from ..connectors import get_connector_set, get_connectors
from ..content import get_content
from ..extensions import db
from ..i18n import current_language
from ..ids import parse_id
from ..letters import outbox
from ..letters import services as letters
from ..letters.download import sent_letter_response
from ..letters.kinds import LETTER_KINDS
from ..mail_queue import mails_of_letters, undelivered
from ..models import PrivacyRequest, StaffMember
from ..postmortem import handling as postmortem
from ..postmortem.delivery import completion_lines
from ..postmortem.handling import staff_view as postmortem_view
from ..recipients.display import category_choices as recipient_category_choices
from ..rights.clock import due_date_on
from ..rights.kinds import KINDS, POSTMORTEM_KINDS, get_kind
from ..rights.transitions import ExtensionTooLate
from ..workflow import CLOCK_SUSPENDED, STATE_LABELS, RequestState, allowed_targets
from . import dashboard as figures
from . import services
from .auth.access import current_staff, has_role, staff_required
from .blueprint import bp
from .forms import (
    AskIdentityForm,
    AssignForm,
    ClarificationForm,
    CloseAccountForm,
    CompleteForm,
    ConfirmIdentityForm,
    ExtendForm,
    LetterForm,
    NoteForm,
    RefuseForm,
    ReleaseForm,
    ResumeForm,
    RetryMailForm,
)
from .services import UNASSIGNED, ActionRefused

log = logging.getLogger(__name__)

S = RequestState

# The queue's kind filter: every right, and the requests about a deceased person.
QUEUE_KINDS = {**KINDS, **POSTMORTEM_KINDS}

# Timeline entries in words (other actions are shown by their name).
ACTION_LABELS = {
    "request.transition": _l("State changed"),
    "request.effect": _l("Marketing stopped for the request's address"),
    "identity_document.viewed": _l("Identity document viewed"),
    "identity_document.added": _l("Scanned documents added"),
    "identity.confirmed": _l("Identity confirmed, documents deleted"),
    "request.assigned": _l("Assigned"),
    "note.added": _l("Internal note added"),
    "request.completed": _l("Request answered"),
    "letter.sent": _l("Letter sent"),
    "mail.delivered": _l("Letter's mail delivered"),
    "mail.not_delivered": _l("Letter's mail not delivered: it stays queued and is tried again"),
    "postmortem.data_released": _l("Data of the deceased communicated"),
    "postmortem.account_closed": _l("Account of the deceased closed"),
    "request.lapsed": _l("Request lapsed, documents left destroyed"),
    "request.lapse_notice": _l("Requester told of the lapse"),
    "postmortem.delivery_created": _l("Data of the deceased prepared, encrypted"),
    "postmortem.delivery_mailed": _l("Download link mailed to the requester"),
    "postmortem.delivery_downloaded": _l("Data of the deceased downloaded by the requester"),
}


def _today() -> date:
    return get_content().operator.today()


def _member() -> StaffMember:
    member = current_staff()
    assert member is not None  # staff_required let the request in
    return member


def _request_or_404(reference: str) -> PrivacyRequest:
    found = services.find_request(db.session, reference)
    if found is None:
        abort(404)
    return found


# --- the queue ----------------------------------------------------------------------------------


@bp.get("/")
@staff_required()
def index() -> str:
    args = request.args
    state = args.get("state", "")
    kind = args.get("kind", "")
    assignee = args.get("assignee", "")
    search = args.get("q", "")[:254]
    if state and state not in {s.value for s in RequestState}:
        state = ""
    if kind and kind not in QUEUE_KINDS:
        kind = ""
    if assignee not in ("", UNASSIGNED) and parse_id(assignee) is None:
        abort(400)  # not a member's id: a forged or mistyped address (ids.py)
    today = _today()
    rows = services.list_queue(
        db.session, today=today, state=state, kind=kind, assignee=assignee, search=search
    )
    return render_template(
        "staff/queue.html",
        rows=rows,
        today=today,
        filters={"state": state, "kind": kind, "assignee": assignee, "q": search},
        states=STATE_LABELS,
        kinds=QUEUE_KINDS,
        members=services.staff_members(db.session),
        unassigned=UNASSIGNED,
        me=_member(),
        can_see_figures=has_role(_member(), "dpo"),
    )


# --- the request page ---------------------------------------------------------------------------


# Letters that announce a decision only the DPO may take (access.py's role rules).
DPO_LETTERS = frozenset({"refusal", "extension_notice"})


def _letter_kinds(privacy_request: PrivacyRequest, member: StaffMember) -> list[Any]:
    """The letters ``member`` may write from the letters panel (legal letters are only
    previewed there: their action sends them): those whose every required field can be typed
    in (not an erasure's completion letter), and no refusal or extension notice for an agent."""
    return [
        kind
        for kind in LETTER_KINDS.values()
        if kind.supports(privacy_request.kind)
        and all(field.type != "outcomes" for field in kind.fields_for(privacy_request.kind))
        and (kind.key not in DPO_LETTERS or has_role(member, "dpo"))
    ]


def _assign_form(privacy_request: PrivacyRequest) -> AssignForm:
    form = AssignForm(prefix="assign")
    form.assignee.choices = [
        SelectChoice("", _("Nobody")),
        *(
            SelectChoice(str(member.id), member.name)
            for member in services.staff_members(db.session)
        ),
    ]
    if not form.is_submitted():
        form.assignee.data = str(privacy_request.assigned_to_id or "")
    return form


def _category_labels(language: str) -> dict[str, str]:
    """The data categories of the connectors (content/connectors.yaml), labelled in
    ``language``."""
    return {c.key: c.label(language) for c in get_connector_set().categories()}


def _release_form() -> ReleaseForm:
    form = ReleaseForm(prefix="release")
    form.categories.choices = list(_category_labels(current_language()).items())
    return form


def _complete_form(privacy_request: PrivacyRequest) -> CompleteForm:
    # A post-mortem release's letter lists what was communicated by itself (the page shows it).
    form = CompleteForm(prefix="complete")
    form.recipient_categories.choices = recipient_category_choices()
    return form


def _forms(privacy_request: PrivacyRequest) -> dict[str, FlaskForm]:
    return {
        "confirm": ConfirmIdentityForm(prefix="confirm"),
        "identity": AskIdentityForm(prefix="identity"),
        "clarify": ClarificationForm(prefix="clarify"),
        "resume": ResumeForm(prefix="resume"),
        "extend": ExtendForm(prefix="extend"),
        "refuse": RefuseForm(prefix="refuse"),
        "complete": _complete_form(privacy_request),
        "release": _release_form(),
        "close_account": CloseAccountForm(prefix="close_account"),
        "assign": _assign_form(privacy_request),
        "note": NoteForm(prefix="note"),
    }


def _available_actions(privacy_request: PrivacyRequest, member: StaffMember) -> set[str]:
    """The actions the page offers now, by state and role."""
    state = privacy_request.state
    targets = allowed_targets(state)
    actions = {"assign", "note"}
    live = services.live_documents(privacy_request)
    if live and privacy_request.clock_started_on and state not in (S.AWAITING_CONFIRMATION,):
        actions.add("confirm")
    if state == S.IN_PROGRESS:
        actions.add("identity")
    if S.AWAITING_REQUESTER in targets:
        actions.add("clarify")
    if state == S.AWAITING_REQUESTER:
        actions.add("resume")
    if S.COMPLETED in targets:
        actions.add("complete")
        # Agents may do both: answering a post-mortem request is not a DPO decision (a
        # release against the directives needs the estate-settlement need recorded).
        if privacy_request.kind in postmortem.RELEASE_KINDS:
            actions.add("release")
        if privacy_request.kind in postmortem.CLOSURE_KINDS:
            actions.add("close_account")
    if has_role(member, "dpo"):
        if S.EXTENDED in targets and privacy_request.extended_on is None:
            actions.add("extend")
        if S.REFUSED in targets:
            actions.add("refuse")
    return actions


def _extended_due(privacy_request: PrivacyRequest, today: date) -> date | None:
    """The due date an extension would give now (the extension form shows it)."""
    if privacy_request.clock_started_on is None or privacy_request.extended_on is not None:
        return None
    return due_date_on(privacy_request, today, extended=True)


def _render_detail(
    privacy_request: PrivacyRequest,
    *,
    forms: dict[str, FlaskForm] | None = None,
    errors: dict[str, str] | None = None,
    letter_errors: dict[str, dict[str, str]] | None = None,
    letter_values: dict[str, dict[str, str]] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    member = _member()
    today = _today()
    due = services.current_due(privacy_request, today)
    letter_kinds = _letter_kinds(privacy_request, member)
    names = {m.id: m.name for m in db.session.scalars(select(StaffMember))}
    page = render_template(
        "staff/request.html",
        req=privacy_request,
        kind=get_kind(privacy_request.kind),
        state_label=STATE_LABELS[RequestState(privacy_request.state)],
        due=due,
        days_left=(due - today).days if due else None,
        suspended=privacy_request.state in CLOCK_SUSPENDED,
        action_labels=ACTION_LABELS,
        timeline=services.timeline(db.session, privacy_request),
        notes=services.notes_of(db.session, privacy_request),
        names=names,
        checked_by=services.actor_name(privacy_request.identity_checked_by or "", names),
        documents=privacy_request.documents,
        forms=forms or _forms(privacy_request),
        actions=_available_actions(privacy_request, member),
        errors=errors or {},
        letter_kinds=letter_kinds,
        letter_form=LetterForm(prefix="letter"),
        letter_errors=letter_errors or {},
        letter_values=letter_values or {},
        sent_letters=privacy_request.letters,
        letter_mails=mails_of_letters(db.session, [item.id for item in privacy_request.letters]),
        retry_form=RetryMailForm(prefix="retry"),
        extended_due=_extended_due(privacy_request, today),
        state_labels=STATE_LABELS,
        document_types=services.IDENTITY_DOCUMENT_TYPES,
        identity_outcomes=services.IDENTITY_OUTCOME_LABELS,
        letter_labels={key: kind.label for key, kind in LETTER_KINDS.items()},
        me=member,
        postmortem=postmortem_view(
            db.session, privacy_request, _category_labels(current_language())
        ),
        communicated=completion_lines(db.session, privacy_request)
        if privacy_request.kind in postmortem.RELEASE_KINDS
        else [],
    )
    return page, status


@bp.get("/requests/<reference>")
@staff_required()
def detail(reference: str) -> tuple[str, int]:
    return _render_detail(_request_or_404(reference))


# --- actions ------------------------------------------------------------------------------------


def _flash_undelivered(privacy_request: PrivacyRequest) -> None:
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
    privacy_request = _request_or_404(reference)
    member = _member()
    forms = _forms(privacy_request)
    form = forms[name]
    if name not in _available_actions(privacy_request, member):
        return _render_detail(
            privacy_request,
            forms=forms,
            errors={name: _("This action is not possible in the request's current state.")},
            status=409,
        )
    if not form.validate_on_submit():
        return _render_detail(privacy_request, forms=forms, status=422)
    try:
        action(privacy_request, form)
    except ActionRefused as error:
        db.session.rollback()
        field = getattr(form, error.field, None) if error.field else None
        if field is not None:
            field.errors = [*field.errors, str(error)]
            return _render_detail(privacy_request, forms=forms, status=422)
        return _render_detail(privacy_request, forms=forms, errors={name: str(error)}, status=409)
    except ExtensionTooLate:
        db.session.rollback()
        message = _(
            "Too late to extend: an extension must be notified on or before the first due date."
        )
        return _render_detail(privacy_request, forms=forms, errors={name: message}, status=409)
    except letters.LetterError as error:  # nothing was written: the letter goes with the action
        db.session.rollback()
        return _render_detail(privacy_request, forms=forms, errors={name: str(error)}, status=409)
    flash(done)
    _flash_undelivered(privacy_request)
    return redirect(url_for(".detail", reference=privacy_request.reference), 303)


@bp.post("/requests/<reference>/confirm-identity")
@staff_required()
def confirm_identity(reference: str) -> Response | tuple[str, int]:
    return _run_action(
        reference,
        "confirm",
        lambda req, form: services.confirm_identity(
            db.session,
            req,
            staff=_member(),
            document_type=form.document_type.data,
            today=_today(),
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
        lambda req, form: services.ask_identity(
            db.session,
            req,
            staff=_member(),
            reason=form.reason.data,
            today=_today(),
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
        lambda req, form: services.ask_clarification(
            db.session,
            req,
            staff=_member(),
            questions=form.questions.data,
            today=_today(),
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
        lambda req, form: services.resume(
            db.session, req, staff=_member(), reason=form.reason.data, today=_today()
        ),
        _("Work resumed; the clock runs again."),
    )


@bp.post("/requests/<reference>/extend")
@staff_required("dpo")
def extend(reference: str) -> Response | tuple[str, int]:
    return _run_action(
        reference,
        "extend",
        lambda req, form: services.extend(
            db.session,
            req,
            staff=_member(),
            reasons=form.reasons.data,
            today=_today(),
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
        lambda req, form: services.refuse(
            db.session,
            req,
            staff=_member(),
            reasons=form.reasons.data,
            today=_today(),
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
        lambda req, form: services.complete(
            db.session,
            req,
            staff=_member(),
            today=_today(),
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
        services.release_postmortem_data(
            db.session,
            req,
            staff=_member(),
            categories=chosen.data or [],
            estate_need=form.estate_need.data or "",  # type: ignore[attr-defined]
            settings=current_app.config,
            base_url=request.url_root,
        )
    except postmortem.ReleaseBlocked as blocked:
        # A refused category is never left ticked on the form shown again.
        chosen.data = [key for key in chosen.data or [] if key not in blocked.against]
        labels = _category_labels(current_language())
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
        lambda req, _form: services.close_deceased_account(
            db.session, req, staff=_member(), today=_today(), settings=current_app.config
        ),
        _("The account is closed and the request completed; the confirmation letter was sent."),
    )


def _assign(req: PrivacyRequest, form: FlaskForm) -> None:
    chosen = form.assignee.data or ""  # type: ignore[attr-defined]
    member_id = parse_id(chosen)
    assignee = db.session.get(StaffMember, member_id) if member_id else None
    if chosen and assignee is None:
        raise ActionRefused(_("Choose one of the staff members offered."), "assignee")
    services.assign(db.session, req, staff=_member(), assignee=assignee)


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
        lambda req, form: services.add_note(db.session, req, staff=_member(), text=form.text.data),
        _("Note added."),
    )


# --- letters ------------------------------------------------------------------------------------


def _letter_input(privacy_request: PrivacyRequest) -> tuple[str, dict[str, str]]:
    kind = request.form.get("kind", "")
    member = _member()
    allowed = {item.key: item for item in _letter_kinds(privacy_request, member)}
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
    return _render_detail(
        privacy_request,
        letter_errors={kind: problems},
        letter_values={kind: fields},
        status=status,
    )


@bp.post("/requests/<reference>/letters/preview")
@staff_required()
def preview_letter(reference: str) -> Response | tuple[str, int]:
    privacy_request = _request_or_404(reference)
    if not LetterForm(prefix="letter").validate_on_submit():
        abort(400)
    kind, fields = _letter_input(privacy_request)
    try:
        pdf = letters.preview_letter(db.session, privacy_request, kind, fields, today=_today())
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
    privacy_request = _request_or_404(reference)
    if not LetterForm(prefix="letter").validate_on_submit():
        abort(400)
    kind, fields = _letter_input(privacy_request)
    try:
        outbox.send_letter(
            db.session,
            privacy_request,
            kind,
            fields,
            actor=_member().get_id(),
            today=_today(),
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
    _flash_undelivered(privacy_request)
    return redirect(url_for(".detail", reference=privacy_request.reference), 303)


@bp.get("/requests/<reference>/letters/<int:letter_id>.pdf")
@staff_required()
def letter_pdf(reference: str, letter_id: int) -> Response:
    return sent_letter_response(_request_or_404(reference), letter_id)


# --- figures ------------------------------------------------------------------------------------


@bp.get("/dashboard")
@staff_required("dpo")
def dashboard() -> str:
    today = _today()
    numbers = figures.build_dashboard(db.session, today=today)
    return render_template(
        "staff/dashboard.html",
        figures=numbers,
        chart=figures.chart_svg(numbers.months, language=current_language()),
        state_labels=STATE_LABELS,
        today=today,
        me=_member(),
        can_see_figures=True,
    )


@bp.get("/register.csv")
@staff_required("dpo")
def register() -> Response:
    response = Response(stream_with_context(figures.register_rows(db.session)), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="request-register-{_today().isoformat()}.csv"'
    )
    return response
