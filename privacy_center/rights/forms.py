"""The forms of the rights pages (Flask-WTF: every one carries its CSRF token).

The request form is built per kind of request from its declaration (kinds.py): the structured
fields of the kind are added to the common ones, named ``specific_<name>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.datastructures import FileStorage
from wtforms import EmailField, Field, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, InputRequired, Length, Optional

from ..uploads.checks import MAX_DOCUMENT_BYTES
from .filing import MAX_DETAILS_LENGTH, MAX_NAME_LENGTH
from .kinds import KINDS, SpecificField

SPECIFIC_PREFIX = "specific_"
# How the document field is offered: required, optional (staff may still ask), or not at all.
DOCUMENT_MODES = ("required", "optional", "none")

DOCUMENT_DESCRIPTION = _l(
    "A copy of an identity document (identity card, passport, driving licence or residence "
    "permit), as a PDF, JPEG or PNG file of at most %(limit)d MB. We use it only to check that "
    "you are the person the data is about, and delete it as soon as this is decided.",
    limit=MAX_DOCUMENT_BYTES // (1024 * 1024),
)


def too_long(limit: int) -> Length:
    message = _l("This text is too long (at most %(max)d characters).", max=limit)
    return Length(max=limit, message=message)


def uploaded_file(field: Field) -> tuple[str, bytes] | None:
    """A file field's upload as (name, bytes), or None when no file was chosen."""
    storage = field.data
    if not isinstance(storage, FileStorage) or not storage.filename:
        return None
    return storage.filename, storage.stream.read()


def requester_name_field() -> StringField:
    return StringField(
        _l("Your full name"),
        validators=[InputRequired(message=_l("Enter your full name.")), too_long(MAX_NAME_LENGTH)],
        render_kw={"autocomplete": "name"},
    )


def requester_email_field() -> EmailField:
    """The requester's address, confirmed by an emailed link before the request counts."""
    return EmailField(
        _l("Your email address"),
        description=_l(
            "We send a link to this address to check that it is yours, then write to you there."
        ),
        validators=[
            InputRequired(message=_l("Enter your email address.")),
            Email(message=_l("Enter a valid email address, like name@example.com.")),
            Length(max=254),
        ],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )


class DocumentFields:
    document = FileField(_l("Proof of identity"), description=DOCUMENT_DESCRIPTION)

    def document_upload(self) -> tuple[str, bytes] | None:
        """The uploaded file as (name, bytes), or None when no file was chosen."""
        return uploaded_file(self.document)  # type: ignore[attr-defined]


class RequestForm(DocumentFields, FlaskForm):
    name = requester_name_field()
    email = requester_email_field()
    language = SelectField(
        _l("Language of our replies"),
        description=_l("Every email and letter about this request will be in this language."),
    )
    details = TextAreaField(validators=[Optional(), too_long(MAX_DETAILS_LENGTH)])

    def specific_fields(self) -> list[Field]:
        return [field for field in self if field.name.startswith(SPECIFIC_PREFIX)]

    def specifics(self) -> dict[str, str]:
        return {
            field.name.removeprefix(SPECIFIC_PREFIX): (field.data or "").strip()
            for field in self.specific_fields()
        }


def _specific_field(spec: SpecificField) -> Field:
    missing = _l("Choose an answer.") if spec.choices else _l("Fill in this field.")
    validators: list[Any] = [InputRequired(message=missing) if spec.required else Optional()]
    if spec.choices:
        choices = [
            SelectChoice("", _l("Choose…")),
            *(SelectChoice(value, label) for value, label in spec.choices),
        ]
        return SelectField(
            spec.label,
            description=spec.description or "",
            choices=choices,
            validators=validators,
            validate_choice=False,
        )
    validators.append(too_long(spec.max_length))
    field_class = TextAreaField if spec.multiline else StringField
    return field_class(spec.label, description=spec.description or "", validators=validators)


@cache
def request_form_class(kind_key: str, *, ask_email: bool, document: str) -> type[RequestForm]:
    """The form of one kind of request (a key of ``kinds.KINDS``).

    ``ask_email`` is False for a signed-in account holder (their account's address is used);
    ``document`` is one of DOCUMENT_MODES.
    """
    if document not in DOCUMENT_MODES:
        raise ValueError(f"document must be one of {DOCUMENT_MODES}, not {document!r}")
    kind = KINDS[kind_key]
    attributes: dict[str, Any] = {
        f"{SPECIFIC_PREFIX}{spec.name}": _specific_field(spec) for spec in kind.fields
    }
    details_validators: list[Any] = [
        InputRequired(message=_l("Describe your request."))
        if kind.details_required
        else Optional(),
        too_long(MAX_DETAILS_LENGTH),
    ]
    attributes["details"] = TextAreaField(kind.details_label, validators=details_validators)
    if not ask_email:
        attributes["email"] = None
    if document == "none":
        attributes["document"] = None
    else:
        attributes["document"] = FileField(
            _l("Proof of identity")
            if document == "required"
            else _l("Proof of identity (optional)"),
            description=DOCUMENT_DESCRIPTION,
            validators=[
                FileRequired(message=_l("Choose the file of your identity document."))
                if document == "required"
                else Optional()
            ],
        )
    return type(f"{kind.key.title().replace('_', '')}RequestForm", (RequestForm,), attributes)


def language_choices(languages: Iterable[str], names: dict[str, str]) -> list[SelectChoice]:
    # Each language's name is written in that language: tell screen readers so.
    return [
        SelectChoice(code, names.get(code, code), render_kw={"lang": code}) for code in languages
    ]


class DocumentForm(DocumentFields, FlaskForm):
    document = FileField(
        _l("Proof of identity"),
        description=DOCUMENT_DESCRIPTION,
        validators=[FileRequired(message=_l("Choose the file of your identity document."))],
    )


class ConfirmForm(FlaskForm):
    """The button that uses an emailed confirmation link (a GET never uses it)."""


class WithdrawForm(FlaskForm):
    """The confirmation step before a request is withdrawn."""


class FindForm(FlaskForm):
    email = EmailField(
        _l("Your email address"),
        description=_l("The address you gave when you filed the request."),
        validators=[
            InputRequired(message=_l("Enter your email address.")),
            Email(message=_l("Enter a valid email address, like name@example.com.")),
            Length(max=254),
        ],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )
    reference = StringField(
        _l("Reference of the request"),
        description=_l("It looks like PC-7K4M-9Q2X and is in the emails we sent you."),
        validators=[InputRequired(message=_l("Enter the reference.")), Length(max=40)],
        render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"},
    )
