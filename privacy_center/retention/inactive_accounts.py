"""Retention steps on accounts that stopped being used: a warning mailed before the end of the
inactivity period, then the account deactivated (its erasure is erasure.py). What counts as
activity is activity.py."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import ColumnElement, not_, or_, select
from sqlalchemy.orm import Session

from ..mail import MailNotSent, send_mail
from ..models import (
    Account,
)
from . import activity
from .steps import Batch, Context, Step

log = logging.getLogger(__name__)


def _language(ctx: Context, wanted: str) -> str:
    operator = ctx.content.operator
    return wanted if wanted in operator.languages else operator.default_language


class WarnInactiveAccounts(Step):
    """Mail the holders whose account will be deactivated within ``warn_days_before`` days."""

    name = "warned"
    what = "accounts"

    model = Account
    date_column = "last_active_at"

    def conditions(self, session: Session, ctx: Context) -> list[ColumnElement[bool]]:
        threshold = ctx.now - self.rule.period.delta + timedelta(days=self.rule.warn_days_before)
        return [
            Account.deactivated_at.is_(None),
            # No activity anywhere (activity.py): a sign-in here, the site, the emails.
            activity.inactive_since(threshold),
            # Never warned since the last activity (activity after a warning starts over).
            or_(
                Account.inactivity_warned_at.is_(None),
                activity.active_after(Account.inactivity_warned_at),
            ),
        ]

    def act(self, session: Session, ctx: Context, first: int, last: int) -> Batch:
        accounts = session.scalars(
            select(Account).where(*self._in_range(session, ctx, first, last)).order_by(Account.id)
        ).all()
        sign_in_url = f"{ctx.base_url.rstrip('/')}/rights/sign-in" if ctx.base_url else None
        warned = skipped = 0
        latest = activity.last_activity(session, accounts)
        for account in accounts:
            deactivation = max(
                latest[account.id] + self.rule.period.delta,
                ctx.now + timedelta(days=self.rule.warn_days_before),
            )
            try:
                send_mail(
                    ctx.settings,
                    to=account.email,
                    template="retention/inactivity_warning",
                    language=_language(ctx, account.language),
                    context={
                        "account": account,
                        "deactivation_on": deactivation.astimezone(ctx.zone).date(),
                        "last_active_on": latest[account.id].astimezone(ctx.zone).date(),
                        "activity_sources": self.rule.activity,
                        "sign_in_url": sign_in_url,
                        "period": self.rule.period,
                    },
                )
            except MailNotSent:
                # Not recorded: the next run tries again, and nobody is deactivated unwarned.
                log.exception("inactivity warning to account %s not sent", account.id)
                skipped += 1
                continue
            account.inactivity_warned_at = ctx.now
            warned += 1
        session.flush()
        return Batch(warned, first, last, skipped)


class DeactivateInactiveAccounts(Step):
    """Deactivate the accounts inactive for the period whose holder was warned in time."""

    name = "deactivated"
    what = "accounts"

    model = Account
    date_column = "last_active_at"

    def conditions(self, session: Session, ctx: Context) -> list[ColumnElement[bool]]:
        return [
            Account.deactivated_at.is_(None),
            activity.inactive_since(ctx.now - self.rule.period.delta),
            # Warned after the last activity, at least warn_days_before days ago.
            Account.inactivity_warned_at.is_not(None),
            not_(activity.active_after(Account.inactivity_warned_at)),
            Account.inactivity_warned_at <= ctx.now - timedelta(days=self.rule.warn_days_before),
        ]

    def act(self, session: Session, ctx: Context, first: int, last: int) -> Batch:
        return self._set(session, ctx, first, last, deactivated_at=ctx.now)
