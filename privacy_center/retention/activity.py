"""The last activity of an account: a sign-in here, or activity on the operator's site or emails.

The policy counts the inactivity period "from your last activity on the site or on an electronic
communication". The last activity of an account is the latest of:

- a sign-in to the privacy center (``account.last_active_at``);
- each source declared under the account rule's ``enforce: activity`` in content/retention.yaml
  (:func:`parse_activity`), recorded in ``account_activity`` (one row per account and source,
  the latest moment seen, never moved back):

  ``sql``    a query on a SQL connector's database returning ``(account id, latest moment)``
             per account, e.g. ``MAX(occurred_at)`` of the browsing events; it may bind
             ``:since`` to read only what is newer than what was already collected;
  ``http``   the ``/last-activity`` call of an HTTP connector (connectors/http.py), paged;
  ``email``  engagement with the operator's emails, recorded as it happens: a tracked link
             (``/go/<token>``, signed, redirecting only to the declared ``redirect_to``
             addresses) and a feed the operator's mailer posts to (``POST /api/v1/activity``,
             with the bearer token of ``token_env``).

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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from babel.lists import format_list
from flask_babel import get_locale, gettext
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import ColumnElement, and_, exists, func, not_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..connectors import get_connector_set
from ..connectors.base import ConnectorError
from ..connectors.config import ConnectorSet
from ..connectors.specs import BIND, ENV_NAME, KEY, READ_ONLY, HttpConnectorSpec, SqlConnectorSpec
from ..ids import parse_id
from ..models import Account, AccountActivity
from ..operator import ContentError, Translated

SQL, HTTP, EMAIL = "sql", "http", "email"
# Each type and the settings it takes besides key, type and label.
SOURCE_TYPES: dict[str, frozenset[str]] = {
    SQL: frozenset({"connector", "query"}),
    HTTP: frozenset({"connector"}),
    EMAIL: frozenset({"token_env", "redirect_to"}),
}
# A collection starts this long before the latest moment already received from a source, so that
# activity reaching the source a little late is still seen (recording it twice changes nothing).
OVERLAP = timedelta(days=7)
# Rows written at once (SQLite accepts at most 32766 parameters per statement).
WRITE_ROWS = 500
# Entries of one post to the feed, or links asked at once.
MAX_FEED_ENTRIES = 1000
# A moment later than now by more than this is refused (a wrong clock, a typo).
CLOCK_SKEW = timedelta(minutes=5)
LINK_SALT = "privacy_center.activity.link"


@dataclass(frozen=True)
class ActivitySource:
    """Where an account's activity outside the privacy center is seen."""

    key: str
    type: str
    # What counts, for the person and staff: "browsing the site while signed in".
    label: Translated
    connector: str | None = None
    query: str | None = None
    token_env: str | None = None
    redirect_to: tuple[str, ...] = ()


# --- declaration (content/retention.yaml) -------------------------------------------------------


def _redirect_prefix(raw: Any, where: str) -> str:
    parts = urlsplit(raw) if isinstance(raw, str) else None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or "@" in parts.netloc
        or not parts.path.endswith("/")
        or parts.query
        or parts.fragment
    ):
        raise ContentError(
            f"{where}: {raw!r} is not an address prefix like https://www.example.com/ (scheme, "
            "host and a path ending with /)"
        )
    return raw


def _query(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ContentError(f"{where}: query: expected an SQL SELECT")
    statement = raw.strip().rstrip(";").strip()
    if ";" in statement:
        raise ContentError(f"{where}: query: one SQL statement only (no ';' inside)")
    if not READ_ONLY.match(statement):
        raise ContentError(f"{where}: query: a query must be a SELECT (or WITH ... SELECT)")
    unknown = set(BIND.findall(statement)) - {"since"}
    if unknown:
        raise ContentError(
            f"{where}: query: unknown parameter(s) "
            f"{', '.join(':' + name for name in sorted(unknown))}; it may bind only :since"
        )
    return statement


def parse_activity(raw: Any, languages: Sequence[str], where: str) -> tuple[ActivitySource, ...]:
    """The sources of ``activity`` (a list), checked; ``where`` names the rule in messages."""
    if not isinstance(raw, list):
        raise ContentError(f"{where}: activity is a list of sources ({{key, type, label, ...}})")
    sources: list[ActivitySource] = []
    for index, entry in enumerate(raw):
        place = f"{where}: activity[{index}]"
        if not isinstance(entry, dict):
            raise ContentError(f"{place}: a source is a mapping with key, type and label")
        key = entry.get("key")
        if not isinstance(key, str) or not KEY.match(key):
            raise ContentError(f"{place}: key {key!r} must be lower-case letters, digits and _")
        place = f"{where}: activity {key!r}"
        if any(source.key == key for source in sources):
            raise ContentError(f"{place}: declared twice")
        kind = entry.get("type")
        if kind not in SOURCE_TYPES:
            raise ContentError(f"{place}: type {kind!r} is not one of {', '.join(SOURCE_TYPES)}")
        unknown = set(entry) - {"key", "type", "label"} - SOURCE_TYPES[kind]
        if unknown:
            raise ContentError(
                f"{place}: {', '.join(sorted(unknown))} is not a setting of a {kind} source "
                f"(it takes {', '.join(sorted(SOURCE_TYPES[kind]))})"
            )
        label = entry.get("label")
        wanted = tuple(languages) or (tuple(label) if isinstance(label, dict) else ())
        settings: dict[str, Any] = {"label": Translated.parse(label, wanted, f"{place}: label")}
        if kind in (SQL, HTTP):
            connector = entry.get("connector")
            if not isinstance(connector, str) or not KEY.match(connector):
                raise ContentError(f"{place}: connector: the key of a connector of connectors.yaml")
            settings["connector"] = connector
        if kind == SQL:
            settings["query"] = _query(entry.get("query"), place)
        if kind == EMAIL:
            if any(source.type == EMAIL for source in sources):
                raise ContentError(f"{place}: only one email source may be declared")
            token_env = entry.get("token_env")
            if not isinstance(token_env, str) or not ENV_NAME.match(token_env):
                raise ContentError(
                    f"{place}: token_env must name the environment variable holding the "
                    "mailer's token, like MAILER_TOKEN"
                )
            targets = entry.get("redirect_to")
            if not isinstance(targets, list) or not targets:
                raise ContentError(
                    f"{place}: redirect_to lists the addresses a tracked link may lead to"
                )
            settings["token_env"] = token_env
            settings["redirect_to"] = tuple(
                _redirect_prefix(target, f"{place}: redirect_to[{number}]")
                for number, target in enumerate(targets)
            )
        sources.append(ActivitySource(key=key, type=kind, **settings))
    return tuple(sources)


def check_connectors(
    sources: Iterable[ActivitySource], connectors: ConnectorSet, where: str
) -> None:
    """Each sql or http source names a connector of that type (checked at start-up)."""
    specs = {spec.key: spec for spec in connectors.specs}
    for source in sources:
        if source.type not in (SQL, HTTP):
            continue
        spec = specs.get(source.connector or "")
        wanted = SqlConnectorSpec if source.type == SQL else HttpConnectorSpec
        if not isinstance(spec, wanted):
            declared = (
                ", ".join(key for key, item in specs.items() if isinstance(item, wanted)) or "none"
            )
            raise ContentError(
                f"{where}: activity {source.key!r}: connector {source.connector!r} is not a "
                f"{source.type} connector of connectors.yaml ({source.type} connectors: {declared})"
            )


def email_source(sources: Iterable[ActivitySource]) -> ActivitySource | None:
    return next((source for source in sources if source.type == EMAIL), None)


def activity_kinds(sources: Iterable[ActivitySource], language: str, style: str = "or") -> str:
    """What counts as activity, for people, in ``language`` (the current locale must be it):
    a sign-in, then each source's label, as a list of the language ("a, b or c"; ``style``
    "standard": "a, b and c")."""
    kinds = [gettext("signing in to your account")]
    kinds.extend(source.label(language) for source in sources)
    return format_list(kinds, style=style, locale=get_locale() or language)  # type: ignore[arg-type]


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


# --- tracked links ------------------------------------------------------------------------------


class LinkRefused(ValueError):
    """A tracked link that is forged, or that leads somewhere not declared."""


def allowed_target(source: ActivitySource, url: Any) -> bool:
    """Whether ``url`` is under one of the declared ``redirect_to`` prefixes (same scheme, host
    and port, path below): a tracked link never leads anywhere else."""
    if not isinstance(url, str) or len(url) > 2000 or any(char in url for char in "\\\r\n\t "):
        return False
    parts = urlsplit(url)
    if "@" in parts.netloc:
        return False
    for prefix in source.redirect_to:
        allowed = urlsplit(prefix)
        if (
            parts.scheme == allowed.scheme
            and parts.netloc.lower() == allowed.netloc.lower()
            and parts.path.startswith(allowed.path)
        ):
            return True
    return False


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=LINK_SALT)


def link_token(secret_key: str, source: ActivitySource, account_id: int, url: str) -> str:
    """The signed token of a tracked link to ``url`` for the account (no expiry: an email may
    be read years later)."""
    if not allowed_target(source, url):
        raise LinkRefused(
            f"{url!r} is not under an address of redirect_to ({', '.join(source.redirect_to)})"
        )
    return str(_serializer(secret_key).dumps([account_id, url]))


def follow_link(
    session: Session, secret_key: str, source: ActivitySource, token: str, now: datetime
) -> str:
    """Record the click of a tracked link and return where it leads; :class:`LinkRefused`
    for a forged token or a target no longer declared (nothing is recorded then)."""
    try:
        account_id, url = _serializer(secret_key).loads(token)
    except (BadSignature, TypeError, ValueError):
        raise LinkRefused("this link is not one of ours") from None
    if not isinstance(account_id, int) or not allowed_target(source, url):
        raise LinkRefused("this link leads to an address that is not allowed")
    record(session, source.key, [(account_id, now)], now)
    return str(url)


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
