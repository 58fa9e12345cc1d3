"""The consent dashboard's figures, read from the daily rollup (never from the receipts).

Plain functions with explicit arguments. The chart is SVG drawn here with presentation
attributes only (the Content-Security-Policy forbids inline styles), as staff/dashboard.py does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from babel.dates import format_date
from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import ConsentDay, Site
from .records import InvalidFilter, parse_day
from .rollup import COUNT_COLUMNS

DEFAULT_DAYS = 30
MAX_DAYS = 366


@dataclass(frozen=True)
class DashboardFilter:
    start: date
    end: date
    site: str | None = None
    language: str | None = None
    build: str | None = None


@dataclass
class Counts:
    """Summed rollup counts, by COUNT_COLUMNS name."""

    values: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_COLUMNS, 0))

    def add(self, row: Mapping[str, int]) -> None:
        for name in COUNT_COLUMNS:
            self.values[name] += int(row[name] or 0)

    def __getitem__(self, name: str) -> int:
        return self.values[name]

    def rate(self, name: str) -> float | None:
        """The share of receipts counted in ``name`` (None when there were none)."""
        return self.values[name] / self.values["total"] if self.values["total"] else None


@dataclass(frozen=True)
class ConsentFigures:
    days: list[tuple[date, Counts]]
    # (site key, language, build) over the whole period.
    groups: list[tuple[tuple[str, str, str], Counts]]
    total: Counts


def parse_dashboard_filter(
    args: Mapping[str, str], *, today: date, sites: list[str]
) -> DashboardFilter:
    """The dashboard's period and breakdown, checked; InvalidFilter says what is wrong."""
    start_text, end_text = (args.get("from") or "").strip(), (args.get("to") or "").strip()
    end = parse_day(end_text, _("The end date")) if end_text else today
    start = (
        parse_day(start_text, _("The start date"))
        if start_text
        else end - timedelta(days=DEFAULT_DAYS - 1)
    )
    if end < start:
        raise InvalidFilter(_("The end date is before the start date."))
    if (end - start).days >= MAX_DAYS:
        raise InvalidFilter(_("The dashboard shows at most 366 days at a time."))
    site = (args.get("site") or "").strip() or None
    if site and site not in sites:
        raise InvalidFilter(_("Unknown site “%(site)s”.", site=site[:40]))
    language = (args.get("language") or "").strip() or None
    build = (args.get("build") or "").strip() or None
    if (language and len(language) > 8) or (build and len(build) > 64):
        raise InvalidFilter(_("The language or build given is too long."))
    return DashboardFilter(start=start, end=end, site=site, language=language, build=build)


def consent_figures(session: Session, query: DashboardFilter) -> ConsentFigures:
    """The period's counts per day and per (site, language, build), from the rollup."""
    sums = [func.sum(getattr(ConsentDay, name)).label(name) for name in COUNT_COLUMNS]
    base = (
        select(*sums)
        .join(Site, ConsentDay.site_id == Site.id)
        .where(ConsentDay.day >= query.start, ConsentDay.day <= query.end)
    )
    if query.site:
        base = base.where(Site.key == query.site)
    if query.language:
        base = base.where(ConsentDay.language == query.language)
    if query.build:
        base = base.where(ConsentDay.widget_build == query.build)
    by_day = {
        row.day: row
        for row in session.execute(
            base.add_columns(ConsentDay.day).group_by(ConsentDay.day)
        ).mappings()
    }
    days, total = [], Counts()
    day = query.start
    while day <= query.end:
        counts = Counts()
        if day in by_day:
            counts.add(by_day[day])
            total.add(by_day[day])
        days.append((day, counts))
        day += timedelta(days=1)
    grouped = base.add_columns(Site.key, ConsentDay.language, ConsentDay.widget_build).group_by(
        Site.key, ConsentDay.language, ConsentDay.widget_build
    )
    groups = []
    for row in session.execute(grouped.order_by(Site.key, ConsentDay.language)).mappings():
        counts = Counts()
        counts.add(row)
        groups.append(((row["key"], row["language"], row["widget_build"]), counts))
    return ConsentFigures(days=days, groups=groups, total=total)


# --- the chart ----------------------------------------------------------------------------------

CHART_WIDTH = 720
CHART_HEIGHT = 260
_LEFT, _BOTTOM, _TOP = 44, 40, 16
# (rollup columns summed, fill, class): accept all, refuse all (and "continue without
# accepting"), customised (and allowed from an embed).
SERIES = (
    (("accept_all",), "#1f7a3a", "accept-all"),
    (("reject_all", "closed"), "#b3261e", "refuse-all"),
    (("customised", "embed"), "#2a5db0", "customised"),
)


def series_labels() -> dict[str, str]:
    return {
        "accept-all": _("Accept all"),
        "refuse-all": _("Refuse all or continue without accepting"),
        "customised": _("Customised"),
    }


def chart_svg(days: list[tuple[date, Counts]], *, language: str) -> Markup:
    """A stacked bar per day (accept all, refuse all, customised), with a text alternative."""
    highest = max((counts["total"] for _day_, counts in days), default=0) or 1
    plot_height = CHART_HEIGHT - _BOTTOM - _TOP
    slot = (CHART_WIDTH - _LEFT) / max(len(days), 1)
    width = slot * 0.7
    labels = series_labels()
    title = _("Consent choices per day")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="staff-chart" role="img" '
        f'viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" width="100%" '
        f'aria-labelledby="consent-chart-title">',
        f'<title id="consent-chart-title">{escape(title)}</title>',
        f'<line class="axis" x1="{_LEFT}" y1="{CHART_HEIGHT - _BOTTOM}" x2="{CHART_WIDTH}" '
        f'y2="{CHART_HEIGHT - _BOTTOM}" stroke="#555" stroke-width="1"/>',
        f'<text class="axis-label" x="{_LEFT - 6}" y="{_TOP + 4}" text-anchor="end" '
        f'font-size="11" fill="#333">{highest}</text>',
        f'<text class="axis-label" x="{_LEFT - 6}" y="{CHART_HEIGHT - _BOTTOM}" '
        f'text-anchor="end" font-size="11" fill="#333">0</text>',
    ]
    every = max(1, len(days) // 10)
    for index, (day, counts) in enumerate(days):
        x = _LEFT + index * slot + (slot - width) / 2
        base = CHART_HEIGHT - _BOTTOM
        label = format_date(day, "d MMM", locale=language)
        values = [sum(counts[name] for name in names) for names, _fill, _css in SERIES]
        description = "; ".join(
            [label, *(f"{labels[css]}: {value}" for (_n, _f, css), value in zip(SERIES, values,
                                                                              strict=True))]
        )  # fmt: skip
        parts.append(f'<g class="bar"><title>{escape(description)}</title>')
        for (_names, fill, css), value in zip(SERIES, values, strict=True):
            if not value:
                continue
            height = plot_height * value / highest
            base -= height
            parts.append(
                f'<rect class="{css}" x="{x:.1f}" y="{base:.1f}" width="{width:.1f}" '
                f'height="{height:.1f}" fill="{fill}"/>'
            )
        if index % every == 0:
            parts.append(
                f'<text x="{x + width / 2:.1f}" y="{CHART_HEIGHT - _BOTTOM + 16}" '
                f'text-anchor="middle" font-size="11" fill="#333">{escape(label)}</text>'
            )
        parts.append("</g>")
    legend_x = _LEFT
    for _names, fill, css in SERIES:
        parts.append(
            f'<rect x="{legend_x}" y="{CHART_HEIGHT - 17}" width="10" height="10" fill="{fill}"/>'
            f'<text x="{legend_x + 14}" y="{CHART_HEIGHT - 8}" font-size="11" fill="#333">'
            f"{escape(labels[css])}</text>"
        )
        legend_x += 230
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text in it is escaped above)
