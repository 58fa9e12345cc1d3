"""``flask staff create EMAIL --name NAME --role ROLE``: add a staff member (the first admin);
``flask staff reset-password EMAIL``: a new password, and every session of the member ends."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from flask_babel import force_locale

from ...extensions import db
from ...models import STAFF_ROLES
from .members import StaffError, check_new_password, create_member, reset_password
from .sign_in import find_member

staff_cli = AppGroup("staff", help="Staff members of the console.")


def _read_password(from_stdin: bool, nothing: str = "nothing was created") -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("No password on standard input.")
        return password
    password = click.prompt("Password", hide_input=True)
    again = click.prompt("Password, again", hide_input=True)
    if password != again:
        raise click.ClickException(f"The two passwords differ: {nothing}.")
    return password


@staff_cli.command("create")
@click.argument("email")
@click.option("--name", required=True, help="The member's name, as colleagues know it.")
@click.option(
    "--role",
    required=True,
    help=f"One of: {', '.join(STAFF_ROLES)} (admin also manages staff accounts).",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_command(email: str, name: str, role: str, password_stdin: bool) -> None:
    """Add a staff member; they set up two-factor sign-in when they first sign in."""
    # The role is checked before the password is asked for: a typo costs no typing.
    if role not in STAFF_ROLES:
        raise click.ClickException(f"Unknown role {role!r}: use one of {', '.join(STAFF_ROLES)}.")
    password = _read_password(password_stdin)
    try:
        check_new_password(password)
        member = create_member(
            db.session, email=email, name=name, role=role, password=password, actor="cli"
        )
    except StaffError as error:
        db.session.rollback()
        with force_locale("en"):
            message = str(error)
        raise click.ClickException(f"{message} Nothing was created.") from None
    db.session.commit()
    click.echo(
        f"Staff member {member.email} ({member.role}) created. They sign in at /staff/sign-in "
        "and set up their authenticator app at the first sign-in."
    )


@staff_cli.command("reset-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
def reset_password_command(email: str, password_stdin: bool) -> None:
    """Give a staff member a new password: every session of theirs ends, every lock is lifted."""
    member = find_member(db.session, email)
    if member is None:
        raise click.ClickException(f"No staff member has the email {email!r}: nothing changed.")
    password = _read_password(password_stdin, nothing="nothing changed")
    try:
        ended = reset_password(db.session, member, password=password, actor="cli")
    except StaffError as error:
        db.session.rollback()
        with force_locale("en"):
            message = str(error)
        raise click.ClickException(f"{message} Nothing changed.") from None
    db.session.commit()
    click.echo(
        f"New password set for {member.email}; {ended} open session(s) ended. They sign in "
        "with it at /staff/sign-in."
    )
