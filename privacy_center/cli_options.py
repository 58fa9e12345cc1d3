"""What the scheduled commands share on their command line."""

from __future__ import annotations

from datetime import datetime

import click

from .models.types import utcnow


def moment_option(value: str | None) -> datetime:
    """The value of a hidden ``--now`` option (to rehearse a run as at another moment): an ISO
    date and time with its offset, or now when it is not given."""
    if value is None:
        return utcnow()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO date and time (like 2026-12-07T12:00:00+00:00)",
            param_hint="--now",
        ) from None
    if moment.tzinfo is None:
        raise click.BadParameter("give the time zone offset (like +00:00)", param_hint="--now")
    return moment
