"""Identity documents as staff see them: images of their pages, rendered on the server.

The original file is never shown in the browser (a PDF viewer would run what it holds): each
page is rendered to PNG by the sandbox's child process (document_sandbox.py) and cached,
encrypted (page_images.py); the original is only handed out as a download. Every image and
every download is recorded in the audit log before it leaves.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from .. import audit
from ..document_sandbox import SandboxRefusal
from ..models import IdentityDocument, PrivacyRequest, StaffMember
from ..page_images import page_images
from .actions.identity import DocumentUnavailable, document_settings

log = logging.getLogger(__name__)


def live_document(session: Session, request: PrivacyRequest, document_id: int) -> IdentityDocument:
    """The request's document, unless it belongs to another request or was deleted."""
    document = session.get(IdentityDocument, document_id)
    if document is None or document.request_id != request.id or document.deleted_at is not None:
        raise DocumentUnavailable(f"no identity document {document_id} to show on this request")
    return document


def _images(document: IdentityDocument, settings: Mapping[str, Any]) -> list[bytes]:
    directory, key = document_settings(settings)
    return page_images(
        document.stored_name,
        directory=directory,
        key=key,
        previous_keys=settings.get("IDENTITY_DOCUMENT_PREVIOUS_KEYS", ()),
    )


def page_count(
    session: Session, request: PrivacyRequest, document_id: int, *, settings: Mapping[str, Any]
) -> int | None:
    """How many page images the document has (rendered now if it never was); None when it
    cannot be rendered (damaged, or beyond the sandbox's limits): only its download is left."""
    document = live_document(session, request, document_id)
    try:
        return len(_images(document, settings))
    except SandboxRefusal as refusal:
        log.warning("identity document %s cannot be rendered: %s", document.id, refusal.reason)
        return None


def view_page(
    session: Session,
    request: PrivacyRequest,
    document_id: int,
    page: int,
    *,
    staff: StaffMember,
    settings: Mapping[str, Any],
) -> bytes:
    """The PNG image of one page (numbered from 1); the view is audited (and committed) first.
    Raises DocumentUnavailable for a page the document does not have."""
    document = live_document(session, request, document_id)
    try:
        images = _images(document, settings)
    except SandboxRefusal:
        raise DocumentUnavailable(f"identity document {document_id} cannot be rendered") from None
    if not 1 <= page <= len(images):
        raise DocumentUnavailable(f"identity document {document_id} has no page {page}")
    audit.record(
        session,
        actor=staff.get_id(),
        action="identity_document.viewed",
        request_id=request.id,
        details={"document_id": document.id, "kind": document.kind, "page": page},
    )
    session.commit()
    return images[page - 1]
