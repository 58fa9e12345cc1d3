"""The operator's content (``content/``): loaded and validated once, when the app is created.

A mistake in the content stops start-up with a :class:`ContentError` naming the file and the entry,
so that an operator never publishes a half-valid policy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from dateutil.relativedelta import relativedelta

from .contrast import AA_TEXT, contrast_ratio, parse_hex

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


# Channels the operator may use for news and offers (a CommunicationPreference's channel).
COMMUNICATION_CHANNELS = ("email", "sms")
TOPIC_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class CommunicationTopic:
    """A kind of news or offers the operator sends, which the person accepts or refuses."""

    key: str
    label: Translated
    description: Translated
    # Whether it is sent when the person made no choice: only for the soft opt-in (news about
    # services similar to those already subscribed to); every other topic waits for a yes.
    default: bool = False


@dataclass(frozen=True)
class Communication:
    """The operator's communication topics and the channels each is offered on."""

    channels: tuple[str, ...] = ()
    topics: tuple[CommunicationTopic, ...] = ()

    def topic(self, key: str) -> CommunicationTopic | None:
        return next((topic for topic in self.topics if topic.key == key), None)

    def pairs(self) -> list[tuple[str, str]]:
        """Every (channel, topic) a person can accept or refuse."""
        return [(channel, topic.key) for topic in self.topics for channel in self.channels]


# The clarification wait fits inside the shortest one-month time limit: the clock keeps running.
MAX_CLARIFICATION_DAYS = 28
MAX_LAPSE_DAYS = 365


@dataclass(frozen=True)
class LapsePeriods:
    """How many days a request may stall before it lapses (``lapse_after_days``), by what it
    waits for: its email confirmation, a proof of identity, a clarification."""

    unconfirmed: int = 7
    awaiting_identity: int = 30
    awaiting_requester: int = 14


DEFAULT_BRAND_COLOR = "#0b57d0"
BRAND_INK = "#ffffff"
MAX_LOGO_BYTES = 64 * 1024


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
    communication: Communication = field(default_factory=Communication)
    # Shown before a further copy of a person's data is prepared (art. 15(3) GDPR: the first
    # copy is free; a reasonable fee may be charged for further ones). None: no notice.
    copy_fee_notice: Translated | None = None
    # When a requester must prove their identity with a document (IDENTITY_DOCUMENT_POLICIES).
    identity_document: str = "on_doubt"
    # When a stalled request lapses (rights/lapsing.py).
    lapse_after_days: LapsePeriods = field(default_factory=LapsePeriods)
    # The operator's look (theme.py): its brand colour, which carries white text on buttons,
    # and its logo, an SVG file in the content folder (None: the name is shown instead).
    brand_color: str = DEFAULT_BRAND_COLOR
    logo: Path | None = None

    def site(self, key: str) -> Site | None:
        return next((site for site in self.sites if site.key == key), None)

    def today(self) -> date:
        return datetime.now(ZoneInfo(self.timezone)).date()

    @property
    def consent_lifetime_months(self) -> int | None:
        """The one consent lifetime of every site (None when they differ): what the policy says."""
        lifetimes = {site.consent_lifetime_months for site in self.sites}
        return lifetimes.pop() if len(lifetimes) == 1 else None


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
        communication=_load_communication(raw.get("communication"), languages, where),
        copy_fee_notice=Translated.parse(
            raw["copy_fee_notice"], languages, f"{where}: copy_fee_notice"
        )
        if raw.get("copy_fee_notice") is not None
        else None,
        identity_document=_load_identity_document(raw.get("identity_document"), where),
        lapse_after_days=_load_lapse_periods(raw.get("lapse_after_days"), where),
        brand_color=_load_brand_color(raw.get("brand_color"), where),
        logo=_load_logo(raw.get("logo"), path.parent, where),
    )


def _load_brand_color(raw: Any, where: str) -> str:
    """``brand_color``: a hex colour on which white text (the buttons') reaches 4.5:1."""
    if raw is None:
        return DEFAULT_BRAND_COLOR
    try:
        parse_hex(raw)
    except ValueError:
        raise ContentError(
            f"{where}: brand_color must be a hex colour like #0b57d0 (quote it in YAML); "
            f"got {raw!r}"
        ) from None
    ratio = contrast_ratio(raw, BRAND_INK)
    if ratio < AA_TEXT:
        raise ContentError(
            f"{where}: brand_color {raw} has a contrast of {ratio:.2f}:1 with white, the text "
            f"of the buttons; at least {AA_TEXT}:1 is needed (WCAG AA): choose a darker colour"
        )
    return raw.lower()


def _load_logo(raw: Any, content_dir: Path, where: str) -> Path | None:
    """``logo``: an SVG file inside the content folder, without scripts."""
    if raw is None:
        return None
    where = f"{where}: logo"
    if not isinstance(raw, str) or not raw.endswith(".svg"):
        raise ContentError(f"{where}: the path of an .svg file in the content folder; got {raw!r}")
    root = content_dir.resolve()
    path = (root / raw).resolve()
    if not path.is_relative_to(root):
        raise ContentError(f"{where}: {raw!r} is outside the content folder")
    try:
        data = path.read_bytes()
    except OSError:
        raise ContentError(f"{where}: {raw!r} not found in the content folder") from None
    if len(data) > MAX_LOGO_BYTES:
        raise ContentError(f"{where}: {raw!r} is larger than {MAX_LOGO_BYTES // 1024} KB")
    text = data.decode("utf-8", errors="replace")
    if "<svg" not in text:
        raise ContentError(f"{where}: {raw!r} is not an SVG drawing")
    if re.search(r"<script|\bon[a-z]+\s*=|javascript:|<foreignObject", text, re.IGNORECASE):
        raise ContentError(f"{where}: {raw!r} contains scripts or embedded HTML; remove them")
    return path


def _load_lapse_periods(raw: Any, where: str) -> LapsePeriods:
    """``lapse_after_days``: optional; each period a whole number of days (defaults otherwise)."""
    if raw is None:
        return LapsePeriods()
    where = f"{where}: lapse_after_days"
    known = tuple(LapsePeriods.__dataclass_fields__)
    if not isinstance(raw, dict) or set(raw) - set(known):
        raise ContentError(f"{where}: expected days for {', '.join(known)}; got {raw!r}")
    values: dict[str, int] = {}
    for key, value in raw.items():
        limit, why = MAX_LAPSE_DAYS, ""
        if key == "awaiting_requester":
            limit = MAX_CLARIFICATION_DAYS
            why = (
                " (the clock keeps running while we wait for a clarification: the wait must fit "
                "inside the one-month time limit)"
            )
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
            raise ContentError(
                f"{where}: {key} must be a whole number of days from 1 to {limit}{why}; "
                f"got {value!r}"
            )
        values[key] = value
    return LapsePeriods(**values)


# "required": every requester without an account (or acting for someone else) uploads one;
# "on_doubt": only when staff doubt the requester's identity and say why.
IDENTITY_DOCUMENT_POLICIES = ("required", "on_doubt")


def _load_identity_document(raw: Any, where: str) -> str:
    value = "on_doubt" if raw is None else raw
    if value not in IDENTITY_DOCUMENT_POLICIES:
        raise ContentError(
            f"{where}: identity_document must be one of {', '.join(IDENTITY_DOCUMENT_POLICIES)}; "
            f"got {raw!r}"
        )
    return value


def _load_communication(raw: Any, languages: tuple[str, ...], where: str) -> Communication:
    """The ``communication`` section (optional: an operator may send no news at all)."""
    if raw is None:
        return Communication()
    where = f"{where}: communication"
    if not isinstance(raw, dict):
        raise ContentError(f"{where}: expected channels and topics")
    channels = tuple(raw.get("channels") or ())
    unknown = [channel for channel in channels if channel not in COMMUNICATION_CHANNELS]
    if unknown or len(set(channels)) != len(channels):
        raise ContentError(
            f"{where}: channels must be distinct, among {', '.join(COMMUNICATION_CHANNELS)}; "
            f"got {list(channels)}"
        )
    topics: list[CommunicationTopic] = []
    for index, entry in enumerate(raw.get("topics") or ()):
        key = require(entry, "key", f"{where}: topics[{index}]")
        place = f"{where}: topic {key!r}"
        if not isinstance(key, str) or not TOPIC_KEY.match(key):
            raise ContentError(f"{place}: a key is lower-case letters, digits and _ (like news)")
        if any(topic.key == key for topic in topics):
            raise ContentError(f"{place}: declared twice")
        default = entry.get("default", False)
        if not isinstance(default, bool):
            raise ContentError(f"{place}: default is true or false")
        topics.append(
            CommunicationTopic(
                key=key,
                label=Translated.parse(entry.get("label"), languages, f"{place}: label"),
                description=Translated.parse(
                    entry.get("description"), languages, f"{place}: description"
                ),
                default=default,
            )
        )
    if topics and not channels:
        raise ContentError(f"{where}: topics are declared but no channel")
    return Communication(channels=channels, topics=tuple(topics))


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


# A retention rule's period that is the sites' consent lifetime (never typed twice).
CONSENT_LIFETIME = "consent-lifetime"


def load_retention(
    path: Path, languages: tuple[str, ...], *, consent_lifetime_months: int | None = None
) -> tuple[RetentionRule, ...]:
    """The rules of ``retention.yaml``; ``period: consent-lifetime`` is the sites' one lifetime."""
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
                period=_retention_period(rule.get("period"), consent_lifetime_months, where),
                starts=Translated.parse(rule.get("starts"), languages, f"{where}: starts"),
                then=Translated.parse(rule.get("then"), languages, f"{where}: then"),
                section=require(rule, "section", where),
            )
        )
    if not rules:
        raise ContentError(f"{path}: no retention rule")
    return tuple(rules)


def _retention_period(value: Any, consent_lifetime_months: int | None, where: str) -> Period:
    if value != CONSENT_LIFETIME:
        return parse_period(value, f"{where}: period")
    if consent_lifetime_months is None:
        raise ContentError(
            f"{where}: period {CONSENT_LIFETIME} needs one consent lifetime, but the sites' "
            "consent_lifetime_months differ in operator.yaml: write the period instead"
        )
    return Period(months=consent_lifetime_months)


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
