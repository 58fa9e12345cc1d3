"""The forms of the post-mortem pages (Flask-WTF: every one that changes something carries its
CSRF token)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, ClassVar

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, EmailField, Field, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from ..rights.filing import MAX_DETAILS_LENGTH, MAX_NAME_LENGTH
from ..rights.forms import (
    requester_email_field,
    requester_name_field,
    too_long,
    uploaded_file,
)
from ..rights.kinds import POSTMORTEM_CAPACITIES, POSTMORTEM_KINDS
from ..uploads.checks import MAX_DOCUMENT_BYTES
from .services import CHOICE_LABELS, CONSENT_WORDING

CHOICE_PREFIX = "choice_"


class DirectivesForm(FlaskForm):
    """The holder's directives; one ``choice_<category>`` field per data category is added by
    :func:`directives_form_class`. The service checks how the fields fit together."""

    communicate_nothing = BooleanField(
        _l("Nothing is to be communicated to any third party after my death"),
        description=_l("No one, not even my heirs or a designated person, receives my data."),
    )
    designated_name = StringField(
        _l("Designated person's full name"), validators=[Optional(), too_long(MAX_NAME_LENGTH)]
    )
    designated_email = EmailField(
        _l("Designated person's email address"),
        validators=[Optional(), Length(max=254)],
        render_kw={"spellcheck": "false"},
    )
    designated_relation = StringField(
        _l("Who this person is to you"),
        description=_l("Child, spouse, friend, notary, ..."),
        validators=[Optional(), too_long(100)],
    )
    # The separate, specific consent: its own box, never pre-ticked.
    consent = BooleanField(CONSENT_WORDING)

    # The error summary names a field by these rather than by a label that is a whole sentence.
    short_labels: ClassVar[dict[str, LazyString]] = {"consent": _l("Your consent")}

    def choice_fields(self) -> list[Field]:
        return [field for field in self if field.name.startswith(CHOICE_PREFIX)]

    def choices(self) -> dict[str, str]:
        return {
            field.name.removeprefix(CHOICE_PREFIX): field.data or ""
            for field in self.choice_fields()
        }


@cache
def directives_form_class(category_keys: tuple[str, ...]) -> type[DirectivesForm]:
    """The directives form for these data categories (their labels are set by the view, in
    the page's language)."""
    attributes: dict[str, Any] = {
        f"{CHOICE_PREFIX}{key}": SelectField(
            key,
            choices=[SelectChoice(value, label) for value, label in CHOICE_LABELS.items()],
            default="keep",
            validate_choice=False,
        )
        for key in category_keys
    }
    return type("CategoryDirectivesForm", (DirectivesForm,), attributes)


class WithdrawDirectivesForm(FlaskForm):
    """The button that withdraws the directives in force."""


class DataLinkForm(FlaskForm):
    """Only the CSRF token: the mailed link opens a page whose button downloads, so that mail
    scanners opening the link do not use it up."""


class VerifyForm(FlaskForm):
    """A certificate's fingerprint, checked with a GET (nothing changes: no CSRF token)."""

    class Meta:
        csrf = False

    fingerprint = StringField(
        _l("Fingerprint printed on the certificate"),
        description=_l("64 letters and digits; spaces do not matter."),
        validators=[InputRequired(message=_l("Enter the fingerprint.")), Length(max=200)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )


# Each document of an heir's request has its own hint; the accepted types and the size are the
# upload rules' (uploads.checks.check_identity_document: PDF, JPEG, PNG; MAX_DOCUMENT_BYTES).
_LIMIT_MB = MAX_DOCUMENT_BYTES // (1024 * 1024)
DOCUMENT_HINTS = {
    "death_certificate": _l(
        "A copy of the death certificate (acte de décès), as a PDF, JPEG or PNG file of at most "
        "%(limit)d MB.",
        limit=_LIMIT_MB,
    ),
    "capacity_proof": _l(
        "What shows that you may act: as an heir, the notarial deed of heirship (acte de "
        "notoriété) or a certificate of inheritance; as a notary, the document by which the "
        "heirs instructed you; as the designated person, the deceased's directives or "
        "certificate that name you. A PDF, JPEG or PNG file of at most %(limit)d MB.",
        limit=_LIMIT_MB,
    ),
    "identity": _l(
        "A copy of your own identity document (identity card, passport, driving licence or "
        "residence permit), as a PDF, JPEG or PNG file of at most %(limit)d MB.",
        limit=_LIMIT_MB,
    ),
}


def _document(name: str, label: Any, missing: Any) -> FileField:
    return FileField(
        label, description=DOCUMENT_HINTS[name], validators=[FileRequired(message=missing)]
    )


def _choose(pairs: Sequence[tuple[str, Any]]) -> list[SelectChoice]:
    return [SelectChoice("", _l("Choose…")), *(SelectChoice(key, label) for key, label in pairs)]


class HeirRequestForm(FlaskForm):
    """A request about a deceased account holder (heir, designated person or notary)."""

    purpose = SelectField(
        _l("What do you ask for?"),
        description=_l(
            "The law allows only these requests after a death (French law 78-17, art. 85)."
        ),
        choices=_choose([(key, kind.label) for key, kind in POSTMORTEM_KINDS.items()]),
        validators=[InputRequired(message=_l("Choose an answer."))],
        validate_choice=False,
    )
    deceased_name = StringField(
        _l("Full name of the deceased"),
        validators=[InputRequired(message=_l("Fill in this field.")), too_long(200)],
    )
    deceased_identifier = StringField(
        _l("The deceased's email address or account reference"),
        description=_l(
            "The address they used with us, or a reference from an invoice or a letter."
        ),
        validators=[InputRequired(message=_l("Fill in this field.")), too_long(254)],
        render_kw={"spellcheck": "false"},
    )
    capacity = SelectField(
        _l("You are acting as"),
        choices=_choose(POSTMORTEM_CAPACITIES),
        validators=[InputRequired(message=_l("Choose an answer."))],
        validate_choice=False,
    )
    name = requester_name_field()
    email = requester_email_field()
    language = SelectField(
        _l("Language of our replies"),
        description=_l("Every email and letter about this request will be in this language."),
    )
    details = TextAreaField(
        _l("Anything else we should know"),
        description=_l("Required when you ask us to update the data: say what should change."),
        validators=[Optional(), too_long(MAX_DETAILS_LENGTH)],
    )
    death_certificate = _document(
        "death_certificate",
        _l("Death certificate"),
        _l("Choose the file of the death certificate."),
    )
    capacity_proof = _document(
        "capacity_proof",
        _l("Proof that you may act"),
        _l("Choose the file that proves you may act (designation, or notarial deed of heirship)."),
    )
    identity = _document(
        "identity",
        _l("Your own identity document"),
        _l("Choose the file of your identity document."),
    )

    def upload(self, name: str) -> tuple[str, bytes] | None:
        """An uploaded file as (name, bytes), or None when no file was chosen."""
        return uploaded_file(self[name])
