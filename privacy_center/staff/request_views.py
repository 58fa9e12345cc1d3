"""A request's page: its facts, documents and timeline beside the actions the law needs next,
offered by state and role. The action and letter routes render it again on an error."""

from __future__ import annotations

from datetime import date
from typing import Any, NamedTuple

from flask import render_template
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from ..connectors import get_connector_set
from ..extensions import db
from ..i18n import current_language
from ..letters.kinds import LETTER_KINDS
from ..mail_queue import mails_of_letters
from ..models import PrivacyRequest, StaffMember
from ..postmortem import handling as postmortem
from ..postmortem.delivery import completion_lines
from ..postmortem.handling import staff_view as postmortem_view
from ..recipients.display import category_choices as recipient_category_choices
from ..rights.clock import due_date_on
from ..rights.kinds import get_kind
from ..workflow import CLOCK_SUSPENDED, STATE_LABELS, RequestState, allowed_targets
from .actions.identity import IDENTITY_DOCUMENT_TYPES, IDENTITY_OUTCOME_LABELS, live_documents
from .auth.access import has_role, staff_required
from .blueprint import bp
from .console import operator_today, request_or_404, signed_in
from .forms import (
    AskIdentityForm,
    AssignForm,
    ClarificationForm,
    CloseAccountForm,
    CompleteForm,
    ConfirmIdentityForm,
    ExtendForm,
    LetterForm,
    NoteForm,
    RefuseForm,
    ReleaseForm,
    ResumeForm,
    RetryMailForm,
)
from .queue import current_due, staff_members
from .timeline import (
    TimelineEntry,
    actor_name,
    event_details,
    event_sentence,
    notes_of,
    timeline,
)

S = RequestState


class TimelineLine(NamedTuple):
    """A timeline entry as the page shows it: a sentence, and the details in words."""

    entry: TimelineEntry
    sentence: Markup
    details: list[str]


# Letters that announce a decision only the DPO may take (access.py's role rules).
DPO_LETTERS = frozenset({"refusal", "extension_notice"})


def writable_letters(privacy_request: PrivacyRequest, member: StaffMember) -> list[Any]:
    """The letters ``member`` may write from the letters panel (legal letters are only
    previewed there: their action sends them): those whose every required field can be typed
    in (not an erasure's completion letter), and no refusal or extension notice for an agent."""
    return [
        kind
        for kind in LETTER_KINDS.values()
        if kind.supports(privacy_request.kind)
        and all(field.type != "outcomes" for field in kind.fields_for(privacy_request.kind))
        and (kind.key not in DPO_LETTERS or has_role(member, "dpo"))
    ]


def _assign_form(privacy_request: PrivacyRequest) -> AssignForm:
    form = AssignForm(prefix="assign")
    form.assignee.choices = [
        SelectChoice("", _("Nobody")),
        *(SelectChoice(str(member.id), member.name) for member in staff_members(db.session)),
    ]
    if not form.is_submitted():
        form.assignee.data = str(privacy_request.assigned_to_id or "")
    return form


def category_labels(language: str) -> dict[str, str]:
    """The data categories of the connectors (content/connectors.yaml), labelled in
    ``language``."""
    return {c.key: c.label(language) for c in get_connector_set().categories()}


def _release_form() -> ReleaseForm:
    form = ReleaseForm(prefix="release")
    form.categories.choices = list(category_labels(current_language()).items())
    return form


def _complete_form(privacy_request: PrivacyRequest) -> CompleteForm:
    # A post-mortem release's letter lists what was communicated by itself (the page shows it).
    form = CompleteForm(prefix="complete")
    form.recipient_categories.choices = recipient_category_choices()
    return form


def page_forms(privacy_request: PrivacyRequest) -> dict[str, FlaskForm]:
    return {
        "confirm": ConfirmIdentityForm(prefix="confirm"),
        "identity": AskIdentityForm(prefix="identity"),
        "clarify": ClarificationForm(prefix="clarify"),
        "resume": ResumeForm(prefix="resume"),
        "extend": ExtendForm(prefix="extend"),
        "refuse": RefuseForm(prefix="refuse"),
        "complete": _complete_form(privacy_request),
        "release": _release_form(),
        "close_account": CloseAccountForm(prefix="close_account"),
        "assign": _assign_form(privacy_request),
        "note": NoteForm(prefix="note"),
    }


def available_actions(privacy_request: PrivacyRequest, member: StaffMember) -> set[str]:
    """The actions the page offers now, by state and role."""
    state = privacy_request.state
    targets = allowed_targets(state)
    actions = {"assign", "note"}
    live = live_documents(privacy_request)
    if live and privacy_request.clock_started_on and state not in (S.AWAITING_CONFIRMATION,):
        actions.add("confirm")
    if state == S.IN_PROGRESS:
        actions.add("identity")
    if S.AWAITING_REQUESTER in targets:
        actions.add("clarify")
    if state == S.AWAITING_REQUESTER:
        actions.add("resume")
    if S.COMPLETED in targets:
        actions.add("complete")
        # Agents may do both: answering a post-mortem request is not a DPO decision (a
        # release against the directives needs the estate-settlement need recorded).
        if privacy_request.kind in postmortem.RELEASE_KINDS:
            actions.add("release")
        if privacy_request.kind in postmortem.CLOSURE_KINDS:
            actions.add("close_account")
    if has_role(member, "dpo"):
        if S.EXTENDED in targets and privacy_request.extended_on is None:
            actions.add("extend")
        if S.REFUSED in targets:
            actions.add("refuse")
    return actions


def _extended_due(privacy_request: PrivacyRequest, today: date) -> date | None:
    """The due date an extension would give now (the extension form shows it)."""
    if privacy_request.clock_started_on is None or privacy_request.extended_on is not None:
        return None
    return due_date_on(privacy_request, today, extended=True)


def render_detail(
    privacy_request: PrivacyRequest,
    *,
    forms: dict[str, FlaskForm] | None = None,
    errors: dict[str, str] | None = None,
    letter_errors: dict[str, dict[str, str]] | None = None,
    letter_values: dict[str, dict[str, str]] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    member = signed_in()
    today = operator_today()
    due = current_due(privacy_request, today)
    names = {m.id: m.name for m in db.session.scalars(select(StaffMember))}
    history = [
        TimelineLine(entry, event_sentence(entry), event_details(entry, names))
        for entry in timeline(db.session, privacy_request)
    ]
    page = render_template(
        "staff/request.html",
        req=privacy_request,
        kind=get_kind(privacy_request.kind),
        state_label=STATE_LABELS[RequestState(privacy_request.state)],
        due=due,
        days_left=(due - today).days if due else None,
        suspended=privacy_request.state in CLOCK_SUSPENDED,
        timeline=history,
        notes=notes_of(db.session, privacy_request),
        names=names,
        checked_by=actor_name(privacy_request.identity_checked_by or "", names),
        documents=privacy_request.documents,
        forms=forms or page_forms(privacy_request),
        actions=available_actions(privacy_request, member),
        errors=errors or {},
        letter_kinds=writable_letters(privacy_request, member),
        letter_form=LetterForm(prefix="letter"),
        letter_errors=letter_errors or {},
        letter_values=letter_values or {},
        sent_letters=privacy_request.letters,
        letter_mails=mails_of_letters(db.session, [item.id for item in privacy_request.letters]),
        retry_form=RetryMailForm(prefix="retry"),
        extended_due=_extended_due(privacy_request, today),
        state_labels=STATE_LABELS,
        document_types=IDENTITY_DOCUMENT_TYPES,
        identity_outcomes=IDENTITY_OUTCOME_LABELS,
        letter_labels={key: kind.label for key, kind in LETTER_KINDS.items()},
        me=member,
        postmortem=postmortem_view(
            db.session, privacy_request, category_labels(current_language())
        ),
        communicated=completion_lines(db.session, privacy_request)
        if privacy_request.kind in postmortem.RELEASE_KINDS
        else [],
    )
    return page, status


@bp.get("/requests/<reference>")
@staff_required()
def detail(reference: str) -> tuple[str, int]:
    return render_detail(request_or_404(reference))
