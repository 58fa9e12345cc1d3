"""What staff need to handle a post-mortem request (French law 78-17, art. 85): the deceased's
account and directives, who may act, whether a release of data is allowed, and closing the
account.

Plain functions with explicit arguments; they flush, the staff console's services
(``staff/services.py``) commit. The console's request page shows :func:`staff_view` first,
records a release of data with :func:`record_release` (checked by :func:`check_release`) and
closes accounts with :func:`close_account`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from flask_babel import force_locale, gettext, ngettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import audit
from ..accounts.preferences import unsubscribe_all
from ..models import Account, Invoice, PrivacyRequest
from ..models.postmortem import PostmortemDirective
from ..models.types import utcnow
from ..rights.kinds import POSTMORTEM_KINDS
from ..session_records import revoke_all
from .services import CHOICE_LABELS, current_directives


class ReleaseBlocked(ValueError):
    """Communicating these data would go against the deceased's directives.

    ``against``: the category keys the directives do not allow to communicate to this
    requester; ``communicate_nothing``: the deceased asked that nothing be communicated."""

    def __init__(
        self, message: str, against: Sequence[str] = (), *, communicate_nothing: bool = False
    ) -> None:
        super().__init__(message)
        self.against = tuple(against)
        self.communicate_nothing = communicate_nothing


def deceased_account(session: Session, identifier: str) -> Account | None:
    """The account a post-mortem request is about: by its email address, or by the number of
    one of its invoices (the "account reference" a family finds in the deceased's papers)."""
    value = (identifier or "").strip()
    if not value:
        return None
    account = session.scalars(select(Account).where(Account.email == value.lower())).first()
    if account is not None:
        return account
    return session.scalars(
        select(Account)
        .join(Invoice, Invoice.account_id == Account.id)
        .where(Invoice.number == value)
    ).first()


def directives_for_request(
    session: Session, request: PrivacyRequest
) -> tuple[Account | None, PostmortemDirective | None]:
    """The deceased's account and the directives in force, for a post-mortem request."""
    if request.kind not in POSTMORTEM_KINDS:
        raise ValueError(f"{request.reference} is not a post-mortem request")
    account = deceased_account(session, str(request.specifics.get("deceased_identifier", "")))
    if account is None:
        return None, None
    return account, current_directives(session, account)


@dataclass(frozen=True)
class Standing:
    # "designated_person": the requester is the person the deceased designated;
    # "heir_subordinate": a designated person exists and takes precedence over this requester;
    # "heir": no designated person, heirs and notaries act.
    role: str
    designated_email: str | None


def standing(request: PrivacyRequest, directive: PostmortemDirective | None) -> Standing:
    """Who the requester is with respect to the directives: a designated person takes
    precedence over heirs (art. 85-I), and is recognised by the address the deceased gave."""
    designated = directive.designated_email if directive is not None else None
    if designated and request.email == designated:
        return Standing("designated_person", designated)
    if designated:
        return Standing("heir_subordinate", designated)
    return Standing("heir", None)


def check_release(
    directive: PostmortemDirective | None,
    categories: list[str],
    *,
    estate_need: str = "",
    requester: Standing | None = None,
) -> list[str]:
    """The categories that may be communicated; raises :class:`ReleaseBlocked` when the
    directives forbid one ("communicate nothing", or a choice other than communicate) and
    staff recorded no estate-settlement need that requires it.

    With ``requester`` (their :func:`standing`), a "communicate" choice only allows
    communicating to the designated person: to anyone else (an heir, a notary) it counts as
    against the directives, as a keep or delete choice does.

    Returns what to write in the audit log: the categories released against the directives
    (with the need recorded), empty when the directives allow everything.
    """
    if directive is None:
        return []
    to_designated = requester is None or requester.role == "designated_person"
    against = [
        key
        for key in categories
        if directive.communicate_nothing
        or directive.choices.get(key) != "communicate"
        or not to_designated
    ]
    if against and not estate_need.strip():
        raise ReleaseBlocked(
            "the deceased's directives do not allow communicating "
            + ", ".join(against)
            + ("; they asked that nothing be communicated" if directive.communicate_nothing else "")
            + ": record which estate-settlement need requires it",
            against,
            communicate_nothing=directive.communicate_nothing,
        )
    return against


# The kinds whose answer communicates data of the deceased (art. 85-II: settling the estate,
# digital assets and family memories).
RELEASE_KINDS = frozenset({"postmortem_estate", "postmortem_memories"})
# The kinds answered by closing the deceased's account (closure, objection to processing).
CLOSURE_KINDS = frozenset({"postmortem_closure", "postmortem_objection"})


@dataclass(frozen=True)
class Release:
    """A release of the deceased's data recorded by staff."""

    categories: tuple[str, ...]
    # Released against the directives (with ``estate_need`` recorded); empty otherwise.
    against_directives: tuple[str, ...]
    estate_need: str


def record_release(
    session: Session,
    request: PrivacyRequest,
    *,
    categories: Sequence[str],
    estate_need: str = "",
    actor: str,
    now: datetime | None = None,
) -> Release:
    """Record that the data of ``categories`` are communicated to the requester, after
    checking them against the deceased's directives and the requester's standing (raises
    :class:`ReleaseBlocked` before anything is written). The audit event keeps the categories,
    those released against the directives, the estate-settlement need and who did it. Flushes
    only."""
    if request.kind not in RELEASE_KINDS:
        raise ValueError(f"{request.reference} does not ask for data ({request.kind})")
    chosen = list(dict.fromkeys(categories))
    if not chosen:
        raise ValueError("choose the data to communicate")
    need = (estate_need or "").strip()
    _, directive = directives_for_request(session, request)
    requester = standing(request, directive)
    against = check_release(directive, chosen, estate_need=need, requester=requester)
    release = Release(tuple(chosen), tuple(against), need)
    audit.record(
        session,
        actor=actor,
        action="postmortem.data_released",
        request_id=request.id,
        details={
            "categories": chosen,
            "against_directives": against,
            "estate_need": need,
            "requester": requester.role,
            "directive_version": directive.version if directive is not None else None,
        },
        at=now or utcnow(),
    )
    session.flush()
    return release


def released_categories(session: Session, request: PrivacyRequest) -> list[str]:
    """Every category recorded as communicated for this request, in the order released."""
    keys: dict[str, None] = {}
    for event in audit.events_of_request(session, request.id):
        if event.action == "postmortem.data_released":
            keys.update(dict.fromkeys(event.details.get("categories", [])))
    return list(keys)


def release_lines(
    categories: Sequence[str], category_labels: Mapping[str, str], language: str
) -> list[str]:
    """What was communicated, in ``language`` (``category_labels`` in that language too):
    the confirmation letter's "done" field. Empty when nothing was released."""
    if not categories:
        return []
    with force_locale(language):
        return [
            gettext(
                "We communicated to you the following data of the deceased: %(categories)s.",
                categories=", ".join(category_labels.get(key, key) for key in categories),
            )
        ]


@dataclass(frozen=True)
class ClosureReport:
    """What closing a deceased holder's account did."""

    deactivated: bool
    # Proofs recorded by the withdrawal of every communication consent (marketing stopped).
    consents_withdrawn: int
    invoices_kept: int

    def lines(self, language: str) -> list[str]:
        """What was done, in ``language``: the confirmation letter's "done" field."""
        with force_locale(language):
            lines = [
                gettext("The account was closed.")
                if self.deactivated
                else gettext("The account was already closed."),
                gettext(
                    "Every consent to receive news and offers was withdrawn; no marketing "
                    "will be sent any more."
                ),
                ngettext(
                    "%(num)d invoice is kept, as accounting law requires (10 years).",
                    "%(num)d invoices are kept, as accounting law requires (10 years).",
                    self.invoices_kept,
                )
                if self.invoices_kept
                else gettext("No invoice had to be kept."),
            ]
        return lines


def close_account(
    session: Session,
    account: Account,
    *,
    request: PrivacyRequest,
    actor: str,
    now: datetime | None = None,
) -> ClosureReport:
    """Close a deceased holder's account: deactivate it, withdraw every communication consent
    and stop marketing; invoices stay (kept 10 years by accounting law). Flushes only; the
    report says what was done (audit log, and the confirmation letter through ``lines``)."""
    moment = now or utcnow()
    deactivated = account.deactivated_at is None
    if deactivated:
        account.deactivated_at = moment
    # Whoever is still signed in to the account is signed out.
    revoke_all(session, account, reason="deactivated", now=moment)
    withdrawn = unsubscribe_all(
        session,
        email=account.email,
        method="objection",
        request_reference=request.reference,
        now=moment,
    )
    invoices = session.scalar(
        select(func.count()).select_from(Invoice).where(Invoice.account_id == account.id)
    )
    report = ClosureReport(deactivated, withdrawn, invoices)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="postmortem.account_closed",
        request_id=request.id,
        details={
            "account": account.id,
            "deactivated": deactivated,
            "consents_withdrawn": withdrawn,
            "invoices_kept": invoices,
        },
        at=moment,
    )
    return report


@dataclass(frozen=True)
class StaffView:
    """What the console's request page shows first for a post-mortem request."""

    account: Account | None
    directive: PostmortemDirective | None
    standing: Standing
    # (category label, choice) of the directives, in the page's language.
    rows: list[tuple[str, str]]


def staff_view(
    session: Session, request: PrivacyRequest, category_labels: dict[str, str]
) -> StaffView | None:
    """The deceased's account, directives and the requester's standing; None for a request
    that is not a post-mortem one."""
    if request.kind not in POSTMORTEM_KINDS:
        return None
    account, directive = directives_for_request(session, request)
    rows = (
        [
            (category_labels.get(key, key), str(CHOICE_LABELS.get(value, value)))
            for key, value in directive.choices.items()
        ]
        if directive is not None
        else []
    )
    return StaffView(account, directive, standing(request, directive), rows)
