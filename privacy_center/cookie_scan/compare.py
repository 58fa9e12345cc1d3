"""What the browser saw, compared with the registry (``content/cookies.yaml``): pure functions.

Three passes are compared: ``before`` (no choice yet), ``refused`` (after "refuse all") and
``accepted`` (after "accept all"). The findings:

- violations: a cookie or storage key of a non-essential service, or a request to a host of one,
  before consent or after refusal;
- undeclared: a cookie or storage key the registry does not name;
- lifetimes: a cookie that lives longer than the registry says, or than 13 months;
- never seen: a cookie the registry names that no pass saw (for information);
- hosts: the third-party hosts contacted, with the service they belong to (for information).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from urllib.parse import urlsplit

from dateutil.relativedelta import relativedelta

from ..content.cookies import MAX_LIFETIME_MONTHS, Cookie, Lifetime, Registry, Service

PASSES = ("before", "refused", "accepted")
# The passes in which only essential cookies may be set.
WITHOUT_CONSENT = ("before", "refused")
# The widget's own storage: receipts waiting to be acknowledged (widget/src/receipts.js).
WIDGET_STORAGE = ("pc_pending",)
# The widget's script, which marks the privacy center's host among the third parties.
WIDGET_SCRIPT = re.compile(r"/widget/consent(\.[0-9a-f]+)?\.js$")
# Clocks and rounding: a cookie may look this much longer-lived than it was written.
TOLERANCE = timedelta(minutes=1)


@dataclass(frozen=True)
class SeenCookie:
    name: str
    domain: str
    path: str
    # None for a session cookie.
    expires: datetime | None
    # When the browser was asked for it: its lifetime is counted from there.
    seen_at: datetime
    page: str


@dataclass(frozen=True)
class SeenStorage:
    area: str  # localStorage | sessionStorage
    key: str
    page: str


@dataclass(frozen=True)
class SeenRequest:
    host: str
    url: str
    page: str


@dataclass
class PassResult:
    """What one pass (one fresh browser profile) saw."""

    name: str
    pages: list[str] = field(default_factory=list)
    cookies: list[SeenCookie] = field(default_factory=list)
    storage: list[SeenStorage] = field(default_factory=list)
    requests: list[SeenRequest] = field(default_factory=list)


@cache
def pattern_regexp(pattern: str) -> re.Pattern[str]:
    """A registry name pattern as a regular expression: ``*`` is any characters (``_ga_*``)."""
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$")


def find_cookie(registry: Registry, name: str) -> tuple[Service, Cookie] | None:
    """The registry's entry for cookie ``name``: an exact name first, then a pattern."""
    candidates = [(service, cookie) for service in registry.services for cookie in service.cookies]
    for service, cookie in candidates:
        if not cookie.is_pattern and cookie.name == name:
            return service, cookie
    for service, cookie in candidates:
        if cookie.is_pattern and pattern_regexp(cookie.name).match(name):
            return service, cookie
    return None


def find_storage(registry: Registry, key: str) -> Service | None:
    """The service a storage key belongs to: its ``storage`` patterns, then its cookie names
    (what the widget forgets on withdrawal, widget/src/cleanup.js)."""
    for service in registry.services:
        if any(pattern_regexp(pattern).match(key) for pattern in service.storage):
            return service
    for service in registry.services:
        if any(pattern_regexp(cookie.name).match(key) for cookie in service.cookies):
            return service
    return None


def host_matches(pattern: str, host: str) -> bool:
    """``*.example.com`` is example.com and its subdomains; anything else is the exact host."""
    host = host.lower().rstrip(".")
    if pattern.startswith("*."):
        return host == pattern[2:] or host.endswith(pattern[1:])
    return host == pattern


def find_host(registry: Registry, host: str) -> Service | None:
    for service in registry.services:
        if any(host_matches(pattern, host) for pattern in service.hosts):
            return service
    return None


def is_essential(registry: Registry, service: Service) -> bool:
    return any(
        category.required for category in registry.categories if category.key == service.category
    )


@cache
def longest_days_in(months: int) -> int:
    """The most days that ``months`` calendar months can span (over a whole leap cycle)."""
    start = date(2024, 1, 1)
    return max(
        ((day := start + timedelta(days=offset)) + relativedelta(months=months) - day).days
        for offset in range(4 * 366)
    )


def lifetime_limit(lifetime: Lifetime, start: datetime) -> datetime | None:
    """The latest expiry ``lifetime`` allows for a cookie seen at ``start``; None: session.

    Months are counted at their longest (13 months: 397 days), so that a tag that writes
    "13 months" as 395 days is never reported on the days when 13 months are shorter.
    """
    if lifetime.is_session:
        return None
    if lifetime.unit == "months":
        return start + timedelta(days=longest_days_in(lifetime.amount))
    return start + timedelta(**{lifetime.unit: lifetime.amount})


def describe_lifetime(lifetime: Lifetime) -> str:
    return "session" if lifetime.is_session else f"{lifetime.amount} {lifetime.unit}"


def lifetime_problems(cookie: SeenCookie, declared: Lifetime | None) -> list[str]:
    """``"declared"`` when ``cookie`` outlives its declared lifetime, ``"maximum"`` when it
    outlives 13 months."""
    if cookie.expires is None:
        return []
    problems = []
    if declared is not None:
        limit = lifetime_limit(declared, cookie.seen_at)
        if limit is None or cookie.expires > limit + TOLERANCE:
            problems.append("declared")
    maximum = lifetime_limit(Lifetime(MAX_LIFETIME_MONTHS, "months"), cookie.seen_at)
    if maximum is not None and cookie.expires > maximum + TOLERANCE:
        problems.append("maximum")
    return problems


def _days(cookie: SeenCookie) -> float | None:
    if cookie.expires is None:
        return None
    return round((cookie.expires - cookie.seen_at).total_seconds() / 86400, 1)


def compare(registry: Registry, passes: list[PassResult], site_hosts: set[str]) -> dict:
    """The findings of ``passes`` against ``registry``, as plain JSON-ready data.

    ``site_hosts`` are the scanned sites' host names: every other host is a third party.
    """
    violations: list[dict] = []
    undeclared: dict[tuple[str, str], dict] = {}
    lifetimes: dict[tuple[str, str, str], dict] = {}
    hosts: dict[str, dict] = {}
    seen_declared: set[tuple[str, str]] = set()

    def undeclared_entry(kind: str, name: str, where: str, result: PassResult, page: str) -> None:
        entry = undeclared.setdefault(
            (kind, name), {"kind": kind, "name": name, "where": where, "passes": [], "page": page}
        )
        if result.name not in entry["passes"]:
            entry["passes"].append(result.name)

    def violation(result: PassResult, kind: str, name: str, service: Service, page: str) -> None:
        entry = {
            "pass": result.name,
            "kind": kind,
            "name": name,
            "service": service.name,
            "category": service.category,
            "page": page,
        }
        if not any(_same(entry, other) for other in violations):
            violations.append(entry)

    for result in passes:
        without_consent = result.name in WITHOUT_CONSENT
        for cookie in result.cookies:
            found = find_cookie(registry, cookie.name)
            if found is None:
                undeclared_entry("cookie", cookie.name, cookie.domain, result, cookie.page)
            else:
                service, declared = found
                seen_declared.add((service.key, declared.name))
                if without_consent and not is_essential(registry, service):
                    violation(result, "cookie", cookie.name, service, cookie.page)
            for problem in lifetime_problems(cookie, found[1].lifetime if found else None):
                lifetimes.setdefault(
                    (cookie.name, cookie.domain, problem),
                    {
                        "name": cookie.name,
                        "domain": cookie.domain,
                        "problem": problem,
                        "days": _days(cookie),
                        "declared": describe_lifetime(found[1].lifetime) if found else None,
                        "pass": result.name,
                    },
                )
        for item in result.storage:
            if item.key in WIDGET_STORAGE:
                continue
            service = find_storage(registry, item.key)
            if service is None:
                undeclared_entry("storage", item.key, item.area, result, item.page)
            elif without_consent and not is_essential(registry, service):
                violation(result, "storage", item.key, service, item.page)
        for request in result.requests:
            if request.host in site_hosts:
                continue
            service = find_host(registry, request.host)
            entry = hosts.setdefault(
                request.host,
                {
                    "host": request.host,
                    "service": service.name if service else None,
                    "category": service.category if service else None,
                    "widget": False,
                    "passes": [],
                },
            )
            if WIDGET_SCRIPT.search(urlsplit(request.url).path):
                entry["widget"] = True
            if result.name not in entry["passes"]:
                entry["passes"].append(result.name)
            if service is not None and without_consent and not is_essential(registry, service):
                violation(result, "host", request.host, service, request.page)

    never_seen = [
        {"service": service.name, "name": cookie.name, "category": service.category}
        for service in registry.services
        for cookie in service.cookies
        if (service.key, cookie.name) not in seen_declared
    ]
    return {
        "violations": violations,
        "undeclared": list(undeclared.values()),
        "lifetimes": list(lifetimes.values()),
        "never_seen": never_seen,
        "hosts": sorted(hosts.values(), key=lambda entry: entry["host"]),
    }


def _same(entry: dict, other: dict) -> bool:
    return all(entry[key] == other[key] for key in ("pass", "kind", "name"))


def exit_status(findings: dict, errors: list[str]) -> int:
    """0: clean; 1: a violation, an undeclared cookie or key, or a lifetime too long;
    2: the scan could not see everything (a page or the banner failed, a time limit)."""
    if findings["violations"] or findings["undeclared"] or findings["lifetimes"]:
        return 1
    return 2 if errors else 0
