"""Erase the data of deactivated accounts, and later the evidence kept about them.

:class:`EraseDeactivatedAccounts` (the ``account`` rule, after ``deactivate-accounts``) erases
an account ``erase_after_days`` after its deactivation (0: in the run that deactivates it):

- through every connector, exactly as an erasure request does (``connectors/erasure.py``): each
  category is removed, anonymised or kept as ``content/connectors.yaml`` (and the operator's
  HTTP services) say, with the reason;
- in the privacy center's own tables: the copies of the data prepared for the holder (files
  and records), the post-mortem directives and the emailed links (sign-in, download) are
  deleted; the account row keeps only its number (the invoices kept refer to it), its language
  and its dates;
- ``erased_at`` is set in the same transaction: an account is never erased twice, and the
  evidence kept about it (complaints, the history of communication choices, the links to the
  consent receipts) is deleted by :class:`DeleteEvidence` once the limitation period (the
  ``claims`` rule) has passed since that day.

An account with a request still open (an access request filed during the warning, an heir's
request) waits until the request is closed. Each batch of accounts is one transaction with its
audit event, which counts rows per category and action; an HTTP service's erase call is not in
that transaction, so a run killed in the middle of a batch calls it again for the accounts of
that batch only (an erase call is idempotent: what is gone stays gone). A connector that fails
leaves the account as it was (a savepoint per account), counted as left for the next run under
``CONNECTOR:*`` "failed"; the other accounts and rules go on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from ..connectors import Connector, ConnectorError, Subject, get_connectors
from ..connectors.erasure import erase_subject
from ..models import (
    Account,
    DataExport,
    EmailToken,
    PostmortemDirective,
    PreferenceChange,
    PrivacyRequest,
    SessionRecord,
)
from ..uploads.storage import delete_document
from ..workflow import FINAL_STATES
from .rules import EnforcedRule
from .steps import Batch, Categories, Context, Estimate, RetentionError, Step, add_categories

log = logging.getLogger(__name__)

# The privacy center's own categories, in the audit log and on the staff page.
OWN = "privacy-center"
# What is left of an erased account's row besides its number, language and dates.
ANONYMOUS = {
    "password_hash": None,
    "civility": None,
    "first_name": "",
    "last_name": "",
    "date_of_birth": None,
    "phone": None,
    "company": None,
    "billing_street": None,
    "billing_postal_code": None,
    "billing_city": None,
    "billing_country": None,
}
# Accounts per batch: every account calls each connector, so an interruption repeats little.
ACCOUNTS_PER_BATCH = 100


def erased_email(account_id: int) -> str:
    """The address an erased account keeps (unique, and undeliverable: RFC 2606)."""
    return f"erased-{account_id}@invalid"


def _no_open_request() -> ColumnElement[bool]:
    # A request about the account, or filed with its address without signing in.
    return ~sa.exists().where(
        or_(PrivacyRequest.account_id == Account.id, PrivacyRequest.email == Account.email),
        PrivacyRequest.state.not_in([str(state) for state in FINAL_STATES]),
    )


class EraseDeactivatedAccounts(Step):
    """Erase every category of the accounts deactivated ``erase_after_days`` ago or more."""

    name = "erased"
    what = "accounts"

    model = Account
    date_column = "deactivated_at"
    max_batch = ACCOUNTS_PER_BATCH

    def __init__(self, rule: EnforcedRule, deactivate: Step | None = None) -> None:
        super().__init__(rule)
        # The step deactivating accounts before this one, in the same run: a plan counts the
        # accounts it will deactivate when they are erased at once (erase_after_days 0).
        self.deactivate = deactivate

    def conditions(self, session: Session, ctx: Context) -> list[ColumnElement[bool]]:
        return [
            Account.deactivated_at.is_not(None),
            Account.deactivated_at <= ctx.now - timedelta(days=self.rule.erase_after_days),
            Account.erased_at.is_(None),
            _no_open_request(),
        ]

    def _planned(self, session: Session, ctx: Context) -> list[ColumnElement[bool]]:
        erasable = self.conditions(session, ctx)
        if self.deactivate is None or self.rule.erase_after_days:
            return erasable
        deactivated_now = and_(
            *self.deactivate.conditions(session, ctx), Account.erased_at.is_(None)
        )
        return [or_(and_(*erasable), and_(deactivated_now, _no_open_request()))]

    def estimate(self, session: Session, ctx: Context) -> Estimate:
        """How many accounts; in a dry run, also what each category would lose (every
        connector's erasure in its dry run: nothing changes)."""
        planned = self._planned(session, ctx)
        oldest = session.scalar(select(func.min(Account.deactivated_at)).where(*planned))
        accounts = session.execute(
            select(Account.id, Account.email).where(*planned).order_by(Account.id)
        ).all()
        categories: dict[str, Any] = {}
        if ctx.dry_run:
            connectors = self._connectors(session, ctx)
            for account_id, email in accounts:
                try:
                    done = self._erase(session, ctx, connectors, account_id, email, dry_run=True)
                except ConnectorError as error:
                    done = _failed(error)
                categories = add_categories(categories, done)
        return Estimate(
            len(accounts), oldest.astimezone(ctx.zone).date() if oldest else None, categories
        )

    def act(self, session: Session, ctx: Context, first: int, last: int) -> Batch:
        accounts = session.execute(
            select(Account.id, Account.email)
            .where(*self._in_range(session, ctx, first, last))
            .order_by(Account.id)
        ).all()
        connectors = self._connectors(session, ctx)
        categories: dict[str, Any] = {}
        erased = skipped = 0
        for account_id, email in accounts:
            try:
                # One account at a time: a connector that fails leaves this account as it was
                # (what the SQL connector did is rolled back) and the next run tries again.
                with session.begin_nested():
                    done = self._erase(session, ctx, connectors, account_id, email)
                    session.execute(
                        update(Account)
                        .where(Account.id == account_id)
                        .values(email=erased_email(account_id), erased_at=ctx.now, **ANONYMOUS)
                        .execution_options(synchronize_session=False)
                    )
            except ConnectorError as error:
                log.warning("account %s not erased, left for the next run: %s", account_id, error)
                categories = add_categories(categories, _failed(error))
                skipped += 1
                continue
            categories = add_categories(categories, done)
            erased += 1
        return Batch(erased, first, last, skipped, categories=categories)

    # --- one account -------------------------------------------------------------------------

    def _connectors(self, session: Session, ctx: Context) -> Sequence[Connector]:
        if ctx.connectors is not None:
            return ctx.connectors
        return get_connectors(lambda: session)

    def _erase(
        self,
        session: Session,
        ctx: Context,
        connectors: Sequence[Connector],
        account_id: int,
        email: str,
        *,
        dry_run: bool = False,
    ) -> Categories:
        subject = Subject(email=email, account_id=account_id)
        outcomes = erase_subject(subject, connectors, "en", dry_run=dry_run)
        done: dict[str, dict[str, int]] = {}
        for item in outcomes:
            key = f"{item['connector']}:{item['category']}"
            done = add_categories(done, {key: {item["action"]: item["rows"]}})
        return add_categories(
            done, self._erase_own(session, ctx, account_id, email, dry_run=dry_run)
        )

    def _erase_own(
        self, session: Session, ctx: Context, account_id: int, email: str, *, dry_run: bool
    ) -> Categories:
        """The privacy center's own data about the account that no connector declares."""
        exports = session.execute(
            select(DataExport.id, DataExport.stored_name).where(DataExport.account_id == account_id)
        ).all()
        # In this order: the links (to a copy, too) go before the copies they point to.
        owned: dict[str, tuple[Any, ColumnElement[bool]]] = {
            "email_links": (
                EmailToken,
                or_(
                    EmailToken.account_id == account_id,
                    EmailToken.export_id.in_([export_id for export_id, _ in exports]),
                ),
            ),
            "data_exports": (DataExport, DataExport.account_id == account_id),
            "postmortem_directives": (
                PostmortemDirective,
                PostmortemDirective.account_id == account_id,
            ),
            # Signed-in sessions (ended: the account was deactivated).
            "sessions": (SessionRecord, SessionRecord.account_id == account_id),
        }
        done: dict[str, dict[str, int]] = {}
        for key, (model, condition) in owned.items():
            rows = int(
                session.scalar(select(func.count()).select_from(model).where(condition)) or 0
            )
            if rows:
                done[f"{OWN}:{key}"] = {"removed": rows}
            if not dry_run:
                session.execute(
                    delete(model).where(condition).execution_options(synchronize_session=False)
                )
        # Choices of communication recorded for the bare address (a one-click unsubscribe before
        # the account was linked) are evidence too: tied to the account, they go with the rest
        # of the evidence (the address they hold is the only way to find them).
        by_address = and_(
            PreferenceChange.account_id.is_(None), PreferenceChange.email == email.strip().lower()
        )
        linked = int(
            session.scalar(select(func.count()).select_from(PreferenceChange).where(by_address))
            or 0
        )
        if linked:
            done[f"{OWN}:preference_changes_by_address"] = {"kept": linked}
        if not dry_run:
            session.execute(
                update(PreferenceChange)
                .where(by_address)
                .values(account_id=account_id)
                .execution_options(synchronize_session=False)
            )
            # Once their records are gone: a file is never left without its record.
            directory = Path(ctx.settings["EXPORT_DIR"])
            for _, stored_name in exports:
                if stored_name:
                    delete_document(stored_name, directory=directory)
        return done


def _failed(error: ConnectorError) -> Categories:
    """An account a connector could not erase (or count), under that connector's name."""
    return {f"{error.connector}:*": {"failed": 1}}


class DeleteEvidence(Step):
    """Delete the rows of ``table`` about accounts erased the period ago or more (kept until
    then as evidence for the limitation period)."""

    name = "deleted"

    def __init__(self, rule: EnforcedRule, table: str) -> None:
        super().__init__(rule)
        self.table_key = table
        self.what = f"rows of {table} kept as evidence"

    def table(self) -> sa.Table:
        table = Account.metadata.tables.get(self.table_key)
        if table is None or "account_id" not in table.c or "id" not in table.c:
            raise RetentionError(
                f"rule {self.rule.key!r}: evidence table {self.table_key!r} is not a table of the "
                "privacy center with an id and an account_id (content/retention.yaml)"
            )
        return table

    def key(self, session: Session) -> sa.ColumnElement[int]:
        return self.table().c.id

    def dated_by(self, session: Session) -> sa.ColumnElement[Any]:
        return (
            select(Account.erased_at)
            .where(Account.id == self.table().c.account_id)
            .scalar_subquery()
        )

    def conditions(self, session: Session, ctx: Context) -> list[ColumnElement[bool]]:
        erased = select(Account.id).where(
            Account.erased_at.is_not(None), Account.erased_at <= ctx.now - self.rule.period.delta
        )
        return [self.table().c.account_id.in_(erased)]
