"""Proof of consent: a receipt checked, stored (alone or in a batch) and shown to the visitor.
The widget's configuration is in ``configuration.py``."""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import Connection, Dialect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import PoolProxiedConnection

from ..content import OperatorContent
from ..content.cookies import CATEGORY_KEYS
from ..models import ConsentReceipt
from ..models import Site as SiteRecord
from ..models.types import utcnow
from ..operator import Site
from .choices import ABSENT, validate_services
from .rollup import SLOTS, SqliteRollup, pg_with_rollup
from .writer import ReceiptNotRecorded, ReceiptWriter

ACTIONS = ("accept-all", "reject-all", "save", "close", "embed")
RECEIPT_FIELDS = {
    "receiptId", "visitorId", "site", "policyVersion", "build", "textsHash",
    "language", "action", "gpc", "choices",
}  # fmt: skip
# Optional: widget builds cached before services existed post without them (choices.py).
OPTIONAL_RECEIPT_FIELDS = {"services"}
MAX_RECEIPT_BYTES = 2048
# \Z, not $: "$" also matches before a final newline, which would let "<uuid>\n" through.
_HEX = re.compile(r"^[0-9a-f]+\Z")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z")
# Categories a Global Privacy Control signal refuses unless the visitor opts in explicitly.
GPC_REFUSED = ("advertising", "social")


class InvalidReceipt(ValueError):
    """A receipt payload that cannot be recorded; the message says what is wrong."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ReceiptConflict(ValueError):
    """The receipt id was already used for a different choice."""


@dataclass(frozen=True)
class ReceiptInput:
    receipt_id: str
    visitor_id: str
    site: str
    policy_version: int
    build: str
    texts_hash: str
    language: str
    action: str
    gpc: bool
    choices: dict[str, bool]
    services: dict[str, bool]

    @property
    def method(self) -> str:
        """How the choice was given: the GPC signal decided the refusals it covers, or a click."""
        gpc_decided = self.gpc and not any(self.choices[key] for key in GPC_REFUSED)
        return "gpc" if gpc_decided else "click"


def _uuid4(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidReceipt(f"{field} must be a UUID string", field)
    canonical = value.lower()
    if _UUID4.match(canonical):
        return canonical
    if _UUID.match(canonical):
        raise InvalidReceipt(f"{field} must be a random (version 4) UUID", field)
    raise InvalidReceipt(f"{field} is not a UUID in canonical form", field)


def _hex(value: object, field: str, lengths: range) -> str:
    if not isinstance(value, str) or len(value) not in lengths or not _HEX.match(value):
        raise InvalidReceipt(
            f"{field} must be {lengths.start}-{lengths.stop - 1} lowercase hexadecimal characters",
            field,
        )
    return value


def validate_receipt(data: object, content: OperatorContent, today: date) -> ReceiptInput:
    """Check a posted receipt strictly: exact fields, types and values, or InvalidReceipt."""
    if not isinstance(data, dict):
        raise InvalidReceipt("the body must be a JSON object")
    unknown = sorted(set(data) - RECEIPT_FIELDS - OPTIONAL_RECEIPT_FIELDS)
    if unknown:
        raise InvalidReceipt(f"unknown field(s): {', '.join(unknown)}", unknown[0])
    missing = sorted(RECEIPT_FIELDS - set(data))
    if missing:
        raise InvalidReceipt(f"missing field(s): {', '.join(missing)}", missing[0])

    operator = content.operator
    site = data["site"]
    if not isinstance(site, str) or operator.site(site) is None:
        raise InvalidReceipt(f"unknown site {site!r}", "site")
    version = data["policyVersion"]
    if type(version) is float and version.is_integer():
        # JSON has one number type: 2.0 is the integer 2 (as JSON Schema's "integer" says).
        version = int(version)
    current = content.current_version(today).number
    if type(version) is not int or not 1 <= version <= current:
        raise InvalidReceipt(
            f"policyVersion must be a published version (1 to {current})", "policyVersion"
        )
    language = data["language"]
    if language not in operator.languages:
        raise InvalidReceipt(f"language must be one of {', '.join(operator.languages)}", "language")
    action = data["action"]
    if action not in ACTIONS:
        raise InvalidReceipt(f"action must be one of {', '.join(ACTIONS)}", "action")
    if type(data["gpc"]) is not bool:
        raise InvalidReceipt("gpc must be true or false", "gpc")

    choices = data["choices"]
    if not isinstance(choices, dict):
        raise InvalidReceipt("choices must be an object of category: true|false", "choices")
    if set(choices) != set(CATEGORY_KEYS):
        unknown_keys = sorted(set(choices) - set(CATEGORY_KEYS))
        problem = (
            f"unknown category {unknown_keys[0]!r}" if unknown_keys else "a category is missing"
        )
        raise InvalidReceipt(f"choices: {problem}; expected {', '.join(CATEGORY_KEYS)}", "choices")
    if not all(type(value) is bool for value in choices.values()):
        raise InvalidReceipt("choices: every value must be true or false", "choices")
    if choices["functional"] is not True:
        raise InvalidReceipt("choices: functional cookies are always on", "choices")
    try:
        services = validate_services(data.get("services", ABSENT), choices, content.registry)
    except ValueError as invalid:
        raise InvalidReceipt(str(invalid), "services") from invalid

    return ReceiptInput(
        receipt_id=_uuid4(data["receiptId"], "receiptId"),
        visitor_id=_uuid4(data["visitorId"], "visitorId"),
        site=site,
        policy_version=version,
        build=_hex(data["build"], "build", range(8, 65)),
        texts_hash=_hex(data["textsHash"], "textsHash", range(64, 65)),
        language=language,
        action=action,
        gpc=data["gpc"],
        choices={key: choices[key] for key in CATEGORY_KEYS},
        services=services,
    )


def browser_family(user_agent: str) -> str:
    """The browser's family only (no version, no platform): enough to explain a receipt."""
    agent = user_agent or ""
    for marker, family in (
        ("Edg/", "Edge"), ("OPR/", "Opera"), ("SamsungBrowser", "Samsung"),
        ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Chromium/", "Chrome"),
        ("Safari/", "Safari"),
    ):  # fmt: skip
        if marker in agent:
            return family
    return "Other"


RECEIPT_COLUMNS = (
    "receipt_id", "visitor_id", "recorded_at", "policy_version", "widget_build", "texts_hash",
    "language", "action", "method", "gpc", "choices", "services",
    "browser_family",
)  # fmt: skip
_JSON_COLUMNS = ("choices", "services")


# The PostgreSQL type of each field of the batch's JSON document (json_to_recordset()).
_PG_TYPES = {
    "receipt_id": "text", "visitor_id": "text", "recorded_at": "timestamptz",
    "policy_version": "smallint", "widget_build": "text", "texts_hash": "text",
    "language": "text", "action": "text", "method": "text", "gpc": "boolean", "choices": "json",
    "services": "json", "browser_family": "text", "site_key": "text",
}  # fmt: skip


class PreparedBatch(NamedTuple):
    sql: str
    parameters: list[object]
    rows: list[dict[str, object]]


class ReceiptBatchInsert:
    """One multi-row INSERT of receipts on the driver's own cursor, for the group commit.

    Per row, SQLAlchemy's statement execution costs ten times what the driver does; the batch
    runs the driver directly, with SQLAlchemy's own bind processors (so values are stored
    exactly as the ORM stores them): on SQLite one row of parameters per receipt, on PostgreSQL
    the batch as one JSON document. The site's id is looked up inside the statement;
    ON CONFLICT makes a retried post a no-op; RETURNING tells which receipts were new. Used for
    a batch and for a receipt alone: the product has one receipt INSERT. The new receipts are
    added to the daily rollup in the same statement (PostgreSQL) or transaction (SQLite).
    """

    def __init__(self, dialect: Dialect) -> None:
        table = ConsentReceipt.__table__
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self._processors = [
            # JSON as SQLAlchemy serialises it (drivers differ in what they take for it).
            (
                name,
                json.dumps if name in _JSON_COLUMNS else table.c[name].type.bind_processor(dialect),
            )
            for name in RECEIPT_COLUMNS
        ]
        # Only fixed names and placeholders go into the SQL; every value is a parameter.
        marks = ", ".join([mark] * len(RECEIPT_COLUMNS))
        self._row = f"({marks}, (SELECT id FROM site WHERE key = {mark}))"  # noqa: S608
        columns = ", ".join(RECEIPT_COLUMNS)
        self._prefix = f"INSERT INTO consent_receipt ({columns}, site_id) VALUES "  # noqa: S608
        self._suffix = " ON CONFLICT (receipt_id) DO NOTHING RETURNING receipt_id"
        self._postgresql = dialect.name == "postgresql"
        self._recorded_at = table.c["recorded_at"].type.bind_processor(dialect)
        self._sqlite_rollup = None if self._postgresql else SqliteRollup(dialect)
        if self._postgresql:
            # The whole batch is one parameter: a JSON array of receipts, which the server
            # unpacks (json_to_recordset). Dumping it is one call to the C JSON encoder, where
            # an array per column cost the driver a conversion per value; and the statement's
            # text never changes, so the driver prepares it once per connection (no parsing
            # nor planning per batch). The choices keep the text the ORM writes (json.dumps).
            fields = ", ".join(f"{name} {kind}" for name, kind in _PG_TYPES.items())
            picked = ", ".join(f"r.{name}" for name in RECEIPT_COLUMNS)
            insert = [
                f"INSERT INTO consent_receipt ({columns}, site_id) SELECT {picked}, site.id ",
                f"FROM json_to_recordset(%s::json) AS r({fields}) ",
                f"LEFT JOIN site ON site.key = r.site_key{self._suffix}",
            ]
            self._pg_insert = pg_with_rollup("".join(insert))

    def prepare(self, rows: list[dict[str, object]]) -> PreparedBatch:
        """The statement and its parameters, made before the write lock is taken."""
        parameters: list[object] = []
        if self._postgresql:
            # UTCDateTime's own check (an aware datetime, in UTC), then ISO 8601 for the server.
            stamp = self._recorded_at
            document = [
                {**row, "recorded_at": stamp(row["recorded_at"]).isoformat()} for row in rows
            ]
            slot = random.randrange(SLOTS)  # noqa: S311 (not a secret)
            return PreparedBatch(self._pg_insert, [json.dumps(document), slot], rows)
        for row in rows:
            for name, process in self._processors:
                parameters.append(process(row[name]) if process else row[name])
            parameters.append(row["site_key"])
        sql = self._prefix + ", ".join([self._row] * len(rows)) + self._suffix
        return PreparedBatch(sql, parameters, rows)

    def execute(self, connection: PoolProxiedConnection, statement: PreparedBatch) -> set[str]:
        """Run a prepared statement on a driver connection; the ids of the new receipts."""
        cursor = connection.cursor()
        try:
            cursor.execute(statement.sql, statement.parameters)
            inserted = {returned[0] for returned in cursor.fetchall()}
            if self._sqlite_rollup is not None:
                rollup = self._sqlite_rollup.prepare(statement.rows, inserted)
                if rollup is not None:
                    cursor.execute(*rollup)
            return inserted
        finally:
            cursor.close()

    def __call__(self, connection: Connection, rows: list[dict[str, object]]) -> set[str]:
        return self.execute(connection.connection, self.prepare(rows))


@lru_cache(maxsize=4)
def batch_insert_for(dialect: Dialect) -> ReceiptBatchInsert:
    """The receipt INSERT of a database dialect, built once."""
    return ReceiptBatchInsert(dialect)


def receipt_values(receipt: ReceiptInput, site: Site, browser: str) -> dict[str, object]:
    return {
        "receipt_id": receipt.receipt_id,
        "visitor_id": receipt.visitor_id,
        "recorded_at": utcnow(),
        "policy_version": receipt.policy_version,
        "widget_build": receipt.build,
        "texts_hash": receipt.texts_hash,
        "language": receipt.language,
        "action": receipt.action,
        "method": receipt.method,
        "gpc": receipt.gpc,
        "choices": receipt.choices,
        "services": receipt.services,
        "browser_family": browser,
        "site_key": site.key,
    }


def record_receipt(
    session_scope: Callable[[], AbstractContextManager[Session]],
    receipt: ReceiptInput,
    site: Site,
    browser: str,
    writer: ReceiptWriter | None = None,
) -> tuple[datetime, bool]:
    """Store a receipt once; returns when it was recorded and whether this call recorded it.

    With a ``writer``, the receipt is group-committed with those of concurrent requests; without,
    it is committed alone in a session. Either way the call returns once it is durable. A
    retried post of the same choice returns the first record; ReceiptConflict when the id was
    already used for a different choice; ReceiptNotRecorded when the database failed.
    ``session_scope()`` gives a session, asked for only when one is needed (with a writer, only
    for a site's first receipt and for a repeated receipt id).
    """
    values = receipt_values(receipt, site, browser)
    if writer is not None:
        if site.key not in writer.ready_sites:
            with session_scope() as session:
                ensure_site(session, site)
            writer.ready_sites.add(site.key)
        created = writer.record(values)
    else:
        with session_scope() as session:
            created = _insert_alone(session, values, site)
    if created:
        return values["recorded_at"], True
    with session_scope() as session:
        stored = find_receipt(session, receipt.receipt_id)
        compared = set(RECEIPT_COLUMNS) - {"recorded_at", "browser_family"}
        if stored is None or any(getattr(stored, column) != values[column] for column in compared):
            raise ReceiptConflict("this receipt id was already used for a different choice")
        return stored.recorded_at, False


def _insert_alone(session: Session, values: dict[str, object], site: Site) -> bool:
    """Commit one receipt by itself (without group commit); True when it was new."""
    ensure_site(session, site)
    dialect = session.get_bind().dialect
    try:
        inserted = batch_insert_for(dialect)(session.connection(), [values])
        session.commit()
    except (SQLAlchemyError, dialect.loaded_dbapi.Error) as error:
        session.rollback()
        raise ReceiptNotRecorded(str(error)) from error
    return bool(inserted)


def find_receipt(session: Session, receipt_id: str) -> ConsentReceipt | None:
    try:
        canonical = str(uuid.UUID(receipt_id))
    except ValueError:
        return None
    return session.scalar(select(ConsentReceipt).where(ConsentReceipt.receipt_id == canonical))


def iso_utc(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def receipt_document(receipt: ConsentReceipt, site_key: str) -> dict[str, object]:
    """The receipt as returned to the visitor (and shown to staff)."""
    return {
        "receiptId": receipt.receipt_id,
        "recordedAt": iso_utc(receipt.recorded_at),
        "site": site_key,
        "policyVersion": receipt.policy_version,
        "build": receipt.widget_build,
        "textsHash": receipt.texts_hash,
        "language": receipt.language,
        "action": receipt.action,
        "method": receipt.method,
        "gpc": receipt.gpc,
        "choices": receipt.choices,
        "services": receipt.services,
        "browser": receipt.browser_family,
    }


def ensure_site(session: Session, site: Site) -> int:
    """The database id of a site declared in the content, created on first use.

    Ends its transaction: on SQLite, an open one would hold the write lock that the receipt
    writer needs.
    """
    site_id = session.scalar(select(SiteRecord.id).where(SiteRecord.key == site.key))
    if site_id is None:
        # INSERT .. ON CONFLICT, in the dialect of the database at hand.
        insert = (
            postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        )
        statement = (
            insert(SiteRecord)
            .values(key=site.key, name=site.name, origins=list(site.origins))
            .on_conflict_do_nothing(index_elements=["key"])
        )
        session.execute(statement)
        site_id = session.scalar(select(SiteRecord.id).where(SiteRecord.key == site.key))
    session.commit()
    return site_id
