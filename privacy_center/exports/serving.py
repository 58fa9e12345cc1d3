"""A copy handed to its owner: a small one streamed at once as it is made
(:func:`stream_to_person`), a large one (more rows than ``EXPORT_INLINE_MAX_ROWS``) prepared in
the background (:func:`prepare_export`, run by jobs.enqueue), encrypted in segments as it is built
(stored.py), and its owner mailed a single-use link."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import current_app
from sqlalchemy import Engine, create_engine, update
from sqlalchemy.orm import Session

from ..connectors import ConnectorError
from ..content import get_content
from ..extensions import db
from ..jobs import enqueue
from ..mail import MailNotSent, send_mail
from ..models import Account, DataExport
from ..models.types import utcnow
from ..tokens import issue_token
from ..uploads.storage import delete_document
from .building import archive_chunks
from .copies import fail_export
from .stored import store_archive

log = logging.getLogger(__name__)

PREPARE_JOB = "privacy_center.exports.serving:prepare_export"
# In a worker, progress is written at most this often (seconds).
PROGRESS_INTERVAL = 1.0


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
        fail_export(session, export_id, str(error))
        raise
    except GeneratorExit:
        fail_export(session, export_id, "The download was interrupted before it finished.")
        raise
    except Exception as error:
        fail_export(session, export_id, f"Unexpected error while streaming: {error!r}")
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
        fail_export(
            session, export_id, f"The background job queue (Redis) could not be reached: {error}"
        )


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
        fail_export(session, export_id, "The account was deleted before its copy was prepared.")
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
        fail_export(session, export_id, str(error))
        return
    except Exception as error:
        fail_export(session, export_id, f"Unexpected error while preparing the copy: {error!r}")
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
