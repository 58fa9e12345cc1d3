"""The DPO's figures: open requests, deadlines, answers on time, and the request register.

Plain functions with explicit arguments. The chart is SVG drawn here, with presentation
attributes and classes only (the Content-Security-Policy forbids inline styles).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from statistics import median

from babel.dates import format_date
from dateutil.relativedelta import relativedelta
from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..exports.archive import spreadsheet_csv
from ..models import PrivacyRequest
from ..rights.clock import operator_day
from ..workflow import FINAL_STATES, RequestState
from .queue import list_queue

S = RequestState

# A request is answered when it reaches one of these; withdrawn and lapsed ones never were.
ANSWERED_STATES = frozenset({S.COMPLETED, S.PARTIALLY_COMPLETED, S.REFUSED})
MONTHS = 12
DAY = timedelta(days=1)


@dataclass(frozen=True)
class MonthBar:
    month: date  # its first day
    on_time: int
    late: int


@dataclass(frozen=True)
class Dashboard:
    open_by_state: dict[str, int]
    open_total: int
    due_soon: int
    overdue: int
    answered: int
    # None when nothing was answered in the period.
    on_time_rate: float | None
    median_days: float | None
    months: tuple[MonthBar, ...]


def _answer(request: PrivacyRequest) -> tuple[date, date] | None:
    """(the day the clock started, the day of the answer) of an answered request."""
    if request.state not in ANSWERED_STATES or request.clock_started_on is None:
        return None
    final = [record for record in request.transitions if record.to_state in ANSWERED_STATES]
    moment = final[-1].at if final else request.closed_at
    if moment is None:
        return None
    return request.clock_started_on, operator_day(moment)


def build_dashboard(session: Session, *, today: date) -> Dashboard:
    """The figures as of ``today`` (the operator's day); the period is the last 12 months,
    this one included."""
    queue = list_queue(session, today=today)
    open_by_state = Counter(row.request.state for row in queue)
    first_month = today.replace(day=1) - relativedelta(months=MONTHS - 1)
    answered = session.scalars(
        select(PrivacyRequest)
        .where(PrivacyRequest.state.in_([str(state) for state in ANSWERED_STATES]))
        # A day of margin: closed_at is UTC, the months are the operator's.
        .where(PrivacyRequest.closed_at >= datetime.combine(first_month, time(), UTC) - DAY)
        .options(selectinload(PrivacyRequest.transitions))
    )
    bars = {first_month + relativedelta(months=n): [0, 0] for n in range(MONTHS)}
    durations: list[int] = []
    on_time = 0
    for request in answered:
        answer = _answer(request)
        if answer is None:
            continue
        started, answered_on = answer
        month = answered_on.replace(day=1)
        if month not in bars:
            continue
        # due_on was recomputed at the final transition: it is the date that applied then.
        in_time = request.due_on is None or answered_on <= request.due_on
        bars[month][0 if in_time else 1] += 1
        on_time += in_time
        durations.append((answered_on - started).days)
    return Dashboard(
        open_by_state=dict(sorted(open_by_state.items())),
        open_total=len(queue),
        due_soon=sum(row.due_soon for row in queue),
        overdue=sum(row.overdue for row in queue),
        answered=len(durations),
        on_time_rate=on_time / len(durations) if durations else None,
        median_days=float(median(durations)) if durations else None,
        months=tuple(MonthBar(month, *counts) for month, counts in bars.items()),
    )


# --- the chart ----------------------------------------------------------------------------------

# One row per month, its bar lying down: the labels keep their size however narrow the
# screen (a 320 px phone shows the chart at about 100 % of these units, a wide screen at most
# 135 %: see staff.css).
CHART_WIDTH = 260
_ROW, _LEFT, _TOP, _RIGHT, _LEGEND = 26, 64, 8, 34, 30
FONT_SIZE = 14
ON_TIME_FILL = "#1f7a3a"
LATE_FILL = "#b3261e"
INK = "#1d1d1f"


def chart_svg(months: tuple[MonthBar, ...], *, language: str) -> Markup:
    """A stacked bar per month (answered on time, late), one row each, with a text
    alternative; the page also shows the same figures as a table."""
    highest = max((bar.on_time + bar.late for bar in months), default=0) or 1
    plot_width = CHART_WIDTH - _LEFT - _RIGHT
    height = _TOP + _ROW * len(months) + _LEGEND
    title = _("Requests answered per month, on time and late")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="staff-chart" role="img" '
        f'viewBox="0 0 {CHART_WIDTH} {height}" width="100%" '
        f'aria-labelledby="chart-title">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<line class="axis" x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" '
        f'y2="{_TOP + _ROW * len(months)}" stroke="#555" stroke-width="1"/>',
    ]
    for index, bar in enumerate(months):
        top = _TOP + index * _ROW
        middle = top + _ROW / 2 + FONT_SIZE * 0.35
        label = format_date(bar.month, "MMM yy", locale=language)
        description = _(
            "%(month)s: %(on_time)d on time, %(late)d late",
            month=label,
            on_time=bar.on_time,
            late=bar.late,
        )
        parts.append(f'<g class="bar"><title>{escape(description)}</title>')
        parts.append(
            f'<text x="{_LEFT - 8}" y="{middle:.1f}" text-anchor="end" '
            f'font-size="{FONT_SIZE}" fill="{INK}">{escape(label)}</text>'
        )
        left = float(_LEFT)
        for count, fill, css in (
            (bar.on_time, ON_TIME_FILL, "on-time"),
            (bar.late, LATE_FILL, "late"),
        ):
            if not count:
                continue
            width = plot_width * count / highest
            parts.append(
                f'<rect class="{css}" x="{left:.1f}" y="{top + 4}" width="{width:.1f}" '
                f'height="{_ROW - 8}" fill="{fill}"/>'
            )
            left += width
        parts.append(
            f'<text x="{left + 6:.1f}" y="{middle:.1f}" font-size="{FONT_SIZE}" '
            f'fill="{INK}">{bar.on_time + bar.late}</text></g>'
        )
    legend_y = height - 10
    parts.extend(
        [
            f'<rect x="8" y="{legend_y - 11}" width="12" height="12" fill="{ON_TIME_FILL}"/>',
            f'<text x="26" y="{legend_y}" font-size="{FONT_SIZE}" fill="{INK}">'
            f"{escape(_('On time'))}</text>",
            f'<rect x="128" y="{legend_y - 11}" width="12" height="12" fill="{LATE_FILL}"/>',
            f'<text x="146" y="{legend_y}" font-size="{FONT_SIZE}" fill="{INK}">'
            f"{escape(_('Late'))}</text>",
            "</svg>",
        ]
    )
    return Markup("".join(parts))  # noqa: S704 (every text in it is escaped above)


# --- the register -------------------------------------------------------------------------------

REGISTER_COLUMNS = (
    "reference",
    "kind",
    "language",
    "received_at",
    "clock_started_on",
    "state",
    "due_on",
    "extended_on",
    "closed_at",
    "outcome",
    "identity_outcome",
    "assigned_to",
    "channel",
)


def register_rows(session: Session) -> Iterator[bytes]:
    """The register of every request, oldest first, as UTF-8 CSV (with a byte-order mark for
    spreadsheets), streamed row by row."""
    requests = session.scalars(
        select(PrivacyRequest)
        .order_by(PrivacyRequest.received_at, PrivacyRequest.id)
        .options(selectinload(PrivacyRequest.assigned_to))
        .execution_options(yield_per=500)
    )

    def row(request: PrivacyRequest) -> tuple[object, ...]:
        closed = request.state in FINAL_STATES
        return (
            request.reference,
            request.kind,
            request.language,
            request.received_at.isoformat(timespec="seconds"),
            request.clock_started_on.isoformat() if request.clock_started_on else None,
            request.state,
            request.due_on.isoformat() if request.due_on else None,
            request.extended_on.isoformat() if request.extended_on else None,
            request.closed_at.isoformat(timespec="seconds") if request.closed_at else None,
            request.state if closed else None,
            request.identity_outcome,
            request.assigned_to.email if request.assigned_to else None,
            request.channel,
        )

    # A generator, so the query runs when the stream is read, and its server-side cursor
    # closes when the client goes away before the end.
    with requests:
        yield from spreadsheet_csv(REGISTER_COLUMNS, map(row, requests))
