"""Consent records for staff: find receipts, and export them for an auditor (CSV or JSON).

Plain functions with explicit arguments. Exports are generators reading the receipts in chunks
(``yield_per``), so that a year of receipts leaves as it is read and is never held in memory.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from .. import audit
from ..content.cookies import CATEGORY_KEYS
from ..exports.archive import spreadsheet_csv
from ..models import ConsentReceipt, Site
from .services import ACTIONS, iso_utc, receipt_document
from .widget import Builds

PAGE_SIZE = 50
MAX_DAYS = 3660


class InvalidFilter(ValueError):
    """A search or export filter that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class ReceiptFilter:
    receipt_id: str | None = None
    start: date | None = None  # UTC days, both included
    end: date | None = None
    site: str | None = None
    policy_version: int | None = None
    action: str | None = None

    def query_args(self) -> dict[str, str]:
        """The filter as query-string arguments (for the export links and the next page)."""
        names = {"start": "from", "end": "to", "policy_version": "version"}
        return {names.get(key, key): str(value) for key, value in asdict(self).items() if value}


def parse_day(value: str, label: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidFilter(
            _("%(field)s must be a date written YYYY-MM-DD, not “%(value)s”.", field=label,
              value=value[:40])
        ) from None  # fmt: skip


def parse_filter(args: Mapping[str, str], sites: list[str]) -> ReceiptFilter:
    """The filter given in a query string, checked; InvalidFilter says what is wrong."""
    values = {key: (args.get(key) or "").strip() for key in
              ("receipt", "from", "to", "site", "version", "action")}  # fmt: skip
    receipt_id = None
    if values["receipt"]:
        try:
            receipt_id = str(uuid.UUID(values["receipt"]))
        except ValueError:
            raise InvalidFilter(_("The receipt id must be a UUID.")) from None
    start = parse_day(values["from"], _("The start date")) if values["from"] else None
    end = parse_day(values["to"], _("The end date")) if values["to"] else None
    if start and end and end < start:
        raise InvalidFilter(_("The end date is before the start date."))
    if start and end and (end - start).days > MAX_DAYS:
        raise InvalidFilter(_("The period may not exceed ten years."))
    if values["site"] and values["site"] not in sites:
        raise InvalidFilter(_("Unknown site “%(site)s”.", site=values["site"][:40]))
    version = None
    if values["version"]:
        if not values["version"].isdigit() or not 1 <= int(values["version"]) <= 32767:
            raise InvalidFilter(_("The policy version must be a whole number."))
        version = int(values["version"])
    if values["action"] and values["action"] not in ACTIONS:
        raise InvalidFilter(_("Unknown choice “%(action)s”.", action=values["action"][:40]))
    return ReceiptFilter(
        receipt_id=receipt_id,
        start=start,
        end=end,
        site=values["site"] or None,
        policy_version=version,
        action=values["action"] or None,
    )


def _select(query: ReceiptFilter) -> Select:
    statement = select(ConsentReceipt, Site.key).join(Site, ConsentReceipt.site_id == Site.id)
    if query.receipt_id:
        statement = statement.where(ConsentReceipt.receipt_id == query.receipt_id)
    if query.start:
        since = datetime.combine(query.start, time(), UTC)
        statement = statement.where(ConsentReceipt.recorded_at >= since)
    if query.end:
        until = datetime.combine(query.end + timedelta(days=1), time(), UTC)
        statement = statement.where(ConsentReceipt.recorded_at < until)
    if query.site:
        statement = statement.where(Site.key == query.site)
    if query.policy_version:
        statement = statement.where(ConsentReceipt.policy_version == query.policy_version)
    if query.action:
        statement = statement.where(ConsentReceipt.action == query.action)
    return statement


@dataclass(frozen=True)
class ReceiptPage:
    rows: list[tuple[ConsentReceipt, str]]
    page: int
    has_next: bool


def search_receipts(session: Session, query: ReceiptFilter, page: int = 1) -> ReceiptPage:
    """One page of the receipts matching ``query``, newest first (the date index serves it)."""
    page = max(page, 1)
    statement = (
        _select(query)
        .order_by(ConsentReceipt.recorded_at.desc(), ConsentReceipt.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    )
    rows = [(receipt, key) for receipt, key in session.execute(statement).all()]
    return ReceiptPage(rows=rows[:PAGE_SIZE], page=page, has_next=len(rows) > PAGE_SIZE)


def site_keys(session: Session) -> list[str]:
    return list(session.scalars(select(Site.key).order_by(Site.key)))


# --- export -------------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "receipt_id", "recorded_at", "site", "policy_version", "language", "action", "method", "gpc",
    *(f"choice_{key}" for key in CATEGORY_KEYS), "services", "browser", "texts_hash",
    "widget_build", "widget_build_js", "widget_build_js_integrity", "widget_build_built_at",
)  # fmt: skip


def audit_export(session: Session, *, actor: str, query: ReceiptFilter, kind: str) -> None:
    """Note in the audit log who exported which receipts, committed before the first byte."""
    details = {"format": kind, "filter": query.query_args()}
    audit.record(session, actor=actor, action="consent-records-exported", details=details)
    session.commit()


def _build_details(builds: Builds, build: str) -> dict[str, str] | None:
    for known in builds.all:
        if known.build == build:
            return {
                "js": known.js,
                "css": known.css,
                "jsIntegrity": known.integrity.get("js", ""),
                "cssIntegrity": known.integrity.get("css", ""),
                "builtAt": known.built_at,
            }
    return None


def _receipts(session: Session, query: ReceiptFilter) -> Iterator[tuple[ConsentReceipt, str]]:
    statement = _select(query).order_by(ConsentReceipt.recorded_at, ConsentReceipt.id)
    # yield_per: a server-side cursor on PostgreSQL, chunks of rows everywhere.
    # Closed even when the client goes away before the end of the stream.
    with session.execute(statement.execution_options(yield_per=500)) as result:
        for receipt, key in result:
            yield receipt, key
            session.expunge(receipt)


def export_csv(session: Session, query: ReceiptFilter, builds: Builds) -> Iterator[bytes]:
    """The receipts matching ``query``, oldest first, as UTF-8 CSV, streamed row by row. Each
    row carries the hash of the texts the visitor was shown and the widget build they used,
    with that build's file and integrity hash when the build is still listed."""

    def row(receipt: ConsentReceipt, site_key: str) -> tuple[object, ...]:
        build = _build_details(builds, receipt.widget_build) or {}
        return (
            receipt.receipt_id, iso_utc(receipt.recorded_at), site_key,
            receipt.policy_version, receipt.language, receipt.action, receipt.method,
            receipt.gpc, *(bool(receipt.choices.get(key)) for key in CATEGORY_KEYS),
            receipt.services, receipt.browser_family, receipt.texts_hash, receipt.widget_build,
            build.get("js"), build.get("jsIntegrity"), build.get("builtAt"),
        )  # fmt: skip

    rows = (row(receipt, site_key) for receipt, site_key in _receipts(session, query))
    return spreadsheet_csv(EXPORT_COLUMNS, rows, rows_per_chunk=100)


def export_json(
    session: Session, query: ReceiptFilter, builds: Builds, *, exported_at: datetime
) -> Iterator[bytes]:
    """The receipts matching ``query`` as one JSON document, streamed: the filter, each receipt
    (with its texts hash and build), then the widget builds they point to and the texts hashes
    they were shown, each listed once."""
    head = {"exportedAt": iso_utc(exported_at), "filter": query.query_args()}
    yield json.dumps(head, ensure_ascii=False)[:-1].encode() + b', "receipts": ['
    seen_builds: dict[str, dict[str, str] | None] = {}
    hashes: dict[str, int] = {}
    separator = b"\n"
    for receipt, site_key in _receipts(session, query):
        if receipt.widget_build not in seen_builds:
            seen_builds[receipt.widget_build] = _build_details(builds, receipt.widget_build)
        hashes[receipt.texts_hash] = hashes.get(receipt.texts_hash, 0) + 1
        document = receipt_document(receipt, site_key)
        yield separator + json.dumps(document, ensure_ascii=False).encode()
        separator = b",\n"
    tail = {
        "builds": seen_builds,
        "textsHashes": [{"textsHash": key, "receipts": n} for key, n in sorted(hashes.items())],
    }
    yield b"\n], " + json.dumps(tail, ensure_ascii=False)[1:].encode()
