"""A copy's life: asked for (the first free, a further one only once the fee notice is
acknowledged), counted, marked failed when its preparation stalled, found for its owner or
through a single-use link, and expired after ``EXPORT_LIFETIME_DAYS``.

Building the zip is building.py; handing it over (streamed at once, or prepared in the
background and mailed) is serving.py. These functions need an application context, never a
request.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from ..connectors import Connector, ConnectorError, Subject
from ..models import Account, DataExport
from ..models.types import utcnow
from ..operator import Operator
from ..tokens import redeem_token
from ..uploads.storage import delete_document

# A copy still queued after a day, or being prepared without progress for 15 minutes, was lost
# (no worker took it, or its worker was killed): it is marked failed so that the person can ask
# again, and it is not counted as a copy.
STALE_AFTER = timedelta(days=1)
STALLED_AFTER = timedelta(minutes=15)


class FeeNotAcknowledged(Exception):
    """A further copy was asked for without acknowledging the fee notice."""


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


def fail_export(session: Session, export_id: int, message: str) -> DataExport | None:
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
        return fail_export(session, export.id, str(error)) or export
    session.commit()
    return export


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
