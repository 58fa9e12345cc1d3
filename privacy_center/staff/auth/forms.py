"""Forms of the staff sign-in and staff administration pages (each carries its CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from ...accounts.forms import SignInForm
from ...models import STAFF_ROLES
from .members import MIN_PASSWORD_LENGTH

ROLE_LABELS = {"agent": _l("Agent"), "dpo": _l("Data protection officer"), "admin": _l("Admin")}


class StaffSignInForm(SignInForm):
    """The account holders' sign-in form; its button leads on to the code step."""

    submit = SubmitField(_l("Continue"))


class CodeForm(FlaskForm):
    code = StringField(
        _l("6-digit code from your authenticator app"),
        validators=[
            DataRequired(_l("Enter the code your authenticator app shows.")),
            Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message=_l("The code is 6 digits.")),
        ],
        render_kw={
            "autocomplete": "one-time-code",
            "inputmode": "numeric",
            "spellcheck": "false",
        },
    )
    next = HiddenField()
    submit = SubmitField(_l("Sign in"))


class NewMemberForm(FlaskForm):
    email = EmailField(
        _l("Email address"),
        validators=[DataRequired(_l("Enter the email address.")), Length(max=254)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    name = StringField(
        _l("Name"), validators=[DataRequired(_l("Enter the name.")), Length(max=200)]
    )
    role = SelectField(
        _l("Role"),
        choices=[SelectChoice(role, ROLE_LABELS[role]) for role in STAFF_ROLES],
        default="agent",
    )
    password = PasswordField(
        _l("Initial password"),
        validators=[
            DataRequired(_l("Enter a password.")),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=1024,
                message=_l("Use at least %(num)d characters.", num=MIN_PASSWORD_LENGTH),
            ),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Initial password, again"),
        validators=[EqualTo("password", _l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Add the staff member"))


class MemberActionForm(FlaskForm):
    """A single button (deactivate, reset two-factor) acting on one member."""

    submit = SubmitField()
