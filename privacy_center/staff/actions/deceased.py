"""Requests about a deceased person (French law 78-17, art. 85; postmortem/handling.py):
communicating their data to an heir or a designated person, closing their account."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ... import audit
from ...models import PrivacyRequest, StaffMember
from ...models.types import utcnow
from ...postmortem import delivery as postmortem_delivery
from ...postmortem import handling as postmortem
from ...rights.transitions import transition
from ...workflow import RequestState
from .identity import IDENTITY_CONFIRMED
from .rules import MAX_TEXT_LENGTH, ActionRefused, answer, ensure_open, targets

S = RequestState


def _ensure_postmortem_checked(request: PrivacyRequest, kinds: frozenset[str]) -> None:
    ensure_open(request)
    if request.kind not in kinds:
        raise ActionRefused(_l("This action does not answer this type of request."))
    if S.COMPLETED not in targets(request):
        raise ActionRefused(_l("This action is not possible in the request's current state."))
    # The death certificate, the proof of capacity and the requester's identity document are
    # checked (and deleted) with "confirm identity" before anyone acts on a deceased's data.
    if request.identity_outcome != IDENTITY_CONFIRMED:
        raise ActionRefused(
            _l(
                "Check the death certificate, the proof of capacity and the requester's "
                "identity first (Confirm identity)."
            )
        )


def release_postmortem_data(
    session: Session,
    request: PrivacyRequest,
    *,
    staff: StaffMember,
    categories: Sequence[str],
    estate_need: str = "",
    settings: Mapping[str, Any],
    base_url: str,
) -> postmortem_delivery.Communicated:
    """Communicate the data of ``categories`` to the heir or designated person (estate or
    memories request) as an encrypted single-use download, in one commit (postmortem/delivery.py;
    raises ``postmortem.handling.ReleaseBlocked``, nothing written, when the deceased's
    directives or the requester's standing forbid it and no estate-settlement need is given).
    The request stays open: the completion letter then lists what was communicated."""
    _ensure_postmortem_checked(request, postmortem.RELEASE_KINDS)
    if not categories:
        raise ActionRefused(_l("Choose the data to communicate."), "categories")
    if len(estate_need or "") > MAX_TEXT_LENGTH:
        raise ActionRefused(_l("At most %(num)d characters.", num=MAX_TEXT_LENGTH), "estate_need")
    try:
        communicated = postmortem_delivery.communicate(
            session,
            request,
            categories=categories,
            estate_need=estate_need,
            actor=staff.get_id(),
            settings=settings,
            base_url=base_url,
        )
    except postmortem_delivery.DeliveryFailed as error:
        session.rollback()
        raise ActionRefused(str(error)) from None
    session.commit()
    return communicated


def close_deceased_account(
    session: Session,
    request: PrivacyRequest,
    *,
    staff: StaffMember,
    today: date,
    settings: Mapping[str, Any],
) -> postmortem.ClosureReport:
    """Close the deceased's account (closure or objection request) and complete the request,
    with the free confirmation letter saying what was done, in the requester's language, in
    the same transaction."""
    _ensure_postmortem_checked(request, postmortem.CLOSURE_KINDS)
    account, _directive = postmortem.directives_for_request(session, request)
    if account is None:
        raise ActionRefused(
            _l("No account matches the deceased's identifier: there is no account to close.")
        )
    moment = utcnow()
    report = postmortem.close_account(
        session, account, request=request, actor=staff.get_id(), now=moment
    )
    transition(
        session,
        request,
        S.COMPLETED,
        actor=staff.get_id(),
        reason="account of the deceased closed (law 78-17 art. 85)",
        today=today,
        now=moment,
    )
    done = "\n".join(report.lines(request.language))
    audit.record(
        session,
        actor=staff.get_id(),
        action="request.completed",
        request_id=request.id,
        details={"state": str(S.COMPLETED), "account_closed": account.id},
        at=moment,
    )
    answer(session, request, staff, today, settings, "completion", {"done": done})
    return report
