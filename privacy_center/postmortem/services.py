"""Post-mortem directives of the living (French law 78-17, art. 85): record, change, withdraw,
certify and verify.

Plain functions with explicit arguments; they never look at the HTTP request or the session.
Every recording is a new version (nothing is overwritten); each version carries the SHA-256 of
its certificate's canonical content, printed on the certificate and checked by the
verification page.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import force_locale, format_date, format_datetime
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import audit
from ..letters.rendering import render_pdf
from ..models import Account
from ..models.postmortem import DIRECTIVE_CHOICES, PostmortemDirective
from ..models.types import utcnow
from ..operator import Operator
from ..rights import filing as rights_filing
from ..rights.kinds import POSTMORTEM_KINDS
from ..rights.references import FiledRequest
from ..uploads.checks import check_identity_document
from ..uploads.refusals import RejectedUpload

# The separate, specific consent to recording directives. A new wording gets a new version, so
# that each recorded version says which wording its holder agreed to.
CONSENT_WORDING_VERSION = "2026-11"
CONSENT_WORDING = _l(
    "I consent, separately from the general terms of use, to the recording of these directives "
    "about my personal data after my death, and to their being followed. I can change or "
    "withdraw them at any time."
)
# Every wording ever in force, by version: a certificate quotes the words its holder agreed to,
# not today's. Keep the old ones here when the wording changes.
CONSENT_WORDINGS = {CONSENT_WORDING_VERSION: CONSENT_WORDING}

CHOICE_LABELS = {
    "keep": _l("Keep"),
    "delete": _l("Delete"),
    "communicate": _l("Communicate to my designated person"),
}

MAX_NAME_LENGTH = 200
MAX_RELATION_LENGTH = 100
_HEX_64 = re.compile(r"[0-9a-f]{64}")


class InvalidDirectives(ValueError):
    """Some fields are wrong; ``errors`` maps each field name to a message a person can act on."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors.items()))


class NoDirectives(LookupError):
    """The account holder has no directives in force."""


# --- Reading ------------------------------------------------------------------------------------


def versions(session: Session, account: Account) -> list[PostmortemDirective]:
    """Every version recorded for the account, newest first."""
    return list(
        session.scalars(
            select(PostmortemDirective)
            .where(PostmortemDirective.account_id == account.id)
            .order_by(PostmortemDirective.version.desc())
        )
    )


def current_directives(session: Session, account: Account) -> PostmortemDirective | None:
    """The version in force: the latest one, unless it was withdrawn."""
    latest = session.scalars(
        select(PostmortemDirective)
        .where(PostmortemDirective.account_id == account.id)
        .order_by(PostmortemDirective.version.desc())
        .limit(1)
    ).first()
    if latest is None or latest.withdrawn_at is not None:
        return None
    return latest


# --- The fingerprint ----------------------------------------------------------------------------


def canonical_content(directive: PostmortemDirective) -> bytes:
    """What the certificate certifies, as canonical JSON (sorted keys, no spaces, UTF-8).

    Only what was recorded with the version: a later change of the account's email or a
    withdrawal does not change a certificate already issued.
    """
    document = {
        "account": directive.account_id,
        "version": directive.version,
        "choices": {key: directive.choices[key] for key in sorted(directive.choices)},
        "communicate_nothing": directive.communicate_nothing,
        "designated_person": {
            "name": directive.designated_name,
            "email": directive.designated_email,
            "relation": directive.designated_relation,
        },
        "consent": {
            "wording_version": directive.consent_wording_version,
            "given_at": directive.consent_given_at.isoformat(timespec="seconds"),
        },
        "language": directive.language,
        "recorded_at": directive.recorded_at.isoformat(timespec="seconds"),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_fingerprint(directive: PostmortemDirective) -> str:
    return hashlib.sha256(canonical_content(directive)).hexdigest()


def normalise_fingerprint(value: str) -> str:
    """Lower-case hex without the spaces, colons or dashes a person may copy with it; "" when
    what remains is not 64 hexadecimal digits."""
    compact = "".join(char for char in str(value).lower() if char not in " :-\t\r\n")
    return compact if _HEX_64.fullmatch(compact) else ""


def group_fingerprint(fingerprint: str) -> str:
    """The fingerprint in groups of 8, easier to read and compare on paper."""
    return " ".join(fingerprint[index : index + 8] for index in range(0, len(fingerprint), 8))


@dataclass(frozen=True)
class Verification:
    directive: PostmortemDirective
    # "current", "superseded" (a later version exists) or "withdrawn".
    status: str
    # False when the stored version no longer gives the fingerprint it was recorded with.
    intact: bool


def verify_fingerprint(session: Session, value: str) -> Verification | None:
    """The version a certificate's fingerprint belongs to, and whether it is still in force;
    None when the value is not a fingerprint or matches no certificate."""
    fingerprint = normalise_fingerprint(value)
    if not fingerprint:
        return None
    directive = session.scalars(
        select(PostmortemDirective).where(PostmortemDirective.fingerprint == fingerprint)
    ).first()
    if directive is None:
        return None
    latest = session.scalar(
        select(func.max(PostmortemDirective.version)).where(
            PostmortemDirective.account_id == directive.account_id
        )
    )
    if directive.withdrawn_at is not None:
        status = "withdrawn"
    elif latest != directive.version:
        status = "superseded"
    else:
        status = "current"
    return Verification(directive, status, compute_fingerprint(directive) == fingerprint)


# --- Recording ----------------------------------------------------------------------------------


def _validate(
    *,
    choices: Mapping[str, str],
    category_keys: Sequence[str],
    communicate_nothing: bool,
    designated_name: str,
    designated_email: str,
    designated_relation: str,
    consent: bool,
) -> tuple[dict[str, str], str | None, str | None, str | None]:
    errors: dict[str, str] = {}
    unknown = set(choices) - set(category_keys)
    if unknown:
        raise InvalidDirectives({"choices": f"unknown data categories: {sorted(unknown)}"})
    clean: dict[str, str] = {}
    for key in category_keys:
        value = str(choices.get(key) or "")
        if value not in DIRECTIVE_CHOICES:
            errors[f"choice_{key}"] = str(_l("Choose what should be done with these data."))
        else:
            clean[key] = value
    name = (designated_name or "").strip()
    email = (designated_email or "").strip()
    relation = (designated_relation or "").strip()
    wants_person = bool(name or email or relation)
    communicating = any(value == "communicate" for value in clean.values())
    if communicate_nothing:
        if communicating:
            errors["communicate_nothing"] = str(
                _l(
                    "You asked that nothing be communicated after your death: choose keep or "
                    "delete for every category, or untick this box."
                )
            )
        if wants_person:
            errors["communicate_nothing"] = str(
                _l(
                    "You asked that nothing be communicated after your death: remove the "
                    "designated person, or untick this box."
                )
            )
    normalised_email: str | None = None
    if wants_person or communicating:
        if not name:
            errors["designated_name"] = str(_l("Enter the designated person's full name."))
        elif len(name) > MAX_NAME_LENGTH:
            errors["designated_name"] = str(
                _l("This text is too long (at most %(max)d characters).", max=MAX_NAME_LENGTH)
            )
        try:
            normalised_email = validate_email(email, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            errors["designated_email"] = str(
                _l("Enter a valid email address, like name@example.com.")
            )
        if not relation:
            errors["designated_relation"] = str(
                _l("Say who this person is to you (child, spouse, friend, ...).")
            )
        elif len(relation) > MAX_RELATION_LENGTH:
            errors["designated_relation"] = str(
                _l("This text is too long (at most %(max)d characters).", max=MAX_RELATION_LENGTH)
            )
    if not consent:
        errors["consent"] = str(
            _l("Your directives can only be recorded with your specific consent: tick the box.")
        )
    if errors:
        raise InvalidDirectives(errors)
    if not (wants_person or communicating):
        return clean, None, None, None
    return clean, name, normalised_email, relation


def record_directives(
    session: Session,
    *,
    account: Account,
    choices: Mapping[str, str],
    category_keys: Sequence[str],
    communicate_nothing: bool,
    designated_name: str,
    designated_email: str,
    designated_relation: str,
    consent: bool,
    language: str,
    now: datetime | None = None,
) -> PostmortemDirective:
    """Record a new version of the holder's directives (a first one, or a change) and commit.

    ``category_keys`` are the data categories the holder decides about (connectors.yaml), each
    of which needs a choice in ``choices``. ``consent`` is the separate, specific consent
    (its own checkbox): without it nothing is recorded. Raises :class:`InvalidDirectives`.
    """
    clean, name, email, relation = _validate(
        choices=choices,
        category_keys=category_keys,
        communicate_nothing=communicate_nothing,
        designated_name=designated_name,
        designated_email=designated_email,
        designated_relation=designated_relation,
        consent=consent,
    )
    # Whole seconds: the certificate prints them, and the fingerprint must be recomputable.
    moment = (now or utcnow()).replace(microsecond=0)
    try:
        latest = session.scalar(
            select(func.max(PostmortemDirective.version)).where(
                PostmortemDirective.account_id == account.id
            )
        )
        directive = PostmortemDirective(
            account_id=account.id,
            version=(latest or 0) + 1,
            choices=clean,
            communicate_nothing=communicate_nothing,
            designated_name=name,
            designated_email=email,
            designated_relation=relation,
            consent_wording_version=CONSENT_WORDING_VERSION,
            consent_given_at=moment,
            language=language,
            recorded_at=moment,
        )
        directive.fingerprint = compute_fingerprint(directive)
        session.add(directive)
        session.flush()
        _commit_audited(session, account, "postmortem.directives_recorded", directive, moment)
    except BaseException:
        session.rollback()
        raise
    return directive


def withdraw_directives(
    session: Session, *, account: Account, now: datetime | None = None
) -> PostmortemDirective:
    """Withdraw the directives in force (the version is kept, marked withdrawn) and commit.
    Raises :class:`NoDirectives` when none are in force."""
    directive = current_directives(session, account)
    if directive is None:
        raise NoDirectives(f"account {account.id} has no directives in force")
    moment = now or utcnow()
    try:
        directive.withdrawn_at = moment
        _commit_audited(session, account, "postmortem.directives_withdrawn", directive, moment)
    except BaseException:
        session.rollback()
        raise
    return directive


def _commit_audited(
    session: Session,
    account: Account,
    action: str,
    directive: PostmortemDirective,
    moment: datetime,
) -> None:
    audit.record(
        session,
        actor=f"account:{account.id}",
        action=action,
        details={"version": directive.version, "fingerprint": directive.fingerprint},
        at=moment,
    )
    session.commit()


# --- The certificate ----------------------------------------------------------------------------


def certificate_pdf(
    directive: PostmortemDirective,
    *,
    account: Account,
    category_labels: Mapping[str, str],
    operator: Operator,
    issued_on: date,
    language: str,
    verify_url: str,
) -> bytes:
    """The dated PDF certificate of one version, in ``language`` (the holder's), with its
    fingerprint. ``category_labels`` are the categories' labels in that language;
    ``verify_url`` is the privacy center's own check page (``postmortem.verify``)."""
    with force_locale(language):
        rows = [
            (category_labels.get(key, key), str(CHOICE_LABELS[value]))
            for key, value in directive.choices.items()
        ]
        html = current_app.jinja_env.get_template("postmortem/certificate.html").render(
            lang=language,
            operator=operator,
            account=account,
            directive=directive,
            rows=rows,
            issued_on=format_date(issued_on, "long"),
            recorded_at=format_datetime(directive.recorded_at, "long"),
            consent_given_at=format_datetime(directive.consent_given_at, "long"),
            consent_wording=str(CONSENT_WORDINGS[directive.consent_wording_version]),
            fingerprint=group_fingerprint(directive.fingerprint),
            verify_url=verify_url,
        )
    return render_pdf(html, stylesheets=("css/letter.css",))


# --- Requests of heirs, designated persons and notaries ----------------------------------------

# The three documents of every post-mortem request: (IdentityDocument.kind, error message).
POSTMORTEM_DOCUMENTS = {
    "death_certificate": _l("Choose the file of the death certificate."),
    "heirship": _l(
        "Choose the file that proves you may act (designation, or notarial deed of heirship)."
    ),
    "heir_identity": _l("Choose the file of your identity document."),
}


def file_postmortem_request(
    session: Session,
    *,
    kind: str,
    email: str,
    name: str,
    language: str,
    details: str,
    deceased_name: str,
    deceased_identifier: str,
    capacity: str,
    documents: Mapping[str, tuple[str, bytes] | None],
    today: date,
    settings: Mapping[str, Any],
) -> FiledRequest:
    """File a request about a deceased account holder through the request machinery (same
    states, deadlines, audit and letters as every request).

    ``kind`` is a key of ``rights.kinds.POSTMORTEM_KINDS`` (the purpose art. 85 allows);
    ``documents`` maps each key of :data:`POSTMORTEM_DOCUMENTS` to (file name, bytes): all three
    are required, and each is checked by ``uploads.checks.check_identity_document``. The requester
    always confirms their email address (they never act through their own account). Raises
    ``rights.filing.InvalidRequest``, a refused file's message under its document key.
    """
    if kind not in POSTMORTEM_KINDS:
        raise rights_filing.InvalidRequest(
            {"purpose": str(_l("Choose one of the answers offered."))}
        )
    missing = {
        key: str(message) for key, message in POSTMORTEM_DOCUMENTS.items() if not documents.get(key)
    }
    # Each file checked here first, so that a refusal is shown beside the file it is about.
    for key, upload in documents.items():
        if key in POSTMORTEM_DOCUMENTS and upload is not None:
            try:
                check_identity_document(*upload)
            except RejectedUpload as error:
                missing[key] = str(error)
    if missing:
        raise rights_filing.InvalidRequest(missing)
    uploads = [
        (key, *upload) for key in POSTMORTEM_DOCUMENTS if (upload := documents[key]) is not None
    ]
    return rights_filing.file_request(
        session,
        kind=kind,
        email=email,
        name=name,
        language=language,
        details=details,
        specifics={
            "deceased_name": deceased_name,
            "deceased_identifier": deceased_identifier,
            "capacity": capacity,
        },
        account=None,
        document=None,
        documents=uploads,
        today=today,
        settings=settings,
    )
