"""Extending the time limit by two months, once, with reasons, notified before the first due
date (art. 12(3) GDPR); a DPO's decision."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from ...models import PrivacyRequest, StaffMember
from ...rights.transitions import transition
from ...workflow import RequestState
from .rules import ActionRefused, answer, ensure_open, required_text, targets

S = RequestState


def extend(
    session: Session,
    request: PrivacyRequest,
    *,
    staff: StaffMember,
    reasons: str,
    today: date,
    settings: Mapping[str, Any],
) -> None:
    """Extend the time limit by two months, with reasons: the request is extended together with
    its notice (the new due date computed, never typed), in one transaction.

    Raises ``rights.services.ExtensionTooLate`` after the first due date (nothing changes).
    """
    ensure_open(request)
    reasons = required_text(reasons, "reasons", "give the reasons for the extension")
    if request.extended_on is not None:
        raise ActionRefused(f"{request.reference} was already extended on {request.extended_on}")
    if S.EXTENDED not in targets(request):
        raise ActionRefused(f"{request.reference} cannot be extended now ({request.state})")
    # ExtensionTooLate is raised before anything changes.
    transition(session, request, S.EXTENDED, actor=staff.get_id(), reason=reasons, today=today)
    answer(session, request, staff, today, settings, "extension_notice", {"reasons": reasons})
