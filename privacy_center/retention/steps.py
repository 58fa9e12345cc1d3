"""What every retention step shares: the moment of the run, a batch, the base :class:`Step`.

A step works on rows of one table, found by conditions that say "this row's time is up" and
read again by the statement that acts on them, and walks the table by primary key (``id > last
done ORDER BY id LIMIT n``); the run (services.py) commits each batch on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.orm import Session

from ..connectors import Connector
from ..content import OperatorContent
from .rules import EnforcedRule

# What a step did to each category of data, for the audit log and the staff page:
# {"CONNECTOR:CATEGORY": {"removed" | "anonymised" | "kept" | ...: rows}}.
Categories = Mapping[str, Mapping[str, int]]


class RetentionError(RuntimeError):
    """A rule cannot be applied as configured (e.g. a declared table does not exist)."""


@dataclass(frozen=True)
class Context:
    """What every step needs: the moment of the run and the operator's content and settings."""

    now: datetime
    content: OperatorContent
    settings: Mapping[str, Any]
    # The privacy center's public address, for the sign-in link in warning mails.
    base_url: str | None = None
    # Where an erased account's data lives (default: the application's connectors, working in
    # the run's session).
    connectors: Sequence[Connector] | None = None
    # Planning a dry run: a step may look further (an erasure asks every connector what it
    # would do, category by category); a real run's plan only counts.
    dry_run: bool = False

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("now must be timezone-aware (UTC)")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.content.operator.timezone)

    @property
    def today(self) -> date:
        """The operator's date at ``now``."""
        return self.now.astimezone(self.zone).date()

    def start_of(self, day: date) -> datetime:
        """Midnight of ``day`` in the operator's time zone, in UTC."""
        return datetime.combine(day, time(), self.zone).astimezone(UTC)


@dataclass(frozen=True)
class Batch:
    """What one batch did: ``count`` rows acted on, keys ``first_id`` to ``last_id`` walked."""

    count: int
    first_id: int
    last_id: int
    # Rows selected but left for a later run (a warning mail that could not be sent).
    skipped: int = 0
    # Rows per category and action (an erasure); empty for the other steps.
    categories: Categories = field(default_factory=dict)


@dataclass(frozen=True)
class Estimate:
    count: int
    oldest: date | None
    # Rows per category and action that an erasure would touch; empty for the other steps.
    categories: Categories = field(default_factory=dict)


def add_categories(total: Mapping[str, Mapping[str, int]], more: Categories) -> dict[str, Any]:
    """``total`` and ``more`` added up, category by category and action by action."""
    summed = {key: dict(actions) for key, actions in total.items()}
    for key, actions in more.items():
        into = summed.setdefault(key, {})
        for action, rows in actions.items():
            into[action] = into.get(action, 0) + rows
    return summed


class Step:
    """One action of a rule on one table."""

    #: "warned", "deactivated", "archived" or "deleted".
    name: str = ""
    #: what the rows are, for people: "accounts", "rows of browsing_event", ...
    what: str = ""

    #: the model acted on (its integer ``id`` walks the batches) and its date column
    model: Any = None
    date_column: str = ""
    #: the most rows one batch takes, whatever the run's batch size (a step that calls other
    #: systems keeps its batches, and what an interruption could repeat, small)
    max_batch: int = 1_000_000_000

    def __init__(self, rule: EnforcedRule) -> None:
        self.rule = rule

    def key(self, session: Session) -> sa.ColumnElement[int]:
        return self.model.__table__.c.id

    def conditions(self, session: Session, ctx: Context) -> list[ColumnElement[bool]]:
        """The rows whose time is up."""
        raise NotImplementedError

    def dated_by(self, session: Session) -> sa.ColumnElement[Any]:
        """The column whose oldest value the plan reports."""
        return self.model.__table__.c[self.date_column]

    def act(self, session: Session, ctx: Context, first: int, last: int) -> Batch:
        """Act on the rows of keys ``first`` to ``last`` whose time is up: delete them, unless
        the step does something else."""
        table = self.key(session).table  # type: ignore[attr-defined]
        result = session.execute(delete(table).where(*self._in_range(session, ctx, first, last)))
        return Batch(result.rowcount, first, last)

    def _set(self, session: Session, ctx: Context, first: int, last: int, **values: Any) -> Batch:
        """Set ``values`` on the rows of keys ``first`` to ``last`` whose time is up."""
        table = self.key(session).table  # type: ignore[attr-defined]
        result = session.execute(
            update(table).where(*self._in_range(session, ctx, first, last)).values(**values)
        )
        return Batch(result.rowcount, first, last)

    def table_name(self, session: Session) -> str:
        return self.key(session).table.name  # type: ignore[attr-defined]

    def estimate(self, session: Session, ctx: Context) -> Estimate:
        conditions = self.conditions(session, ctx)
        count, oldest = session.execute(
            select(func.count(), func.min(self.dated_by(session))).where(*conditions)
        ).one()
        if isinstance(oldest, datetime):
            oldest = oldest.astimezone(ctx.zone).date() if oldest.tzinfo else oldest.date()
        return Estimate(int(count), oldest)

    def batch(self, session: Session, ctx: Context, after: int, limit: int) -> Batch | None:
        """Act on the next ``limit`` rows (by key, after ``after``); None when none is left."""
        key = self.key(session)
        ids = session.scalars(
            select(key)
            .where(key > after, *self.conditions(session, ctx))
            .order_by(key)
            .limit(limit)
        ).all()
        if not ids:
            return None
        return self.act(session, ctx, ids[0], ids[-1])

    def _in_range(
        self, session: Session, ctx: Context, first: int, last: int
    ) -> list[ColumnElement[bool]]:
        # The acting statement checks the conditions again: a row that changed since it was
        # selected (an account holder signed in) is left alone.
        return [self.key(session).between(first, last), *self.conditions(session, ctx)]
