"""The kinds of request a person can file, declared as data.

Each kind says what it is called, what it does in one sentence, which article of the GDPR it
rests on, which structured fields it needs besides the free text (kept in
``PrivacyRequest.specifics``), whether the operator's identity-document setting applies to it, and
what takes effect at once when it is filed. The form, the service and the pages read these
declarations: a new kind (the post-mortem requests, for instance) is a new entry here, not a new
branch in the code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy.orm import Session

from ..accounts.preferences import unsubscribe_all
from ..models import PrivacyRequest


@dataclass(frozen=True)
class SpecificField:
    """A structured field of one kind of request (stored in ``specifics[name]``)."""

    name: str
    label: LazyString
    description: LazyString | None = None
    required: bool = True
    # A drop-down list when given: (value, label) pairs.
    choices: tuple[tuple[str, LazyString], ...] = ()
    # A text area rather than a one-line field.
    multiline: bool = False
    max_length: int = 500

    def choice_label(self, value: str) -> str:
        """The label of a stored choice (the value itself for free text or a retired choice)."""
        return str(dict(self.choices).get(value, value))


# Applied in the same transaction as the filing; returns a note for the request's history.
Effect = Callable[[Session, PrivacyRequest], str]


def _gdpr(articles: str) -> LazyString:
    """The regulation's name in the reader's language: RGPD in French and Spanish, DSGVO in
    German."""
    return _l("GDPR art. %(articles)s", articles=articles)


DETAILS_LABEL = _l("Anything else we should know (optional)")


@dataclass(frozen=True)
class RequestKind:
    key: str
    label: LazyString
    # One sentence a person understands without knowing the law.
    explanation: LazyString
    # The legal basis, shown beside the label ("GDPR art. 15", "RGPD art. 15" in French).
    article: str | LazyString
    fields: tuple[SpecificField, ...] = ()
    # Whether the free-text details are needed (they are optional when structured fields say it
    # all, or when the kind needs nothing more).
    details_required: bool = False
    details_label: LazyString = DETAILS_LABEL
    # Whether the operator's identity_document setting applies. An objection to marketing only
    # stops mails to an address, once its holder confirms it: a document would protect nothing.
    identity_document: bool = True
    # What happens, before anyone works on the request, as soon as the requester has shown the
    # email address is theirs: at filing when signed in to it (or, entered by staff, when it
    # came by email from it), otherwise when the emailed confirmation link is used. Never on a
    # stranger's word: anyone can type someone else's address.
    effect: Effect | None = None

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(field.name for field in self.fields)


def _stop_marketing(session: Session, request: PrivacyRequest) -> str:
    """Art. 21(3): after an objection, personal data are no longer processed for direct
    marketing. The operator stops as soon as the objection is known to come from the holder of
    the address, whatever the rest of the request becomes."""
    unsubscribe_all(
        session, email=request.email, method="objection", request_reference=request.reference
    )
    return "marketing communications stopped for this email address"


RECTIFIABLE_DATA: tuple[tuple[str, LazyString], ...] = (
    ("civility", _l("Civility")),
    ("first_name", _l("First name")),
    ("last_name", _l("Last name")),
    ("email", _l("Email address")),
    ("date_of_birth", _l("Date of birth")),
    ("phone", _l("Phone number")),
    ("company", _l("Company")),
    ("billing_address", _l("Billing address")),
    ("other", _l("Other (say which in the details)")),
)

RESTRICTION_GROUNDS: tuple[tuple[str, LazyString], ...] = (
    ("accuracy_contested", _l("I contest the accuracy of my data, while it is checked")),
    ("unlawful", _l("The processing is unlawful but I do not want my data erased")),
    ("legal_claims", _l("You no longer need my data but I need it for a legal claim")),
    ("objection_pending", _l("I objected to the processing, while my objection is examined")),
)

ERASURE_SCOPES: tuple[tuple[str, LazyString], ...] = (
    ("everything", _l("All my data, and close my account if I have one")),
    ("some", _l("Only some of my data (say which in the details)")),
)

KINDS: dict[str, RequestKind] = {
    kind.key: kind
    for kind in (
        RequestKind(
            key="access",
            label=_l("Access my data"),
            explanation=_l(
                "Get a copy of the personal data we hold about you, with what we use it for, "
                "who receives it and how long we keep it."
            ),
            article=_gdpr("15"),
        ),
        RequestKind(
            key="rectification",
            label=_l("Correct my data"),
            explanation=_l("Have inaccurate or incomplete data about you corrected."),
            article=_gdpr("16"),
            fields=(
                SpecificField(
                    "data_item",
                    _l("Which data is wrong?"),
                    choices=RECTIFIABLE_DATA,
                ),
                SpecificField(
                    "new_value",
                    _l("What should it be?"),
                    _l("The correct value, exactly as it should be recorded."),
                    max_length=500,
                ),
            ),
        ),
        RequestKind(
            key="erasure",
            label=_l("Erase my data"),
            explanation=_l(
                "Have your personal data deleted, except what the law obliges us to keep "
                "(invoices, for example)."
            ),
            article=_gdpr("17"),
            fields=(SpecificField("scope", _l("What should be erased?"), choices=ERASURE_SCOPES),),
        ),
        RequestKind(
            key="restriction",
            label=_l("Restrict the use of my data"),
            explanation=_l(
                "Have your data kept but no longer used, for example while a correction you "
                "asked for is checked."
            ),
            article=_gdpr("18"),
            fields=(SpecificField("ground", _l("Why?"), choices=RESTRICTION_GROUNDS),),
        ),
        RequestKind(
            key="portability",
            label=_l("Take my data elsewhere"),
            explanation=_l(
                "Receive the data you gave us in a machine-readable format (JSON and CSV), to "
                "reuse it with another service."
            ),
            article=_gdpr("20"),
            fields=(
                SpecificField(
                    "transmit_to",
                    _l("Send it directly to another organisation (optional)"),
                    _l("Its name and contact address, if you want us to send it for you."),
                    required=False,
                    max_length=300,
                ),
            ),
        ),
        RequestKind(
            key="objection_processing",
            label=_l("Object to a use of my data"),
            explanation=_l(
                "Ask us to stop a use of your data based on our legitimate interest, for "
                "reasons related to your particular situation."
            ),
            article=_gdpr("21(1)"),
            fields=(
                SpecificField(
                    "situation",
                    _l("Your reasons"),
                    _l("Which use you object to, and what in your situation justifies it."),
                    multiline=True,
                    max_length=3000,
                ),
            ),
        ),
        RequestKind(
            key="objection_profiling",
            label=_l("Object to profiling"),
            explanation=_l(
                "Ask us to stop analysing your activity to infer your interests or predict "
                "your behaviour."
            ),
            article=_gdpr("21, 22"),
        ),
        RequestKind(
            key="objection_marketing",
            label=_l("Stop marketing"),
            explanation=_l(
                "Stop receiving news and offers from us by email or text message; this takes "
                "effect at once if you are signed in, otherwise as soon as you confirm the "
                "request with the link we email to your address."
            ),
            article=_gdpr("21(2), 21(3)"),
            identity_document=False,
            effect=_stop_marketing,
        ),
    )
}


# Requests of heirs, designated persons and notaries about a deceased account holder (French law
# 78-17, art. 85). One kind per purpose the law allows; they are filed through the post-mortem
# form (postmortem/), which always takes the three documents, never through the form of KINDS.
POSTMORTEM_CAPACITIES: tuple[tuple[str, LazyString], ...] = (
    ("designated_person", _l("The person designated by the deceased in their directives")),
    ("heir", _l("An heir")),
    ("notary", _l("A notary acting for the heirs")),
)

_POSTMORTEM_FIELDS = (
    SpecificField("deceased_name", _l("Full name of the deceased"), max_length=200),
    SpecificField(
        "deceased_identifier",
        _l("The deceased's email address or account reference"),
        _l("The address they used with us, or a reference from an invoice or a letter."),
        max_length=254,
    ),
    SpecificField("capacity", _l("You are acting as"), choices=POSTMORTEM_CAPACITIES),
)

POSTMORTEM_ARTICLE = "Loi 78-17 art. 85"

POSTMORTEM_KINDS: dict[str, RequestKind] = {
    kind.key: kind
    for kind in (
        RequestKind(
            key="postmortem_estate",
            label=_l("Information needed to settle the estate"),
            explanation=_l(
                "Receive the information about the deceased that is needed to settle their "
                "estate, such as contracts and invoices."
            ),
            article=POSTMORTEM_ARTICLE,
            fields=_POSTMORTEM_FIELDS,
        ),
        RequestKind(
            key="postmortem_memories",
            label=_l("Digital assets and family memories"),
            explanation=_l(
                "Receive the deceased's digital assets, or data that are family memories, that "
                "can be passed on to their heirs."
            ),
            article=POSTMORTEM_ARTICLE,
            fields=_POSTMORTEM_FIELDS,
        ),
        RequestKind(
            key="postmortem_closure",
            label=_l("Close the deceased's account"),
            explanation=_l(
                "Have the account closed, its consents withdrawn and marketing stopped; what the "
                "law obliges us to keep (invoices) is kept."
            ),
            article=POSTMORTEM_ARTICLE,
            fields=_POSTMORTEM_FIELDS,
        ),
        RequestKind(
            key="postmortem_objection",
            label=_l("Object to any further processing"),
            explanation=_l("Have us stop using the deceased's data."),
            article=POSTMORTEM_ARTICLE,
            fields=_POSTMORTEM_FIELDS,
        ),
        RequestKind(
            key="postmortem_update",
            label=_l("Update the deceased's data"),
            explanation=_l("Have the death recorded and the deceased's data brought up to date."),
            article=POSTMORTEM_ARTICLE,
            fields=_POSTMORTEM_FIELDS,
            details_required=True,
            details_label=_l("What should be updated?"),
        ),
    )
}


def get_kind(key: str) -> RequestKind | None:
    return KINDS.get(key) or POSTMORTEM_KINDS.get(key)
