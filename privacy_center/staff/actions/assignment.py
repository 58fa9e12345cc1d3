"""Who works on a request, and the internal notes they write (never shown to the requester)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ... import audit
from ...models import PrivacyRequest, RequestNote, StaffMember
from ...models.types import utcnow
from .rules import ActionRefused, required_text


def assign(
    session: Session,
    request: PrivacyRequest,
    *,
    staff: StaffMember,
    assignee: StaffMember | None,
) -> None:
    """Give the request to ``assignee`` (None: nobody)."""
    if assignee is not None and assignee.deactivated_at is not None:
        raise ActionRefused(f"{assignee.name} is deactivated", "assignee")
    request.assigned_to = assignee
    session.flush()
    audit.record(
        session,
        actor=staff.get_id(),
        action="request.assigned",
        request_id=request.id,
        details={"assignee": assignee.get_id() if assignee else None},
    )
    session.commit()


def add_note(
    session: Session, request: PrivacyRequest, *, staff: StaffMember, text: str
) -> RequestNote:
    """An internal note (never shown to the requester); the audit log keeps that one was
    written, not its text."""
    text = required_text(text, "text", "write the note")
    note = RequestNote(request_id=request.id, author_id=staff.id, at=utcnow(), text=text)
    session.add(note)
    session.flush()
    audit.record(
        session,
        actor=staff.get_id(),
        action="note.added",
        request_id=request.id,
        details={"note_id": note.id},
    )
    session.commit()
    return note
