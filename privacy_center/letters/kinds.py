"""The kinds of letter sent to requesters, declared as data.

Each kind says what staff call it, which fields staff must fill in (the console's form reads
them), and which articles of the GDPR it rests on (printed in the letter's footer). The
completion letter has one variant per right, each with its own fields and articles. The texts
of the letters live in ``templates/letters/<kind>.html``; a new kind is a new entry here and a
new template, not a new branch in the code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

# How a field's value is given and printed:
#   text      a paragraph (or several) written by staff
#   date      an ISO date ("2026-12-26"), printed in the letter's language
#   amount    a short text such as "15 EUR"
#   outcomes  a list of {"category", "action", "reason"} (what an erasure removed, anonymised,
#             kept and why, or what another company holds); see connectors.ErasureReport
FIELD_TYPES = ("text", "date", "amount", "outcomes")
# The actions of an erasure outcome (connectors.base.ERASURE_ACTIONS).
OUTCOME_ACTIONS = ("removed", "anonymised", "kept", "elsewhere")


@dataclass(frozen=True)
class LetterField:
    """One thing staff write into a letter (kept in ``Letter.fields[name]``)."""

    name: str
    label: LazyString
    type: str = "text"
    required: bool = True
    help: LazyString | None = None


@dataclass(frozen=True)
class Variant:
    """What differs between the completion letters of two rights."""

    fields: tuple[LetterField, ...] = ()
    # Numbers of GDPR articles ("15", "12(3)").
    articles: tuple[str, ...] = ()


@dataclass(frozen=True)
class LetterKind:
    key: str
    # What staff see in the console.
    label: LazyString
    # The subject line, in the letter and in the mail that carries it ("%(reference)s").
    subject: LazyString
    fields: tuple[LetterField, ...] = ()
    articles: tuple[str, ...] = ()
    # Per request kind (completion letters): added to ``fields`` and ``articles``.
    variants: Mapping[str, Variant] = field(default_factory=dict)
    # A legal letter announces a decision or a change of the request's state: it is sent only
    # by the action that makes that change, with it (staff/services.py); the letters panel
    # previews it and never sends it.
    legal: bool = False

    @property
    def template(self) -> str:
        return f"letters/{self.key}.html"

    def subject_for(self, reference: str) -> str:
        """The subject line in the current locale (call it inside force_locale)."""
        return str(self.subject) % {"reference": reference}

    def supports(self, request_kind: str) -> bool:
        return not self.variants or request_kind in self.variants

    def fields_for(self, request_kind: str) -> tuple[LetterField, ...]:
        variant = self.variants.get(request_kind)
        return self.fields + (variant.fields if variant else ())

    def articles_for(self, request_kind: str) -> tuple[str, ...]:
        """Every article the letter cites, in the order of first mention, each once."""
        variant = self.variants.get(request_kind)
        cited = self.articles + (variant.articles if variant else ())
        return tuple(dict.fromkeys(cited))


REASONS = LetterField(
    "reasons",
    _l("Reasons"),
    help=_l("Written to the requester as they are: say why, in words they understand."),
)
NOTE = LetterField(
    "note",
    _l("Additional information (optional)"),
    required=False,
    help=_l("A paragraph added before the signature."),
)

# Access and portability letters name the copy sent with them.
_COPY_NAME = LetterField(
    "copy_name",
    _l("Name of the copy's file (optional)"),
    required=False,
    help=_l("The file of the requester's data sent with this letter."),
)

_COMPLETION_VARIANTS: dict[str, Variant] = {
    "access": Variant(
        fields=(_COPY_NAME,),
        articles=("15",),
    ),
    "portability": Variant(
        fields=(_COPY_NAME,),
        articles=("20",),
    ),
    "erasure": Variant(
        fields=(
            LetterField(
                "outcomes",
                _l("What was erased, what was kept and why"),
                type="outcomes",
                help=_l("The report of the erasure: one line per category of data."),
            ),
        ),
        articles=("17", "19"),
    ),
    "rectification": Variant(
        fields=(LetterField("changes", _l("What was corrected")),),
        articles=("16", "19"),
    ),
    "restriction": Variant(
        fields=(LetterField("restricted", _l("What is restricted, and until when")),),
        articles=("18", "19"),
    ),
    "objection_processing": Variant(
        fields=(LetterField("outcome", _l("What was stopped")),),
        articles=("21(1)",),
    ),
    "objection_profiling": Variant(
        fields=(LetterField("outcome", _l("What was stopped")),),
        articles=("21", "22"),
    ),
    "objection_marketing": Variant(
        fields=(LetterField("outcome", _l("What was stopped")),),
        articles=("21(2)", "21(3)"),
    ),
    # Requests about a deceased person (French law 78-17, art. 85, cited in the letter's text):
    # the free confirmation of what was done.
    **{
        key: Variant(
            fields=(
                LetterField(
                    "done",
                    _l("What was done"),
                    help=_l("For a closure, the list given by the closing of the account."),
                ),
            )
        )
        for key in (
            "postmortem_estate",
            "postmortem_memories",
            "postmortem_closure",
            "postmortem_objection",
            "postmortem_update",
        )
    },
}

LETTER_KINDS: dict[str, LetterKind] = {
    kind.key: kind
    for kind in (
        LetterKind(
            key="acknowledgement",
            label=_l("Acknowledgement of receipt"),
            subject=_l("Acknowledgement of your request %(reference)s"),
            fields=(NOTE,),
            articles=("12(3)",),
        ),
        LetterKind(
            key="identity_request",
            label=_l("Request for proof of identity"),
            subject=_l("Your request %(reference)s: proof of identity needed"),
            fields=(
                LetterField(
                    "reason",
                    _l("Why the identity is in doubt"),
                    help=_l("Art. 12(6): a proof may only be asked for reasonable doubts."),
                ),
                NOTE,
            ),
            articles=("12(6)", "12(3)"),
            legal=True,
        ),
        LetterKind(
            key="clarification_request",
            label=_l("Request for clarification"),
            subject=_l("Your request %(reference)s: we need more information"),
            fields=(LetterField("questions", _l("Questions to the requester")), NOTE),
            articles=("12(2)", "12(3)"),
            legal=True,
        ),
        LetterKind(
            key="extension_notice",
            label=_l("Extension of the time limit"),
            subject=_l("Your request %(reference)s: extension of the time limit"),
            # The new due date is computed (three months from the start of the clock, with
            # the suspensions), never typed: rights.clock.due_date_on.
            fields=(REASONS, NOTE),
            articles=("12(3)",),
            legal=True,
        ),
        LetterKind(
            key="refusal",
            label=_l("Refusal"),
            subject=_l("Your request %(reference)s: our decision"),
            fields=(REASONS, NOTE),
            articles=("12(4)", "77", "79"),
            legal=True,
        ),
        LetterKind(
            key="completion",
            label=_l("Request completed"),
            subject=_l("Your request %(reference)s: our answer"),
            fields=(NOTE,),
            articles=("12(3)",),
            variants=_COMPLETION_VARIANTS,
            legal=True,
        ),
        LetterKind(
            key="fee_notice",
            label=_l("Fee notice"),
            subject=_l("Your request %(reference)s: fee for a further copy"),
            fields=(
                LetterField("amount", _l("Amount"), type="amount", help=_l("For example 15 EUR.")),
                REASONS,
                NOTE,
            ),
            articles=("12(5)", "15(3)"),
        ),
    )
}


def get_letter_kind(key: str) -> LetterKind | None:
    return LETTER_KINDS.get(key)
