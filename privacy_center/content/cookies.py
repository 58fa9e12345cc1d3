"""The cookie and service registry (``content/cookies.yaml``).

The policy's exhaustive cookie list and the consent widget both read it. A cookie whose lifetime
exceeds 13 months (CNIL guidelines) is refused when the content is loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from dateutil.relativedelta import relativedelta

from ..operator import ContentError, Translated, read_yaml, require

CATEGORY_KEYS = ("functional", "analytics", "advertising", "personalization", "social")
MAX_LIFETIME_MONTHS = 13
LIFETIME_UNITS = ("minutes", "hours", "days", "months")
_LIFETIME = re.compile(r"^\s*(\d+)\s+(minute|hour|day|month)s?\s*$")


@dataclass(frozen=True)
class Lifetime:
    """How long a cookie lives: ``amount`` of ``unit``, or the browser session (``amount`` 0)."""

    amount: int
    unit: str

    @property
    def is_session(self) -> bool:
        return self.unit == "session"


SESSION = Lifetime(0, "session")


@dataclass(frozen=True)
class Cookie:
    name: str
    lifetime: Lifetime
    purpose: Translated
    domain: str | None

    @property
    def is_pattern(self) -> bool:
        return "*" in self.name


@dataclass(frozen=True)
class Service:
    key: str
    name: str
    provider: str
    party: str
    category: str
    privacy_url: str | None
    cookies: tuple[Cookie, ...]
    storage: tuple[str, ...]
    # Hosts its scripts and beacons are loaded from ("*.example.com" is example.com and its
    # subdomains): the cookie scanner reports a request to one before consent.
    hosts: tuple[str, ...] = ()
    # The Google Consent Mode signals that follow this service's switch (e.g. analytics_storage).
    consent_mode: tuple[str, ...] = ()


@dataclass(frozen=True)
class Category:
    key: str
    required: bool
    name: Translated
    description: Translated


@dataclass(frozen=True)
class Registry:
    categories: tuple[Category, ...]
    services: tuple[Service, ...]

    def services_in(self, category_key: str) -> tuple[Service, ...]:
        return tuple(service for service in self.services if service.category == category_key)


@cache
def _shortest_days_in(months: int) -> int:
    """The fewest days that ``months`` calendar months can span (over a whole leap cycle)."""
    start = date(2024, 1, 1)
    return min(
        ((day := start + relativedelta(days=offset)) + relativedelta(months=months) - day).days
        for offset in range(4 * 366)
    )


# A cookie that lives as long as the consent choice (the sites' consent_lifetime_months).
CONSENT_LIFETIME = "consent-lifetime"


def parse_lifetime(
    value: object, where: str, consent_lifetime_months: int | None = None
) -> Lifetime:
    if isinstance(value, str) and value.strip().lower() == "session":
        return SESSION
    if value == CONSENT_LIFETIME:
        if consent_lifetime_months is None:
            raise ContentError(
                f"{where}: lifetime {CONSENT_LIFETIME} needs one consent lifetime, but the "
                "sites' consent_lifetime_months differ in operator.yaml: write the lifetime"
            )
        return Lifetime(consent_lifetime_months, "months")
    match = _LIFETIME.match(str(value)) if isinstance(value, str) else None
    if not match or int(match.group(1)) <= 0:
        raise ContentError(
            f"{where}: lifetime {value!r} is not understood; write 'session' or "
            "'<number> minutes|hours|days|months'"
        )
    lifetime = Lifetime(int(match.group(1)), match.group(2) + "s")
    if _exceeds_maximum(lifetime):
        raise ContentError(
            f"{where}: lifetime {value!r} exceeds the maximum of {MAX_LIFETIME_MONTHS} months "
            "allowed for a cookie (CNIL guidelines); shorten it"
        )
    return lifetime


def _exceeds_maximum(lifetime: Lifetime) -> bool:
    if lifetime.unit == "months":
        return lifetime.amount > MAX_LIFETIME_MONTHS
    minutes_per_unit = {"minutes": 1, "hours": 60, "days": 24 * 60}[lifetime.unit]
    return lifetime.amount * minutes_per_unit > _shortest_days_in(MAX_LIFETIME_MONTHS) * 24 * 60


_HOST = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")


def _hosts(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(host, str) for host in value):
        raise ContentError(f"{where}: hosts must be a list of host names")
    hosts = tuple(host.strip().lower() for host in value)
    for host in hosts:
        if not _HOST.match(host):
            raise ContentError(
                f"{where}: host {host!r} is not a host name; write 'cdn.example.com' or "
                "'*.example.com' (no scheme, port or path)"
            )
    return hosts


# The signals a service may drive, by the category they belong to (gcm.js sends them all).
CONSENT_MODE_SIGNALS = {
    "analytics_storage": "analytics",
    "ad_storage": "advertising",
    "ad_user_data": "advertising",
    "ad_personalization": "advertising",
    "personalization_storage": "personalization",
}


def _consent_mode(value: object, category: str, where: str) -> tuple[str, ...]:
    signals = tuple(value or ())
    for signal in signals:
        if CONSENT_MODE_SIGNALS.get(signal) != category:
            raise ContentError(
                f"{where}: consent_mode: {signal!r} is not a Consent Mode signal of {category}"
            )
    return signals


def load_registry(
    path: Path, languages: tuple[str, ...], *, consent_lifetime_months: int | None = None
) -> Registry:
    """The registry; a cookie's ``lifetime: consent-lifetime`` is the sites' one lifetime."""
    raw = read_yaml(path) or {}
    categories = []
    for index, entry in enumerate(raw.get("categories") or ()):
        key = require(entry, "key", f"{path}: categories[{index}]")
        where = f"{path}: category {key!r}"
        categories.append(
            Category(
                key=key,
                required=bool(entry.get("required", False)),
                name=Translated.parse(entry.get("name"), languages, f"{where}: name"),
                description=Translated.parse(
                    entry.get("description"), languages, f"{where}: description"
                ),
            )
        )
    if tuple(category.key for category in categories) != CATEGORY_KEYS:
        raise ContentError(f"{path}: categories must be, in this order: {', '.join(CATEGORY_KEYS)}")
    if [category.key for category in categories if category.required] != ["functional"]:
        raise ContentError(f"{path}: only the 'functional' category may be required")

    services = []
    seen_keys: set[str] = set()
    for index, entry in enumerate(raw.get("services") or ()):
        key = require(entry, "key", f"{path}: services[{index}]")
        where = f"{path}: service {key!r}"
        if key in seen_keys:
            raise ContentError(f"{where}: the key is used twice")
        seen_keys.add(key)
        category = require(entry, "category", where)
        if category not in CATEGORY_KEYS:
            raise ContentError(f"{where}: unknown category {category!r}")
        party = require(entry, "party", where)
        if party not in ("first", "third"):
            raise ContentError(f"{where}: party must be 'first' or 'third'")
        cookies = []
        for cookie_index, cookie in enumerate(entry.get("cookies") or ()):
            name = require(cookie, "name", f"{where}: cookies[{cookie_index}]")
            cookie_where = f"{where}: cookie {name!r}"
            cookies.append(
                Cookie(
                    name=name,
                    lifetime=parse_lifetime(
                        require(cookie, "lifetime", cookie_where),
                        cookie_where,
                        consent_lifetime_months,
                    ),
                    purpose=Translated.parse(
                        cookie.get("purpose"), languages, f"{cookie_where}: purpose"
                    ),
                    domain=cookie.get("domain"),
                )
            )
        services.append(
            Service(
                key=key,
                name=require(entry, "name", where),
                provider=require(entry, "provider", where),
                party=party,
                category=category,
                privacy_url=entry.get("privacy_url"),
                cookies=tuple(cookies),
                storage=tuple(entry.get("storage") or ()),
                hosts=_hosts(entry.get("hosts"), where),
                consent_mode=_consent_mode(entry.get("consent_mode"), category, where),
            )
        )
    return Registry(categories=tuple(categories), services=tuple(services))
