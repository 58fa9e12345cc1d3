"""Retention steps that delete or archive rows whose time is up: rows of any declared table,
invoices (archived, then deleted after the legal period), consent receipts, closed requests and
their identity documents."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.orm import Session

from ..models import (
    Account,
    ConsentReceipt,
    IdentityDocument,
    Invoice,
    PrivacyRequest,
    Site,
)
from ..models.types import UTCDateTime
from ..operator import MAX_CONSENT_LIFETIME_MONTHS
from ..uploads.storage import delete_document
from ..workflow import FINAL_STATES
from .rules import (
    EnforcedRule,
    Target,
)
from .steps import Batch, Context, RetentionError, Step


class DeleteOldRows(Step):
    """Delete the rows of ``target`` whose date column is older than the period."""

    name = "deleted"

    def __init__(self, rule: EnforcedRule, target: Target) -> None:
        self.rule = rule
        self.target = target
        self.what = f"rows of {target.table}"
        self._table: sa.Table | None = None

    def table(self, session: Session) -> sa.Table:
        if self._table is None:
            known = sa.MetaData()
            metadata_table = Account.metadata.tables.get(self.target.table)
            try:
                self._table = (
                    metadata_table
                    if metadata_table is not None
                    else sa.Table(self.target.table, known, autoload_with=session.connection())
                )
            except sa.exc.NoSuchTableError:
                raise RetentionError(
                    f"rule {self.rule.key!r}: table {self.target.table!r} does not exist in the "
                    "privacy center's database (content/retention.yaml, enforce: targets)"
                ) from None
            for name in (self.target.column, self.target.key):
                if name not in self._table.c:
                    raise RetentionError(
                        f"rule {self.rule.key!r}: table {self.target.table!r} has no column "
                        f"{name!r} (content/retention.yaml, enforce: targets)"
                    )
        return self._table

    def key(self, session: Session) -> sa.ColumnElement[int]:
        return self.table(session).c[self.target.key]

    def dated_by(self, session: Session) -> sa.ColumnElement[Any]:
        return self.table(session).c[self.target.column]

    def conditions(self, session: Session, ctx: Context) -> list[ColumnElement[bool]]:
        column = self.dated_by(session)
        kind = column.type
        if isinstance(kind, sa.Date) and not isinstance(kind, sa.DateTime):
            # Collected on a day: kept while that day plus the period has not come.
            return [column <= ctx.today - self.rule.period.delta]
        cutoff = ctx.now - self.rule.period.delta
        if not isinstance(kind, UTCDateTime) and not getattr(kind, "timezone", False):
            # A naive timestamp column declared by the operator: read as UTC.
            return [column <= cutoff.astimezone(UTC).replace(tzinfo=None)]
        return [column <= cutoff]


# --- invoices -----------------------------------------------------------------------------------


def financial_year_end_on_or_before(day: date, month_day: tuple[int, int]) -> date:
    month, dom = month_day
    end = date(day.year, month, dom)
    return end if end <= day else date(day.year - 1, month, dom)


class ArchiveInvoices(Step):
    """Move to the intermediate archive the invoices whose account is closed or deactivated."""

    name = "archived"
    what = "invoices"

    model = Invoice
    date_column = "issued_on"

    def conditions(self, session: Session, ctx: Context) -> list[ColumnElement[bool]]:
        closed = select(Account.id).where(Account.deactivated_at.is_not(None))
        return [
            Invoice.archived_at.is_(None),
            or_(Invoice.account_id.is_(None), Invoice.account_id.in_(closed)),
        ]

    def act(self, session: Session, ctx: Context, first: int, last: int) -> Batch:
        return self._set(session, ctx, first, last, archived_at=ctx.now)


class DeleteExpiredInvoices(Step):
    """Delete the invoices kept for the period after the end of their financial year."""

    name = "deleted"
    what = "invoices"

    model = Invoice
    date_column = "issued_on"

    def last_deletable_issue_date(self, ctx: Context) -> date:
        """Kept for the period counted from the end of the financial year, that day included:
        an invoice goes once the day after (year end + period) has come."""
        limit = ctx.today - self.rule.period.delta - timedelta(days=1)
        return financial_year_end_on_or_before(limit, self.rule.financial_year_end)

    def conditions(self, session: Session, ctx: Context) -> list[ColumnElement[bool]]:
        return [Invoice.issued_on <= self.last_deletable_issue_date(ctx)]


# --- consent receipts ---------------------------------------------------------------------------


class DeleteConsentReceipts(Step):
    """Delete the receipts kept for the period after they stopped being valid.

    A receipt stops being valid at the first of: the end of the site's consent lifetime
    (content/operator.yaml), the day a new policy version came into force (the widget asks
    again). A receipt replaced earlier by the visitor's next choice is kept until then too (at
    most 13 months more): finding the next choice would need an index on visitor ids, which
    every consent written would pay for, and a per-row search that cannot scale to years of
    receipts. Both conditions read the date index only.
    """

    name = "deleted"
    what = "consent receipts"

    model = ConsentReceipt
    date_column = "recorded_at"

    def conditions(self, session: Session, ctx: Context) -> list[ColumnElement[bool]]:
        # Validity ended on or before `ended`: its period of keeping is over.
        ended = ctx.now - self.rule.period.delta
        operator = ctx.content.operator
        expired: list[ColumnElement[bool]] = []
        for site_id, site_key in session.execute(select(Site.id, Site.key)).all():
            site = operator.site(site_key)
            months = site.consent_lifetime_months if site else MAX_CONSENT_LIFETIME_MONTHS
            expired.append(
                sa.and_(
                    ConsentReceipt.site_id == site_id,
                    ConsentReceipt.recorded_at <= ended - _months(months),
                )
            )
        reasons = list(expired)
        in_force = [
            version.number
            for version in ctx.content.versions
            if ctx.start_of(version.effective) <= ended
        ]
        if in_force:
            reasons.append(ConsentReceipt.policy_version < max(in_force))
        return [ConsentReceipt.recorded_at <= ended, or_(*reasons)]


def _months(count: int) -> relativedelta:
    return relativedelta(months=count)


# --- requests and identity documents -----------------------------------------------------------


def _document_dir(settings: Mapping[str, Any]) -> Path:
    return Path(settings["IDENTITY_DOCUMENT_DIR"])


class DeleteClosedRequests(Step):
    """Delete the requests closed for the period, with their history, letters, notes, tokens
    and documents (the database cascades); the audit log keeps what was done."""

    name = "deleted"
    what = "closed requests"

    model = PrivacyRequest
    date_column = "closed_at"

    def conditions(self, session: Session, ctx: Context) -> list[ColumnElement[bool]]:
        return [
            PrivacyRequest.state.in_([str(state) for state in FINAL_STATES]),
            PrivacyRequest.closed_at.is_not(None),
            PrivacyRequest.closed_at <= ctx.now - self.rule.period.delta,
        ]

    def act(self, session: Session, ctx: Context, first: int, last: int) -> Batch:
        in_range = self._in_range(session, ctx, first, last)
        # Files first: a document still on disk (it should not be) goes with its request.
        stored = session.scalars(
            select(IdentityDocument.stored_name).where(
                IdentityDocument.deleted_at.is_(None),
                IdentityDocument.request_id.in_(select(PrivacyRequest.id).where(*in_range)),
            )
        ).all()
        for name in stored:
            delete_document(name, directory=_document_dir(ctx.settings))
        result = session.execute(
            delete(PrivacyRequest).where(*in_range).execution_options(synchronize_session=False)
        )
        return Batch(result.rowcount, first, last)


class DeleteIdentityDocuments(Step):
    """Destroy the identity documents received the period ago or more (the decision on
    identity destroys them earlier); the request keeps who checked, when, type and outcome."""

    name = "deleted"
    what = "identity documents"

    model = IdentityDocument
    date_column = "uploaded_at"

    def conditions(self, session: Session, ctx: Context) -> list[ColumnElement[bool]]:
        return [
            IdentityDocument.deleted_at.is_(None),
            IdentityDocument.uploaded_at <= ctx.now - self.rule.period.delta,
        ]

    def act(self, session: Session, ctx: Context, first: int, last: int) -> Batch:
        documents = session.scalars(
            select(IdentityDocument).where(*self._in_range(session, ctx, first, last))
        ).all()
        for document in documents:
            delete_document(document.stored_name, directory=_document_dir(ctx.settings))
            document.deleted_at = ctx.now
        session.flush()
        return Batch(len(documents), first, last)
