"""Forms of the account pages (Flask-WTF: each carries its CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SubmitField
from wtforms.validators import DataRequired, Email, Length

from ..operator import Communication

CHANNEL_LABELS = {"email": _l("Email"), "sms": _l("SMS (text message)")}


class SignInForm(FlaskForm):
    email = EmailField(
        _l("Email address"),
        validators=[DataRequired(_l("Enter your email address.")), Length(max=254)],
        render_kw={"autocomplete": "username", "spellcheck": "false"},
    )
    password = PasswordField(
        _l("Password"),
        # The upper bound keeps a megabyte "password" from costing argon2 work.
        validators=[DataRequired(_l("Enter your password.")), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()
    submit = SubmitField(_l("Sign in"))


class SignInLinkForm(FlaskForm):
    email = EmailField(
        _l("Email address"),
        validators=[
            DataRequired(_l("Enter your email address.")),
            Length(max=254),
            Email(
                _l("Enter an email address like name@example.com."),
                check_deliverability=False,
                allow_smtputf8=True,
            ),
        ],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )
    next = HiddenField()
    submit = SubmitField(_l("Email me a sign-in link"))


class ConfirmForm(FlaskForm):
    """A single button: pages reached from an emailed link act only on this POST."""

    submit = SubmitField(_l("Sign in"))


class SignOutForm(FlaskForm):
    submit = SubmitField(_l("Sign out"))


def field_name(channel: str, topic: str) -> str:
    return f"{channel}__{topic}"


def preferences_form(communication: Communication, state: dict[tuple[str, str], bool]) -> FlaskForm:
    """A form with one checkbox per channel and topic, ticked as ``state`` says.

    Built per request: the topics are the operator's (content/operator.yaml). An unticked box
    is absent from the post, so every declared box is read, ticked or not.
    """

    class PreferencesForm(FlaskForm):
        submit = SubmitField(_l("Save my preferences"))

    for topic in communication.topics:
        for channel in communication.channels:
            setattr(
                PreferencesForm,
                field_name(channel, topic.key),
                BooleanField(
                    CHANNEL_LABELS[channel], default=state.get((channel, topic.key), False)
                ),
            )
    return PreferencesForm()


def wanted_preferences(
    form: FlaskForm, communication: Communication
) -> dict[tuple[str, str], bool]:
    return {
        (channel, topic): bool(form[field_name(channel, topic)].data)
        for channel, topic in communication.pairs()
    }
