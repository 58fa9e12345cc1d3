"""Letters to requesters: check what staff wrote, render the PDF, preview it.

A letter is written in the request's language (whatever the language of the staff member's
page), on the operator's letterhead, and rendered by the one PDF function (render_pdf: nothing
remote is ever fetched; what staff write is escaped, never read as HTML).

Sending is letters/outbox.py: the letter is stored with its SHA-256 and its mail queued in the
transaction of the action that issues it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from flask import current_app
from flask_babel import force_locale, format_date, gettext
from markupsafe import Markup
from sqlalchemy.orm import Session

from ..connectors.base import ErasureReport
from ..content import get_content
from ..models import Letter, PrivacyRequest
from ..recipients.services import letter_recipients
from ..rights import clock as rights_clock
from ..rights.effects import effect_applied
from ..rights.kinds import get_kind as get_request_kind
from .kinds import OUTCOME_ACTIONS, LetterField, LetterKind, get_letter_kind
from .rendering import render_pdf

STYLESHEET = "css/letter.css"
# The longest text staff may write into one field.
MAX_FIELD_CHARS = 10_000


class LetterError(ValueError):
    """The letter cannot be written as asked; the message says why and what to do."""


class LetterFieldsMissing(LetterError):
    """Required fields are empty; ``missing`` names them (the form shows an error on each)."""

    def __init__(self, kind: str, missing: Sequence[str]) -> None:
        self.kind = kind
        self.missing = tuple(missing)
        super().__init__(f"The {kind} letter needs these fields filled in: {', '.join(missing)}")


def letter_kind_for(request: PrivacyRequest, kind: str) -> LetterKind:
    letter_kind = get_letter_kind(kind)
    if letter_kind is None:
        raise LetterError(f"{kind!r} is not a kind of letter")
    if not letter_kind.supports(request.kind):
        raise LetterError(f"there is no {kind} letter for a request of kind {request.kind!r}")
    return letter_kind


def _clean_outcomes(name: str, value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list | tuple):
        raise LetterError(f"{name}: expected a list of outcomes")
    cleaned = []
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise LetterError(f"{name}[{index}]: expected category, action and reason")
        category = str(item.get("category") or "").strip()
        action = str(item.get("action") or "")
        if not category or action not in OUTCOME_ACTIONS:
            raise LetterError(
                f"{name}[{index}]: a category and an action ({', '.join(OUTCOME_ACTIONS)}) "
                "are needed"
            )
        reason = str(item.get("reason") or "").strip()
        if action in ("kept", "elsewhere") and not reason:
            # Art. 17(3): whatever is not erased must be justified to the person.
            raise LetterError(f"{name}[{index}]: say why {category!r} is {action}")
        cleaned.append({"category": category, "action": action, "reason": reason})
    return cleaned


def _clean_value(spec: LetterField, value: Any) -> Any:
    """The value as stored in ``Letter.fields``, or None when empty."""
    if value is None:
        return None
    if spec.type == "outcomes":
        return _clean_outcomes(spec.name, value) or None
    if spec.type == "date":
        if isinstance(value, date):
            return value.isoformat()
        text = str(value).strip()
        if not text:
            return None
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise LetterError(f"{spec.name}: {text!r} is not a date (YYYY-MM-DD)") from None
    text = str(value).replace("\r\n", "\n").strip()
    if len(text) > MAX_FIELD_CHARS:
        raise LetterError(f"{spec.name}: at most {MAX_FIELD_CHARS} characters")
    return text or None


def clean_fields(
    letter_kind: LetterKind, request_kind: str, fields: Mapping[str, Any]
) -> dict[str, Any]:
    """What staff wrote, checked and normalised. Raises :class:`LetterFieldsMissing` naming every
    empty required field, :class:`LetterError` for a field the letter does not have or a value
    of the wrong shape."""
    specs = {spec.name: spec for spec in letter_kind.fields_for(request_kind)}
    unknown = sorted(set(fields) - set(specs))
    if unknown:
        raise LetterError(f"the {letter_kind.key} letter has no field {', '.join(unknown)}")
    cleaned = {}
    for name, spec in specs.items():
        value = _clean_value(spec, fields.get(name))
        if value is not None:
            cleaned[name] = value
    missing = [name for name, spec in specs.items() if spec.required and name not in cleaned]
    if missing:
        raise LetterFieldsMissing(letter_kind.key, missing)
    return cleaned


def erasure_outcomes(
    reports: Iterable[ErasureReport], language: str, labels: Mapping[str, str] | None = None
) -> list[dict[str, str]]:
    """The ``outcomes`` field of an erasure's completion letter, from the connectors' reports:
    one entry per category, its reason in the letter's language; ``labels`` maps a category's
    key to its name in that language (the key itself otherwise)."""
    return [
        {
            "category": (labels or {}).get(outcome.category, outcome.category),
            "action": outcome.action,
            "reason": outcome.reason_in(language),
        }
        for report in reports
        for outcome in report.outcomes
    ]


def _css_string(text: str) -> str:
    """A CSS string literal: every character but letters, digits and spaces escaped, so that a
    translation can neither end the string nor the <style> element."""
    return '"' + "".join(c if c.isalnum() or c == " " else f"\\{ord(c):x} " for c in text) + '"'


def _page_numbers_css() -> Markup:
    """The words "Page X of Y" in the letter's language, as CSS page counters."""
    label = gettext("Page %(page)s of %(pages)s", page="\x00", pages="\x01")
    tokens = []
    text = ""
    for character in label:
        if character in "\x00\x01":
            if text:
                tokens.append(_css_string(text))
                text = ""
            tokens.append("counter(page)" if character == "\x00" else "counter(pages)")
        else:
            text += character
    if text:
        tokens.append(_css_string(text))
    css = "@page { @bottom-right { content: " + " ".join(tokens) + " } }"
    return Markup(css)  # noqa: S704 (every translated character is escaped by _css_string)


def _due_date(request: PrivacyRequest, today: date) -> date | None:
    if request.clock_started_on is None:
        return request.due_on
    return rights_clock.due_date_on(request, today)


def render_letter_html(
    request: PrivacyRequest, kind: str, fields: Mapping[str, Any], *, today: date
) -> tuple[LetterKind, dict[str, Any], str]:
    """Check the fields and write the letter's HTML in the request's language.

    Returns the letter's kind, the cleaned fields and the HTML. Needs an application context.
    """
    letter_kind = letter_kind_for(request, kind)
    cleaned = clean_fields(letter_kind, request.kind, fields)
    content = get_content()
    operator = content.operator
    if request.language not in operator.languages:
        raise LetterError(
            f"{request.reference} is in {request.language!r}, which is not one of the "
            f"operator's languages ({', '.join(operator.languages)})"
        )
    due_on = _due_date(request, today)
    if kind == "extension_notice" and due_on is not None:
        # Computed, never typed: three months from the start of the clock, plus the days it
        # was suspended (the date the extension gives, or gave).
        due_on = rights_clock.due_date_on(request, today, extended=True)
    if kind in ("acknowledgement", "extension_notice") and due_on is None:
        raise LetterError(
            f"{request.reference} has no due date yet: its clock starts when the requester "
            "confirms their email address"
        )
    authority = next(
        (item for item in content.authorities if item.country == operator.country), None
    )
    request_kind = get_request_kind(request.kind)
    with force_locale(request.language):
        subject = letter_kind.subject_for(request.reference)
        values = {
            "operator": operator,
            "lang": request.language,
            "privacy_request": request,
            "letter_kind": letter_kind,
            "request_kind_label": str(request_kind.label) if request_kind else request.kind,
            "fields": cleaned,
            "subject": subject,
            "letter_date": format_date(today, "long"),
            "received_on": format_date(
                rights_clock.operator_day(request.received_at, operator), "long"
            ),
            "due_date": format_date(due_on, "long") if due_on else None,
            "articles": letter_kind.articles_for(request.kind),
            "authority": authority,
            "edpb_members_url": content.edpb_members_url,
            "page_numbers_css": _page_numbers_css(),
            "recipients": letter_recipients(request),
            # An objection to marketing: stopped already, or when the emailed link is used.
            "effect": None
            if request_kind is None or request_kind.effect is None
            else ("applied" if effect_applied(request) else "pending"),
        }
        html = current_app.jinja_env.get_template(letter_kind.template).render(values)
    return letter_kind, cleaned, html


def preview_letter(
    session: Session | None,
    request: PrivacyRequest,
    kind: str,
    fields: Mapping[str, Any],
    *,
    today: date,
) -> bytes:
    """The letter's PDF as it would be sent today; nothing is stored or sent.

    ``session`` is not used (nothing is read or written); it is there so that the console calls
    preview and send the same way."""
    del session
    _, _, html = render_letter_html(request, kind, fields, today=today)
    return render_pdf(html, stylesheets=(STYLESHEET,))


def attachment_name(request: PrivacyRequest, kind: str) -> str:
    return f"{request.reference}-{kind}.pdf"


def find_sent_letter(request: PrivacyRequest, letter_id: int) -> Letter | None:
    """A sent letter of this request (never another request's, never an unsent one)."""
    return next((letter for letter in request.letters if letter.id == letter_id), None)
