"""What every connector shares: the subject, categories and fields, the erasure report.

A connector knows where one part of a person's data lives (the operator's own tables, another
database, a service reached over HTTP). It declares its categories (with a label per language
and the fields of each row), streams a subject's rows category by category, counts them, and
erases or anonymises them, reporting per category what it removed, anonymised or kept and why.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from ..operator import Translated

# The types a field may declare, as JSON Schema describes them in data.schema.json.
FIELD_TYPES = ("string", "integer", "number", "boolean", "date", "datetime", "object")
# What an erasure did to one category: rows deleted, rows stripped of what identifies the
# person, rows kept on purpose (the reason says why), or data another company holds.
ERASURE_ACTIONS = ("removed", "anonymised", "kept", "elsewhere")


class ConnectorError(RuntimeError):
    """A connector failed; the message tells staff which connector, what happened and what to
    check. ``connector`` is the connector's key."""

    def __init__(self, connector: str, message: str) -> None:
        super().__init__(f"Connector {connector!r}: {message}")
        self.connector = connector


@dataclass(frozen=True)
class Subject:
    """The person whose data is collected or erased."""

    email: str
    account_id: int | None = None
    # Other identifiers an operator's systems may know the person by (customer number, ...).
    identifiers: Mapping[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"email": self.email, "account_id": self.account_id, **self.identifiers}


@dataclass(frozen=True)
class Field:
    key: str
    type: str
    description: Translated
    nullable: bool = False


@dataclass(frozen=True)
class HeldBy:
    """Data the operator does not hold itself: who does, and where the person can ask."""

    name: str
    contact: str
    note: Translated


@dataclass(frozen=True)
class Category:
    key: str
    label: Translated
    fields: tuple[Field, ...] = ()
    # Where the data comes from (a key of content/processing.yaml's sources).
    source: str | None = None
    # How long it is kept (a key of content/retention.yaml's rules).
    retention: str | None = None
    held_by: HeldBy | None = None

    @property
    def field_keys(self) -> tuple[str, ...]:
        return tuple(item.key for item in self.fields)


@dataclass(frozen=True)
class CategoryOutcome:
    """What an erasure did (or, in a dry run, would do) to one category."""

    category: str
    action: str
    rows: int
    reason: Mapping[str, str]

    def reason_in(self, language: str) -> str:
        return (
            self.reason.get(language)
            or self.reason.get("en")
            or next(iter(self.reason.values()), "")
        )


@dataclass(frozen=True)
class ErasureReport:
    connector: str
    dry_run: bool
    outcomes: tuple[CategoryOutcome, ...]

    def outcome(self, category: str) -> CategoryOutcome | None:
        return next((item for item in self.outcomes if item.category == category), None)


@runtime_checkable
class Connector(Protocol):
    """Where part of a subject's data lives. ``collect`` streams: it never loads every row."""

    key: str
    label: Translated

    def categories(self) -> list[Category]: ...

    def collect(self, subject: Subject, category: str) -> Iterator[dict[str, Any]]: ...

    def count(self, subject: Subject, category: str) -> int: ...

    def erase(self, subject: Subject, *, dry_run: bool = False) -> ErasureReport: ...


class RowShapeError(ValueError):
    """A row does not match its category's declared fields."""


# How SQLAlchemy stores a datetime in SQLite: naive UTC, always with microseconds.
_SQLITE_DATETIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")


def _to_datetime(value: Any) -> str:
    if type(value) is str and _SQLITE_DATETIME.fullmatch(value):
        # The common case, by string surgery: the same text as the general path below.
        fraction = "" if value.endswith("000000") else value[19:]
        return f"{value[:10]}T{value[11:19]}{fraction}Z"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError
    # Databases without time zones (SQLite) keep UTC: a naive value is UTC.
    moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


def _to_date(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return date.fromisoformat(value).isoformat()
    raise TypeError


def _to_integer(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value)
    if isinstance(value, float | Decimal) and value == int(value):
        return int(value)
    raise TypeError


def _to_number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, int):
        return value
    return float(value)


def _to_boolean(value: Any) -> bool:
    # SQLite keeps booleans as 0 and 1.
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise TypeError


def _to_object(value: Any) -> Any:
    # JSON columns come back as text from SQLite and from plain-text queries.
    return json.loads(value) if isinstance(value, str) else value


def _to_string(value: Any) -> str:
    if type(value) is str:
        return value
    if isinstance(value, datetime):
        return _to_datetime(value)
    if isinstance(value, bytes):
        raise TypeError
    return str(value)


CONVERTERS = {
    "string": _to_string,
    "integer": _to_integer,
    "number": _to_number,
    "boolean": _to_boolean,
    "date": _to_date,
    "datetime": _to_datetime,
    "object": _to_object,
}


def row_builder(category: Category) -> Any:
    """A function turning one raw row (values in the declared field order) into a JSON-ready
    dict; it raises RowShapeError naming the field whose value does not fit."""
    plan = [(item.key, CONVERTERS[item.type], item.nullable, item.type) for item in category.fields]

    def build(values: tuple[Any, ...] | list[Any]) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for (key, convert, nullable, kind), value in zip(plan, values, strict=True):
            if value is None:
                if not nullable:
                    raise RowShapeError(
                        f"category {category.key!r}: field {key!r} is empty (null) but is not "
                        "declared nullable: add `nullable: true` to it in connectors.yaml"
                    )
                row[key] = None
                continue
            try:
                row[key] = convert(value)
            except (TypeError, ValueError):
                raise RowShapeError(
                    f"category {category.key!r}: field {key!r} is declared {kind} but the value "
                    f"{str(value)[:60]!r} is not"
                ) from None
        return row

    return build
