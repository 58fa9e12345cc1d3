"""``content/recipients.yaml``: the operator's recipients and processors (art. 4(9), 28, 19 GDPR).

Read and checked once, when the application starts, after ``connectors.yaml`` (a recipient names
the data categories it holds, which must be categories declared there). A mistake stops start-up
with a :class:`~privacy_center.operator.ContentError` naming the file, the entry and the field.

Each entry says who the recipient is (name, processor or recipient, what it does, where it is and,
outside the European Union, the safeguard of the transfer), which categories of a person's data it
holds, and how it is told of an erasure, rectification or restriction (article 19): an HTTP call
(``url``, ``token_env``, ``timeout_seconds``, as the HTTP connectors) or an email address.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app

from ..operator import ContentError, Translated, read_yaml, require

EXTENSION_KEY = "privacy_center.recipients"
KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
URL = re.compile(r"^https?://[^/\s]+\S*$")
# A processor acts on the operator's behalf (art. 28); a recipient receives data for its own
# purposes (advertising partners, social networks). Both are told (art. 4(9), 19).
ROLES = ("processor", "recipient")
CHANNELS = ("http", "email")
MAX_RETRIES = 20


@dataclass(frozen=True)
class Contact:
    """How a recipient is told: an HTTP call or an email."""

    channel: str
    # http: the endpoint, the environment variable holding its bearer token, the timeout.
    url: str | None = None
    token_env: str | None = None
    timeout_seconds: float = 10.0
    # email: the address, and the language of the mail.
    email: str | None = None
    language: str | None = None
    # How many more times a failed notification is tried (by ``flask recipients notify``),
    # waiting ``backoff_seconds``, then twice as long each time.
    retries: int = 10
    backoff_seconds: float = 300.0


@dataclass(frozen=True)
class Recipient:
    key: str
    name: Translated
    role: str
    does: Translated
    location: Translated
    outside_eu: bool
    # The safeguard of a transfer outside the EU (art. 46: standard contractual clauses...).
    safeguard: Translated | None
    categories: tuple[str, ...]
    contact: Contact

    def holds_any(self, categories: Collection[str]) -> bool:
        return any(category in categories for category in self.categories)


@dataclass(frozen=True)
class RecipientRegister:
    recipients: tuple[Recipient, ...]
    # The file it was read from, for error messages.
    path: Path | None = None

    def get(self, key: str) -> Recipient | None:
        return next((item for item in self.recipients if item.key == key), None)

    def concerned(self, categories: Collection[str]) -> list[Recipient]:
        """The recipients holding at least one of ``categories``, in the file's order."""
        return [item for item in self.recipients if item.holds_any(categories)]

    def held_categories(self) -> list[str]:
        """Every category some recipient holds, each once, in the order first named."""
        return list(dict.fromkeys(key for item in self.recipients for key in item.categories))


def _text(value: Any, languages: tuple[str, ...], where: str) -> Translated:
    """A text per language, or one text for every language (a company's own name)."""
    if isinstance(value, str) and value.strip():
        return Translated({language: value.strip() for language in languages})
    return Translated.parse(value, languages, where)


def _number(raw: dict[str, Any], name: str, default: float, where: str) -> float:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ContentError(f"{where}: {name} must be a number of seconds above 0 (got {value!r})")
    return float(value)


def _load_contact(raw: Any, languages: tuple[str, ...], where: str) -> Contact:
    where = f"{where}: contact"
    if not isinstance(raw, dict) or not (raw.get("url") or raw.get("email")):
        raise ContentError(
            f"{where}: missing; say how the recipient is told of an erasure, rectification or "
            "restriction: url (an HTTP endpoint) or email (an address)"
        )
    if raw.get("url") and raw.get("email"):
        raise ContentError(f"{where}: give url or email, not both")
    unknown = sorted(
        set(raw)
        - {"url", "token_env", "timeout_seconds", "email", "language", "retries", "backoff_seconds"}
    )
    if unknown:
        raise ContentError(f"{where}: unknown setting(s) {', '.join(unknown)}")
    retries = raw.get("retries", 10)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES:
        raise ContentError(
            f"{where}: retries is a whole number from 0 to {MAX_RETRIES} (got {retries!r})"
        )
    backoff = _number(raw, "backoff_seconds", 300.0, where)
    if raw.get("url"):
        url = raw["url"]
        if not isinstance(url, str) or not URL.match(url):
            raise ContentError(f"{where}: url must look like https://partner.example.com/gdpr")
        token_env = raw.get("token_env")
        if token_env is not None and (
            not isinstance(token_env, str) or not ENV_NAME.match(token_env)
        ):
            raise ContentError(
                f"{where}: token_env must name an environment variable, like PARTNER_TOKEN"
            )
        if "language" in raw:
            raise ContentError(f"{where}: language is for an email contact")
        return Contact(
            channel="http",
            url=url,
            token_env=token_env,
            timeout_seconds=_number(raw, "timeout_seconds", 10.0, where),
            retries=retries,
            backoff_seconds=backoff,
        )
    address = raw["email"]
    if not isinstance(address, str) or not EMAIL.match(address):
        raise ContentError(f"{where}: email {address!r} is not an email address")
    extra = sorted({"token_env", "timeout_seconds"} & set(raw))
    if extra:
        raise ContentError(f"{where}: {', '.join(extra)} is for an HTTP contact (url)")
    language = raw.get("language", languages[0])
    if language not in languages:
        raise ContentError(
            f"{where}: language {language!r} is not one of the operator's ({', '.join(languages)})"
        )
    return Contact(
        channel="email", email=address, language=language, retries=retries, backoff_seconds=backoff
    )


def _load_recipient(raw: Any, index: int, languages: tuple[str, ...], path: Path) -> Recipient:
    if not isinstance(raw, dict):
        raise ContentError(f"{path}: recipients[{index}]: expected a mapping (key: value lines)")
    key = require(raw, "key", f"{path}: recipients[{index}]")
    if not isinstance(key, str) or not KEY.match(key):
        raise ContentError(
            f"{path}: recipients[{index}]: key {key!r} must be lower-case letters, digits and _"
        )
    where = f"{path}: recipient {key!r}"
    role = raw.get("role")
    if role not in ROLES:
        raise ContentError(f"{where}: role must be processor or recipient (got {role!r})")
    held = raw.get("categories")
    if not isinstance(held, list) or not held:
        raise ContentError(
            f"{where}: categories: name the data categories it holds (keys of connectors.yaml)"
        )
    if not all(isinstance(item, str) for item in held):
        raise ContentError(f"{where}: categories: a list of keys of connectors.yaml")
    outside_eu = raw.get("outside_eu", False)
    if not isinstance(outside_eu, bool):
        raise ContentError(f"{where}: outside_eu is true or false")
    safeguard = None
    if raw.get("safeguard") is not None:
        safeguard = _text(raw["safeguard"], languages, f"{where}: safeguard")
    elif outside_eu:
        raise ContentError(
            f"{where}: safeguard: a recipient outside the European Union needs the safeguard "
            "of the transfer (art. 46 GDPR: standard contractual clauses, ...)"
        )
    return Recipient(
        key=key,
        name=_text(require(raw, "name", where), languages, f"{where}: name"),
        role=role,
        does=_text(raw.get("does"), languages, f"{where}: does"),
        location=_text(raw.get("location"), languages, f"{where}: location"),
        outside_eu=outside_eu,
        safeguard=safeguard,
        categories=tuple(dict.fromkeys(held)),
        contact=_load_contact(raw.get("contact"), languages, where),
    )


def load_recipients(
    path: Path, languages: tuple[str, ...], categories: Collection[str] | None = None
) -> RecipientRegister:
    """Read and check ``recipients.yaml``; ``categories`` are the keys of connectors.yaml (None:
    checked later, with :func:`check_categories`, once the connectors are loaded)."""
    raw = read_yaml(path) or {}
    if not isinstance(raw, dict):
        raise ContentError(f"{path}: expected a list under 'recipients'")
    entries = raw.get("recipients") or []
    if not isinstance(entries, list):
        raise ContentError(f"{path}: recipients is a list of entries")
    recipients: list[Recipient] = []
    for index, entry in enumerate(entries):
        recipient = _load_recipient(entry, index, languages, path)
        if any(item.key == recipient.key for item in recipients):
            raise ContentError(f"{path}: recipient {recipient.key!r} is declared twice")
        recipients.append(recipient)
    register = RecipientRegister(tuple(recipients), path)
    if categories is not None:
        check_categories(register, categories)
    return register


def check_categories(register: RecipientRegister, categories: Collection[str]) -> None:
    """Every category a recipient holds is one of connectors.yaml's."""
    known = list(categories)
    for recipient in register.recipients:
        unknown = [item for item in recipient.categories if item not in known]
        if unknown:
            raise ContentError(
                f"{register.path}: recipient {recipient.key!r}: categories: unknown category "
                f"{', '.join(map(repr, unknown))}; use keys of connectors.yaml ({', '.join(known)})"
            )


def get_register() -> RecipientRegister:
    return current_app.extensions[EXTENSION_KEY]
