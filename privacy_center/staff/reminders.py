"""Deadline reminders to the assigned agent: 10, 5 and 1 days before a request is due.

``flask --app wsgi reminders send`` is meant to run daily. Each reminder is recorded
(ReminderSent, unique per request, due date and step) before its mail leaves, in the same
transaction: running twice, or twice at once, sends nothing twice. A due date that moves (a
suspension, an extension) is a new due date with its own reminders. A run that was missed
sends the most urgent step that applies, once, not every step it skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from ..content import get_content
from ..extensions import db
from ..mail import MailNotSent, send_mail
from ..models import PrivacyRequest, ReminderSent
from ..models.types import utcnow
from ..rights.kinds import get_kind
from ..workflow import CLOCK_SUSPENDED, FINAL_STATES

log = logging.getLogger(__name__)

STEPS = (10, 5, 1)


@dataclass(frozen=True)
class Reminder:
    reference: str
    to: str
    due_on: date
    days_before: int


def step_for(days_left: int, steps: Sequence[int] = STEPS) -> int | None:
    """The reminder that applies ``days_left`` days before the due date: the smallest step at
    or above it (10 from 10 to 6 days, 5 from 5 to 2, 1 on the eve and the day itself)."""
    if days_left < 0:
        return None
    candidates = [step for step in steps if step >= days_left]
    return min(candidates) if candidates else None


def send_reminders(
    session: Session,
    *,
    today: date,
    settings: Mapping[str, Any],
    steps: Sequence[int] = STEPS,
    base_url: str | None = None,
) -> list[Reminder]:
    """Mail each assigned member the reminders due ``today``; returns those sent.

    ``base_url`` (the console's address, e.g. ``https://privacy.example.com``) makes the mail
    link to the request; without it the mail gives the console path."""
    language = get_content().operator.default_language
    requests = session.scalars(
        select(PrivacyRequest)
        .where(
            PrivacyRequest.state.not_in([str(state) for state in FINAL_STATES | CLOCK_SUSPENDED]),
            PrivacyRequest.assigned_to_id.is_not(None),
            PrivacyRequest.due_on.is_not(None),
        )
        .options(selectinload(PrivacyRequest.assigned_to))
        .order_by(PrivacyRequest.due_on, PrivacyRequest.id)
    ).all()
    due = [
        (request.id, request.reference, request.due_on, step)
        for request in requests
        if request.due_on is not None
        and request.assigned_to is not None
        and request.assigned_to.deactivated_at is None
        and (step := step_for((request.due_on - today).days, steps)) is not None
    ]
    sent: list[Reminder] = []
    for request_id, reference, due_on, step in due:
        request = session.get(PrivacyRequest, request_id)
        if request is None or request.assigned_to is None:
            continue
        member = request.assigned_to
        claim = ReminderSent(
            request_id=request_id,
            due_on=due_on,
            days_before=step,
            staff_id=member.id,
            sent_at=utcnow(),
        )
        try:
            # Claimed first: a second run (even a concurrent one) stops at the unique index.
            with session.begin_nested():
                session.add(claim)
        except IntegrityError:
            continue
        kind = get_kind(request.kind)
        try:
            send_mail(
                settings,
                to=member.email,
                template="staff/reminder",
                language=language,
                context={
                    "request": request,
                    "member": member,
                    "kind_label": kind.label if kind else request.kind,
                    "days_left": (due_on - today).days,
                    "request_url": (
                        f"{base_url.rstrip('/')}/staff/requests/{reference}" if base_url else None
                    ),
                },
            )
        except MailNotSent:
            # Not recorded: the next run tries again.
            log.exception("reminder for %s to %s not sent", reference, member.email)
            session.delete(claim)
            session.commit()
            continue
        session.commit()
        sent.append(Reminder(reference, member.email, due_on, step))
    return sent


reminders_cli = AppGroup("reminders", help="Deadline reminders to the assigned staff.")


@reminders_cli.command("send")
@click.option(
    "--base-url",
    envvar="PC_BASE_URL",
    default=None,
    help="The privacy center's public address, for links in the mails (env PC_BASE_URL).",
)
def send_command(base_url: str | None) -> None:
    """Email the assigned staff member 10, 5 and 1 days before each request is due."""
    operator = get_content().operator
    sent = send_reminders(
        db.session, today=operator.today(), settings=current_app.config, base_url=base_url
    )
    for reminder in sent:
        click.echo(
            f"{reminder.reference}: reminded {reminder.to} ({reminder.days_before} days before "
            f"{reminder.due_on.isoformat()})"
        )
    click.echo(f"{len(sent)} reminder(s) sent.")
