"""The SQL connector: the operator's tables, read with the queries of ``connectors.yaml``.

With ``url: null`` the tables are in the privacy center's own database and the connector works
in the caller's session: an export reads inside the caller's transaction, and an erasure is
committed (or rolled back) by the caller, together with the record of the request it answers.
Another database (``url`` or ``url_env``) gets its own engine; an erasure there is committed by
the connector.

Rows are streamed (server-side cursor on PostgreSQL, ``yield_per`` batches): memory stays flat
however many rows a person has.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import BindParameter, Connection, DateTime, Engine, bindparam, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .base import Category, CategoryOutcome, ConnectorError, ErasureReport, RowShapeError, Subject
from .base import row_builder as make_row_builder
from .specs import BIND, SqlCategory, SqlConnectorSpec

# Rows fetched from the database at a time.
BATCH_ROWS = 1000

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def external_engine(url: str) -> Engine:
    """One engine (and connection pool) per external database, shared by every connector."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = create_engine(url, pool_pre_ping=True)
        return engine


def since_parameter(own: bool) -> BindParameter[Any]:
    """``:since`` typed as the privacy center's timestamps (stored alike on its own database)."""
    from ..models.types import UTCDateTime

    return bindparam("since", type_=UTCDateTime() if own else DateTime(timezone=True))


class SqlConnector:
    def __init__(self, spec: SqlConnectorSpec, own_session: Callable[[], Session]) -> None:
        self.key = spec.key
        self.label = spec.label
        self._spec = spec
        self._own_session = own_session
        self._entries = {entry.category.key: entry for entry in spec.categories}

    def categories(self) -> list[Category]:
        return [entry.category for entry in self._spec.categories]

    # --- where the tables are ----------------------------------------------------------------

    def _url(self) -> str | None:
        if self._spec.url_env:
            url = os.environ.get(self._spec.url_env)
            if not url:
                raise ConnectorError(
                    self.key,
                    f"the environment variable {self._spec.url_env} (the database URL) is not set",
                )
            return url
        return self._spec.url

    @contextmanager
    def _connection(self, *, commit: bool = False) -> Iterator[Connection]:
        url = self._url()
        if url is None:
            # The caller's transaction: the caller commits.
            yield self._own_session().connection()
            return
        try:
            connection = external_engine(url).connect()
        except SQLAlchemyError as error:
            raise self._failure("cannot connect to the database", error) from None
        with connection:
            yield connection
            if commit:
                connection.commit()

    def _failure(self, what: str, error: SQLAlchemyError) -> ConnectorError:
        detail = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        return ConnectorError(self.key, f"{what} ({detail})")

    def _entry(self, category: str) -> SqlCategory:
        try:
            return self._entries[category]
        except KeyError:
            raise ConnectorError(self.key, f"no category {category!r} here") from None

    @staticmethod
    def _parameters(subject: Subject) -> dict[str, Any]:
        return {"account_id": subject.account_id, "email": subject.email.strip().lower()}

    # --- reading -----------------------------------------------------------------------------

    def collect(self, subject: Subject, category: str) -> Iterator[dict[str, Any]]:
        entry = self._entry(category)
        if entry.query is None:  # held by another company: nothing here
            return
        build = make_row_builder(entry.category)
        expected = list(entry.category.field_keys)
        with self._connection() as connection:
            try:
                result = connection.execute(
                    text(entry.query).execution_options(stream_results=True, yield_per=BATCH_ROWS),
                    self._parameters(subject),
                )
            except SQLAlchemyError as error:
                raise self._failure(f"the query of category {category!r} failed", error) from None
            try:
                columns = [name.lower() for name in result.keys()]  # noqa: SIM118
                if columns != expected:
                    raise ConnectorError(
                        self.key,
                        f"the query of category {category!r} returns the columns "
                        f"{', '.join(columns)} but its declared fields are {', '.join(expected)}: "
                        "they must match, in the same order",
                    )
                try:
                    for rows in result.partitions(BATCH_ROWS):
                        for row in rows:
                            yield build(row)
                except RowShapeError as error:
                    raise ConnectorError(self.key, str(error)) from None
                except SQLAlchemyError as error:
                    raise self._failure(f"reading category {category!r} failed", error) from None
            finally:
                result.close()

    def _count(self, connection: Connection, entry: SqlCategory, subject: Subject) -> int:
        if entry.query is None:
            return 0
        # The operator's own query (checked at start-up), never anything a person typed.
        query = entry.count_query or f"SELECT COUNT(*) FROM ({entry.query}) AS counted"  # noqa: S608
        try:
            return int(connection.execute(text(query), self._parameters(subject)).scalar_one())
        except SQLAlchemyError as error:
            raise self._failure(f"counting category {entry.category.key!r} failed", error) from None

    def count(self, subject: Subject, category: str) -> int:
        entry = self._entry(category)
        with self._connection() as connection:
            return self._count(connection, entry, subject)

    # --- activity (retention) ----------------------------------------------------------------

    def latest_activity(self, query: str, since: Any) -> Iterator[list[tuple[Any, Any]]]:
        """The rows ``(account_id, latest moment)`` of a query declared in retention.yaml
        (``activity``), in batches; ``since`` is bound to ``:since`` when the query uses it."""
        statement = text(query).execution_options(stream_results=True, yield_per=BATCH_ROWS)
        binds_since = "since" in BIND.findall(query)
        if binds_since:
            statement = statement.bindparams(since_parameter(self._url() is None))
        with self._connection() as connection:
            try:
                parameters = {"since": since} if binds_since else {}
                result = connection.execute(statement, parameters)
                if len(result.keys()) != 2:
                    raise ConnectorError(
                        self.key,
                        "an activity query returns two columns: the account id and the latest "
                        f"moment (it returns {', '.join(result.keys())})",
                    )
                for rows in result.partitions(BATCH_ROWS):
                    yield [(row[0], row[1]) for row in rows]
            except SQLAlchemyError as error:
                raise self._failure("the activity query failed", error) from None

    # --- erasing -----------------------------------------------------------------------------

    def erase(self, subject: Subject, *, dry_run: bool = False) -> ErasureReport:
        """Erase (or, with ``dry_run``, only count) every category, in the declared order.

        ``rows`` is the number of the category's rows before the erasure: the rows removed,
        anonymised or kept.
        """
        outcomes: list[CategoryOutcome] = []
        with self._connection(commit=not dry_run) as connection:
            for entry in self._spec.categories:
                category = entry.category
                if category.held_by is not None:
                    outcomes.append(
                        CategoryOutcome(category.key, "elsewhere", 0, dict(category.held_by.note))
                    )
                    continue
                assert entry.erase is not None  # the loader requires it
                rows = self._count(connection, entry, subject)
                if not dry_run and entry.erase.action != "kept":
                    for statement in entry.erase.statements:
                        try:
                            connection.execute(text(statement), self._parameters(subject))
                        except SQLAlchemyError as error:
                            raise self._failure(
                                f"erasing category {category.key!r} failed; nothing of this "
                                "connector was committed",
                                error,
                            ) from None
                outcomes.append(
                    CategoryOutcome(
                        category.key, entry.erase.action, rows, dict(entry.erase.reason)
                    )
                )
        return ErasureReport(connector=self.key, dry_run=dry_run, outcomes=tuple(outcomes))
