"""What a request does before anyone works on it (a kind's ``effect``: stopping marketing), and
when: only once the requester has shown that the email address is theirs. Anyone can type
someone else's address in a form; stopping that address's marketing on a stranger's word let
anyone cut a holder off the news they asked for (issue 16, item 9).

The proofs: signed in to the account with that address (at filing), the confirmation link
mailed to the address (when it is used), or, for a request entered by staff, an email received
from that very address, the sender checked. Each run of an effect has its own audit row saying
which proof it rests on.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from .. import audit
from ..models import PrivacyRequest
from ..workflow import RequestState
from .kinds import RequestKind, get_kind

S = RequestState

# The audit row of a kind's effect (marketing stopped), with how the address was proved.
ACTION_EFFECT = "request.effect"
EFFECT_WAITS = "nothing stopped yet: it takes effect when the email address is confirmed"
# How a requester proved that the email address is theirs (the effect's audit row says which).
PROOF_SIGNED_IN = "signed in to the account with this address"
PROOF_LINK = "confirmation link emailed to the address used"
PROOF_EMAIL_FROM = "request received by email from the address, checked by staff"


def apply_effect(
    session: Session,
    request: PrivacyRequest,
    request_kind: RequestKind,
    *,
    actor: str,
    proof: str,
    now: datetime,
) -> str:
    """Run the kind's effect (stopping marketing) once the requester has shown that the email
    address is theirs (``proof``: how), with its own audit row; returns the note for the
    history. Never before: anyone can type someone else's address in a form."""
    assert request_kind.effect is not None
    note = request_kind.effect(session, request)
    audit.record(
        session,
        actor=actor,
        action=ACTION_EFFECT,
        request_id=request.id,
        details={"kind": request_kind.key, "effect": note, "proof": proof},
        at=now,
    )
    return note


def effect_applied(request: PrivacyRequest) -> bool:
    """Whether the kind's effect has run: at filing (the address was proved then), or when the
    confirmation link was used; never for a request that lapsed or was withdrawn unconfirmed."""
    kind = get_kind(request.kind)
    if kind is None or kind.effect is None:
        return False
    moves = [(record.from_state, record.to_state) for record in request.transitions]
    awaited = any(target == S.AWAITING_CONFIRMATION for _, target in moves)
    confirmed = any(
        source == S.AWAITING_CONFIRMATION and target in (S.IN_PROGRESS, S.AWAITING_IDENTITY)
        for source, target in moves
    )
    return not awaited or confirmed
