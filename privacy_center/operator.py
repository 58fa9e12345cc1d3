"""The operator's content (``content/``): loaded and validated once, when the app is created.

A mistake in the content stops start-up with a :class:`ContentError` naming the file and the entry,
so that an operator never publishes a half-valid policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from dateutil.relativedelta import relativedelta

SUPPORTED_LANGUAGES = ("fr", "en", "es", "de")


class ContentError(ValueError):
    """The operator content is invalid; the message names the file and the entry."""


def read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except FileNotFoundError:
        raise ContentError(f"{path}: file not found") from None
    except yaml.YAMLError as error:
        raise ContentError(f"{path}: not valid YAML: {error}") from None


def require(mapping: Any, key: str, where: str) -> Any:
    if not isinstance(mapping, dict) or mapping.get(key) in (None, ""):
        raise ContentError(f"{where}: '{key}' is missing")
    return mapping[key]


class Translated(dict[str, str]):
    """A text in every operator language."""

    @classmethod
    def parse(cls, value: Any, languages: tuple[str, ...], where: str) -> Translated:
        if not isinstance(value, dict):
            raise ContentError(f"{where}: expected a text per language ({', '.join(languages)})")
        missing = [lang for lang in languages if not str(value.get(lang) or "").strip()]
        if missing:
            raise ContentError(f"{where}: no text for {', '.join(missing)}")
        return cls({lang: str(value[lang]).strip() for lang in languages})

    def __call__(self, language: str) -> str:
        return self[language]


MAX_CONSENT_LIFETIME_MONTHS = 13


@dataclass(frozen=True)
class Site:
    key: str
    name: str
    origins: tuple[str, ...]
    consent_lifetime_months: int = 6
    cookie_domain: str | None = None


@dataclass(frozen=True)
class Operator:
    name: str
    legal_name: str
    address: tuple[str, ...]
    registration: str
    website: str
    privacy_email: str
    postal_contact: str
    country: str
    timezone: str
    languages: tuple[str, ...]
    default_language: str
    sites: tuple[Site, ...]
    consent_site: str

    def site(self, key: str) -> Site | None:
        return next((site for site in self.sites if site.key == key), None)

    def today(self) -> date:
        return datetime.now(ZoneInfo(self.timezone)).date()


@dataclass(frozen=True)
class Period:
    """A period as the operator wrote it (13 months stays 13 months, not 1 year 1 month)."""

    years: int = 0
    months: int = 0
    days: int = 0

    @property
    def delta(self) -> relativedelta:
        return relativedelta(years=self.years, months=self.months, days=self.days)


@dataclass(frozen=True)
class RetentionRule:
    key: str
    data: Translated
    period: Period
    starts: Translated
    then: Translated
    section: str


@dataclass(frozen=True)
class Authority:
    country: str
    name: str
    url: str


def load_operator(path: Path) -> Operator:
    raw = read_yaml(path) or {}
    where = str(path)
    languages = tuple(require(raw, "languages", where))
    unknown = [lang for lang in languages if lang not in SUPPORTED_LANGUAGES]
    if unknown:
        raise ContentError(
            f"{where}: languages {', '.join(unknown)} are not supported "
            f"(supported: {', '.join(SUPPORTED_LANGUAGES)})"
        )
    default_language = require(raw, "default_language", where)
    if default_language not in languages:
        raise ContentError(f"{where}: default_language {default_language!r} is not in languages")
    timezone = require(raw, "timezone", where)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ContentError(f"{where}: unknown timezone {timezone!r}") from None
    sites = tuple(
        _load_site(site, f"{where}: sites[{index}]")
        for index, site in enumerate(raw.get("sites") or ())
    )
    if not sites:
        raise ContentError(f"{where}: at least one site is needed (sites)")
    consent_site = raw.get("consent_site") or sites[0].key
    if consent_site not in {site.key for site in sites}:
        raise ContentError(f"{where}: consent_site {consent_site!r} is not one of the sites")
    return Operator(
        name=require(raw, "name", where),
        legal_name=require(raw, "legal_name", where),
        address=tuple(require(raw, "address", where)),
        registration=require(raw, "registration", where),
        website=require(raw, "website", where),
        privacy_email=require(raw, "privacy_email", where),
        postal_contact=require(raw, "postal_contact", where),
        country=require(raw, "country", where),
        timezone=timezone,
        languages=languages,
        default_language=default_language,
        sites=sites,
        consent_site=consent_site,
    )


def _load_site(raw: Any, where: str) -> Site:
    key = require(raw, "key", where)
    where = f"{where} ({key})"
    lifetime = raw.get("consent_lifetime_months", 6)
    if not isinstance(lifetime, int) or not 1 <= lifetime <= MAX_CONSENT_LIFETIME_MONTHS:
        raise ContentError(
            f"{where}: consent_lifetime_months must be a whole number of months from 1 to "
            f"{MAX_CONSENT_LIFETIME_MONTHS} (CNIL: a choice never lasts more than 13 months); "
            f"got {lifetime!r}"
        )
    origins = raw.get("origins") or []
    for origin in origins:
        if (
            not isinstance(origin, str)
            or not origin.startswith(("http://", "https://"))
            or (origin.count("/") != 2)
        ):
            raise ContentError(f"{where}: origin {origin!r} must look like https://www.example.com")
    return Site(
        key=key,
        name=require(raw, "name", where),
        origins=tuple(origins),
        consent_lifetime_months=lifetime,
        cookie_domain=raw.get("cookie_domain"),
    )


def parse_period(value: Any, where: str) -> Period:
    units = ("years", "months", "days")
    if not isinstance(value, dict) or not value or set(value) - set(units):
        raise ContentError(f"{where}: a period is written like {{years: 5}} or {{months: 13}}")
    if not all(isinstance(amount, int) and amount > 0 for amount in value.values()):
        raise ContentError(f"{where}: a period's amounts are positive whole numbers")
    return Period(**value)


def load_retention(path: Path, languages: tuple[str, ...]) -> tuple[RetentionRule, ...]:
    raw = read_yaml(path) or {}
    rules = []
    for index, rule in enumerate(raw.get("rules") or ()):
        where = f"{path}: rules[{index}]"
        key = require(rule, "key", where)
        where = f"{path}: rule {key!r}"
        rules.append(
            RetentionRule(
                key=key,
                data=Translated.parse(rule.get("data"), languages, f"{where}: data"),
                period=parse_period(rule.get("period"), f"{where}: period"),
                starts=Translated.parse(rule.get("starts"), languages, f"{where}: starts"),
                then=Translated.parse(rule.get("then"), languages, f"{where}: then"),
                section=require(rule, "section", where),
            )
        )
    if not rules:
        raise ContentError(f"{path}: no retention rule")
    return tuple(rules)


def load_authorities(path: Path) -> tuple[tuple[Authority, ...], str]:
    raw = read_yaml(path) or {}
    authorities = tuple(
        Authority(
            country=str(require(entry, "country", f"{path}: authorities[{index}]")),
            name=require(entry, "name", f"{path}: authorities[{index}]"),
            url=require(entry, "url", f"{path}: authorities[{index}]"),
        )
        for index, entry in enumerate(raw.get("authorities") or ())
    )
    return authorities, require(raw, "edpb_members_url", str(path))
