"""The daily rollup of consent choices: counts per day, site, language and widget build.

Kept up to date by the receipt write itself, so that the dashboard never scans the receipts:
on PostgreSQL the batch's INSERT carries the rollup's UPSERT in the same statement (a
data-modifying CTE over the rows it inserted: still one round trip, still atomic); on SQLite a
second statement adds the batch's counts, grouped by key, in the batch's transaction. Either
way a receipt and its count are committed together, or neither is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Date, Dialect, and_, case, delete, func, insert, select
from sqlalchemy.orm import Session

from ..models import ConsentDay, ConsentReceipt

OPTIONAL_CATEGORIES = ("analytics", "advertising", "personalization", "social")
# The receipt's action and the rollup column that counts it.
ACTION_COLUMNS = {
    "accept-all": "accept_all",
    "reject-all": "reject_all",
    "save": "customised",
    "close": "closed",
    "embed": "embed",
}
KEY_COLUMNS = ("day", "site_id", "language", "widget_build", "slot")
# Rows per key on PostgreSQL: each batch picks one at random, so the server processes' batches
# (which commit concurrently there) seldom wait for each other on one row's lock. SQLite writes
# one batch at a time anyway: slot 0.
SLOTS = 16
COUNT_COLUMNS = (
    "total",
    *ACTION_COLUMNS.values(),
    *(f"granted_{category}" for category in OPTIONAL_CATEGORIES),
)
_ALL = ", ".join((*KEY_COLUMNS, *COUNT_COLUMNS))
_ADD = ", ".join(f"{name} = consent_day.{name} + excluded.{name}" for name in COUNT_COLUMNS)
_UPSERT = f" ON CONFLICT ({', '.join(KEY_COLUMNS)}) DO UPDATE SET {_ADD}"
# What the receipts' INSERT returns on PostgreSQL, for the rollup CTE to count.
PG_RETURNING = "receipt_id, site_id, recorded_at, language, widget_build, action, choices"


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def counts_of(action: str, choices: Mapping[str, bool]) -> list[int]:
    """One receipt's contribution to its rollup row, in COUNT_COLUMNS order."""
    return [
        1,
        *(int(action == name) for name in ACTION_COLUMNS),
        *(int(bool(choices.get(category))) for category in OPTIONAL_CATEGORIES),
    ]


def pg_with_rollup(insert_sql: str) -> str:
    """Wrap the receipts' ``INSERT .. RETURNING receipt_id`` so that the rows it inserts (only
    those: a retried receipt is not counted twice) are added to the rollup in the same statement.
    Its last parameter is the slot. Keys are written in order, so two batches never wait on
    each other's rows crosswise."""
    returning = " RETURNING receipt_id"
    if not insert_sql.endswith(returning):
        raise ValueError("the receipts' INSERT must end with RETURNING receipt_id")
    actions = ", ".join(f"count(*) FILTER (WHERE action = '{action}')" for action in ACTION_COLUMNS)
    granted = ", ".join(
        f"count(*) FILTER (WHERE (choices->>'{category}')::boolean)"
        for category in OPTIONAL_CATEGORIES
    )
    # Only fixed names go into the SQL; every value is a parameter of the receipts' INSERT.
    parts = [
        f"WITH inserted AS ({insert_sql[: -len(returning)]} RETURNING {PG_RETURNING}), ",
        f"counted AS (INSERT INTO consent_day ({_ALL}) ",
        "SELECT (recorded_at AT TIME ZONE 'UTC')::date, site_id, language, widget_build, ",
        f"%s::smallint, count(*), {actions}, {granted} FROM inserted ",
        "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
        f"{_UPSERT}) SELECT receipt_id FROM inserted",  # noqa: S608
    ]
    return "".join(parts)


class SqliteRollup:
    """The UPSERT adding a batch's new receipts to the rollup, one row per key (SQLite)."""

    def __init__(self, dialect: Dialect) -> None:
        self._day = Date().bind_processor(dialect)

    def prepare(
        self, rows: Iterable[Mapping[str, Any]], inserted: set[str]
    ) -> tuple[str, list[object]] | None:
        grouped: dict[tuple[date, str, str, str], list[int]] = {}
        for row in rows:
            if row["receipt_id"] not in inserted:
                continue
            key = (utc_day(row["recorded_at"]), row["site_key"], row["language"],
                   row["widget_build"])  # fmt: skip
            counts = counts_of(row["action"], row["choices"])
            total = grouped.setdefault(key, [0] * len(COUNT_COLUMNS))
            for index, count in enumerate(counts):
                total[index] += count
        if not grouped:
            return None
        marks = ", ".join("?" * len(COUNT_COLUMNS))
        one = f"(?, (SELECT id FROM site WHERE key = ?), ?, ?, 0, {marks})"  # noqa: S608
        parameters: list[object] = []
        for (day, site_key, language, build), counts in sorted(grouped.items()):
            day_value = self._day(day) if self._day else day
            parameters += [day_value, site_key, language, build, *counts]
        values = ", ".join([one] * len(grouped))
        sql = f"INSERT INTO consent_day ({_ALL}) VALUES {values}{_UPSERT}"  # noqa: S608
        return sql, parameters


# --- rebuilding it from the receipts ------------------------------------------------------------


def _day_expression(dialect: str) -> Any:
    if dialect == "postgresql":
        return func.date(func.timezone("UTC", ConsentReceipt.recorded_at))
    return func.date(ConsentReceipt.recorded_at)


def backfill(session: Session) -> tuple[int, int]:
    """Rebuild the rollup rows of every day that has receipts, from those receipts.

    Idempotent: run twice, the same rows. Days whose receipts were all deleted by retention keep
    their counts (the rollup holds no personal data). Runs in one transaction that holds the
    rollup's write lock, so receipts written meanwhile are counted once (by their own write, or
    by this rebuild if they committed before it). Returns (days rebuilt, rows written).
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # Blocks the receipts' writes (their rollup UPSERT) until this rebuild commits.
        session.connection().exec_driver_sql("LOCK TABLE consent_day IN EXCLUSIVE MODE")
    day = _day_expression(dialect).label("day")
    action_counts = [
        func.sum(case((ConsentReceipt.action == action, 1), else_=0)) for action in ACTION_COLUMNS
    ]
    granted_counts = [
        func.sum(case((ConsentReceipt.choices[category].as_boolean(), 1), else_=0))
        for category in OPTIONAL_CATEGORIES
    ]
    grouped = (
        select(
            day,
            ConsentReceipt.site_id,
            ConsentReceipt.language,
            ConsentReceipt.widget_build,
            func.count(),
            *action_counts,
            *granted_counts,
        )
        .group_by(day, ConsentReceipt.site_id, ConsentReceipt.language, ConsentReceipt.widget_build)
        .order_by(day)
    )
    rows = session.execute(grouped).all()
    days = sorted({_as_date(row[0]) for row in rows})
    for chunk_start in range(0, len(days), 500):
        chunk = days[chunk_start : chunk_start + 500]
        session.execute(delete(ConsentDay).where(ConsentDay.day.in_(chunk)))
    if rows:
        session.execute(
            insert(ConsentDay),
            [
                dict(zip(KEY_COLUMNS, (_as_date(row[0]), *row[1:4], 0), strict=True))
                | dict(zip(COUNT_COLUMNS, (int(n or 0) for n in row[4:]), strict=True))
                for row in rows
            ],
        )
    session.commit()
    return len(days), len(rows)


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def day_filter(start: date, end: date) -> Any:
    return and_(ConsentDay.day >= start, ConsentDay.day <= end)
