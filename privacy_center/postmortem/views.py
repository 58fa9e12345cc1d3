"""The post-mortem pages: the holder's directives and certificate, the fingerprint check, and
the public form of heirs, designated persons and notaries.

Views are thin: check the form, call one service, then render or redirect.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from ..connectors import get_connector_set
from ..content import get_content
from ..extensions import db
from ..i18n import LANGUAGE_NAMES, current_language
from ..models import Account
from ..rights import filing as rights_filing
from ..rights.forms import language_choices
from ..rights.kinds import POSTMORTEM_KINDS
from ..rights.views import confirmation_sent, over_limit
from ..uploads.checks import MAX_DOCUMENT_BYTES
from . import delivery, services
from .forms import (
    CHOICE_PREFIX,
    DataLinkForm,
    DirectivesForm,
    HeirRequestForm,
    VerifyForm,
    WithdrawDirectivesForm,
    directives_form_class,
)

bp = Blueprint(
    "postmortem", __name__, url_prefix="/rights/post-mortem", template_folder="templates"
)

# The request form's upload fields and the document kind each becomes.
UPLOAD_FIELDS = {
    "death_certificate": "death_certificate",
    "capacity_proof": "heirship",
    "identity": "heir_identity",
}


def _account() -> Account | None:
    return current_user if isinstance(current_user, Account) else None  # type: ignore[return-value]


def _categories(language: str) -> list[tuple[str, str]]:
    """(key, label in ``language``) of every data category the operator declares."""
    return [
        (category.key, category.label(language)) for category in get_connector_set().categories()
    ]


def _directives_form(language: str) -> DirectivesForm:
    categories = _categories(language)
    form = directives_form_class(tuple(key for key, _label in categories))()
    for key, label in categories:
        form[f"{CHOICE_PREFIX}{key}"].label.text = label
    return form


def _render_directives(form: DirectivesForm, account: Account, *, done: str | None = None) -> str:
    return render_template(
        "postmortem/directives.html",
        form=form,
        account=account,
        current=services.current_directives(db.session, account),
        history=services.versions(db.session, account),
        withdraw_form=WithdrawDirectivesForm(),
        done=done,
        group_fingerprint=services.group_fingerprint,
    )


@bp.route("", methods=["GET", "POST"])
def directives() -> Any:
    account = _account()
    if account is None:
        return redirect(url_for("accounts.login", next=request.path))
    language = current_language()
    form = _directives_form(language)
    if request.method == "GET":
        current = services.current_directives(db.session, account)
        if current is not None:
            # Changing starts from what is in force (never from the consent: asked each time).
            for key, value in current.choices.items():
                if f"{CHOICE_PREFIX}{key}" in form:
                    form[f"{CHOICE_PREFIX}{key}"].data = value
            form.communicate_nothing.data = current.communicate_nothing
            form.designated_name.data = current.designated_name
            form.designated_email.data = current.designated_email
            form.designated_relation.data = current.designated_relation
        return _render_directives(form, account, done=request.args.get("done"))
    if form.validate_on_submit():
        try:
            services.record_directives(
                db.session,
                account=account,
                choices=form.choices(),
                category_keys=[key for key, _label in _categories(language)],
                communicate_nothing=bool(form.communicate_nothing.data),
                designated_name=form.designated_name.data or "",
                designated_email=form.designated_email.data or "",
                designated_relation=form.designated_relation.data or "",
                consent=bool(form.consent.data),
                language=account.language or language,
            )
        except services.InvalidDirectives as error:
            for name, message in error.errors.items():
                field = form._fields.get(name)
                if field is not None:
                    field.errors = [*field.errors, message]
        else:
            return redirect(url_for(".directives", done="recorded"))
    return _render_directives(form, account), 422


@bp.post("/withdraw")
def withdraw() -> Any:
    account = _account()
    if account is None:
        return redirect(url_for("accounts.login", next=url_for(".directives")))
    if WithdrawDirectivesForm().validate_on_submit():
        try:
            services.withdraw_directives(db.session, account=account)
        except services.NoDirectives:
            return redirect(url_for(".directives"))
    return redirect(url_for(".directives", done="withdrawn"))


@bp.get("/certificate.pdf")
def certificate() -> Any:
    account = _account()
    if account is None:
        return redirect(url_for("accounts.login", next=request.path))
    current = services.current_directives(db.session, account)
    if current is None:
        return redirect(url_for(".directives"))
    # In the holder's language, whatever the page's.
    language = account.language or current.language
    operator = get_content().operator
    pdf = services.certificate_pdf(
        current,
        account=account,
        category_labels=dict(_categories(language)),
        operator=operator,
        issued_on=operator.today(),
        language=language,
        verify_url=url_for(".verify", _external=True),
    )
    response = Response(pdf, mimetype="application/pdf")
    name = f"post-mortem-directives-v{current.version}.pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/verify")
def verify() -> str:
    # The address printed on every certificate (certificate.html).
    form = VerifyForm(request.args)
    result = None
    checked = False
    if "fingerprint" in request.args and form.validate():
        checked = True
        result = services.verify_fingerprint(db.session, form.fingerprint.data or "")
    return render_template("postmortem/verify.html", form=form, result=result, checked=checked)


# --- Requests of heirs, designated persons and notaries -----------------------------------------


def _request_form() -> HeirRequestForm:
    form = HeirRequestForm(language=current_language())
    form.language.choices = language_choices(get_content().operator.languages, LANGUAGE_NAMES)
    return form


def _render_request(form: HeirRequestForm, *, notice: str | None = None) -> str:
    return render_template(
        "postmortem/request.html",
        form=form,
        kinds=POSTMORTEM_KINDS.values(),
        notice=notice,
        max_document_bytes=MAX_DOCUMENT_BYTES,
    )


@bp.route("/request", methods=["GET", "POST"])
def new_request() -> Any:
    form = _request_form()
    if request.method == "GET":
        return _render_request(form)
    if over_limit("REQUEST_RATE_LIMIT", "rights-requests") or over_limit(
        "UPLOAD_RATE_LIMIT", "rights-uploads"
    ):
        notice = _(
            "Too many requests were sent from your connection in a short time. Nothing was "
            "recorded; please wait an hour and send the form again (what you typed is kept "
            "below, but choose the files again)."
        )
        return _render_request(form, notice=notice), 429
    if form.validate_on_submit():
        try:
            filed = services.file_postmortem_request(
                db.session,
                kind=form.purpose.data or "",
                email=form.email.data or "",
                name=form.name.data or "",
                language=form.language.data or "",
                details=form.details.data or "",
                deceased_name=form.deceased_name.data or "",
                deceased_identifier=form.deceased_identifier.data or "",
                capacity=form.capacity.data or "",
                documents={kind: form.upload(field) for field, kind in UPLOAD_FIELDS.items()},
                today=get_content().operator.today(),
                settings=current_app.config,
            )
        except rights_filing.InvalidRequest as error:
            fields_by_kind = {kind: field for field, kind in UPLOAD_FIELDS.items()}
            for name, message in error.errors.items():
                field = form._fields.get(fields_by_kind.get(name, name))
                if field is not None:
                    field.errors = [*field.errors, message]
        else:
            return confirmation_sent(filed)
    return _render_request(form), 422


# --- Data of the deceased communicated to the requester (delivery.py) ---------------------------


def _render_data_link(link: delivery.Link, status: int) -> tuple[str, int]:
    found = link.delivery
    labels = delivery.category_labels(current_language())
    return render_template(
        "postmortem/data_link.html",
        form=DataLinkForm(),
        link=link,
        categories=[labels.get(key, key) for key in found.categories] if found else [],
        reference=delivery.reference_of(db.session, found) if found else None,
    ), status


@bp.get("/data/<token>")
def data_link(token: str) -> tuple[str, int]:
    """The mailed link's page: a button downloads (mail scanners opening links use nothing)."""
    link = delivery.open_link(db.session, token, current_app.config)
    return _render_data_link(link, {"ready": 200, "unknown": 404}.get(link.state, 410))


@bp.post("/data/<token>")
def data_download(token: str) -> Response | tuple[str, int]:
    if not DataLinkForm().validate_on_submit():
        abort(400)
    link, data = delivery.download(db.session, token, current_app.config)
    if data is None or link.delivery is None:
        return _render_data_link(link, 404 if link.state == "unknown" else 410)
    response = Response(data, mimetype="application/zip")
    name = f"post-mortem-data-{link.delivery.created_at.date().isoformat()}.zip"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response
