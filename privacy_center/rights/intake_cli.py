"""``flask --app wsgi requests intake``: a request received by post, email or phone
(rights/intake.py), entered from the command line for bulk entry and scripts::

    flask --app wsgi requests intake --kind access --name "Jeanne Martin" \\
        --received-on 2026-01-31 --channel post \\
        --postal-address $'12 rue des Lilas\\n31000 Toulouse' --document scan.pdf

It prints the new reference and ``due YYYY-MM-DD``. Bad input exits non-zero with a message
naming each wrong option, and creates nothing.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from flask import current_app, url_for
from flask.cli import with_appcontext
from flask_babel import force_locale

from ..content import get_content
from ..extensions import db
from ..models import PrivacyRequest
from .emails import Links
from .filing import InvalidRequest
from .intake import INTAKE_CHANNELS, intake_request
from .kinds import KINDS

# Who entered a request from the command line, in its history and the audit log.
CLI_ACTOR = "cli"

# The options named in messages, by the service's field names.
OPTIONS = {
    "kind": "--kind",
    "name": "--name",
    "email": "--email",
    "received_on": "--received-on",
    "channel": "--channel",
    "language": "--language",
    "postal_address": "--postal-address",
    "documents": "--document",
    "address_verified": "--address-verified",
}


def _links(base_url: str) -> Links:
    """The confirmation link's absolute address, outside any web request."""

    def confirm(request: PrivacyRequest, token: str) -> str:
        with current_app.test_request_context("/", base_url=base_url):
            return url_for("rights.confirm", token=token, lang=request.language, _external=True)

    def status(request: PrivacyRequest, token: str) -> str:
        raise AssertionError("intake mails no status link")

    return Links(status=status, confirm=confirm)


def _received_on(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date; write it YYYY-MM-DD (like 2026-01-31)",
            param_hint="--received-on",
        ) from None


def _read_documents(paths: tuple[str, ...]) -> list[tuple[str, bytes]]:
    documents = []
    for name in paths:
        path = Path(name)
        try:
            documents.append((path.name, path.read_bytes()))
        except OSError as error:
            raise click.BadParameter(
                f"cannot read {name}: {error.strerror or error}", param_hint="--document"
            ) from None
    return documents


@click.command("intake")
@with_appcontext
@click.option("--kind", required=True, help="The kind of request (access, erasure, ...).")
@click.option("--email", default="", help="The requester's email address, if they gave one.")
@click.option("--name", required=True, help="The requester's full name.")
@click.option(
    "--received-on",
    "received_on_text",
    required=True,
    metavar="YYYY-MM-DD",
    help="The day the request reached the operator: the legal clock runs from it.",
)
@click.option(
    "--channel",
    required=True,
    metavar="|".join(INTAKE_CHANNELS),
    help="How it arrived.",
)
@click.option(
    "--language", default=None, help="The language to answer in (default: the operator's)."
)
@click.option(
    "--postal-address",
    default="",
    help="Where letters go by post: lines separated by newlines, without the name.",
)
@click.option(
    "--document",
    "document_paths",
    multiple=True,
    metavar="FILE",
    help="A scanned document sent with the request (PDF, JPEG or PNG); repeat for several.",
)
@click.option(
    "--address-verified",
    is_flag=True,
    help="An objection to marketing received by email from the address it is about (sender "
    "checked): marketing stops at once. Otherwise a confirmation link is mailed to the address.",
)
@click.option(
    "--base-url",
    envvar="PC_BASE_URL",
    default=None,
    help="The privacy center's public address, for the confirmation link (env PC_BASE_URL).",
)
# For tests and rehearsals: enter as on another day.
@click.option("--today", "today_text", default=None, hidden=True)
def intake_command(
    kind: str,
    email: str,
    name: str,
    received_on_text: str,
    channel: str,
    language: str | None,
    postal_address: str,
    document_paths: tuple[str, ...],
    address_verified: bool,
    base_url: str | None,
    today_text: str | None,
) -> None:
    """Enter a request received by post, email or phone; prints its reference and due date."""
    request_kind = KINDS.get(kind.strip())
    confirm = request_kind is not None and request_kind.effect is not None and not address_verified
    # Without an address, the service says that one is needed.
    if confirm and email.strip() and not base_url:
        raise click.UsageError(
            "An objection to marketing stops only once its address is confirmed: give "
            "--base-url https://privacy.example.com (or set PC_BASE_URL) for the link "
            "mailed to it, or --address-verified if it came by email from that address. "
            "Nothing was created."
        )
    received_on = _received_on(received_on_text)
    documents = _read_documents(document_paths)
    operator = get_content().operator
    today = date.fromisoformat(today_text) if today_text else operator.today()
    with force_locale("en"):
        try:
            request = intake_request(
                db.session,
                kind=kind.strip(),
                name=name,
                email=email,
                received_on=received_on,
                channel=channel.strip(),
                language=(language or operator.default_language).strip(),
                postal_address=postal_address,
                documents=documents,
                actor=CLI_ACTOR,
                today=today,
                settings=current_app.config,
                operator=operator,
                address_verified=address_verified,
                links=_links(base_url) if base_url else None,
            )
        except InvalidRequest as error:
            lines = [
                f"{OPTIONS.get(field, field)}: {message}" for field, message in error.errors.items()
            ]
            raise click.ClickException("nothing was created:\n  " + "\n  ".join(lines)) from None
    click.echo(request.reference)
    click.echo(f"due {request.due_on.isoformat() if request.due_on else '-'}")
    if request.state == "awaiting_confirmation":
        click.echo(f"marketing to {request.email} stops when the link mailed to it is used")
