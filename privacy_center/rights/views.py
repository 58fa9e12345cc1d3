"""The rights pages: the /rights entry, the request forms, email confirmation, the status page.

Views are thin: check the form and the rate limit, call one service, then render or redirect.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from ..content import get_content
from ..errors import render_error
from ..extensions import db, rate_limiter
from ..i18n import LANGUAGE_NAMES, current_language
from ..letters.download import sent_letter_response
from ..letters.kinds import LETTER_KINDS
from ..mail_intents import work_after_response
from ..models import Account, PrivacyRequest
from ..models.types import utcnow
from ..uploads.checks import MAX_DOCUMENT_BYTES
from ..uploads.refusals import RejectedUpload
from ..workflow import (
    CLOCK_RUNNING_WHILE_WAITING,
    STATE_LABELS,
    ForbiddenTransition,
    RequestState,
)
from . import (
    clock,
    confirmation,
    documents,
    emails,
    filing,
    finding,
    lapsing,
    references,
    status_links,
)
from . import status as request_status
from .forms import (
    SPECIFIC_PREFIX,
    ConfirmForm,
    DocumentForm,
    FindForm,
    RequestForm,
    WithdrawForm,
    language_choices,
    request_form_class,
)
from .kinds import KINDS, RequestKind, get_kind

bp = Blueprint("rights", __name__, url_prefix="/rights", template_folder="templates")

# Pages whose address holds a secret: never sent as Referer, never cached, never indexed.
SECRET_ENDPOINTS = frozenset(
    {
        "rights.status",
        "rights.add_document",
        "rights.withdraw",
        "rights.confirm",
        "rights.letter_pdf",
    }
)
SENT_KEY = "rights_sent"


def _today() -> date:
    return get_content().operator.today()


def _account() -> Account | None:
    return current_user if isinstance(current_user, Account) else None  # type: ignore[return-value]


def _status_url(privacy_request: PrivacyRequest, token: str, **arguments: Any) -> str:
    return url_for("rights.status", reference=privacy_request.reference, token=token, **arguments)


def confirmation_sent(filed: references.FiledRequest) -> Response:
    """Mail the confirmation link of a request filed without an account, then show that it
    was sent (the page reads what it shows from the session, so a reload does not re-send)."""
    mailed = emails.send_confirmation(current_app.config, filed, links=emails.external_links())
    session[SENT_KEY] = {
        "reference": filed.request.reference,
        "email": filed.request.email,
        "kind": filed.request.kind,
        "mailed": mailed,
    }
    return redirect(url_for("rights.sent"))


def over_limit(setting: str, scope: str) -> bool:
    """Count this attempt against the client address's limit; True when it is over."""
    limit = current_app.config[setting]
    return not rate_limiter.hit(limit, scope, request.remote_addr or "unknown")


def _has_upload(field_name: str = "document") -> bool:
    upload = request.files.get(field_name)
    return upload is not None and bool(upload.filename)


@bp.after_request
def protect_secret_addresses(response: Response) -> Response:
    if request.endpoint in SECRET_ENDPOINTS:
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


# --- Entry page ---------------------------------------------------------------------------------


@bp.get("")
def index() -> str:
    return render_template(
        "rights/index.html",
        kinds=KINDS.values(),
        account=_account(),
    )


# --- Filing a request ---------------------------------------------------------------------------


def _document_mode(kind: RequestKind, account: Account | None) -> str:
    # A signed-in holder files about their own account's address (their email is not asked).
    if documents.identity_document_needed(kind, own_account=account is not None):
        return "required"
    return "none"


def _request_form(kind: RequestKind, account: Account | None) -> RequestForm:
    form_class = request_form_class(
        kind.key, ask_email=account is None, document=_document_mode(kind, account)
    )
    defaults: dict[str, Any] = {"language": current_language()}
    if account is not None:
        defaults["name"] = account.full_name
    form = form_class(**defaults)
    form.language.choices = language_choices(get_content().operator.languages, LANGUAGE_NAMES)
    return form


def _render_request_form(
    kind: RequestKind, form: RequestForm, account: Account | None, *, notice: str | None = None
) -> str:
    return render_template(
        "rights/new_request.html",
        kind=kind,
        form=form,
        account=account,
        notice=notice,
        login_url=url_for("accounts.login", next=request.path),
        max_document_bytes=MAX_DOCUMENT_BYTES,
    )


@bp.route("/requests/new/<kind>", methods=["GET", "POST"])
def new_request(kind: str) -> Any:
    # Post-mortem kinds have a form of their own (postmortem/), with the three documents.
    request_kind = KINDS.get(kind)
    if request_kind is None:
        abort(404)
    account = _account()
    form = _request_form(request_kind, account)
    if request.method == "GET":
        return _render_request_form(request_kind, form, account)
    if over_limit("REQUEST_RATE_LIMIT", "rights-requests") or (
        _has_upload() and over_limit("UPLOAD_RATE_LIMIT", "rights-uploads")
    ):
        notice = _(
            "Too many requests were sent from your connection in a short time. Nothing was "
            "recorded; please wait an hour and send the form again (what you typed is kept "
            "below, but choose the file again)."
        )
        return _render_request_form(request_kind, form, account, notice=notice), 429
    if form.validate_on_submit():
        email = account.email if account is not None else form.email.data
        try:
            filed = filing.file_request(
                db.session,
                kind=request_kind.key,
                email=email,
                name=form.name.data,
                language=form.language.data,
                details=form.details.data or "",
                specifics=form.specifics(),
                account=account,
                document=form.document_upload() if "document" in form else None,
                today=_today(),
                settings=current_app.config,
            )
        except filing.InvalidRequest as error:
            for name, message in error.errors.items():
                field = form._fields.get(name) or form._fields.get(SPECIFIC_PREFIX + name)
                if field is not None:
                    field.errors = [*field.errors, message]
        except RejectedUpload as error:
            form.document.errors = [str(error)]
        else:
            if filed.confirmation_token is None:
                emails.send_acknowledgement(
                    current_app.config, filed, links=emails.external_links()
                )
                return redirect(_status_url(filed.request, filed.status_token, done="filed"))
            return confirmation_sent(filed)
    return _render_request_form(request_kind, form, account), 422


@bp.get("/requests/sent")
def sent() -> Any:
    filed = session.get(SENT_KEY)
    if not filed:
        return redirect(url_for("rights.index"))
    return render_template("rights/sent.html", filed=filed, kind=get_kind(filed["kind"]))


# --- Email confirmation -------------------------------------------------------------------------


def _invalid_link() -> tuple[str, int]:
    return render_template("rights/link_invalid.html"), 404


@bp.route("/requests/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str) -> Any:
    form = ConfirmForm()
    if request.method == "GET":
        pending = confirmation.confirmation_pending(db.session, token=token)
        if pending is None:
            return _invalid_link()
        return render_template(
            "rights/confirm.html", form=form, privacy_request=pending, kind=get_kind(pending.kind)
        )
    if not form.validate_on_submit():
        abort(400)
    confirmed = confirmation.confirm_request(db.session, token=token, today=_today())
    if confirmed is None:
        return _invalid_link()
    emails.send_acknowledgement(current_app.config, confirmed, links=emails.external_links())
    return redirect(_status_url(confirmed.request, confirmed.status_token, done="confirmed"))


# --- Status page --------------------------------------------------------------------------------


def _request_or_404(reference: str, token: str) -> PrivacyRequest:
    found = request_status.find_by_status_link(db.session, reference=reference, token=token)
    if found is None:
        abort(404)
    days = current_app.config["STATUS_LINK_DAYS_AFTER_CLOSE"]
    if status_links.link_expired(found, days=days, now=utcnow()):
        page = render_template("rights/status_expired.html", reference=found.reference, days=days)
        abort(make_response(page, 410))
    return found


def _render_status(
    privacy_request: PrivacyRequest,
    token: str,
    *,
    document_form: DocumentForm | None = None,
    notice: str | None = None,
) -> str:
    today = _today()
    state = RequestState(privacy_request.state)
    lapse = lapsing.lapse_of(db.session, privacy_request)
    form_endpoint, form_arguments = lapsing.form_address(privacy_request.kind)
    return render_template(
        "rights/status.html",
        lapse=lapse,
        pending_lapse=lapsing.pending_lapse(privacy_request),
        explain=lapsing.explanation,
        file_again=lapsing.file_again_text,
        file_again_url=url_for(form_endpoint, **form_arguments) if lapse else None,
        clock_running_while_waiting=state in CLOCK_RUNNING_WHILE_WAITING,
        privacy_request=privacy_request,
        token=token,
        kind=get_kind(privacy_request.kind),
        state_label=STATE_LABELS[state],
        due_on=clock.due_date_on(privacy_request, today)
        if privacy_request.clock_started_on
        else None,
        suspended_since=clock.suspended_since(privacy_request),
        awaited=request_status.awaited_from_requester(privacy_request),
        letters=request_status.request_letters(privacy_request),
        letter_kinds=LETTER_KINDS,
        history=privacy_request.transitions,
        state_labels=STATE_LABELS,
        document_form=document_form or DocumentForm(),
        can_add_document=documents.can_add_document(privacy_request),
        can_withdraw=request_status.can_withdraw(privacy_request),
        done=request.args.get("done"),
        notice=notice,
        max_document_bytes=MAX_DOCUMENT_BYTES,
        day_of=clock.operator_day,
        link_days=current_app.config["STATUS_LINK_DAYS_AFTER_CLOSE"],
        link_expires_at=status_links.link_expires_at(
            privacy_request, days=current_app.config["STATUS_LINK_DAYS_AFTER_CLOSE"]
        ),
    )


@bp.get("/requests/<reference>/<token>")
def status(reference: str, token: str) -> str:
    return _render_status(_request_or_404(reference, token), token)


@bp.get("/requests/<reference>/<token>/letters/<int:letter_id>")
def letter_pdf(reference: str, token: str, letter_id: int) -> Response:
    """A sent letter's PDF, exactly as sent, for whoever holds the status link."""
    return sent_letter_response(_request_or_404(reference, token), letter_id)


@bp.post("/requests/<reference>/<token>/document")
def add_document(reference: str, token: str) -> Any:
    privacy_request = _request_or_404(reference, token)
    form = DocumentForm()
    if over_limit("UPLOAD_RATE_LIMIT", "rights-uploads"):
        notice = _(
            "Too many files were sent from your connection in a short time. Nothing was "
            "recorded; please wait an hour and try again."
        )
        return _render_status(privacy_request, token, document_form=form, notice=notice), 429
    if form.validate_on_submit():
        upload = form.document_upload()
        assert upload is not None  # FileRequired passed
        try:
            documents.add_document(
                db.session,
                privacy_request,
                document=upload,
                today=_today(),
                settings=current_app.config,
            )
        except RejectedUpload as error:
            form.document.errors = [str(error)]
        except documents.RequestClosed:
            return redirect(_status_url(privacy_request, token))
        else:
            return redirect(_status_url(privacy_request, token, done="document"))
    return _render_status(privacy_request, token, document_form=form), 422


@bp.route("/requests/<reference>/<token>/withdraw", methods=["GET", "POST"])
def withdraw(reference: str, token: str) -> Any:
    privacy_request = _request_or_404(reference, token)
    if not request_status.can_withdraw(privacy_request):
        return redirect(_status_url(privacy_request, token))
    form = WithdrawForm()
    if form.validate_on_submit():
        try:
            request_status.withdraw(db.session, privacy_request, today=_today())
        except ForbiddenTransition:
            db.session.rollback()
            return redirect(_status_url(privacy_request, token))
        return redirect(_status_url(privacy_request, token, done="withdrawn"))
    return render_template(
        "rights/withdraw.html",
        form=form,
        privacy_request=privacy_request,
        token=token,
        kind=get_kind(privacy_request.kind),
    )


# --- Finding a request again --------------------------------------------------------------------


@bp.route("/requests/find", methods=["GET", "POST"])
def find() -> Any:
    form = FindForm()
    if request.method == "POST":
        if over_limit("REQUEST_RATE_LIMIT", "rights-find"):
            notice = _(
                "Too many attempts were made from your connection in a short time. Please "
                "wait an hour and try again."
            )
            return render_template("rights/find.html", form=form, notice=notice), 429
        if form.validate_on_submit():
            # One write whatever was typed; the lookup and the mail come after the answer.
            intent = finding.ask_status_link(
                db.session,
                email=form.email.data,
                reference=form.reference.data,
                base_url=request.url_root,
            )
            work_after_response(intent)
            # The same answer whether or not anything matched.
            return render_template("rights/find_sent.html")
        return render_template("rights/find.html", form=form), 422
    return render_template("rights/find.html", form=form)


# --- Errors -------------------------------------------------------------------------------------


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error: RequestEntityTooLarge) -> tuple[str, int]:
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or MAX_DOCUMENT_BYTES
    return render_template(
        "rights/too_large.html",
        back_url=request.path if request.endpoint != "rights.add_document" else None,
        limit_mb=MAX_DOCUMENT_BYTES // (1024 * 1024),
        sent_limit_mb=limit // (1024 * 1024),
    ), 413


@bp.errorhandler(CSRFError)
def form_expired(error: CSRFError) -> Any:
    """An expired or missing form token: the request form comes back with what was typed."""
    if request.endpoint != "rights.new_request" or request.view_args is None:
        return render_error(error)
    kind = KINDS.get(request.view_args.get("kind", ""))
    if kind is None:
        return render_error(error)
    account = _account()
    form = _request_form(kind, account)
    form.process(request.form)
    form.language.choices = language_choices(get_content().operator.languages, LANGUAGE_NAMES)
    notice = _(
        "This form had expired, so nothing was recorded. Check what you typed below and send "
        "it again (choose the file again if you had attached one)."
    )
    return _render_request_form(kind, form, account, notice=notice), 400
