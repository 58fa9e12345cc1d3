"""Refusing a request, with reasons and the remedies (art. 12(4) GDPR); a DPO's decision."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from ...models import PrivacyRequest, StaffMember
from ...models.types import utcnow
from ...rights.transitions import transition
from ...workflow import RequestState
from .identity import IDENTITY_NOT_PROVEN, destroy_documents
from .rules import ActionRefused, answer, ensure_open, required_text, targets

S = RequestState


def refuse(
    session: Session,
    request: PrivacyRequest,
    *,
    staff: StaffMember,
    reasons: str,
    today: date,
    settings: Mapping[str, Any],
) -> None:
    """Refuse the request, with reasons (the letter names the right to complain to the
    supervisory authority and to a court). A refusal while awaiting identity decides it: not
    proven, and the documents are deleted."""
    ensure_open(request)
    reasons = required_text(reasons, "reasons", "give the reasons for the refusal")
    if S.REFUSED not in targets(request):
        raise ActionRefused(f"{request.reference} cannot be refused now ({request.state})")
    moment = utcnow()
    if request.state == S.AWAITING_IDENTITY:
        request.identity_outcome = IDENTITY_NOT_PROVEN
        request.identity_checked_at = moment
        request.identity_checked_by = staff.get_id()
    transition(
        session, request, S.REFUSED, actor=staff.get_id(), reason=reasons, today=today, now=moment
    )

    def destroy() -> None:  # last, once the letter is written: the files cannot come back
        destroy_documents(session, request, settings, moment)

    answer(session, request, staff, today, settings, "refusal", {"reasons": reasons}, destroy)
