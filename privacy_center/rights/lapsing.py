"""Requests that stall, end: ``flask --app wsgi requests lapse [--dry-run]``.

A request waiting for its requester lapses once the operator's period has passed
(``lapse_after_days`` in ``content/operator.yaml``), counted in calendar days from the day the
wait began (that day not counted): with 30 days, a wait begun on 1 March lapses on 1 April, the
day after the period's last day (31 March). Three waits end this way:

- ``unconfirmed``: the email address was never confirmed (and no confirmation link is still
  valid: one sent by "find my request" is given its 24 hours);
- ``awaiting_identity``: no proof of identity after we asked for one (GDPR art. 12(6));
- ``awaiting_requester``: no answer to a request for clarification.

Lapsing is one unit per request: the move to LAPSED through the workflow's ``transition`` (its
audit row), the identity documents still on disk destroyed, a ``request.lapsed`` audit row
saying why; committed batch by batch. The requester is then mailed, in the request's language,
why it lapsed and how to file again; each mail sent is recorded (``request.lapse_notice``), so
that a mail that failed is tried again by the next run (for :data:`NOTICE_RETRY_DAYS` days) and
one that was sent is never sent twice. A real run holds a lock for its whole length: a run
started while another is under way stops at once (:class:`LapseBusy`) and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import format_date, gettext
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from .. import audit
from ..content import get_content
from ..locks import Busy, exclusive
from ..mail import MailNotSent, send_mail
from ..models import AuditEvent, EmailToken, PrivacyRequest, RequestTransition
from ..operator import Operator
from ..uploads.storage import delete_document
from ..workflow import RequestState
from .clock import operator_day
from .kinds import RequestKind, get_kind
from .transitions import ACTOR_SYSTEM, transition

log = logging.getLogger(__name__)

S = RequestState

# What a stalled request waits for, by state: the key of its period in lapse_after_days.
STALLED: dict[RequestState, str] = {
    S.AWAITING_CONFIRMATION: "unconfirmed",
    S.AWAITING_IDENTITY: "awaiting_identity",
    S.AWAITING_REQUESTER: "awaiting_requester",
}
# Why, in the request's history and the audit log (the requester reads a translated text).
REASONS = {
    "unconfirmed": "lapsed: email address not confirmed within {days} days",
    "awaiting_identity": "lapsed: no proof of identity received within {days} days of asking",
    "awaiting_requester": "lapsed: no clarification received within {days} days of asking",
}
ACTION_LAPSED = "request.lapsed"
ACTION_NOTICE = "request.lapse_notice"
# A lapse notice that could not be mailed is tried again by each run for this many days.
NOTICE_RETRY_DAYS = 7
DEFAULT_BATCH_SIZE = 200
# The PostgreSQL advisory lock of the lapse run (any constant used for nothing else).
RUN_LOCK_KEY = 0x70635F6C617073  # "pc_laps"


class LapseBusy(Busy):
    """Another lapse run is under way."""


@dataclass(frozen=True)
class Lapse:
    """Why a request lapses (or lapsed): what it waited for, since when, for how long."""

    because: str  # a key of lapse_after_days
    waiting_since: date
    period_days: int

    @property
    def last_day(self) -> date:
        """The last day of the wait; the request lapses the day after."""
        return self.waiting_since + timedelta(days=self.period_days)

    @property
    def lapses_on(self) -> date:
        return self.last_day + timedelta(days=1)


@dataclass(frozen=True)
class Stalled:
    request: PrivacyRequest
    lapse: Lapse


@dataclass
class LapseReport:
    """What a run did (or, dry, would do)."""

    dry_run: bool
    today: date
    lapsed: list[Stalled] = field(default_factory=list)
    mailed: list[str] = field(default_factory=list)
    not_mailed: list[str] = field(default_factory=list)  # failed: tried again next run
    no_email: list[str] = field(default_factory=list)  # no address: tell them by post
    batches: int = 0


def _operator() -> Operator:
    return get_content().operator


def period_days(because: str, operator: Operator | None = None) -> int:
    return int(getattr((operator or _operator()).lapse_after_days, because))


def _start_of(day: date, operator: Operator) -> datetime:
    """Midnight of ``day`` in the operator's time zone, in UTC."""
    return datetime.combine(day, time(), ZoneInfo(operator.timezone)).astimezone(UTC)


def waiting_since(request: PrivacyRequest, operator: Operator | None = None) -> date:
    """The day the request entered its current state (its last transition)."""
    moments = [record.at for record in request.transitions if record.to_state == request.state]
    return operator_day(max(moments) if moments else request.received_at, operator)


def pending_lapse(request: PrivacyRequest, operator: Operator | None = None) -> Lapse | None:
    """When a request waiting for its requester will lapse (None when it waits for nothing)."""
    because = STALLED.get(RequestState(request.state))
    if because is None:
        return None
    operator = operator or _operator()
    return Lapse(because, waiting_since(request, operator), period_days(because, operator))


def lapse_of(session: Session, request: PrivacyRequest) -> Lapse | None:
    """Why a lapsed request lapsed, as recorded when it did (None if it has not lapsed)."""
    if request.state != S.LAPSED:
        return None
    event = session.scalar(
        select(AuditEvent)
        .where(AuditEvent.request_id == request.id, AuditEvent.action == ACTION_LAPSED)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    if event is None:
        return None
    details = event.details
    return Lapse(
        details["because"], date.fromisoformat(details["waiting_since"]), details["period_days"]
    )


# --- what the requester reads (the mail and the status page say the same) ----------------------


def explanation(lapse: Lapse, kind: RequestKind | None = None) -> list[str]:
    """Why the request lapsed, in the current locale: one sentence per paragraph (and, for an
    unconfirmed objection to marketing, that nothing was stopped)."""
    days, asked_on = lapse.period_days, format_date(lapse.waiting_since, "long")
    if lapse.because == "unconfirmed":
        why = gettext(
            "You did not confirm your email address within %(days)d days of filing this "
            "request, so it was never started.",
            days=days,
        )
    elif lapse.because == "awaiting_identity":
        why = gettext(
            "On %(date)s we asked you for a proof of identity, and we received none within "
            "%(days)d days.",
            date=asked_on,
            days=days,
        )
    else:
        why = gettext(
            "On %(date)s we asked you to clarify your request, and we received no answer within "
            "%(days)d days.",
            date=asked_on,
            days=days,
        )
    sentences = [
        why,
        gettext(
            "This request is therefore closed (lapsed): nothing more will be done about it, and "
            "any document you sent us with it has been destroyed."
        ),
    ]
    if lapse.because == "unconfirmed" and kind is not None and kind.effect is not None:
        sentences.append(gettext("Our marketing to this address was therefore not stopped."))
    return sentences


def file_again_text() -> str:
    return gettext("You can file a new request at any time, on this page:")


# --- finding stalled requests -------------------------------------------------------------------


def _stalled_condition(now: datetime, today: date, operator: Operator) -> Any:
    """Requests whose wait's last day is before ``today``, whatever they wait for."""
    last_moved = (
        select(func.max(RequestTransition.at))
        .where(RequestTransition.request_id == PrivacyRequest.id)
        .correlate(PrivacyRequest)
        .scalar_subquery()
    )
    entered = func.coalesce(last_moved, PrivacyRequest.received_at)
    live_link = exists().where(
        EmailToken.request_id == PrivacyRequest.id,
        EmailToken.purpose == "confirm_request",
        EmailToken.used_at.is_(None),
        EmailToken.expires_at > now,
    )
    branches = []
    for state, because in STALLED.items():
        # Entered before midnight of (today - N): the wait's last day was yesterday or earlier.
        cutoff = _start_of(today - timedelta(days=period_days(because, operator)), operator)
        conditions = [PrivacyRequest.state == str(state), entered < cutoff]
        if state == S.AWAITING_CONFIRMATION:
            conditions.append(~live_link)
        branches.append(and_(*conditions))
    return or_(*branches)


def find_stalled(
    session: Session,
    *,
    now: datetime,
    after: int = 0,
    limit: int | None = None,
    operator: Operator | None = None,
) -> list[Stalled]:
    """The requests to lapse at ``now``, by id (those after ``after``, at most ``limit``)."""
    operator = operator or _operator()
    today = operator_day(now, operator)
    query = (
        select(PrivacyRequest)
        .where(PrivacyRequest.id > after, _stalled_condition(now, today, operator))
        .order_by(PrivacyRequest.id)
    )
    if limit is not None:
        query = query.limit(limit)
    found = []
    for request in session.scalars(query):
        lapse = pending_lapse(request, operator)
        if lapse is not None and lapse.lapses_on <= today:  # what the query selected
            found.append(Stalled(request, lapse))
    return found


# --- lapsing ------------------------------------------------------------------------------------


def _lapse_one(
    session: Session, stalled: Stalled, *, now: datetime, settings: Mapping[str, Any]
) -> None:
    """Lapse one request (flushes; the batch commits)."""
    request, lapse = stalled.request, stalled.lapse
    transition(
        session,
        request,
        S.LAPSED,
        actor=ACTOR_SYSTEM,
        reason=REASONS[lapse.because].format(days=lapse.period_days),
        today=operator_day(now),
        now=now,
    )
    destroyed = 0
    for document in request.documents:
        if document.deleted_at is None:
            delete_document(document.stored_name, directory=Path(settings["IDENTITY_DOCUMENT_DIR"]))
            document.deleted_at = now
            destroyed += 1
    audit.record(
        session,
        actor=ACTOR_SYSTEM,
        action=ACTION_LAPSED,
        request_id=request.id,
        details={
            "because": lapse.because,
            "waiting_since": lapse.waiting_since.isoformat(),
            "period_days": lapse.period_days,
            "documents_destroyed": destroyed,
        },
        at=now,
    )
    session.flush()


def _notices_due(session: Session, now: datetime) -> list[PrivacyRequest]:
    """Lapsed requests whose requester has not been told yet (lapsed in the retry window)."""
    lapsed_recently = exists().where(
        AuditEvent.request_id == PrivacyRequest.id,
        AuditEvent.action == ACTION_LAPSED,
        AuditEvent.at >= now - timedelta(days=NOTICE_RETRY_DAYS),
    )
    told = exists().where(
        AuditEvent.request_id == PrivacyRequest.id, AuditEvent.action == ACTION_NOTICE
    )
    return list(
        session.scalars(
            select(PrivacyRequest)
            .where(PrivacyRequest.state == str(S.LAPSED), lapsed_recently, ~told)
            .order_by(PrivacyRequest.id)
        )
    )


def form_address(kind: str) -> tuple[str, dict[str, str]]:
    """The endpoint and arguments of the form that files a request of ``kind`` again."""
    if kind.startswith("postmortem_"):
        return "postmortem.new_request", {}
    return ("rights.new_request", {"kind": kind}) if get_kind(kind) else ("rights.index", {})


def send_lapse_notice(
    settings: Mapping[str, Any],
    request: PrivacyRequest,
    lapse: Lapse,
    *,
    form_url: str,
) -> None:
    """Mail the requester, in the request's language, why it lapsed and how to file again.
    Raises ``mail.MailNotSent``."""
    content = get_content()
    authority = next(
        (item for item in content.authorities if item.country == content.operator.country), None
    )
    send_mail(
        settings,
        to=request.email,
        template="rights/lapsed",
        language=request.language,
        context={
            "request": request,
            "kind": get_kind(request.kind),
            "lapse": lapse,
            # Called while the mail is rendered, in the request's language.
            "explain": explanation,
            "file_again": file_again_text,
            "form_url": form_url,
            "authority": authority,
            "edpb_members_url": content.edpb_members_url,
        },
    )


def _notify(
    session: Session,
    report: LapseReport,
    *,
    now: datetime,
    settings: Mapping[str, Any],
    form_url: Callable[[PrivacyRequest], str],
) -> None:
    """Tell each requester not told yet; each notice is recorded (and committed) once sent."""
    for request in _notices_due(session, now):
        lapse = lapse_of(session, request)
        assert lapse is not None  # _notices_due found its lapse event
        if not request.email:
            # Received by post without an address to mail: staff write to them.
            report.no_email.append(request.reference)
            outcome = {"mailed": False, "why": "no email address"}
        else:
            try:
                send_lapse_notice(settings, request, lapse, form_url=form_url(request))
            except MailNotSent:
                log.exception("lapse notice of %s not sent", request.reference)
                report.not_mailed.append(request.reference)
                continue
            report.mailed.append(request.reference)
            outcome = {"mailed": True, "language": request.language}
        audit.record(
            session,
            actor=ACTOR_SYSTEM,
            action=ACTION_NOTICE,
            request_id=request.id,
            details=outcome,
            at=now,
        )
        session.commit()


def run_lapse(
    session: Session,
    *,
    now: datetime,
    settings: Mapping[str, Any],
    form_url: Callable[[PrivacyRequest], str] | None = None,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Callable[[list[Stalled]], None] | None = None,
) -> LapseReport:
    """Lapse every stalled request at ``now``, ``batch_size`` per transaction, then mail each
    requester not told yet. ``form_url`` gives the absolute address of the form that files the
    request again (needed unless ``dry_run``).

    The dry run lists what would lapse and changes nothing (no lock, no row, no mail). A real
    run raises :class:`LapseBusy` at once when another one is under way.
    """
    if batch_size < 1:
        raise ValueError(f"the batch size must be 1 or more; got {batch_size}")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    report = LapseReport(dry_run=dry_run, today=operator_day(now))
    if dry_run:
        report.lapsed = find_stalled(session, now=now)
        return report
    if form_url is None:
        raise ValueError("the lapse notice links to the request form: form_url is needed")
    with exclusive(session, key=RUN_LOCK_KEY, purpose="lapse", busy=LapseBusy):
        after = 0
        while batch := find_stalled(session, now=now, after=after, limit=batch_size):
            try:
                for stalled in batch:
                    _lapse_one(session, stalled, now=now, settings=settings)
                session.commit()
            except BaseException:
                session.rollback()
                raise
            report.lapsed.extend(batch)
            report.batches += 1
            after = batch[-1].request.id
            if on_batch is not None:
                on_batch(batch)
        _notify(session, report, now=now, settings=settings, form_url=form_url)
    return report
