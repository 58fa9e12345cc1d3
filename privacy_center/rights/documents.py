"""Identity documents: when a request needs one, adding one from the status page, and staff
asking for one when they doubt who the requester is (GDPR art. 12(6)).

A signed-in account holder acting on their own data has proved who they are; for anyone else
the operator's ``identity_document`` setting decides ("required", or only "on_doubt" when staff
ask). A request waiting for a document has its clock suspended; the document, once it arrives,
starts work again. Files are checked before anything is written, stored encrypted in
``IDENTITY_DOCUMENT_DIR`` (uploads.py), and deleted again when the transaction fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ..config import document_key
from ..content import get_content
from ..models import IdentityDocument, PrivacyRequest, RequestTransition
from ..models.types import utcnow
from ..operator import Operator
from ..uploads.checks import check_identity_document
from ..uploads.storage import delete_document, store_document
from ..workflow import FINAL_STATES, RequestState
from .kinds import RequestKind
from .transitions import ACTOR_REQUESTER, transition

S = RequestState


class RequestClosed(ValueError):
    """The request is in a final state: nothing can be added to it any more."""


def document_settings(settings: Mapping[str, Any]) -> tuple[Path, bytes]:
    """Where identity documents are stored, and the key they are encrypted with."""
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
    return (operator or get_content().operator).identity_document == "required"


def has_document(request: PrivacyRequest) -> bool:
    """Whether a document of this request is still on file (not yet deleted)."""
    return any(document.deleted_at is None for document in request.documents)


def can_add_document(request: PrivacyRequest) -> bool:
    """Only a request that needs a proof of identity offers to add one: it awaits one, or the
    operator's rule requires one and none was received."""
    if request.state in FINAL_STATES:
        return False
    return request.state == S.AWAITING_IDENTITY or (
        request.identity_required and not request.documents
    )


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
    directory, key = document_settings(settings)
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
