"""The requester's identity: staff view the documents received, confirm the identity (every
document then deleted, what was checked kept) or ask for a proof, stating the reason for the
doubt (art. 12(6) GDPR)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy.orm import Session

from ... import audit
from ...config import document_key
from ...models import IdentityDocument, PrivacyRequest, StaffMember
from ...models.types import utcnow
from ...rights.documents import ask_for_identity
from ...rights.transitions import transition
from ...uploads.storage import delete_document, read_document
from ...workflow import RequestState
from .rules import ActionRefused, answer, ensure_open, required_text

S = RequestState

# What staff may record about an identity document once it is checked (the file is deleted).
IDENTITY_DOCUMENT_TYPES: dict[str, LazyString] = {
    "identity_card": _l("National identity card"),
    "passport": _l("Passport"),
    "residence_permit": _l("Residence permit"),
    "driving_licence": _l("Driving licence"),
    "other": _l("Other official document"),
}
IDENTITY_CONFIRMED = "confirmed"
IDENTITY_NOT_PROVEN = "not_proven"
IDENTITY_OUTCOME_LABELS = {
    IDENTITY_CONFIRMED: _l("identity confirmed"),
    IDENTITY_NOT_PROVEN: _l("identity not proven"),
}


class DocumentUnavailable(LookupError):
    """The identity document does not belong to the request, or was already deleted."""


def live_documents(request: PrivacyRequest) -> list[IdentityDocument]:
    return [document for document in request.documents if document.deleted_at is None]


def document_settings(settings: Mapping[str, Any]) -> tuple[Path, bytes]:
    directory = settings.get("IDENTITY_DOCUMENT_DIR")
    if not directory:
        raise RuntimeError("IDENTITY_DOCUMENT_DIR must be set to read identity documents")
    return Path(directory), document_key(settings)


def view_identity_document(
    session: Session,
    request: PrivacyRequest,
    document_id: int,
    *,
    staff: StaffMember,
    settings: Mapping[str, Any],
) -> tuple[bytes, str]:
    """The decrypted document and its MIME type; the view is audited (and committed) first, so
    that no one sees a document without it being recorded."""
    document = session.get(IdentityDocument, document_id)
    if document is None or document.request_id != request.id or document.deleted_at is not None:
        raise DocumentUnavailable(f"no identity document {document_id} to show on this request")
    directory, key = document_settings(settings)
    audit.record(
        session,
        actor=staff.get_id(),
        action="identity_document.viewed",
        request_id=request.id,
        details={"document_id": document.id, "kind": document.kind},
    )
    session.commit()
    plain = read_document(
        document.stored_name,
        directory=directory,
        key=key,
        previous_keys=settings.get("IDENTITY_DOCUMENT_PREVIOUS_KEYS", ()),
    )
    return plain, document.mime_type


def destroy_documents(
    session: Session, request: PrivacyRequest, settings: Mapping[str, Any], moment: datetime
) -> int:
    """Delete every stored file of the request and mark its records: identity is decided."""
    live = live_documents(request)
    if not live:
        return 0
    directory = document_settings(settings)[0]
    for document in live:
        document.deleted_at = moment
    session.flush()
    # The files go before the commit: a failure afterwards leaves the request to decide again,
    # never a decided identity whose document is still on disk.
    for document in live:
        delete_document(document.stored_name, directory=directory)
    return len(live)


def confirm_identity(
    session: Session,
    request: PrivacyRequest,
    *,
    staff: StaffMember,
    document_type: str,
    today: date,
    settings: Mapping[str, Any],
) -> None:
    """Staff accept the proof of identity: who, when, the document type and the outcome are
    kept, every document is deleted, and a request awaiting it starts again."""
    ensure_open(request)
    if request.clock_started_on is None:
        raise ActionRefused("the requester has not confirmed their email address yet")
    if document_type not in IDENTITY_DOCUMENT_TYPES:
        raise ActionRefused("choose the type of document checked", "document_type")
    if request.state == S.AWAITING_IDENTITY and not live_documents(request):
        raise ActionRefused("no identity document was received for this request")
    moment = utcnow()
    request.identity_outcome = IDENTITY_CONFIRMED
    request.identity_checked_at = moment
    request.identity_checked_by = staff.get_id()
    request.identity_document_type = document_type
    deleted = destroy_documents(session, request, settings, moment)
    if request.state == S.AWAITING_IDENTITY:
        transition(
            session,
            request,
            S.IN_PROGRESS,
            actor=staff.get_id(),
            reason=f"identity confirmed ({document_type})",
            today=today,
            now=moment,
        )
    audit.record(
        session,
        actor=staff.get_id(),
        action="identity.confirmed",
        request_id=request.id,
        details={"document_type": document_type, "documents_deleted": deleted},
        at=moment,
    )
    session.commit()


def ask_identity(
    session: Session,
    request: PrivacyRequest,
    *,
    staff: StaffMember,
    reason: str,
    today: date,
    settings: Mapping[str, Any],
) -> None:
    """Ask for a proof of identity, stating the reason for the doubt (art. 12(6) GDPR: the
    clock is suspended)."""
    ensure_open(request)
    reason = required_text(reason, "reason", "state the reason for doubting the identity")
    # Only once work started: before, the requester has not even confirmed their email.
    if request.state != S.IN_PROGRESS:
        raise ActionRefused(f"a proof of identity cannot be asked for now ({request.state})")
    ask_for_identity(session, request, reason=reason, actor=staff.get_id(), today=today)
    answer(session, request, staff, today, settings, "identity_request", {"reason": reason})
