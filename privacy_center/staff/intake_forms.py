"""The form of the console's page for a request received by post, email or phone."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    MultipleFileField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional

from ..rights.intake import CHANNEL_LABELS, INTAKE_CHANNELS


class IntakeForm(FlaskForm):
    """Only the shape of each field is checked here; rights/intake.py checks the rest (known
    kind, date not in the future, email syntax, address lines, documents)."""

    channel = SelectField(
        _l("Received by"),
        choices=[SelectChoice(key, CHANNEL_LABELS[key]) for key in INTAKE_CHANNELS],
    )
    received_on = DateField(
        _l("Date received"),
        validators=[InputRequired(_l("Enter the date the request was received (YYYY-MM-DD)."))],
    )
    name = StringField(_l("Requester's full name"))
    email = EmailField(_l("Email address (optional)"), validators=[Optional()])
    postal_address = TextAreaField(_l("Postal address"), render_kw={"rows": 5})
    language = SelectField(_l("Language of the reply"), validate_choice=False)
    kind = SelectField(_l("Type of request"), validate_choice=False)
    # Only an email sent from the address proves control of it (rights/intake.py).
    address_verified = BooleanField(
        _l("Objection to marketing: the email came from this very address (sender checked)")
    )
    details = TextAreaField(_l("What the requester asks (optional)"), render_kw={"rows": 4})
    documents = MultipleFileField(
        _l("Scanned documents"), render_kw={"accept": ".pdf,.jpg,.jpeg,.png"}
    )
    submit = SubmitField(_l("Record the request"))


class ScanForm(FlaskForm):
    """Documents a requester sent later by post or email, scanned by staff."""

    documents = MultipleFileField(
        _l("Scanned documents received since"), render_kw={"accept": ".pdf,.jpg,.jpeg,.png"}
    )
    submit = SubmitField(_l("Add the documents"))
