"""Data of a deceased holder communicated to an heir or designated person (French law 78-17,
art. 85): the categories staff release reach the requester as an encrypted, single-use download.

:func:`communicate` is one unit: the release is checked and recorded
(:func:`handling.record_release`), the deceased's data of exactly those categories are read
through the connectors into the export machinery's zip (exports/archive.py, with the summary of
exports/building.py), stored encrypted in the copies' folder (``EXPORT_DIR``, ``EXPORT_KEY``:
rotated and swept with them), and a link with a single-use token is mailed to the requester.
Only the token's SHA-256 is stored; the link expires after ``EXPORT_LIFETIME_DAYS`` days and is
used up by the first successful download (:func:`download`), which deletes the file. Every step
is audited: ``postmortem.delivery_created``, ``postmortem.delivery_mailed``,
``postmortem.delivery_downloaded``.

Plain functions with explicit arguments; :func:`communicate` flushes (the staff console's
services commit), :func:`download` and :func:`purge_expired` commit.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import current_app
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import audit
from ..connectors import ConnectorError, get_connector_set
from ..content import get_content
from ..exports.archive import json_schema, stream_export
from ..exports.building import attachment_descriptions, build_plan, summary_renderer
from ..exports.serving import absolute_url
from ..letters.rendering import render_pdf
from ..mail import MailNotSent, send_mail
from ..models import PrivacyRequest
from ..models.postmortem import PostmortemDelivery
from ..models.types import utcnow
from ..rights.transitions import ACTOR_REQUESTER
from ..tokens import token_hash
from ..uploads.storage import delete_document, read_document, store_document
from .handling import (
    Release,
    check_release,
    directives_for_request,
    record_release,
    release_lines,
    released_categories,
    standing,
)

log = logging.getLogger(__name__)

MAIL_TEMPLATE = "postmortem/data_ready"
LINK_ENDPOINT = "postmortem.data_link"


class DeliveryFailed(ValueError):
    """The data could not be communicated; nothing is to be recorded (the caller rolls back).
    The message says why, for staff."""


@dataclass(frozen=True)
class Communicated:
    release: Release
    delivery: PostmortemDelivery


def lifetime(settings: Mapping[str, Any]) -> timedelta:
    """How long a link (and its encrypted file) is kept: the copies' lifetime."""
    return timedelta(days=int(settings["EXPORT_LIFETIME_DAYS"]))


def _directory(settings: Mapping[str, Any]) -> Path:
    return Path(settings["EXPORT_DIR"])


def category_labels(language: str) -> dict[str, str]:
    """Every data category of the connectors, labelled in ``language``."""
    return {category.key: category.label(language) for category in get_connector_set().categories()}


# --- the zip ------------------------------------------------------------------------------------


def archive(
    session: Session,
    request: PrivacyRequest,
    account: Any,
    categories: Sequence[str],
    *,
    base_url: str,
    generated_at: datetime,
) -> bytes:
    """The zip of the deceased's data in ``categories`` only, in the requester's language: the
    export machinery's plan (every connector), narrowed to these categories."""
    language = request.language
    connectors = get_connector_set().build(lambda: session)
    wanted = set(categories)
    plan = build_plan(account, language, connectors, generated_at)
    plan = replace(plan, entries=tuple(e for e in plan.entries if e.category.key in wanted))
    missing = wanted - {entry.category.key for entry in plan.entries}
    if missing:
        raise DeliveryFailed(f"unknown data categories: {', '.join(sorted(missing))}")
    operator = get_content().operator
    deceased = str(request.specifics.get("deceased_name") or account.email)
    with force_locale(language):
        title = gettext(
            "Data of %(name)s held by %(operator)s", name=deceased, operator=operator.name
        )
        schema = json_schema(
            plan,
            title,
            gettext(
                "The categories of the deceased's data communicated to you, with one row per "
                "record; each field is described below."
            ),
        )
        descriptions = attachment_descriptions()
    context = {
        "postmortem": {
            "title": title,
            "deceased_name": deceased,
            "requester": request.email,
            "reference": request.reference,
        }
    }
    chunks = stream_export(
        plan,
        schema=schema,
        render_summary=summary_renderer(plan, None, base_url, context),
        render_pdf=render_pdf,
        summary_rows=current_app.config["EXPORT_SUMMARY_ROWS"],
        attachment_descriptions=descriptions,
    )
    return b"".join(chunks)


# --- communicating ------------------------------------------------------------------------------


def communicate(
    session: Session,
    request: PrivacyRequest,
    *,
    categories: Sequence[str],
    estate_need: str,
    actor: str,
    settings: Mapping[str, Any],
    base_url: str,
    now: datetime | None = None,
) -> Communicated:
    """Check ``categories`` against the deceased's directives and the requester's standing
    (raises ``handling.ReleaseBlocked`` before anything is read or written), read exactly these
    data into an encrypted file, then record the release and mail the requester a single-use
    link. Raises :class:`DeliveryFailed` (no account to read, a connector or the mail failed):
    the caller rolls back, and no file is left. Flushes only."""
    moment = now or utcnow()
    account, directive = directives_for_request(session, request)
    if account is None:
        raise DeliveryFailed(
            str(
                _l(
                    "No account matches the deceased's identifier: there are no data to "
                    "communicate."
                )
            )
        )
    chosen = list(dict.fromkeys(categories))
    # Checked first, so that nothing of the deceased is read when the release is refused;
    # record_release checks again as it records.
    check_release(
        directive, chosen, estate_need=estate_need or "", requester=standing(request, directive)
    )
    try:
        data = archive(session, request, account, chosen, base_url=base_url, generated_at=moment)
    except ConnectorError as error:
        raise DeliveryFailed(
            str(_l("The data could not be read, nothing was recorded: %(error)s", error=error))
        ) from None
    directory = _directory(settings)
    stored = store_document(data, directory=directory, key=settings["EXPORT_KEY"])
    try:
        release = record_release(
            session,
            request,
            categories=chosen,
            estate_need=estate_need,
            actor=actor,
            now=moment,
        )
        secret = secrets.token_urlsafe(32)
        delivery = PostmortemDelivery(
            request_id=request.id,
            account_id=account.id,
            categories=list(release.categories),
            email=request.email,
            language=request.language,
            stored_name=stored,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            token_hash=token_hash(secret),
            created_at=moment,
            expires_at=moment + lifetime(settings),
        )
        session.add(delivery)
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="postmortem.delivery_created",
            request_id=request.id,
            details={
                "delivery": delivery.id,
                "categories": list(release.categories),
                "size_bytes": delivery.size_bytes,
                "sha256": delivery.sha256,
                "expires_at": delivery.expires_at.isoformat(timespec="seconds"),
            },
            at=moment,
        )
        _mail(settings, request, delivery, secret, base_url)
        delivery.mailed_at = moment
        audit.record(
            session,
            actor=actor,
            action="postmortem.delivery_mailed",
            request_id=request.id,
            details={"delivery": delivery.id, "to": request.email},
            at=moment,
        )
        session.flush()
    except BaseException:
        delete_document(stored, directory=directory)
        raise
    return Communicated(release, delivery)


def _mail(
    settings: Mapping[str, Any],
    request: PrivacyRequest,
    delivery: PostmortemDelivery,
    secret: str,
    base_url: str,
) -> None:
    operator = get_content().operator
    labels = category_labels(delivery.language)
    try:
        send_mail(
            settings,
            to=delivery.email,
            template=MAIL_TEMPLATE,
            language=delivery.language,
            context={
                "request": request,
                "deceased_name": str(request.specifics.get("deceased_name", "")),
                "categories": [labels.get(key, key) for key in delivery.categories],
                "download_url": absolute_url(base_url, LINK_ENDPOINT, token=secret),
                "days": lifetime(settings).days,
                "expires": format_datetime(
                    delivery.expires_at,
                    "long",
                    tzinfo=ZoneInfo(operator.timezone),
                    locale=delivery.language,
                ),
            },
        )
    except MailNotSent as error:
        log.warning("post-mortem data of %s not mailed: %s", request.reference, error)
        raise DeliveryFailed(
            str(
                _l(
                    "The mail to the requester could not be sent, so nothing was communicated "
                    "or recorded. Try again later."
                )
            )
        ) from None


# --- the link -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    # "ready" (may be downloaded), "used" (downloaded already), "expired", "unknown".
    state: str
    delivery: PostmortemDelivery | None = None


def find_link(session: Session, token: str, now: datetime | None = None) -> Link:
    """What a mailed link leads to, without using it (mail scanners open links)."""
    if not token or len(token) > 100:
        return Link("unknown")
    delivery = session.scalar(
        select(PostmortemDelivery).where(PostmortemDelivery.token_hash == token_hash(token))
    )
    if delivery is None:
        return Link("unknown")
    if delivery.downloaded_at is not None:
        return Link("used", delivery)
    if delivery.expires_at <= (now or utcnow()) or delivery.stored_name is None:
        return Link("expired", delivery)
    return Link("ready", delivery)


def open_link(session: Session, token: str, settings: Mapping[str, Any]) -> Link:
    """What a mailed link leads to (:func:`find_link`); an expired link's file, if the hourly
    purge has not deleted it yet, is deleted now, as its page says."""
    moment = utcnow()
    link = find_link(session, token, moment)
    if link.state == "expired" and link.delivery and link.delivery.stored_name is not None:
        purge_expired(session, moment, directory=_directory(settings))
    return link


def reference_of(session: Session, delivery: PostmortemDelivery) -> str | None:
    """The reference of the request a delivery answers (to quote when asking again)."""
    found = session.get(PrivacyRequest, delivery.request_id)
    return found.reference if found is not None else None


def download(
    session: Session, token: str, settings: Mapping[str, Any], now: datetime | None = None
) -> tuple[Link, bytes | None]:
    """Use the link once: the zip, and the file deleted; for a link used, expired or unknown,
    its state and no data. One conditional UPDATE: two clicks racing cannot both win. Commits."""
    moment = now or utcnow()
    link = find_link(session, token, moment)
    if link.state != "ready" or link.delivery is None:
        return link, None
    delivery = link.delivery
    used = session.execute(
        update(PostmortemDelivery)
        .where(PostmortemDelivery.id == delivery.id, PostmortemDelivery.downloaded_at.is_(None))
        .values(downloaded_at=moment)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return find_link(session, token, moment), None
    stored = delivery.stored_name
    assert stored is not None
    directory = _directory(settings)
    try:
        data = read_document(
            stored,
            directory=directory,
            key=settings["EXPORT_KEY"],
            previous_keys=settings.get("EXPORT_PREVIOUS_KEYS", ()),
        )
    except BaseException:
        session.rollback()
        raise
    delivery.downloaded_at = moment
    delivery.stored_name = None
    delivery.deleted_at = moment
    audit.record(
        session,
        actor=ACTOR_REQUESTER,
        action="postmortem.delivery_downloaded",
        request_id=delivery.request_id,
        details={"delivery": delivery.id, "sha256": delivery.sha256},
        at=moment,
    )
    session.commit()
    # Once committed: a file deleted is never left referenced (a leftover is swept).
    delete_document(stored, directory=directory)
    return Link("used", delivery), data


def purge_expired(session: Session, now: datetime, *, directory: Path) -> int:
    """Delete the files of links whose time is up; returns how many. Idempotent; commits."""
    purged = 0
    due = session.scalars(
        select(PostmortemDelivery).where(
            PostmortemDelivery.stored_name.is_not(None), PostmortemDelivery.expires_at <= now
        )
    ).all()
    for delivery in due:
        assert delivery.stored_name is not None
        delete_document(delivery.stored_name, directory=directory)
        delivery.stored_name = None
        delivery.deleted_at = now
        session.commit()
        purged += 1
    return purged


# --- the completion letter ----------------------------------------------------------------------


def completion_lines(session: Session, request: PrivacyRequest) -> list[str]:
    """What the completion letter says was communicated, in the requester's language: exactly
    the categories of the recorded releases, and how they were sent; or that nothing was."""
    language = request.language
    categories = released_categories(session, request)
    if not categories:
        with force_locale(language):
            return [gettext("No data of the deceased were communicated to you.")]
    lines = release_lines(categories, category_labels(language), language)
    mailed = session.scalars(
        select(PostmortemDelivery.email).where(
            PostmortemDelivery.request_id == request.id,
            PostmortemDelivery.mailed_at.is_not(None),
        )
    ).all()
    if mailed:
        with force_locale(language):
            lines.append(
                gettext(
                    "We sent them to you by email, at %(email)s, as an encrypted download link "
                    "that works once.",
                    email=", ".join(dict.fromkeys(mailed)),
                )
            )
    return lines


def completion_fields(session: Session, request: PrivacyRequest, note: str) -> dict[str, str]:
    """The completion letter's fields: "done" from :func:`completion_lines`, and staff's text
    as a "note". Empty when nothing was communicated and staff did not say why."""
    note = (note or "").strip()
    if not note and not released_categories(session, request):
        return {}
    fields = {"done": "\n".join(completion_lines(session, request))}
    if note:
        fields["note"] = note
    return fields
