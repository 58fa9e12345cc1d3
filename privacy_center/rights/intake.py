"""Requests that arrive by post, email or phone, entered by staff (console and command line).

A request received by letter, by email to the operator's address or by phone is as real as one
filed on the forms: staff enter it with the day it was *received*, and the legal clock runs from
that day (GDPR art. 12(3); the day of receipt is not counted, Regulation 1182/71 art. 3(1)), not
from the day it was typed in. Nobody has to confirm an email address: staff saw where the
request came from. The operator's ``identity_document`` setting applies as on the forms: the
scanned documents that came with the request are the proof (staff check them with "confirm
identity"), and when the setting requires one and none came, the request waits for it (clock
suspended, art. 12(6)).

An objection to marketing stops the mails to its address only once the requester has shown that
the address is theirs, as on the forms: staff tick that the request came by email from that very
address (the sender checked, not only the name shown), or it waits for the confirmation link
mailed to the address (a letter or a call proves nothing about an email address, and a
signature is never asked for); it then lapses like any unconfirmed request, nothing stopped.

A requester may give no email address (a letter by post): every letter to them is then a PDF to
print and post, in a window envelope, to their postal address (letters/services.py).

:func:`intake_request` checks everything before writing anything, then creates the request, its
documents (encrypted like uploaded ones), its history and its audit rows in one transaction; on
any error nothing is created and no file is left behind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from .. import audit
from ..config import document_key
from ..content import get_content
from ..models import IdentityDocument, PrivacyRequest
from ..models.types import utcnow
from ..operator import Operator
from ..tokens import issue_token
from ..uploads.checks import check_identity_document
from ..uploads.refusals import RejectedUpload
from ..uploads.storage import delete_document, store_document
from ..workflow import RequestState
from .confirmation import CONFIRMATION_LIFETIME
from .documents import RequestClosed, can_add_document, identity_document_needed
from .effects import PROOF_EMAIL_FROM
from .emails import Links, send_confirmation
from .filing import MAX_DETAILS_LENGTH, MAX_NAME_LENGTH, InvalidRequest, record_filing
from .kinds import KINDS, RequestKind
from .references import FiledRequest, new_reference, new_status_token
from .transitions import ACTOR_SYSTEM, transition

S = RequestState

# The channels staff enter requests from ("web" is the self-service forms).
INTAKE_CHANNELS = ("post", "email", "phone")
CHANNEL_LABELS = {
    "web": _l("Web form"),
    "post": _l("Post"),
    "email": _l("Email"),
    "phone": _l("Phone"),
}
# A request received longer ago than this is most likely a typing error (2062 for 2026): it is
# refused with a message, staff check the date.
MAX_AGE = timedelta(days=366)
# What fits in the window of a DL envelope (La Poste, standard XP Z10-011): at most six lines of
# 38 characters, the first being the name.
MAX_ADDRESS_LINES = 5
MAX_ADDRESS_LINE_LENGTH = 38
# Scanned documents sent with one request.
MAX_DOCUMENTS = 10


def _operator() -> Operator:
    return get_content().operator


def received_moment(received_on: date, operator: Operator) -> datetime:
    """The instant recorded as a request's receipt for a day: noon in the operator's time zone,
    so that the day shown everywhere (letters, register) is ``received_on``."""
    return datetime.combine(received_on, time(12), tzinfo=ZoneInfo(operator.timezone))


def address_lines(postal_address: str | None) -> list[str]:
    """The lines of a postal address, blank lines and surrounding spaces removed."""
    return [line.strip() for line in (postal_address or "").splitlines() if line.strip()]


def _check_address(postal_address: str | None, errors: dict[str, str]) -> str | None:
    lines = address_lines(postal_address)
    if not lines:
        return None
    if any("\x00" in line for line in lines):
        errors["postal_address"] = str(_l("The address contains a NUL character: remove it."))
    elif len(lines) > MAX_ADDRESS_LINES:
        errors["postal_address"] = str(
            _l(
                "An address for a window envelope has at most %(max)d lines besides the name.",
                max=MAX_ADDRESS_LINES,
            )
        )
    elif any(len(line) > MAX_ADDRESS_LINE_LENGTH for line in lines):
        errors["postal_address"] = str(
            _l(
                "Each line of the address has at most %(max)d characters (postal standard): "
                "abbreviate or split the long line.",
                max=MAX_ADDRESS_LINE_LENGTH,
            )
        )
    return "\n".join(lines)


def _check_email(email: str | None, errors: dict[str, str]) -> str | None:
    text = (email or "").strip()
    if not text:
        return None
    try:
        # Lower-cased like the forms' addresses, so that a request matches its account's.
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        errors["email"] = str(_l("Enter a valid email address, like name@example.com."))
        return None


def _check_received_on(received_on: date | None, today: date, errors: dict[str, str]) -> None:
    if received_on is None or isinstance(received_on, datetime):
        errors["received_on"] = str(_l("Enter the date the request was received (YYYY-MM-DD)."))
    elif received_on > today:
        errors["received_on"] = str(
            _l(
                "The date received cannot be in the future (today is %(today)s).",
                today=today.isoformat(),
            )
        )
    elif received_on < today - MAX_AGE:
        errors["received_on"] = str(
            _l(
                "The date received is more than a year ago (%(date)s): check it.",
                date=received_on.isoformat(),
            )
        )


def _validate(
    *,
    kind: str,
    name: str,
    email: str | None,
    received_on: date | None,
    channel: str,
    language: str,
    postal_address: str | None,
    details: str,
    documents: Sequence[tuple[str, bytes]],
    today: date,
    operator: Operator,
    address_verified: bool,
) -> tuple[RequestKind, str, str | None, str | None, str]:
    errors: dict[str, str] = {}
    request_kind = KINDS.get(kind)
    if request_kind is None:
        errors["kind"] = str(
            _l("Unknown kind of request; the kinds are: %(kinds)s.", kinds=", ".join(KINDS))
        )
    if channel not in INTAKE_CHANNELS:
        errors["channel"] = str(
            _l(
                "Unknown channel; the channels are: %(channels)s.",
                channels=", ".join(INTAKE_CHANNELS),
            )
        )
    name = (name or "").strip()
    if not name:
        errors["name"] = str(_l("Enter the requester's full name."))
    elif "\x00" in name:
        errors["name"] = str(_l("The name contains a NUL character: remove it."))
    elif len(name) > MAX_NAME_LENGTH:
        errors["name"] = str(
            _l("The name is too long (at most %(max)d characters).", max=MAX_NAME_LENGTH)
        )
    clean_email = _check_email(email, errors)
    address = _check_address(postal_address, errors)
    _check_received_on(received_on, today, errors)
    if language not in operator.languages:
        errors["language"] = str(
            _l(
                "Unknown language; the languages are: %(languages)s.",
                languages=", ".join(operator.languages),
            )
        )
    details = (details or "").strip()
    if "\x00" in details:
        errors["details"] = str(_l("The text contains a NUL character: remove it."))
    elif len(details) > MAX_DETAILS_LENGTH:
        errors["details"] = str(
            _l("This text is too long (at most %(max)d characters).", max=MAX_DETAILS_LENGTH)
        )
    if "email" not in errors and clean_email is None:
        if channel == "email":
            errors["email"] = str(_l("A request received by email needs the sender's address."))
        elif request_kind is not None and request_kind.effect is not None:
            # An objection to marketing is about the mails to an address (art. 21(3)).
            errors["email"] = str(_l("This kind of request needs the email address it is about."))
        elif address is None and "postal_address" not in errors:
            errors["postal_address"] = str(
                _l("Without an email address, give the postal address to reply to.")
            )
    if address_verified and channel != "email":
        errors["address_verified"] = str(
            _l(
                "Only a request received by email can come from the address itself; otherwise "
                "we email a confirmation link to the address."
            )
        )
    if len(documents) > MAX_DOCUMENTS:
        errors["documents"] = str(_l("At most %(max)d documents per request.", max=MAX_DOCUMENTS))
    if errors:
        raise InvalidRequest(errors)
    assert request_kind is not None
    return request_kind, name, clean_email, address, details


def _check_documents(documents: Sequence[tuple[str, bytes]]) -> list[tuple[bytes, str]]:
    """Every document checked before anything is written: (bytes, MIME type) each."""
    checked = []
    for filename, data in documents:
        try:
            checked.append((data, check_identity_document(filename, data)))
        except RejectedUpload as error:
            raise InvalidRequest({"documents": f"{filename}: {error}"}) from None
    return checked


def intake_request(
    session: Session,
    *,
    kind: str,
    name: str,
    email: str | None,
    received_on: date | None,
    channel: str,
    language: str,
    postal_address: str | None,
    documents: Sequence[tuple[str, bytes]],
    actor: str,
    today: date,
    settings: Mapping[str, Any],
    details: str = "",
    operator: Operator | None = None,
    address_verified: bool = False,
    links: Links | None = None,
) -> PrivacyRequest:
    """Record a request received by ``channel`` on ``received_on``, entered by ``actor``
    ("staff:<id>", or "cli" from the command line), and commit.

    ``documents`` are the scanned documents that came with it, as (file name, bytes): checked
    like uploads (``uploads.check_identity_document``) and stored encrypted. The request starts
    confirmed: its clock runs from ``received_on`` and its due date is one month later
    (``deadlines.due_date``); it waits for an identity document when the operator requires one
    and none came. Raises :class:`~.services.InvalidRequest` (field -> message) before anything
    is written; if anything fails afterwards, the transaction is rolled back and the stored
    files deleted.

    A kind with an effect (objection to marketing) applies it at once only when
    ``address_verified`` (received by email from that address, staff checked the sender);
    otherwise it awaits the confirmation link, mailed after the commit with ``links``.
    """
    operator = operator or _operator()
    request_kind, name, clean_email, address, details = _validate(
        kind=kind,
        name=name,
        email=email,
        received_on=received_on,
        channel=channel,
        language=language,
        postal_address=postal_address,
        details=details,
        documents=documents,
        today=today,
        operator=operator,
        address_verified=address_verified,
    )
    assert received_on is not None
    confirm = request_kind.effect is not None and not address_verified
    if confirm and links is None:
        raise RuntimeError("the confirmation link of an objection needs the site's address")
    checked = _check_documents(documents)
    directory: Path | None = None
    key: bytes | None = None
    if checked:
        if not settings.get("IDENTITY_DOCUMENT_DIR"):
            raise RuntimeError("IDENTITY_DOCUMENT_DIR must be set to store scanned documents")
        directory, key = Path(settings["IDENTITY_DOCUMENT_DIR"]), document_key(settings)
    stored: list[str] = []
    try:
        now = utcnow()
        required = identity_document_needed(request_kind, own_account=False, operator=operator)
        request = PrivacyRequest(
            reference=new_reference(session),
            kind=request_kind.key,
            state=S.RECEIVED,
            language=language,
            email=clean_email,
            channel=channel,
            postal_address=address,
            requester_name=name,
            details=details,
            specifics={},
            received_at=received_moment(received_on, operator),
            clock_started_on=received_on,
            identity_required=required,
            status_token_hash=new_status_token()[1],
            updated_at=now,
        )
        session.add(request)
        session.flush()
        for data, mime_type in checked:
            assert directory is not None and key is not None
            stored.append(store_document(data, directory=directory, key=key))
            request.documents.append(
                IdentityDocument(
                    kind="identity",
                    stored_name=stored[-1],
                    mime_type=mime_type,
                    size_bytes=len(data),
                    uploaded_at=now,
                )
            )
        reason = (
            f"received by {channel} on {received_on.isoformat()}, entered by staff"
            f" with {len(checked)} scanned document(s)"
        )
        record_filing(
            session,
            request,
            request_kind,
            actor=actor,
            reason=reason,
            now=now,
            details={
                "channel": channel,
                "received_on": received_on.isoformat(),
                "documents": len(checked),
            },
            address_proof=PROOF_EMAIL_FROM if address_verified else None,
        )
        token = None
        if confirm:
            token = issue_token(
                session,
                purpose="confirm_request",
                email=clean_email,
                lifetime=CONFIRMATION_LIFETIME,
                request_id=request.id,
                now=now,
            )
            target = S.AWAITING_CONFIRMATION
            why = "confirmation link sent to the address: nothing stops until it is used"
        elif required and not checked:
            target, why = S.AWAITING_IDENTITY, "an identity document is required and none came"
        elif checked:
            target, why = S.IN_PROGRESS, "the scanned documents are to be checked by staff"
        else:
            target, why = S.IN_PROGRESS, "no identity document needed"
        transition(session, request, target, actor=ACTOR_SYSTEM, reason=why, today=today)
        session.commit()
    except BaseException:
        session.rollback()
        for stored_name in stored:
            assert directory is not None
            delete_document(stored_name, directory=directory)
        raise
    if token is not None:
        assert links is not None
        # A mail that fails is logged; "find my request" sends a fresh link.
        send_confirmation(settings, FiledRequest(request, "", token), links=links)
    return request


def add_scanned_documents(
    session: Session,
    request: PrivacyRequest,
    *,
    documents: Sequence[tuple[str, bytes]],
    actor: str,
    today: date,
    settings: Mapping[str, Any],
) -> list[IdentityDocument]:
    """Documents the requester sent later by post or email (a proof of identity, most often),
    scanned by staff: checked and stored encrypted like uploads, and a request waiting for a
    proof of identity moves on (the clock starts again). One transaction; commits.

    Raises :class:`~.services.InvalidRequest` ("documents") or
    :class:`~.services.RequestClosed` before anything is written.
    """
    if not can_add_document(request):
        raise RequestClosed(f"{request.reference} is closed ({request.state})")
    if not documents:
        raise InvalidRequest({"documents": str(_l("Choose the scanned documents to add."))})
    if len(documents) > MAX_DOCUMENTS:
        raise InvalidRequest(
            {"documents": str(_l("At most %(max)d documents per request.", max=MAX_DOCUMENTS))}
        )
    checked = _check_documents(documents)
    if not settings.get("IDENTITY_DOCUMENT_DIR"):
        raise RuntimeError("IDENTITY_DOCUMENT_DIR must be set to store scanned documents")
    directory, key = Path(settings["IDENTITY_DOCUMENT_DIR"]), document_key(settings)
    stored: list[str] = []
    records: list[IdentityDocument] = []
    try:
        now = utcnow()
        for data, mime_type in checked:
            stored.append(store_document(data, directory=directory, key=key))
            records.append(
                IdentityDocument(
                    kind="identity",
                    stored_name=stored[-1],
                    mime_type=mime_type,
                    size_bytes=len(data),
                    uploaded_at=now,
                )
            )
            request.documents.append(records[-1])
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="identity_document.added",
            request_id=request.id,
            details={"documents": [record.id for record in records]},
            at=now,
        )
        if request.state == S.AWAITING_IDENTITY:
            transition(
                session,
                request,
                S.IN_PROGRESS,
                actor=actor,
                reason="documents sent by the requester, scanned by staff",
                today=today,
            )
        session.commit()
    except BaseException:
        session.rollback()
        for stored_name in stored:
            delete_document(stored_name, directory=directory)
        raise
    return records
