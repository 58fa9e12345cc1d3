"""How each retention period is enforced: the ``enforce`` part of ``content/retention.yaml``.

Rules are operator configuration, checked at start-up like the rest of the content: a mistake
stops the application with a :class:`~privacy_center.operator.ContentError` naming the file and
the rule. The period itself is the rule's ``period`` (the one the policy page shows), so the
policy and what the software does cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app

from ..operator import ContentError, Period, RetentionRule, read_yaml
from .activity_sources import ActivitySource, parse_activity

EXTENSION_KEY = "privacy_center.retention"

DEACTIVATE_ACCOUNTS = "deactivate-accounts"
DELETE_ROWS = "delete-rows"
ARCHIVE_INVOICES = "archive-invoices"
DELETE_CONSENT_RECEIPTS = "delete-consent-receipts"
DELETE_CLOSED_REQUESTS = "delete-closed-requests"
DELETE_IDENTITY_DOCUMENTS = "delete-identity-documents"

# Each action and the settings it accepts besides ``action``.
ACTIONS: dict[str, frozenset[str]] = {
    DEACTIVATE_ACCOUNTS: frozenset({"warn_days_before", "erase_after_days", "activity"}),
    DELETE_ROWS: frozenset({"targets"}),
    ARCHIVE_INVOICES: frozenset({"financial_year_end"}),
    DELETE_CONSENT_RECEIPTS: frozenset(),
    DELETE_CLOSED_REQUESTS: frozenset({"evidence"}),
    DELETE_IDENTITY_DOCUMENTS: frozenset(),
}
# A table or column name written in the configuration: plain SQL identifiers only, since they
# end up in statements.
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
MONTH_DAY = re.compile(r"^(\d\d)-(\d\d)$")
DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclass(frozen=True)
class Target:
    """Rows of one table of the privacy center's database, dated by ``column``."""

    table: str
    column: str
    key: str = "id"


@dataclass(frozen=True)
class EnforcedRule:
    """A retention rule of the policy and how the retention run enforces it."""

    key: str
    period: Period
    action: str
    warn_days_before: int = 30
    # Days between the deactivation of an account and the erasure of its data (0: the same run).
    erase_after_days: int = 0
    # Tables (with an ``account_id`` column) whose rows about an erased account are kept as
    # evidence for the period, counted from the erasure, then deleted.
    evidence: tuple[str, ...] = ()
    # Where activity besides a sign-in here is seen (deactivate-accounts; activity_sources.py).
    activity: tuple[ActivitySource, ...] = ()
    targets: tuple[Target, ...] = ()
    # (month, day) on which the operator's financial year ends.
    financial_year_end: tuple[int, int] = (12, 31)


def _identifier(value: Any, where: str) -> str:
    if not isinstance(value, str) or not IDENTIFIER.match(value):
        raise ContentError(
            f"{where}: {value!r} is not a table or column name (lower-case letters, digits, _)"
        )
    return value


def _targets(raw: Any, where: str) -> tuple[Target, ...]:
    if raw is None:
        raise ContentError(f"{where}: 'targets' is missing (an empty list [] when none)")
    if not isinstance(raw, list):
        raise ContentError(f"{where}: targets is a list of {{table, column}}")
    targets = []
    for index, entry in enumerate(raw):
        place = f"{where}: targets[{index}]"
        if not isinstance(entry, dict) or set(entry) - {"table", "column", "key"}:
            raise ContentError(f"{place}: a target is {{table: NAME, column: NAME, key: id}}")
        targets.append(
            Target(
                table=_identifier(entry.get("table"), f"{place}: table"),
                column=_identifier(entry.get("column"), f"{place}: column"),
                key=_identifier(entry.get("key", "id"), f"{place}: key"),
            )
        )
    return tuple(targets)


def _month_day(raw: Any, where: str) -> tuple[int, int]:
    match = MONTH_DAY.match(str(raw)) if isinstance(raw, str) else None
    if match:
        month, day = int(match[1]), int(match[2])
        if 1 <= month <= 12 and 1 <= day <= DAYS_IN_MONTH[month - 1]:
            return month, day
    raise ContentError(
        f'{where}: financial_year_end is the last day of the financial year as "MM-DD" in '
        f'quotes, like "12-31" (29 February is not accepted); got {raw!r}'
    )


def parse_enforce(
    raw: Any, rule: RetentionRule, where: str, languages: tuple[str, ...] = ()
) -> EnforcedRule:
    if not isinstance(raw, dict):
        raise ContentError(f"{where}: enforce is a mapping with an 'action'")
    action = raw.get("action")
    if action not in ACTIONS:
        raise ContentError(f"{where}: action {action!r} is not known (known: {', '.join(ACTIONS)})")
    unknown = set(raw) - {"action"} - ACTIONS[action]
    if unknown:
        allowed = ", ".join(sorted(ACTIONS[action])) or "nothing else"
        raise ContentError(
            f"{where}: {', '.join(sorted(unknown))} is not a setting of {action} "
            f"(it takes {allowed})"
        )
    settings: dict[str, Any] = {}
    if action == DEACTIVATE_ACCOUNTS:
        warn = raw.get("warn_days_before", 30)
        if not isinstance(warn, int) or isinstance(warn, bool) or not 1 <= warn <= 365:
            raise ContentError(
                f"{where}: warn_days_before is a whole number of days from 1 to 365; got {warn!r}"
            )
        settings["warn_days_before"] = warn
        grace = raw.get("erase_after_days", 0)
        if not isinstance(grace, int) or isinstance(grace, bool) or not 0 <= grace <= 365:
            raise ContentError(
                f"{where}: erase_after_days is a whole number of days from 0 (the same run) to "
                f"365; got {grace!r}"
            )
        settings["erase_after_days"] = grace
        settings["activity"] = parse_activity(raw.get("activity", []), languages, where)
    elif action == DELETE_CLOSED_REQUESTS:
        evidence = raw.get("evidence", [])
        if not isinstance(evidence, list):
            raise ContentError(f"{where}: evidence is a list of table names")
        settings["evidence"] = tuple(
            _identifier(table, f"{where}: evidence[{number}]")
            for number, table in enumerate(evidence)
        )
    elif action == DELETE_ROWS:
        settings["targets"] = _targets(raw.get("targets"), where)
    elif action == ARCHIVE_INVOICES:
        settings["financial_year_end"] = _month_day(raw.get("financial_year_end", "12-31"), where)
    return EnforcedRule(key=rule.key, period=rule.period, action=action, **settings)


def load_enforcement(
    path: Path, rules: tuple[RetentionRule, ...], languages: tuple[str, ...] = ()
) -> tuple[EnforcedRule, ...]:
    """The enforced rules of ``path`` (content/retention.yaml), in the file's order; texts
    (activity labels) in every one of ``languages``."""
    raw = read_yaml(path) or {}
    by_key = {rule.key: rule for rule in rules}
    enforced = []
    for index, entry in enumerate(raw.get("rules") or ()):
        if not isinstance(entry, dict) or entry.get("enforce") is None:
            continue
        key = entry.get("key")
        where = f"{path}: rule {key!r}: enforce" if key else f"{path}: rules[{index}]: enforce"
        if key not in by_key:
            raise ContentError(f"{where}: the rule is not one of the policy's retention rules")
        enforced.append(parse_enforce(entry["enforce"], by_key[key], where, languages))
    return tuple(enforced)


def enforced_rules() -> tuple[EnforcedRule, ...]:
    """The application's enforced rules (loaded by ``create_app``)."""
    return current_app.extensions[EXTENSION_KEY]
