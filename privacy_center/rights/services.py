"""Requests to exercise a right: filing, email confirmation, transitions, status, documents.

Plain functions with explicit arguments; they never look at the HTTP request or the session.
Every change of state goes through :func:`transition`, which checks it against the workflow,
records who made it, when and why, and recomputes the due date (suspensions and extension
included). Functions that complete a unit of work commit it; :func:`transition` and
:func:`ask_for_identity` only flush, so that a caller can group them with other changes.

Emails are sent after the commit they announce, in the request's language, by the ``send_*``
functions; links in them are absolute URLs built by the caller (:class:`Links`), since a service
knows nothing of the web request.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email
from flask import url_for
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from .. import audit
from ..config import document_key
from ..content import get_content
from ..deadlines import extension_notice_valid, reply_due, suspended_days_between
from ..mail import MailNotSent, send_mail
from ..models import Account, EmailToken, IdentityDocument, PrivacyRequest, RequestTransition
from ..models.types import utcnow
from ..operator import Operator
from ..tokens import find_token, issue_token, redeem_token
from ..uploads.checks import check_identity_document
from ..uploads.storage import delete_document, store_document
from ..workflow import (
    CLOCK_SUSPENDED,
    FINAL_STATES,
    RequestState,
    allowed_targets,
    check_transition,
)
from .effects import EFFECT_WAITS, PROOF_LINK, PROOF_SIGNED_IN, apply_effect, effect_applied
from .kinds import RequestKind, get_kind

log = logging.getLogger(__name__)

S = RequestState

# References are read aloud and typed from letters: no 0/O, 1/I/L.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REFERENCE_PREFIX = "PC-"
REFERENCE_LENGTH = 8
CONFIRMATION_LIFETIME = timedelta(hours=24)
MAX_NAME_LENGTH = 200
MAX_DETAILS_LENGTH = 5000
# What a status token looks like (secrets.token_urlsafe(32)); anything longer is not one.
MAX_TOKEN_LENGTH = 100
# Compared against when a reference is unknown, so that both cases take the same time.
_NO_HASH = "0" * 64

ACTOR_REQUESTER = "requester"
ACTOR_SYSTEM = "system"


class InvalidRequest(ValueError):
    """Some fields are wrong; ``errors`` maps each field name to a message a person can act on."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors.items()))


class RequestClosed(ValueError):
    """The request is in a final state: nothing can be added to it any more."""


class ExtensionTooLate(ValueError):
    """An extension notice sent after the first due date does not extend the time limit."""


@dataclass(frozen=True)
class FiledRequest:
    request: PrivacyRequest
    # The secret of the status link (only its SHA-256 is stored).
    status_token: str
    # The secret of the email confirmation link, when the requester must confirm.
    confirmation_token: str | None


@dataclass(frozen=True)
class Links:
    """Absolute URLs for emails, built by the web layer."""

    status: Callable[[PrivacyRequest, str], str]  # (request, status token) -> URL
    confirm: Callable[[PrivacyRequest, str], str]  # (request, confirmation token) -> URL


def external_links() -> Links:
    """The links of the pages, absolute, in the request's language (needs a request context:
    the web request, or the one mail_intents.py opens for the address the intent was asked on)."""
    return Links(
        status=lambda filed, token: url_for(
            "rights.status",
            reference=filed.reference,
            token=token,
            lang=filed.language,
            _external=True,
        ),
        confirm=lambda filed, token: url_for(
            "rights.confirm", token=token, lang=filed.language, _external=True
        ),
    )


# --- Small helpers ------------------------------------------------------------------------------


def _operator() -> Operator:
    return get_content().operator


def operator_day(moment: datetime, operator: Operator | None = None) -> date:
    """The calendar day of an instant in the operator's time zone (legal days are local)."""
    return moment.astimezone(ZoneInfo((operator or _operator()).timezone)).date()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_status_token() -> tuple[str, str]:
    """A status-link secret (32 random bytes) and the SHA-256 that is stored."""
    token = secrets.token_urlsafe(32)
    return token, _hash(token)


def normalise_reference(value: str) -> str:
    """``pc 7k4m9q2x``, ``PC-7K4M-9Q2X`` and ``7k4m-9q2x`` all give ``PC-7K4M-9Q2X``."""
    compact = "".join(char for char in str(value).upper() if char.isalnum())
    if compact.startswith("PC"):
        compact = compact[2:]
    if len(compact) != REFERENCE_LENGTH:
        return ""
    return f"{REFERENCE_PREFIX}{compact[:4]}-{compact[4:]}"


def _new_reference(session: Session) -> str:
    for _attempt in range(20):
        code = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
        reference = f"{REFERENCE_PREFIX}{code[:4]}-{code[4:]}"
        if not session.scalar(select(exists().where(PrivacyRequest.reference == reference))):
            return reference
    # 31^8 codes: twenty collisions in a row mean something else is wrong.
    raise RuntimeError("could not find an unused request reference after 20 attempts")


def _document_settings(settings: Mapping[str, Any]) -> tuple[Path, bytes]:
    directory = settings.get("IDENTITY_DOCUMENT_DIR")
    if not directory:
        raise RuntimeError("IDENTITY_DOCUMENT_DIR must be set to accept identity documents")
    return Path(directory), document_key(settings)


def identity_document_needed(
    kind: RequestKind, *, own_account: bool, operator: Operator | None = None
) -> bool:
    """Whether a requester must send an identity document with this request.

    A signed-in account holder acting on their own data has proved who they are; for anyone
    else the operator's setting decides ("required", or only "on_doubt" when staff ask).
    """
    if own_account or not kind.identity_document:
        return False
    return (operator or _operator()).identity_document == "required"


def is_own_account(account: Account | None, email: str) -> bool:
    return account is not None and account.email == email.strip().lower()


# --- Filing -------------------------------------------------------------------------------------


def _nul_message() -> str:
    # A NUL character is never typed; PostgreSQL cannot store one in text (a 500 otherwise).
    return str(
        _l(
            "This text contains a NUL character, which is not allowed. Remove it (it can come "
            "from copying and pasting) and send the form again."
        )
    )


def _validate(
    kind: RequestKind | None,
    *,
    name: str,
    email: str,
    language: str,
    details: str,
    specifics: Mapping[str, str],
    operator: Operator,
) -> tuple[str, str, str, dict[str, str]]:
    errors: dict[str, str] = {}
    if kind is None:
        raise InvalidRequest({"kind": str(_l("This kind of request does not exist."))})
    name = (name or "").strip()
    if not name:
        errors["name"] = str(_l("Enter your full name."))
    elif "\x00" in name:
        errors["name"] = _nul_message()
    elif len(name) > MAX_NAME_LENGTH:
        errors["name"] = str(
            _l("Your name is too long (at most %(max)d characters).", max=MAX_NAME_LENGTH)
        )
    normalised_email = ""
    try:
        # Lower-cased like account emails, so that a request matches its account's address.
        normalised_email = validate_email(
            (email or "").strip(), check_deliverability=False
        ).normalized.lower()
    except EmailNotValidError:
        errors["email"] = str(_l("Enter a valid email address, like name@example.com."))
    if language not in operator.languages:
        errors["language"] = str(_l("Choose one of the languages offered."))
    details = (details or "").strip()
    if kind.details_required and not details:
        errors["details"] = str(_l("Describe your request."))
    elif "\x00" in details:
        errors["details"] = _nul_message()
    elif len(details) > MAX_DETAILS_LENGTH:
        errors["details"] = str(
            _l("This text is too long (at most %(max)d characters).", max=MAX_DETAILS_LENGTH)
        )
    unknown = set(specifics) - set(kind.field_names)
    if unknown:
        raise InvalidRequest({"kind": f"unknown fields for {kind.key}: {sorted(unknown)}"})
    clean: dict[str, str] = {}
    for field in kind.fields:
        value = str(specifics.get(field.name) or "").strip()
        if not value:
            if field.required:
                errors[field.name] = str(
                    _l("Choose an answer.") if field.choices else _l("Fill in this field.")
                )
            continue
        if field.choices and value not in dict(field.choices):
            errors[field.name] = str(_l("Choose one of the answers offered."))
        elif "\x00" in value:
            errors[field.name] = _nul_message()
        elif len(value) > field.max_length:
            errors[field.name] = str(
                _l("This text is too long (at most %(max)d characters).", max=field.max_length)
            )
        else:
            clean[field.name] = value
    if errors:
        raise InvalidRequest(errors)
    return name, normalised_email, details, clean


def record_filing(
    session: Session,
    request: PrivacyRequest,
    request_kind: RequestKind,
    *,
    actor: str,
    reason: str,
    now: datetime,
    details: Mapping[str, Any] | None = None,
    address_proof: str | None = None,
) -> None:
    """The first line of a new request's history, however it came: the kind's immediate effect
    (if any, and only when ``address_proof`` says how the requester proved the email address
    is theirs; otherwise it waits for the confirmation link), the transition to RECEIVED and
    the ``request.filed`` audit row (flushed request)."""
    if request_kind.effect is not None:
        if address_proof is None:
            reason += "; " + EFFECT_WAITS
        else:
            reason += "; " + apply_effect(
                session, request, request_kind, actor=actor, proof=address_proof, now=now
            )
    session.add(
        RequestTransition(
            request=request,
            from_state=None,
            to_state=S.RECEIVED,
            at=now,
            actor=actor,
            reason=reason,
        )
    )
    audit.record(
        session,
        actor=actor,
        action="request.filed",
        request_id=request.id,
        details={
            "kind": request_kind.key,
            "language": request.language,
            **(details or {}),
            "reason": reason,
        },
        at=now,
    )


def file_request(
    session: Session,
    *,
    kind: str,
    email: str,
    name: str,
    language: str,
    details: str,
    specifics: Mapping[str, str],
    account: Account | None,
    document: tuple[str, bytes] | None,
    today: date,
    settings: Mapping[str, Any],
    operator: Operator | None = None,
    documents: Sequence[tuple[str, str, bytes]] = (),
) -> FiledRequest:
    """Validate and record a new request, with its identity document, in one transaction.

    ``account`` is the signed-in account holder, if any: when the request is about their own
    email address they need neither to confirm it nor to send a document, and the legal clock
    starts ``today``. Anyone else gets a confirmation link (``confirmation_token``) and the
    clock starts when they follow it. The document is checked before anything is written;
    if anything fails afterwards, the stored file is deleted and the transaction rolled back.

    ``documents`` are further documents as (kind, file name, bytes), checked and stored the
    same way (a post-mortem request: "death_certificate", "heirship", "heir_identity"); a request
    that has them always needs its documents checked by staff.

    Raises :class:`InvalidRequest` (field errors) or ``uploads.RejectedUpload`` (a document).
    """
    operator = operator or _operator()
    request_kind = get_kind(kind)
    name, email, details, clean = _validate(
        request_kind,
        name=name,
        email=email,
        language=language,
        details=details,
        specifics=specifics,
        operator=operator,
    )
    assert request_kind is not None  # _validate raised otherwise
    # (kind, bytes, MIME type) of every document, all checked before anything is written.
    checked: list[tuple[str, bytes, str]] = []
    if document is not None:
        checked.append(("identity", document[1], check_identity_document(*document)))
    for document_kind, filename, data in documents:
        checked.append((document_kind, data, check_identity_document(filename, data)))
    own = is_own_account(account, email)
    status_token, status_hash = new_status_token()
    stored_names: list[str] = []
    try:
        reference = _new_reference(session)
        now = utcnow()
        request = PrivacyRequest(
            reference=reference,
            kind=request_kind.key,
            state=S.RECEIVED,
            language=language,
            email=email,
            account_id=account.id if own and account is not None else None,
            requester_name=name,
            details=details,
            specifics=clean,
            received_at=now,
            identity_required=bool(documents)
            or identity_document_needed(request_kind, own_account=own, operator=operator),
            status_token_hash=status_hash,
            updated_at=now,
        )
        session.add(request)
        session.flush()
        for document_kind, data, mime_type in checked:
            directory, key = _document_settings(settings)
            stored_names.append(store_document(data, directory=directory, key=key))
            request.documents.append(
                IdentityDocument(
                    kind=document_kind,
                    stored_name=stored_names[-1],
                    mime_type=mime_type,
                    size_bytes=len(data),
                    uploaded_at=now,
                )
            )
        reason = "filed by the requester through the self-service form"
        if own:
            reason += " while signed in to their account"
        record_filing(
            session,
            request,
            request_kind,
            actor=ACTOR_REQUESTER,
            reason=reason,
            now=now,
            address_proof=PROOF_SIGNED_IN if own else None,
        )
        confirmation_token = None
        if own:
            request.clock_started_on = today
            _start_work(session, request, today=today, reason="signed-in account holder")
        else:
            confirmation_token = issue_token(
                session,
                purpose="confirm_request",
                email=email,
                lifetime=CONFIRMATION_LIFETIME,
                request_id=request.id,
                now=now,
            )
            transition(
                session,
                request,
                S.AWAITING_CONFIRMATION,
                actor=ACTOR_SYSTEM,
                reason="confirmation link sent to the email address given",
                today=today,
            )
        session.commit()
    except BaseException:
        session.rollback()
        for stored_name in stored_names:
            delete_document(stored_name, directory=_document_settings(settings)[0])
        raise
    return FiledRequest(request, status_token, confirmation_token)


def _has_document(request: PrivacyRequest) -> bool:
    return any(document.deleted_at is None for document in request.documents)


def _start_work(session: Session, request: PrivacyRequest, *, today: date, reason: str) -> None:
    """Once the requester is known to own the email address: wait for the identity document
    when one is needed and missing, otherwise start work."""
    if request.identity_required and not _has_document(request):
        transition(
            session,
            request,
            S.AWAITING_IDENTITY,
            actor=ACTOR_SYSTEM,
            reason=f"{reason}; an identity document is required and was not sent",
            today=today,
        )
    else:
        transition(session, request, S.IN_PROGRESS, actor=ACTOR_SYSTEM, reason=reason, today=today)


# --- Email confirmation -------------------------------------------------------------------------


def confirmation_pending(session: Session, *, token: str) -> PrivacyRequest | None:
    """The request a confirmation link is for, without using the link (for the GET page)."""
    found = find_token(session, purpose="confirm_request", token=token)
    if found is None or found.request_id is None:
        return None
    request = session.get(PrivacyRequest, found.request_id)
    if request is None or request.state != S.AWAITING_CONFIRMATION:
        return None
    return request


def confirm_request(session: Session, *, token: str, today: date) -> FiledRequest | None:
    """Use a confirmation link: the legal clock starts ``today`` (a request entered by staff
    keeps the day it was received), and the kind's effect (stopping marketing) runs now.

    Returns the request with a new status-link secret (to send and to redirect to), or None
    when the link is unknown, expired, used, or its request no longer awaits confirmation.
    """
    request = confirmation_pending(session, token=token)
    if request is None or redeem_token(session, purpose="confirm_request", token=token) is None:
        session.rollback()
        return None
    reason = "email address confirmed by the requester"
    request_kind = get_kind(request.kind)
    if request_kind is not None and request_kind.effect is not None:
        reason += "; " + apply_effect(
            session, request, request_kind, actor=ACTOR_REQUESTER, proof=PROOF_LINK, now=utcnow()
        )
    # A request entered by staff keeps its clock, which runs from the day it was received.
    if request.clock_started_on is None:
        request.clock_started_on = today
    _start_work(session, request, today=today, reason=reason)
    status_token, request.status_token_hash = new_status_token()
    session.commit()
    return FiledRequest(request, status_token, None)


def lapse_unconfirmed(session: Session, now: datetime) -> list[str]:
    """Requests whose email was never confirmed, and whose every confirmation link expired,
    lapse. Returns their references. Their documents are then deleted by the retention sweep
    (abandoned requests)."""
    live_link = exists().where(
        EmailToken.request_id == PrivacyRequest.id,
        EmailToken.purpose == "confirm_request",
        EmailToken.used_at.is_(None),
        EmailToken.expires_at > now,
    )
    stale = session.scalars(
        select(PrivacyRequest)
        .where(
            PrivacyRequest.state == S.AWAITING_CONFIRMATION,
            PrivacyRequest.received_at <= now - CONFIRMATION_LIFETIME,
            ~live_link,
        )
        .order_by(PrivacyRequest.id)
    ).all()
    today = operator_day(now)
    for request in stale:
        transition(
            session,
            request,
            S.LAPSED,
            actor=ACTOR_SYSTEM,
            reason="email address not confirmed within 24 hours",
            today=today,
            now=now,
        )
    session.commit()
    return [request.reference for request in stale]


# --- Transitions and deadlines ------------------------------------------------------------------


def suspension_intervals(
    request: PrivacyRequest, operator: Operator | None = None
) -> list[tuple[date, date | None]]:
    """The days the clock was suspended, from the recorded transitions: each stay in a
    CLOCK_SUSPENDED state, from the day it began to the day it ended (None: still running)."""
    operator = operator or _operator()
    intervals: list[tuple[date, date | None]] = []
    start: date | None = None
    for record in sorted(request.transitions, key=lambda t: (t.at, t.id or 0)):
        day = operator_day(record.at, operator)
        if record.to_state in CLOCK_SUSPENDED:
            if start is None:
                start = day
        elif start is not None:
            intervals.append((start, day))
            start = None
    if start is not None:
        intervals.append((start, None))
    if request.clock_started_on is not None:
        # The clock cannot be suspended before it started.
        intervals = [
            (max(begin, request.clock_started_on), end)
            for begin, end in intervals
            if end is None or end > request.clock_started_on
        ]
    return intervals


def suspended_since(request: PrivacyRequest, operator: Operator | None = None) -> date | None:
    """The day the current suspension began, when the clock is suspended now."""
    if request.state not in CLOCK_SUSPENDED:
        return None
    intervals = suspension_intervals(request, operator)
    return intervals[-1][0] if intervals and intervals[-1][1] is None else None


def due_date_on(
    request: PrivacyRequest,
    today: date,
    operator: Operator | None = None,
    *,
    extended: bool = False,
) -> date:
    """The reply's due date as of ``today`` (a running suspension pushes it back each day);
    ``extended``: as it is, or would be, once the time limit is extended."""
    operator = operator or _operator()
    if request.clock_started_on is None:
        raise ValueError(f"the clock of {request.reference} has not started")
    return reply_due(
        request.clock_started_on,
        extended=extended or request.extended_on is not None,
        suspended_days=suspended_days_between(suspension_intervals(request, operator), today),
        country=operator.country,
    )


def transition(
    session: Session,
    request: PrivacyRequest,
    target: RequestState | str,
    *,
    actor: str,
    reason: str,
    today: date,
    now: datetime | None = None,
) -> RequestTransition:
    """Move ``request`` to ``target``, recording who (``actor``: "requester", "system",
    "staff:<id>"), when and why, and recompute its due date.

    Raises ``workflow.ForbiddenTransition`` for a move the workflow does not allow, and
    :class:`ExtensionTooLate` for an extension decided after the first due date. Flushes; the
    caller commits.
    """
    target = RequestState(target)
    check_transition(request.state, target)
    if not reason.strip() or not actor.strip():
        raise ValueError("a transition needs an actor and a reason")
    operator = _operator()
    if target == S.EXTENDED:
        if request.clock_started_on is None:
            raise ExtensionTooLate(f"the clock of {request.reference} has not started")
        suspended = suspended_days_between(suspension_intervals(request, operator), today)
        if not extension_notice_valid(
            request.clock_started_on, today, suspended_days=suspended, country=operator.country
        ):
            raise ExtensionTooLate(
                f"{request.reference} was due on {due_date_on(request, today, operator)}: an "
                "extension must be notified on or before the first due date"
            )
        request.extended_on = today
        request.extension_reason = reason
    moment = now or utcnow()
    record = RequestTransition(
        request=request,
        from_state=request.state,
        to_state=target,
        at=moment,
        actor=actor,
        reason=reason,
    )
    session.add(record)
    request.state = target
    request.updated_at = moment
    if target in FINAL_STATES:
        request.closed_at = moment
    if request.clock_started_on is not None:
        request.due_on = due_date_on(request, today, operator)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="request.transition",
        request_id=request.id,
        details={"from": record.from_state, "to": target, "reason": reason},
        at=moment,
    )
    return record


def ask_for_identity(
    session: Session, request: PrivacyRequest, *, reason: str, actor: str, today: date
) -> RequestTransition:
    """Staff doubt the requester's identity (art. 12(6) GDPR): they must say why; the clock is
    suspended until a document arrives. Flushes; the caller commits (and writes to the
    requester)."""
    if not reason.strip():
        raise ValueError("asking for an identity document needs the reason for the doubt")
    request.identity_required = True
    request.identity_reason = reason.strip()
    return transition(
        session,
        request,
        S.AWAITING_IDENTITY,
        actor=actor,
        reason=f"identity document requested: {reason.strip()}",
        today=today,
    )


# --- Status page --------------------------------------------------------------------------------


def find_by_status_link(session: Session, *, reference: str, token: str) -> PrivacyRequest | None:
    """The request behind a status link, or None. An unknown reference and a wrong token give
    the same answer in the same time (the hash is compared in constant time either way)."""
    normalised = normalise_reference(reference) if len(reference) <= 24 else ""
    request = (
        session.scalar(select(PrivacyRequest).where(PrivacyRequest.reference == normalised))
        if normalised
        else None
    )
    candidate = _hash(token[:MAX_TOKEN_LENGTH]) if token else ""
    expected = request.status_token_hash if request is not None else _NO_HASH
    matches = hmac.compare_digest(expected, candidate)
    if request is None or not matches or len(token) > MAX_TOKEN_LENGTH:
        return None
    return request


# What the requester is expected to do, by state.
AWAITED: dict[RequestState, LazyString] = {
    S.AWAITING_CONFIRMATION: _l(
        "Confirm your email address with the link we sent you (valid 24 hours)."
    ),
    S.AWAITING_IDENTITY: _l(
        "A proof of identity (a PDF, JPEG or PNG file of at most 10 MB): add it below."
    ),
    S.AWAITING_REQUESTER: _l(
        "A clarification: reply to the letter we sent you, quoting your reference."
    ),
}


def awaited_from_requester(request: PrivacyRequest) -> LazyString | None:
    return AWAITED.get(RequestState(request.state))


def request_letters(request: PrivacyRequest) -> list[Any]:
    """The letters sent about this request, oldest first.

    The staff console adds the letters and their relationship on PrivacyRequest; until then
    a request has none.
    """
    return list(getattr(request, "letters", None) or ())


def can_add_document(request: PrivacyRequest) -> bool:
    """Only a request that needs a proof of identity offers to add one: it awaits one, or the
    operator's rule requires one and none was received."""
    if request.state in FINAL_STATES:
        return False
    return request.state == S.AWAITING_IDENTITY or (
        request.identity_required and not request.documents
    )


def can_withdraw(request: PrivacyRequest) -> bool:
    return S.WITHDRAWN in allowed_targets(request.state)


def add_document(
    session: Session,
    request: PrivacyRequest,
    *,
    document: tuple[str, bytes],
    today: date,
    settings: Mapping[str, Any],
) -> IdentityDocument:
    """Add an identity document sent from the status page; a request awaiting one moves on.

    The file is checked before anything is written (``uploads.RejectedUpload``); if anything
    fails afterwards, the stored file is deleted and the transaction rolled back.
    """
    if not can_add_document(request):
        raise RequestClosed(f"{request.reference} needs no document now ({request.state})")
    filename, data = document
    mime_type = check_identity_document(filename, data)
    directory, key = _document_settings(settings)
    stored_name = None
    try:
        stored_name = store_document(data, directory=directory, key=key)
        record = IdentityDocument(
            kind="identity",
            stored_name=stored_name,
            mime_type=mime_type,
            size_bytes=len(data),
            uploaded_at=utcnow(),
        )
        request.documents.append(record)
        if request.state == S.AWAITING_IDENTITY:
            transition(
                session,
                request,
                S.IN_PROGRESS,
                actor=ACTOR_REQUESTER,
                reason="identity document sent by the requester",
                today=today,
            )
        session.commit()
    except BaseException:
        session.rollback()
        if stored_name is not None:
            delete_document(stored_name, directory=directory)
        raise
    return record


def withdraw(session: Session, request: PrivacyRequest, *, today: date) -> None:
    """The requester withdraws their request (``ForbiddenTransition`` once it is closed)."""
    transition(
        session,
        request,
        S.WITHDRAWN,
        actor=ACTOR_REQUESTER,
        reason="withdrawn by the requester",
        today=today,
    )
    session.commit()


def find_for_requester(session: Session, *, email: str, reference: str) -> PrivacyRequest | None:
    """The request with this reference, if it was filed with this email address."""
    normalised = normalise_reference(reference) if len(reference) <= 40 else ""
    request = (
        session.scalar(select(PrivacyRequest).where(PrivacyRequest.reference == normalised))
        if normalised
        else None
    )
    given = (email or "").strip().casefold().encode()
    expected = (request.email or "").casefold().encode() if request is not None else b""
    # A request entered without an email address (by post) has no address to match.
    if request is None or not expected or not hmac.compare_digest(expected, given):
        return None
    return request


# --- Emails -------------------------------------------------------------------------------------


def mail_about(
    settings: Mapping[str, Any], request: PrivacyRequest, template: str, **context: Any
) -> None:
    """Send one mail about ``request`` in its language; raises MailNotSent when it could not
    be handed over (``_send`` logs that instead)."""
    send_mail(
        settings,
        to=request.email,
        template=f"rights/{template}",
        language=request.language,
        context={"request": request, "kind": get_kind(request.kind), **context},
    )


def _send(
    settings: Mapping[str, Any], request: PrivacyRequest, template: str, **context: Any
) -> bool:
    """Send one mail about ``request`` in its language; False (logged) when it could not be."""
    if not request.email:  # entered by staff without one: letters go by post
        return False
    try:
        mail_about(settings, request, template, **context)
    except MailNotSent:
        log.exception("mail %s about request %s not sent", template, request.reference)
        return False
    return True


def send_confirmation(settings: Mapping[str, Any], filed: FiledRequest, *, links: Links) -> bool:
    """The confirmation link (with the reference) to a requester who must confirm."""
    if filed.confirmation_token is None:
        raise ValueError(f"{filed.request.reference} needs no confirmation")
    return _send(
        settings,
        filed.request,
        "confirm",
        confirm_url=links.confirm(filed.request, filed.confirmation_token),
        lifetime_hours=int(CONFIRMATION_LIFETIME.total_seconds() // 3600),
    )


def send_acknowledgement(settings: Mapping[str, Any], filed: FiledRequest, *, links: Links) -> bool:
    """The acknowledgement: reference, due date, what is awaited, and the status link."""
    request = filed.request
    return _send(
        settings,
        request,
        "received",
        status_url=links.status(request, filed.status_token),
        awaited=awaited_from_requester(request),
        marketing_stopped=effect_applied(request),
    )
