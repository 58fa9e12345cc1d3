"""Erase a subject through every connector: what an erasure request and the retention run share.

Each connector erases (or, in a dry run, only counts) its categories; the outcome is one entry
per category, ready for a letter, the audit log or the staff page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import Connector, Subject


def erase_subject(
    subject: Subject, connectors: Sequence[Connector], language: str, *, dry_run: bool = False
) -> tuple[dict[str, Any], ...]:
    """Erase ``subject`` through ``connectors``, in order; one entry per category: connector,
    category, label and reason (in ``language``), action and rows. A ConnectorError stops at
    once (what the SQL connector did in the caller's session is rolled back by the caller)."""
    outcomes = []
    for connector in connectors:
        labels = {category.key: category.label for category in connector.categories()}
        report = connector.erase(subject, dry_run=dry_run)
        outcomes.extend(
            {
                "connector": report.connector,
                "category": outcome.category,
                "label": labels[outcome.category](language)
                if outcome.category in labels
                else outcome.category,
                "action": outcome.action,
                "rows": outcome.rows,
                "reason": outcome.reason_in(language),
            }
            for outcome in report.outcomes
        )
    return tuple(outcomes)
