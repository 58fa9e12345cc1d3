"""Filing a request on the self-service forms: checking what was typed, recording the request
with its documents in one transaction, and the first line of its history.

Plain functions with explicit arguments; they never look at the HTTP request or the session.
A signed-in account holder filing about their own email address needs neither to confirm it
nor to send a document, and the legal clock starts the day they file; anyone else is sent a
confirmation link (confirmation.py). Every document is checked before anything is written; if
anything fails afterwards, the stored files are deleted and the transaction rolled back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from .. import audit
from ..content import get_content
from ..models import Account, IdentityDocument, PrivacyRequest, RequestTransition
from ..models.types import utcnow
from ..operator import Operator
from ..tokens import issue_token
from ..uploads.checks import check_identity_document
from ..uploads.storage import delete_document, store_document
from ..workflow import RequestState
from .confirmation import CONFIRMATION_LIFETIME, start_work
from .documents import document_settings, identity_document_needed
from .effects import EFFECT_WAITS, PROOF_SIGNED_IN, apply_effect
from .kinds import RequestKind, get_kind
from .references import FiledRequest, new_reference, new_status_token
from .transitions import ACTOR_REQUESTER, ACTOR_SYSTEM, transition

S = RequestState

MAX_NAME_LENGTH = 200
MAX_DETAILS_LENGTH = 5000


class InvalidRequest(ValueError):
    """Some fields are wrong; ``errors`` maps each field name to a message a person can act on."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors.items()))


def is_own_account(account: Account | None, email: str) -> bool:
    """Whether the signed-in ``account`` (if any) is the one with this email address."""
    return account is not None and account.email == email.strip().lower()


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
    operator = operator or get_content().operator
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
        reference = new_reference(session)
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
            directory, key = document_settings(settings)
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
            start_work(session, request, today=today, reason="signed-in account holder")
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
            delete_document(stored_name, directory=document_settings(settings)[0])
        raise
    return FiledRequest(request, status_token, confirmation_token)
