"""Copies of an account holder's data (art. 15 and 20 GDPR).

A copy is a :class:`DataExport`. The first one is free; from the second on, the operator's fee
notice (``copy_fee_notice`` in content/operator.yaml) must have been acknowledged before
anything is prepared. A small copy streams straight to the person (:func:`stream_to_person`);
a large one (more rows than ``EXPORT_INLINE_MAX_ROWS``) is prepared in the background
(:func:`prepare_export`, run by jobs.enqueue), encrypted in segments as it is built (stored.py),
offered to its owner (signed in, or through a single-use emailed link), served while it is
decrypted, and deleted after ``EXPORT_LIFETIME_DAYS`` (:func:`purge_expired_exports`).

These functions need an application context (templates, content, settings), never a request.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import current_app
from flask_babel import force_locale, gettext
from sqlalchemy import ColumnElement, Engine, and_, create_engine, func, or_, select, update
from sqlalchemy.orm import Session

from ..connectors import Connector, ConnectorError, Subject, get_connector_set
from ..content import get_content
from ..extensions import db
from ..jobs import enqueue
from ..letters.rendering import render_pdf
from ..mail import MailNotSent, send_mail
from ..models import Account, DataExport
from ..models.types import utcnow
from ..operator import Operator, RetentionRule
from ..templating import format_period
from ..tokens import issue_token, redeem_token
from ..uploads.storage import delete_document
from .archive import ExportPlan, PlannedCategory, Tally, csv_cell, json_schema, stream_export
from .information import ProcessingInformation
from .stored import store_archive

log = logging.getLogger(__name__)

PROCESSING_KEY = "privacy_center.processing"
PREPARE_JOB = "privacy_center.exports.services:prepare_export"
# A copy still queued after a day, or being prepared without progress for 15 minutes, was lost
# (no worker took it, or its worker was killed): it is marked failed so that the person can ask
# again, and it is not counted as a copy.
STALE_AFTER = timedelta(days=1)
STALLED_AFTER = timedelta(minutes=15)
# Longest cell shown in the summary's first rows (the files hold every character).
SUMMARY_CELL_CHARS = 120
# In a worker, progress is written at most this often (seconds).
PROGRESS_INTERVAL = 1.0


class FeeNotAcknowledged(Exception):
    """A further copy was asked for without acknowledging the fee notice."""


def get_processing() -> ProcessingInformation:
    return current_app.extensions[PROCESSING_KEY]


def subject_for(account: Account) -> Subject:
    return Subject(email=account.email, account_id=account.id)


# --- copies and the fee notice ----------------------------------------------------------------


def stalled(now: datetime) -> ColumnElement[bool]:
    """Copies whose preparation stopped: running without progress for ``STALLED_AFTER`` (its
    worker was killed), or queued for ``STALE_AFTER`` (no worker took it)."""
    return or_(
        and_(
            DataExport.state == "running",
            func.coalesce(DataExport.progress_at, DataExport.created_at) <= now - STALLED_AFTER,
        ),
        and_(DataExport.state == "queued", DataExport.created_at <= now - STALE_AFTER),
    )


def fail_stalled(session: Session, now: datetime, *, export_id: int | None = None) -> int:
    """Mark the stalled copies failed (all, or the one ``export_id``) and commit; a new copy
    can then be asked for, and the failed one is not counted."""
    query = update(DataExport).where(stalled(now))
    if export_id is not None:
        query = query.where(DataExport.id == export_id)
    result = session.execute(
        query.values(
            state="failed",
            error="The preparation stopped before it finished (its worker was stopped).",
        ).execution_options(synchronize_session="fetch")
    )
    session.commit()
    return result.rowcount


def next_copy_number(session: Session, account_id: int, now: datetime | None = None) -> int:
    """The number the next copy gets: a copy that failed or stalled was never delivered and is
    not counted."""
    made = session.scalar(
        select(func.count())
        .select_from(DataExport)
        .where(
            DataExport.account_id == account_id,
            DataExport.state != "failed",
            ~stalled(now or utcnow()),
        )
    )
    return int(made or 0) + 1


def fee_notice(session: Session, account_id: int, operator: Operator, language: str) -> str | None:
    """The notice to acknowledge before the next copy, or None for a first (free) copy."""
    if operator.copy_fee_notice is None or next_copy_number(session, account_id) < 2:
        return None
    return operator.copy_fee_notice(language)


def count_rows(connectors: list[Connector], subject: Subject) -> int:
    return sum(
        connector.count(subject, category.key)
        for connector in connectors
        for category in connector.categories()
        if category.held_by is None
    )


def _fail(session: Session, export_id: int, message: str) -> DataExport | None:
    """Record a failure (for staff: ``error``); whatever the failed work left in the session is
    rolled back first, and no file is kept."""
    session.rollback()
    export = session.get(DataExport, export_id)
    if export is None:
        return None
    export.state = "failed"
    export.error = message
    session.commit()
    return export


def start_export(
    session: Session,
    *,
    account: Account,
    language: str,
    fee_acknowledged: bool,
    operator: Operator,
    connectors: list[Connector],
    now: datetime | None = None,
) -> DataExport:
    """Record a new copy and count its rows (which also checks that every connector answers).

    Raises FeeNotAcknowledged, before anything is recorded, when the fee notice applies and was
    not acknowledged. A connector that fails leaves the copy ``failed`` with the reason in
    ``error``.
    """
    moment = now or utcnow()
    copy_number = next_copy_number(session, account.id, moment)
    notice_applies = copy_number >= 2 and operator.copy_fee_notice is not None
    if notice_applies and not fee_acknowledged:
        raise FeeNotAcknowledged
    export = DataExport(
        account_id=account.id,
        copy_number=copy_number,
        fee_acknowledged_at=moment if notice_applies else None,
        language=language,
        state="queued",
        rows_done=0,
        rows_total=0,
        created_at=moment,
    )
    session.add(export)
    session.commit()
    try:
        export.rows_total = count_rows(connectors, subject_for(account))
    except ConnectorError as error:
        return _fail(session, export.id, str(error)) or export
    session.commit()
    return export


# --- what goes in the zip ---------------------------------------------------------------------


def retention_text(rule: RetentionRule, language: str) -> str:
    """A retention rule in a sentence: "5 years. From ... . Then ..." (inside force_locale)."""
    return f"{format_period(rule.period)}. {rule.starts(language)}. {rule.then(language)}"


def build_plan(
    account: Account, language: str, connectors: list[Connector], generated_at: datetime
) -> ExportPlan:
    content = get_content()
    connector_set = get_connector_set()
    operator = content.operator
    rules = {rule.key: rule for rule in content.retention}
    entries = tuple(
        PlannedCategory(connector, category)
        for connector in connectors
        for category in connector.categories()
    )
    sources: dict[str, str] = {}
    retention: dict[str, str] = {}
    with force_locale(language):
        for entry in entries:
            source = connector_set.source(entry.category.source)
            if source is not None:
                sources[entry.category.key] = source.text(language)
            rule = rules.get(entry.category.retention or "")
            if rule is not None:
                retention[entry.category.key] = retention_text(rule, language)
    return ExportPlan(
        subject=subject_for(account),
        language=language,
        generated_at=generated_at,
        entries=entries,
        controller={
            "name": operator.name,
            "legal_name": operator.legal_name,
            "address": list(operator.address),
            "email": operator.privacy_email,
            "website": operator.website,
        },
        sources=sources,
        retention=retention,
    )


def _summary_cell(value: Any) -> str:
    if value is None:
        return "—"
    text = csv_cell(value)
    return text if len(text) <= SUMMARY_CELL_CHARS else text[: SUMMARY_CELL_CHARS - 1] + "…"


def attachment_descriptions() -> tuple[str, str]:
    """How summary.pdf describes the data.json and the schema it carries, in the current
    language."""
    return gettext("Every record of this copy (JSON)"), gettext("JSON Schema of data.json")


def summary_renderer(
    plan: ExportPlan, export: Any, base_url: str, extra: Mapping[str, Any] | None = None
) -> Callable[[Mapping[str, Tally], bool, bool], str]:
    """Renders the summary of ``export`` (a DataExport, or what ``extra`` describes);
    ``attached``: the PDF carries data.json."""
    content = get_content()
    operator = content.operator
    language = plan.language
    authority = next(
        (item for item in content.authorities if item.country == operator.country), None
    )
    labels = {entry.connector.key: entry.connector.label(language) for entry in plan.entries}

    def render(tallies: Mapping[str, Tally], for_pdf: bool, attached: bool = False) -> str:
        categories = []
        for entry in plan.entries:
            category = entry.category
            tally = tallies.get(category.key, Tally())
            categories.append(
                {
                    "key": category.key,
                    "label": category.label(language),
                    "connector": labels[entry.connector.key],
                    "rows": tally.rows,
                    "fields": [(item.key, item.description(language)) for item in category.fields],
                    "first_rows": [
                        [_summary_cell(row[item.key]) for item in category.fields]
                        for row in tally.first_rows
                    ],
                    "held_by": category.held_by,
                    "source": plan.sources.get(category.key),
                    "retention": plan.retention.get(category.key),
                    "retention_rule": category.retention,
                    "csv": plan.csv_name(category) if category.held_by is None else None,
                }
            )
        sources: dict[str, list[str]] = {}
        for item in categories:
            if item["source"]:
                sources.setdefault(item["source"], []).append(item["label"])
        values = {
            "operator": operator,
            "lang": language,
            "for_pdf": for_pdf,
            "attached": attached,
            "plan": plan,
            "export": export,
            "generated": format_datetime(
                plan.generated_at, "long", tzinfo=ZoneInfo(operator.timezone), locale=language
            ),
            "categories": categories,
            "sources": sources,
            "total_rows": sum(item["rows"] for item in categories),
            "information": get_processing(),
            "retention_rules": content.retention,
            "authority": authority,
            "edpb_members_url": content.edpb_members_url,
            "rights_url": urljoin(base_url, "rights"),
            "summary_rows": current_app.config["EXPORT_SUMMARY_ROWS"],
            **(extra or {}),
        }
        with force_locale(language):
            values["period_text"] = {
                rule.key: format_period(rule.period) for rule in content.retention
            }
            template = current_app.jinja_env.get_template("exports/summary.html")
            return template.render(values)

    return render


def archive_chunks(
    export: DataExport,
    account: Account,
    *,
    own_session: Callable[[], Session],
    base_url: str,
    on_rows: Callable[[int], None] | None = None,
    generated_at: datetime | None = None,
) -> Iterator[bytes]:
    """The zip of ``account``'s data, streamed; ``own_session`` reads the privacy center's own
    database."""
    connectors = get_connector_set().build(own_session)
    plan = build_plan(account, export.language, connectors, generated_at or utcnow())
    operator = get_content().operator
    with force_locale(export.language):
        schema = json_schema(
            plan,
            gettext("Your data held by %(operator)s", operator=operator.name),
            gettext(
                "Every category of your personal data, with one row per record; each field is "
                "described below."
            ),
        )
        descriptions = attachment_descriptions()
    return stream_export(
        plan,
        schema=schema,
        attachment_descriptions=descriptions,
        render_summary=summary_renderer(plan, export, base_url),
        render_pdf=render_pdf,
        summary_rows=current_app.config["EXPORT_SUMMARY_ROWS"],
        on_rows=on_rows,
    )


class _RowProgress:
    """Turns row writes (two per row: data.json and its CSV) into ``rows_done``."""

    def __init__(self, report: Callable[[int], None]) -> None:
        self.writes = 0
        self.report = report

    def __call__(self, count: int) -> None:
        self.writes += count
        self.report(self.writes // 2)


# --- a small copy, streamed at once -----------------------------------------------------------


def stream_to_person(session: Session, export_id: int, *, base_url: str) -> Iterator[bytes]:
    """Stream a copy to its owner as it is made (nothing is stored). The copy is ``ready`` once
    the last byte is out; a connector failure or an interrupted download leaves it ``failed``
    (and not counted), and the error propagates so that the download visibly fails instead of
    ending with a truncated file.

    Everything is loaded here, when the stream starts: a response streams after its view has
    returned, in a session of its own.
    """
    export = session.get(DataExport, export_id)
    if export is None or export.state != "queued":
        raise ValueError(f"export {export_id} is not waiting to be prepared")
    account = session.get(Account, export.account_id)
    if account is None:
        raise ValueError(f"export {export_id} has no account")
    export.state = "running"
    session.commit()
    hasher = hashlib.sha256()
    size = 0
    try:
        for chunk in archive_chunks(
            export, account, own_session=lambda: session, base_url=base_url
        ):
            hasher.update(chunk)
            size += len(chunk)
            yield chunk
    except ConnectorError as error:
        _fail(session, export_id, str(error))
        raise
    except GeneratorExit:
        _fail(session, export_id, "The download was interrupted before it finished.")
        raise
    except Exception as error:
        _fail(session, export_id, f"Unexpected error while streaming: {error!r}")
        raise
    now = utcnow()
    export = session.get(DataExport, export_id)
    if export is not None:
        export.state = "ready"
        export.rows_done = export.rows_total
        export.size_bytes = size
        export.sha256 = hasher.hexdigest()
        export.ready_at = export.downloaded_at = now
        session.commit()


# --- a large copy, prepared in the background -------------------------------------------------

_sqlite_readers: dict[str, Engine] = {}


def _reader_session(session: Session) -> Session:
    """A second session for a worker to read through while it records progress in the first.

    On SQLite the application's engine opens every transaction with BEGIN IMMEDIATE (the write
    lock): a long read there would block every writer, the progress updates first. The reader
    uses a plain engine instead, whose SELECTs take no write lock (WAL mode).
    """
    engine = session.get_bind()
    if isinstance(engine, Engine) and engine.dialect.name == "sqlite":
        url = engine.url.render_as_string(hide_password=False)
        engine = _sqlite_readers.get(url) or _sqlite_readers.setdefault(url, create_engine(url))
    return Session(bind=engine)


def queue_export(
    session: Session, export_id: int, config: Mapping[str, Any], base_url: str
) -> None:
    """Have a queued copy prepared (jobs.enqueue: inline, or by a worker when REDIS_URL is set).

    When the queue cannot be reached the copy fails at once, with the reason for staff, instead
    of waiting for a worker that will never see it.
    """
    from redis.exceptions import RedisError

    try:
        enqueue(config, PREPARE_JOB, export_id, base_url)
    except RedisError as error:
        _fail(session, export_id, f"The background job queue (Redis) could not be reached: {error}")


def _in_worker() -> bool:
    from rq import get_current_job

    return get_current_job() is not None


def absolute_url(base_url: str, endpoint: str, **values: Any) -> str:
    """An address of this application outside any request (a job), from the site's root."""
    parts = urlsplit(base_url)
    adapter = current_app.url_map.bind(
        parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)


def prepare_export(export_id: int, base_url: str) -> None:
    """Prepare a queued copy, encrypt it into its file as it is built (never whole in memory)
    and mail its owner a single-use link.

        The job behind jobs.enqueue (PREPARE_JOB). In a worker, progress is committed as it goes
        (read through a second session); inline, the copy is ready when the call returns.
    """
    config = current_app.config
    session = db.session
    export = session.get(DataExport, export_id)
    if export is None or export.state != "queued":
        return
    account = session.get(Account, export.account_id)
    if account is None:
        _fail(session, export_id, "The account was deleted before its copy was prepared.")
        return
    export.state = "running"
    export.rows_done = 0
    export.progress_at = utcnow()
    session.commit()
    in_worker = _in_worker()
    reader = _reader_session(session) if in_worker else session
    last_write = time.monotonic()

    def record(rows_done: int) -> None:
        nonlocal last_write
        if not in_worker:
            export.rows_done = rows_done  # committed with the result
            return
        if time.monotonic() - last_write >= PROGRESS_INTERVAL:
            session.execute(
                update(DataExport)
                .where(DataExport.id == export_id)
                .values(rows_done=rows_done, progress_at=utcnow())
            )
            session.commit()
            last_write = time.monotonic()

    directory = Path(config["EXPORT_DIR"])
    try:
        # The zip is encrypted into its file as it is built (exports.stored, segmented.py).
        stored = store_archive(
            archive_chunks(
                export,
                account,
                own_session=lambda: reader,
                base_url=base_url,
                on_rows=_RowProgress(record),
            ),
            directory=directory,
            key=config["EXPORT_KEY"],
        )
    except ConnectorError as error:
        _fail(session, export_id, str(error))
        return
    except Exception as error:
        _fail(session, export_id, f"Unexpected error while preparing the copy: {error!r}")
        raise
    finally:
        if reader is not session:
            reader.close()

    now = utcnow()
    export = session.get(DataExport, export_id)
    if export is None:  # the account went away meanwhile
        delete_document(stored.name, directory=directory)
        return
    export.state = "ready"
    export.stored_name = stored.name
    export.size_bytes = stored.size
    export.sha256 = stored.sha256
    export.rows_done = export.rows_total
    export.ready_at = now
    export.expires_at = now + timedelta(days=config["EXPORT_LIFETIME_DAYS"])
    token = issue_token(
        session,
        purpose="download",
        email=account.email,
        lifetime=export.expires_at - now,
        account_id=account.id,
        export_id=export.id,
        now=now,
    )
    try:
        session.commit()
    except Exception:
        session.rollback()
        delete_document(stored.name, directory=directory)
        raise
    _mail_ready(config, account, export, base_url, token)


def _mail_ready(
    config: Mapping[str, Any], account: Account, export: DataExport, base_url: str, token: str
) -> None:
    operator = get_content().operator
    context = {
        "download_url": absolute_url(base_url, "exports.link", token=token),
        "status_url": absolute_url(base_url, "exports.status", export_id=export.id),
        "expires": format_datetime(
            export.expires_at, "long", tzinfo=ZoneInfo(operator.timezone), locale=export.language
        ),
        "export": export,
    }
    try:
        send_mail(
            config,
            to=account.email,
            template="export_ready",
            language=export.language,
            context=context,
        )
    except MailNotSent:
        # The copy stays available on its page to its signed-in owner.
        log.exception("export %s is ready but its mail could not be sent", export.id)


# --- downloads --------------------------------------------------------------------------------


def owned_export(session: Session, export_id: int, account_id: int) -> DataExport | None:
    """The copy, if it belongs to ``account_id`` (anyone else learns nothing of it); a copy
    whose preparation stalled is marked failed first, so its owner is told to ask again."""
    export = session.get(DataExport, export_id)
    if export is None or export.account_id != account_id:
        return None
    if export.state in ("queued", "running"):
        fail_stalled(session, utcnow(), export_id=export.id)
    return export


def downloadable(export: DataExport, now: datetime) -> bool:
    return (
        export.state == "ready"
        and export.stored_name is not None
        and export.expires_at is not None
        and export.expires_at > now
    )


def link_export(session: Session, token_export_id: int | None, now: datetime) -> DataExport | None:
    if token_export_id is None:
        return None
    export = session.get(DataExport, token_export_id)
    return export if export is not None and downloadable(export, now) else None


def redeem_download_link(
    session: Session, token: str, now: datetime | None = None
) -> DataExport | None:
    """Use an emailed download link (once): the copy it opens, or None when the link is
    unknown, used, expired, or its copy is no longer available."""
    moment = now or utcnow()
    found = redeem_token(session, purpose="download", token=token, now=moment)
    if found is None:
        return None
    export = link_export(session, found.export_id, moment)
    if export is None or export.account_id != found.account_id:
        return None
    return export


# --- expiry -----------------------------------------------------------------------------------


def purge_expired_exports(
    session: Session, now: datetime, *, export_dir: str | Path | None = None
) -> int:
    """Delete the files of copies whose time is up (``expired``); mark copies lost by a stopped
    worker ``failed``. Returns the number of copies expired. Idempotent."""
    directory = Path(export_dir or current_app.config["EXPORT_DIR"])
    expired = 0
    due = session.scalars(
        select(DataExport).where(DataExport.stored_name.is_not(None), DataExport.expires_at <= now)
    ).all()
    for export in due:
        assert export.stored_name is not None
        delete_document(export.stored_name, directory=directory)
        export.stored_name = None
        export.state = "expired"
        export.deleted_at = now
        # Commit each: a file deleted is never left referenced by a copy said to be ready.
        session.commit()
        expired += 1
    fail_stalled(session, now)
    return expired
