"""The forms of the staff console's request page: one per action, each asking what the law
needs. Each has its own prefix, so that several can share a page without clashing ids."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from .actions.identity import IDENTITY_DOCUMENT_TYPES
from .actions.rules import MAX_TEXT_LENGTH

_LONG = Length(max=MAX_TEXT_LENGTH)


class ConfirmIdentityForm(FlaskForm):
    document_type = SelectField(
        _l("Type of document checked"),
        choices=[
            SelectChoice("", _l("Choose…")),
            *(SelectChoice(key, label) for key, label in IDENTITY_DOCUMENT_TYPES.items()),
        ],
        validators=[DataRequired(_l("Choose the type of document you checked."))],
    )
    submit = SubmitField(_l("Confirm identity and delete the documents"))


class AskIdentityForm(FlaskForm):
    reason = TextAreaField(
        _l("Why the identity is in doubt"),
        validators=[DataRequired(_l("State the reason for doubting the identity.")), _LONG],
    )
    submit = SubmitField(_l("Ask for a proof of identity"))


class ClarificationForm(FlaskForm):
    questions = TextAreaField(
        _l("Questions to the requester"),
        validators=[DataRequired(_l("Write the questions to ask.")), _LONG],
    )
    submit = SubmitField(_l("Ask for clarification"))


class ResumeForm(FlaskForm):
    reason = TextAreaField(
        _l("What the requester answered"),
        validators=[DataRequired(_l("Say what the requester answered.")), _LONG],
    )
    submit = SubmitField(_l("Resume work"))


class ExtendForm(FlaskForm):
    reasons = TextAreaField(
        _l("Reasons for the extension"),
        validators=[DataRequired(_l("Give the reasons for the extension.")), _LONG],
    )
    submit = SubmitField(_l("Extend by two months and send the notice"))


class RefuseForm(FlaskForm):
    reasons = TextAreaField(
        _l("Reasons for the refusal"),
        validators=[DataRequired(_l("Give the reasons for the refusal.")), _LONG],
    )
    submit = SubmitField(_l("Refuse and send the letter"))


class CompleteForm(FlaskForm):
    summary = TextAreaField(_l("What was done"), validators=[Optional(), _LONG])
    fee_acknowledged = BooleanField(_l("The requester accepted the fee notice for a further copy"))
    # Rectification, restriction: the data concerned, told to the recipients holding it (art. 19).
    recipient_categories = SelectMultipleField(
        _l("Data concerned"),
        choices=[],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    submit = SubmitField(_l("Complete and send the letter"))


class ReleaseForm(FlaskForm):
    """A release of a deceased person's data (post-mortem estate or memories request); the
    categories' choices are set by the view (the connectors' categories)."""

    categories = SelectMultipleField(
        _l("Data communicated to the requester"),
        choices=[],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[DataRequired(_l("Choose the data to communicate."))],
    )
    estate_need = TextAreaField(_l("Estate-settlement need"), validators=[Optional(), _LONG])
    submit = SubmitField(_l("Record the release"))


class CloseAccountForm(FlaskForm):
    submit = SubmitField(_l("Close the account, complete and send the letter"))


class AssignForm(FlaskForm):
    assignee = SelectField(_l("Assign to"), choices=[])
    submit = SubmitField(_l("Assign"))


class NoteForm(FlaskForm):
    text = TextAreaField(
        _l("Internal note"), validators=[DataRequired(_l("Write the note.")), _LONG]
    )
    submit = SubmitField(_l("Add the note"))


class LetterForm(FlaskForm):
    """The CSRF token of a letter's form; its fields depend on the letter's kind and are read
    by name (``letter-<kind>-<field>``) and checked by the letters package."""


class RetryMailForm(FlaskForm):
    """Staff's "retry now" on a mail that could not be delivered; ``back`` says which page to
    return to ("request": the mail's request, otherwise the list of undelivered mails)."""

    back = HiddenField()
    submit = SubmitField(_l("Retry now"))
