"""What the staff pages show of the recipients: the request page's section and the completion
form's choices. (The policy's list is a fact of the policy: content/recipient_facts.py.)"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from ..connectors import get_connector_set
from ..content.recipients import get_register
from ..extensions import db
from ..i18n import current_language
from ..models import PrivacyRequest, RecipientNotification
from .services import notifications_of

STATE_LABELS: dict[str, LazyString] = {
    "pending": _l("pending"),
    "sent": _l("told"),
    "acknowledged": _l("acknowledged"),
    "failed": _l("failed"),
}
CHANNEL_LABELS: dict[str, LazyString] = {"http": _l("HTTP call"), "email": _l("email")}


@dataclass(frozen=True)
class StaffRow:
    row: RecipientNotification
    state: str
    channel: str
    categories: list[str]


def _labels(language: str) -> dict[str, str]:
    return {category.key: category.label(language) for category in get_connector_set().categories()}


def staff_notifications(request: PrivacyRequest) -> list[StaffRow]:
    """The request's notifications for the staff page, in the page's language."""
    labels = _labels(current_language())
    return [
        StaffRow(
            row=row,
            state=str(STATE_LABELS.get(row.state, row.state)),
            channel=str(CHANNEL_LABELS.get(row.channel, row.channel)),
            categories=[labels.get(key, key) for key in row.categories],
        )
        for row in notifications_of(db.session, request)
    ]


def category_choices(language: str | None = None) -> list[tuple[str, str]]:
    """The categories some recipient holds, labelled: the completion form's choices for a
    rectification or a restriction."""
    labels = _labels(language or current_language())
    return [(key, labels.get(key, key)) for key in get_register().held_categories()]
