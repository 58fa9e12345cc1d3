"""What every staff action shares: its refusal, the checks of a typed text and of an open
request, and the commit of an action together with its letter.

Each action goes through ``rights.services.transition`` for any change of state, is recorded in
the audit log, and commits. An action that writes to the requester commits its change together
with its letter, stored and audited, and the letter's mail queued (letters/outbox.py): one
transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from ...content import get_content
from ...letters.outbox import commit_with_letter
from ...models import PrivacyRequest, StaffMember
from ...operator import Operator
from ...workflow import FINAL_STATES, RequestState, allowed_targets

MAX_TEXT_LENGTH = 5000

# What runs last before an action and its letter are committed (see answer).
BeforeCommit = Callable[[], object] | None


class ActionRefused(ValueError):
    """The action cannot be done now, or a required field is missing; ``field`` names the
    form field to blame, when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


def current_operator() -> Operator:
    """The operator of the content in force (content/operator.yaml)."""
    return get_content().operator


def required_text(value: str | None, field: str, message: str) -> str:
    """The typed text, trimmed; refused (blaming ``field``) when empty or too long."""
    text = (value or "").strip()
    if not text:
        raise ActionRefused(message, field)
    if len(text) > MAX_TEXT_LENGTH:
        raise ActionRefused(f"at most {MAX_TEXT_LENGTH} characters", field)
    return text


def ensure_open(request: PrivacyRequest) -> None:
    """Refuse any action on a closed request."""
    if request.state in FINAL_STATES:
        raise ActionRefused(f"{request.reference} is closed ({request.state})")


def targets(request: PrivacyRequest) -> frozenset[RequestState]:
    """The states the request may move to now (workflow.py)."""
    return allowed_targets(request.state)


def answer(
    session: Session,
    request: PrivacyRequest,
    staff: StaffMember,
    today: date,
    settings: Mapping[str, Any],
    kind: str,
    fields: dict[str, Any],
    before_commit: BeforeCommit = None,
) -> None:
    """Commit the action with its letter (stored, audited, its mail queued), or nothing."""
    commit_with_letter(
        session,
        request,
        kind,
        fields,
        actor=staff.get_id(),
        today=today,
        settings=settings,
        before_commit=before_commit,
    )
