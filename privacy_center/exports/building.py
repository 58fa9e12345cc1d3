"""What goes in a copy's zip: the plan of its categories (from the connectors), the summary
page, the attachments' descriptions, and the zip itself streamed (archive.py writes it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import current_app
from flask_babel import force_locale, gettext
from sqlalchemy.orm import Session

from ..connectors import Connector, get_connector_set
from ..content import get_content
from ..letters.rendering import render_pdf
from ..models import Account, DataExport
from ..models.types import utcnow
from ..operator import RetentionRule
from ..templating import format_period
from .archive import ExportPlan, PlannedCategory, Tally, csv_cell, json_schema, stream_export
from .copies import subject_for
from .information import get_processing

# Longest cell shown in the summary's first rows (the files hold every character).
SUMMARY_CELL_CHARS = 120


def retention_text(rule: RetentionRule, language: str) -> str:
    """A retention rule in a sentence: "5 years. From ... . Then ..." (inside force_locale)."""
    return f"{format_period(rule.period)}. {rule.starts(language)}. {rule.then(language)}"


def build_plan(
    account: Account, language: str, connectors: list[Connector], generated_at: datetime
) -> ExportPlan:
    content = get_content()
    connector_set = get_connector_set()
    operator = content.operator
    rules = {rule.key: rule for rule in content.retention}
    entries = tuple(
        PlannedCategory(connector, category)
        for connector in connectors
        for category in connector.categories()
    )
    sources: dict[str, str] = {}
    retention: dict[str, str] = {}
    with force_locale(language):
        for entry in entries:
            source = connector_set.source(entry.category.source)
            if source is not None:
                sources[entry.category.key] = source.text(language)
            rule = rules.get(entry.category.retention or "")
            if rule is not None:
                retention[entry.category.key] = retention_text(rule, language)
    return ExportPlan(
        subject=subject_for(account),
        language=language,
        generated_at=generated_at,
        entries=entries,
        controller={
            "name": operator.name,
            "legal_name": operator.legal_name,
            "address": list(operator.address),
            "email": operator.privacy_email,
            "website": operator.website,
        },
        sources=sources,
        retention=retention,
    )


def _summary_cell(value: Any) -> str:
    if value is None:
        return "—"
    text = csv_cell(value)
    return text if len(text) <= SUMMARY_CELL_CHARS else text[: SUMMARY_CELL_CHARS - 1] + "…"


def attachment_descriptions() -> tuple[str, str]:
    """How summary.pdf describes the data.json and the schema it carries, in the current
    language."""
    return gettext("Every record of this copy (JSON)"), gettext("JSON Schema of data.json")


def summary_renderer(
    plan: ExportPlan, export: Any, base_url: str, extra: Mapping[str, Any] | None = None
) -> Callable[[Mapping[str, Tally], bool, bool], str]:
    """Renders the summary of ``export`` (a DataExport, or what ``extra`` describes);
    ``attached``: the PDF carries data.json."""
    content = get_content()
    operator = content.operator
    language = plan.language
    authority = next(
        (item for item in content.authorities if item.country == operator.country), None
    )
    labels = {entry.connector.key: entry.connector.label(language) for entry in plan.entries}

    def render(tallies: Mapping[str, Tally], for_pdf: bool, attached: bool = False) -> str:
        categories = []
        for entry in plan.entries:
            category = entry.category
            tally = tallies.get(category.key, Tally())
            categories.append(
                {
                    "key": category.key,
                    "label": category.label(language),
                    "connector": labels[entry.connector.key],
                    "rows": tally.rows,
                    "fields": [(item.key, item.description(language)) for item in category.fields],
                    "first_rows": [
                        [_summary_cell(row[item.key]) for item in category.fields]
                        for row in tally.first_rows
                    ],
                    "held_by": category.held_by,
                    "source": plan.sources.get(category.key),
                    "retention": plan.retention.get(category.key),
                    "retention_rule": category.retention,
                    "csv": plan.csv_name(category) if category.held_by is None else None,
                }
            )
        sources: dict[str, list[str]] = {}
        for item in categories:
            if item["source"]:
                sources.setdefault(item["source"], []).append(item["label"])
        values = {
            "operator": operator,
            "lang": language,
            "for_pdf": for_pdf,
            "attached": attached,
            "plan": plan,
            "export": export,
            "generated": format_datetime(
                plan.generated_at, "long", tzinfo=ZoneInfo(operator.timezone), locale=language
            ),
            "categories": categories,
            "sources": sources,
            "total_rows": sum(item["rows"] for item in categories),
            "information": get_processing(),
            "retention_rules": content.retention,
            "authority": authority,
            "edpb_members_url": content.edpb_members_url,
            "rights_url": urljoin(base_url, "rights"),
            "summary_rows": current_app.config["EXPORT_SUMMARY_ROWS"],
            **(extra or {}),
        }
        with force_locale(language):
            values["period_text"] = {
                rule.key: format_period(rule.period) for rule in content.retention
            }
            template = current_app.jinja_env.get_template("exports/summary.html")
            return template.render(values)

    return render


def archive_chunks(
    export: DataExport,
    account: Account,
    *,
    own_session: Callable[[], Session],
    base_url: str,
    on_rows: Callable[[int], None] | None = None,
    generated_at: datetime | None = None,
) -> Iterator[bytes]:
    """The zip of ``account``'s data, streamed; ``own_session`` reads the privacy center's own
    database."""
    connectors = get_connector_set().build(own_session)
    plan = build_plan(account, export.language, connectors, generated_at or utcnow())
    operator = get_content().operator
    with force_locale(export.language):
        schema = json_schema(
            plan,
            gettext("Your data held by %(operator)s", operator=operator.name),
            gettext(
                "Every category of your personal data, with one row per record; each field is "
                "described below."
            ),
        )
        descriptions = attachment_descriptions()
    return stream_export(
        plan,
        schema=schema,
        attachment_descriptions=descriptions,
        render_summary=summary_renderer(plan, export, base_url),
        render_pdf=render_pdf,
        summary_rows=current_app.config["EXPORT_SUMMARY_ROWS"],
        on_rows=on_rows,
    )
