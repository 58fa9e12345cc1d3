"""The last activity of an account: a sign-in here, or activity on the operator's site or emails.

The policy counts the inactivity period "from your last activity on the site or on an electronic
communication". The last activity of an account is the latest of:

- a sign-in to the privacy center (``account.last_active_at``);
- each source declared under the account rule's ``enforce: activity`` in content/retention.yaml
  (activity_sources.py), recorded in ``account_activity`` (one row per account and source,
  the latest moment seen, never moved back):

  ``sql``    a query on a SQL connector's database returning ``(account id, latest moment)``
             per account, e.g. ``MAX(occurred_at)`` of the browsing events; it may bind
             ``:since`` to read only what is newer than what was already collected;
  ``http``   the ``/last-activity`` call of an HTTP connector (connectors/http.py), paged;
  ``email``  engagement with the operator's emails, recorded as it happens: a tracked link
             (``/go/<token>``, signed, redirecting only to the declared ``redirect_to``
             addresses) and a feed the operator's mailer posts to (``POST /api/v1/activity``,
             with the bearer token of ``token_env``); the links are made in activity_links.py.

The ``sql`` and ``http`` sources are collected once per retention run, before its plan
(:func:`gathered`): one aggregate query or one paged call for the whole population, never a call
per account. The run's selection then reads only the privacy center's tables
(:func:`inactive_since`, :func:`active_after`).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, not_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..connectors import get_connector_set
from ..connectors.base import ConnectorError
from ..connectors.config import ConnectorSet
from ..ids import parse_id
from ..models import Account, AccountActivity
from .activity_sources import HTTP, SQL, ActivitySource

# A collection starts this long before the latest moment already received from a source, so that
# activity reaching the source a little late is still seen (recording it twice changes nothing).
OVERLAP = timedelta(days=7)
# Rows written at once (SQLite accepts at most 32766 parameters per statement).
WRITE_ROWS = 500
# Entries of one post to the feed, or links asked at once.
MAX_FEED_ENTRIES = 1000
# A moment later than now by more than this is refused (a wrong clock, a typo).
CLOCK_SKEW = timedelta(minutes=5)


# --- recording ----------------------------------------------------------------------------------


class ActivityRejected(ValueError):
    """An entry of the feed cannot be recorded; the message says which and why."""


def as_moment(value: Any) -> datetime:
    """A moment read from a source: a datetime, or ISO 8601 text; without offset, UTC."""
    if isinstance(value, str):
        text = value.strip()
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    elif isinstance(value, datetime):
        moment = value
    else:
        raise ValueError(f"{value!r} is not a moment")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _upsert(session: Session, source: str, latest: Mapping[int, datetime]) -> int:
    """Record ``latest`` (account id -> moment) for ``source``, keeping the later moment; ids of
    no account are ignored. Returns the number of accounts recorded."""
    if not latest:
        return 0
    known = set(session.scalars(select(Account.id).where(Account.id.in_(list(latest)))))
    rows = [
        {"account_id": account_id, "source": source, "last_at": moment}
        for account_id, moment in latest.items()
        if account_id in known
    ]
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(AccountActivity).values(rows)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["account_id", "source"],
            set_={"last_at": statement.excluded.last_at},
            where=AccountActivity.last_at < statement.excluded.last_at,
        )
    )
    return len(rows)


def record(
    session: Session, source: str, entries: Iterable[tuple[int, datetime]], now: datetime
) -> int:
    """Record the activity ``entries`` (account id, moment) of ``source``, in batches; a moment
    after ``now`` counts as ``now``. Flushed, not committed: the caller commits."""
    recorded = 0
    latest: dict[int, datetime] = {}
    for account_id, moment in entries:
        moment = min(as_moment(moment), now)
        if account_id not in latest or latest[account_id] < moment:
            latest[account_id] = moment
        if len(latest) >= WRITE_ROWS:
            recorded += _upsert(session, source, latest)
            latest = {}
    return recorded + _upsert(session, source, latest)


def account_ids(session: Session, items: Sequence[Mapping[str, Any]], where: str) -> list[int]:
    """The account of each item: ``account_id``, or ``email`` (-1 when no account has it)."""
    emails = {
        str(item["email"]).strip().lower()
        for item in items
        if item.get("account_id") is None and isinstance(item.get("email"), str)
    }
    by_email = dict(
        session.execute(select(Account.email, Account.id).where(Account.email.in_(emails))).all()
        if emails
        else ()
    )
    found = []
    for index, item in enumerate(items):
        account_id = item.get("account_id")
        if account_id is None and isinstance(item.get("email"), str):
            found.append(by_email.get(item["email"].strip().lower(), -1))
        elif isinstance(account_id, int) and not isinstance(account_id, bool):
            found.append(parse_id(account_id) or -1)  # out of range: nobody's id (ids.py)
        else:
            raise ActivityRejected(f"{where}[{index}]: give account_id (a number) or email")
    return found


def record_feed(
    session: Session, source: ActivitySource, items: Any, now: datetime
) -> dict[str, int]:
    """Record what the operator's mailer posted: ``[{"email" | "account_id", "at"}]``.

    All or nothing: an entry that is not well formed (or dated in the future) refuses the post,
    naming it. Returns the number of accounts ``recorded`` and of entries about nobody with an
    account here (``unknown``: an email or an id of no account; not recorded)."""
    if not isinstance(items, list) or not items or len(items) > MAX_FEED_ENTRIES:
        raise ActivityRejected(
            f"activity: a list of 1 to {MAX_FEED_ENTRIES} entries {{email or account_id, at}}"
        )
    if not all(isinstance(item, dict) for item in items):
        raise ActivityRejected("activity: every entry is an object {email or account_id, at}")
    accounts = account_ids(session, items, "activity")
    entries = []
    for index, (account_id, item) in enumerate(zip(accounts, items, strict=True)):
        try:
            moment = as_moment(item.get("at"))
        except ValueError:
            raise ActivityRejected(
                f"activity[{index}]: at must be an ISO 8601 moment, like 2030-01-15T10:00:00Z"
            ) from None
        if moment > now + CLOCK_SKEW:
            raise ActivityRejected(f"activity[{index}]: at {item.get('at')!r} is in the future")
        entries.append((account_id, moment))
    ids = {account_id for account_id, _ in entries if account_id > 0}
    existing = set(session.scalars(select(Account.id).where(Account.id.in_(ids)))) if ids else set()
    known = [entry for entry in entries if entry[0] in existing]
    return {
        "recorded": record(session, source.key, known, now),
        "unknown": len(entries) - len(known),
    }


def token_matches(source: ActivitySource, presented: str | None) -> bool:
    """Whether ``presented`` (the bearer token of a request) is the mailer's token."""
    expected = os.environ.get(source.token_env or "")
    if not expected or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


# --- collection (once per run) ------------------------------------------------------------------


def _since(session: Session, source: ActivitySource) -> datetime | None:
    latest = session.scalar(
        select(func.max(AccountActivity.last_at)).where(AccountActivity.source == source.key)
    )
    return None if latest is None else as_moment(latest) - OVERLAP


def _http_entries(
    session: Session, pages: Iterator[list[dict[str, Any]]], connector: str
) -> Iterator[tuple[int, datetime]]:
    for page in pages:
        try:
            accounts = account_ids(session, page, f"{connector}: /last-activity: activity")
            for account_id, item in zip(accounts, page, strict=True):
                if account_id > 0:
                    yield account_id, as_moment(item.get("at"))
        except (ActivityRejected, ValueError) as error:
            raise ConnectorError(connector, f"/last-activity answered an entry: {error}") from None


def collect(
    session: Session, sources: Iterable[ActivitySource], connectors: ConnectorSet, now: datetime
) -> dict[str, int]:
    """Read the sql and http sources once and record what they say (flushed, not committed).
    Returns the number of accounts recorded per source."""
    built = {connector.key: connector for connector in connectors.build(lambda: session)}
    counts: dict[str, int] = {}
    for source in sources:
        if source.type == SQL:
            since = _since(session, source) or datetime(1970, 1, 1, tzinfo=UTC)
            batches = built[source.connector or ""].latest_activity(source.query, since)  # type: ignore[attr-defined]
            entries: Iterable[tuple[int, datetime]] = (
                (int(account_id), moment)
                for batch in batches
                for account_id, moment in batch
                if account_id is not None and moment is not None
            )
        elif source.type == HTTP:
            since = _since(session, source)
            pages = built[source.connector or ""].last_activity(  # type: ignore[attr-defined]
                since.isoformat() if since else None
            )
            entries = _http_entries(session, pages, source.connector or "")
        else:
            continue
        counts[source.key] = record(session, source.key, entries, now)
    return counts


@contextmanager
def gathered(
    session: Session, rules: Iterable[Any], now: datetime, *, keep: bool
) -> Iterator[dict[str, int]]:
    """Collect the sql and http sources of ``rules`` (their ``activity``) for what runs inside:
    committed when ``keep``; otherwise (a dry run) in a savepoint rolled back at the end, so
    that the plan counts today's activity and nothing is changed."""
    sources = [
        source
        for rule in rules
        for source in getattr(rule, "activity", ())
        if source.type in (SQL, HTTP)
    ]
    if not sources:
        yield {}
        return
    connectors = get_connector_set()
    if keep:
        counts = collect(session, sources, connectors, now)
        session.commit()
        yield counts
        return
    savepoint = session.begin_nested()
    try:
        yield collect(session, sources, connectors, now)
    finally:
        savepoint.rollback()


# --- selection ----------------------------------------------------------------------------------


def active_after(moment: datetime | ColumnElement[Any]) -> ColumnElement[bool]:
    """The account was active after ``moment`` (a datetime or a column of the account)."""
    return or_(
        Account.last_active_at > moment,
        exists().where(AccountActivity.account_id == Account.id, AccountActivity.last_at > moment),
    )


def inactive_since(moment: datetime) -> ColumnElement[bool]:
    """No activity of the account anywhere after ``moment`` (reads the sign-in index first)."""
    return and_(
        Account.last_active_at <= moment,
        not_(
            exists().where(
                AccountActivity.account_id == Account.id, AccountActivity.last_at > moment
            )
        ),
    )


def last_activity(session: Session, accounts: Iterable[Account]) -> dict[int, datetime]:
    """The last activity of each of ``accounts``: the latest of its sign-in and its sources."""
    latest = {account.id: account.last_active_at for account in accounts}
    if latest:
        recorded = session.execute(
            select(AccountActivity.account_id, func.max(AccountActivity.last_at))
            .where(AccountActivity.account_id.in_(list(latest)))
            .group_by(AccountActivity.account_id)
        ).all()
        for account_id, moment in recorded:
            latest[account_id] = max(latest[account_id], as_moment(moment))
    return latest
