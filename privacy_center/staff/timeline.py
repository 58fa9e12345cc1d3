"""A request's history as the console shows it: every transition and audited event, oldest
first, each told in words in the member's language (what happened, who did it and when); and
the request's internal notes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit
from ..letters.kinds import LETTER_KINDS
from ..models import PrivacyRequest, RequestNote, StaffMember
from ..workflow import STATE_LABELS, RequestState
from .actions.identity import IDENTITY_DOCUMENT_TYPES

# Every event a request's timeline can hold, in words. tests/test_staff_timeline.py checks
# that each event the code writes with a request (audit.record(..., request_id=...)) has one.
EVENT_LABELS: dict[str, LazyString] = {
    "request.filed": _l("Request filed"),
    "request.transition": _l("State changed"),
    "request.effect": _l("Marketing stopped for the request's address"),
    "identity_document.viewed": _l("Identity document viewed"),
    "identity_document.added": _l("Scanned documents added"),
    "identity.confirmed": _l("Identity confirmed, documents deleted"),
    "request.assigned": _l("Assigned"),
    "note.added": _l("Internal note added"),
    "request.completed": _l("Request answered"),
    "letter.sent": _l("Letter sent"),
    "mail.delivered": _l("Letter's mail delivered"),
    "mail.not_delivered": _l("Letter's mail not delivered: it stays queued and is tried again"),
    "postmortem.data_released": _l("Data of the deceased communicated"),
    "postmortem.account_closed": _l("Account of the deceased closed"),
    "request.lapsed": _l("Request lapsed, documents left destroyed"),
    "request.lapse_notice": _l("Requester told of the lapse"),
    "postmortem.delivery_created": _l("Data of the deceased prepared, encrypted"),
    "postmortem.delivery_mailed": _l("Download link mailed to the requester"),
    "postmortem.delivery_downloaded": _l("Data of the deceased downloaded by the requester"),
    "recipients.recorded": _l("Recipients to tell listed (art. 19 GDPR)"),
    "recipients.pending": _l("Recipient not reached yet: tried again later"),
    "recipients.sent": _l("Recipient told"),
    "recipients.acknowledged": _l("Recipient's acknowledgement recorded"),
    "recipients.failed": _l("Recipient could not be told"),
    "recipients.retry": _l("Recipient to be told again"),
    "recipients.requester_informed": _l("Requester told which recipients were told"),
}
# An event written by another version of the privacy center, unknown to this one.
OTHER_EVENT = _l("Event recorded by another version of the privacy center")

# Who did it, when it was not a staff member (shown by name).
ACTOR_WORDS: dict[str, LazyString] = {
    "requester": _l("the requester"),
    "system": _l("the privacy center"),
    "recipient": _l("the recipient"),
    "cli": _l("an operator's command"),
}


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    actor: str
    action: str
    details: Mapping[str, Any] = field(default_factory=dict)


def actor_name(actor: str, names: Mapping[int, str]) -> str:
    """ "staff:3" -> the member's name; other actors ("requester", "system") as they are."""
    prefix, _, number = actor.partition(":")
    if prefix == "staff" and number.isdigit():
        return names.get(int(number), actor)
    return actor


def timeline(session: Session, request: PrivacyRequest) -> list[TimelineEntry]:
    """The request's history: every transition and every audited event, oldest first.

    Transitions are taken from their own table (the first ones predate the audit log); the
    audit log's copies of them are not repeated.
    """
    names = {row.id: row.name for row in session.execute(select(StaffMember.id, StaffMember.name))}
    entries = [
        TimelineEntry(
            at=record.at,
            actor=actor_name(record.actor, names),
            action="request.transition",
            details={"from": record.from_state, "to": record.to_state, "reason": record.reason},
        )
        for record in request.transitions
    ]
    entries.extend(
        TimelineEntry(
            at=event.at,
            actor=actor_name(event.actor, names),
            action=event.action,
            details=event.details,
        )
        for event in audit.events_of_request(session, request.id)
        if event.action != "request.transition"
    )
    entries.sort(key=lambda entry: entry.at)
    return entries


def notes_of(session: Session, request: PrivacyRequest) -> list[RequestNote]:
    return list(
        session.scalars(
            select(RequestNote)
            .where(RequestNote.request_id == request.id)
            .order_by(RequestNote.at, RequestNote.id)
        )
    )


def event_label(action: str) -> str:
    """What happened, in the current language (never the event's key)."""
    return str(EVENT_LABELS.get(action, OTHER_EVENT))


def actor_words(actor: str) -> str:
    """Who did it, in the current language: a member's name, or what the actor is."""
    words = ACTOR_WORDS.get(actor)
    if words is not None:
        return str(words)
    if actor.startswith("account:"):
        return _("the account holder")
    return actor


def _state(value: Any) -> str:
    try:
        return str(STATE_LABELS[RequestState(value)])
    except ValueError:
        return _("none")


def event_sentence(entry: TimelineEntry) -> Markup:
    """The entry as one sentence: what happened (in bold), who did it, and when (UTC)."""
    sentence = _("%(event)s, by %(who)s, on %(date)s at %(time)s UTC.")
    return escape(sentence) % {
        "event": Markup("<strong>%s</strong>") % event_label(entry.action),
        "who": actor_words(entry.actor),
        "date": format_date(entry.at, "medium"),
        "time": entry.at.strftime("%H:%M"),
    }


def event_details(entry: TimelineEntry, names: Mapping[int, str]) -> list[str]:
    """What the event says beyond its sentence, in words (a change of state and its reason,
    the document type, the letter, the recipient, what an erasure did...)."""
    details = entry.details
    lines: list[str] = []
    if entry.action == "request.transition":
        moved = _(
            "From “%(from)s” to “%(to)s”.",
            **{"from": _state(details.get("from")) if details.get("from") else _("none")},
            to=_state(details.get("to")),
        )
        lines.append(moved)
        if details.get("reason"):
            lines.append(_("Reason: %(reason)s", reason=details["reason"]))
    elif entry.action == "identity.confirmed" and details.get("document_type"):
        kind = details["document_type"]
        lines.append(_("Document checked: %(type)s", type=IDENTITY_DOCUMENT_TYPES.get(kind, kind)))
    elif entry.action == "request.assigned":
        assignee = actor_name(str(details.get("assignee") or ""), names)
        lines.append(_("To: %(name)s", name=assignee) if assignee else _("To nobody"))
    elif entry.action == "letter.sent" and details.get("kind"):
        letter = LETTER_KINDS.get(details["kind"])
        lines.append(_("Letter: %(letter)s", letter=letter.label if letter else details["kind"]))
    elif entry.action.startswith("recipients.") and details.get("recipient"):
        lines.append(_("Recipient: %(recipient)s", recipient=details["recipient"]))
    if details.get("error"):
        lines.append(_("Error: %(error)s", error=details["error"]))
    for item in details.get("erasure", ()):
        lines.append(
            _(
                "%(category)s: %(action)s (%(rows)s) — %(reason)s",
                category=item.get("label") or item.get("category"),
                action=item.get("action"),
                rows=item.get("rows"),
                reason=item.get("reason"),
            )
        )
    return lines
