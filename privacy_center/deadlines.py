"""Legal time limits for answering a data subject (GDPR art. 12(3)).

Periods are computed as Regulation (EEC, Euratom) No 1182/71 says:

- the day of receipt is not counted (art. 3(1)): a period of N months starting on the day a
  request is received ends on the same date N months later (art. 3(2)(c));
- when that date does not exist in the last month, the period ends on that month's last day
  (art. 3(2)(c)): 31 January + 1 month is 28 February, or 29 February in a leap year;
- when the last day is a Saturday, a Sunday or a public holiday, the period ends at the end of the
  following working day (art. 3(4)). Public holidays are those of the operator's country
  (France by default), taken from the ``holidays`` package.

All functions take and return plain :class:`datetime.date` values: which calendar day a request
arrived on depends on the operator's time zone, so callers convert first (``Operator.today()``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import lru_cache

import holidays
from dateutil.relativedelta import relativedelta

DEFAULT_COUNTRY = "FR"
REPLY_MONTHS = 1
# Art. 12(3): "extended by two further months", i.e. three months from receipt in total.
EXTENDED_REPLY_MONTHS = 3


def _require_date(value: object, name: str) -> date:
    # datetime is a subclass of date: refuse it rather than silently comparing a datetime with
    # dates, since the calendar day of an instant depends on a time zone we do not know here.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(
            f"{name} must be a date (the calendar day in the operator's time zone), "
            f"not {type(value).__name__}"
        )
    return value


def _country_code(country: str) -> str:
    code = str(country or "").strip().upper()
    if not code:
        raise ValueError("country must be an ISO 3166-1 alpha-2 code, such as 'FR'")
    return code


@lru_cache(maxsize=256)
def _public_holidays(country: str, year: int) -> frozenset[date]:
    """The public holidays of one country for one year (cached: computing them is not free)."""
    try:
        calendar = holidays.country_holidays(country, years=year)
    except NotImplementedError:
        raise ValueError(
            f"no public holiday calendar for country {country!r}; "
            "use an ISO 3166-1 alpha-2 code supported by the holidays package, such as 'FR'"
        ) from None
    return frozenset(calendar)


def is_working_day(day: date, *, country: str = DEFAULT_COUNTRY) -> bool:
    """True unless ``day`` is a Saturday, a Sunday or a public holiday of ``country``."""
    day = _require_date(day, "day")
    if day.weekday() >= 5:
        return False
    return day not in _public_holidays(_country_code(country), day.year)


def next_working_day(day: date, *, country: str = DEFAULT_COUNTRY) -> date:
    """``day`` itself when it is a working day, otherwise the first working day after it.

    Moves are chained: a holiday on a Friday moves the end past the weekend to Monday, and
    a Sunday followed by a holiday Monday moves it to Tuesday.
    """
    day = _require_date(day, "day")
    while not is_working_day(day, country=country):
        day += timedelta(days=1)
    return day


def _period_end(received_on: date, months: int) -> date:
    """The raw last day of an N-month period, before any move to a working day.

    relativedelta keeps the day of the month and clamps it to the last day of the target month
    when that day does not exist, exactly the rule of art. 3(2)(c).
    """
    received_on = _require_date(received_on, "received_on")
    if isinstance(months, bool) or not isinstance(months, int) or months < 1:
        raise ValueError(f"months must be a whole number of months, 1 or more (got {months!r})")
    return received_on + relativedelta(months=months)


def due_date(received_on: date, months: int = 1, *, country: str = DEFAULT_COUNTRY) -> date:
    """The last day to answer a request received on ``received_on``, within ``months`` months.

    The receipt day is not counted; the period ends on the same date ``months`` later (or that
    month's last day when the date does not exist) and, when that day is not a working day of
    ``country``, on the next working day.
    """
    return next_working_day(_period_end(received_on, months), country=country)


def reply_due(
    received_on: date,
    *,
    extended: bool = False,
    suspended_days: int = 0,
    country: str = DEFAULT_COUNTRY,
) -> date:
    """The date the answer is due, taking an extension and clock suspensions into account.

    The raw end of the one-month period (three months when ``extended``) is pushed back by the
    calendar days the clock was suspended, and only then moved to the next working day: a
    suspension gives back the days that were lost, not the days of a weekend move.

    The only suspension is the wait for a proof of identity asked for under GDPR art. 12(6)
    (suspended per EDPB Guidelines 01/2022 on the right of access, section 5.3; see
    ``workflow.CLOCK_SUSPENDED``). Waiting for a clarification does not suspend the clock: no
    provision supports it.
    """
    if isinstance(suspended_days, bool) or not isinstance(suspended_days, int):
        raise TypeError(f"suspended_days must be a whole number of days (got {suspended_days!r})")
    if suspended_days < 0:
        raise ValueError(f"suspended_days cannot be negative (got {suspended_days})")
    months = EXTENDED_REPLY_MONTHS if extended else REPLY_MONTHS
    end = _period_end(received_on, months) + timedelta(days=suspended_days)
    return next_working_day(end, country=country)


def suspended_days_between(intervals: Iterable[tuple[date, date | None]], today: date) -> int:
    """The number of calendar days the clock was suspended, as of ``today``.

    Each interval runs from the day the clock stopped (the request for an identity document,
    art. 12(6)) to the day it started again (the document arrived), that day excluded: a
    request suspended on 10 March and answered on 15 March was suspended 5 days. An open
    interval (``None`` end) is still suspended and counts up to ``today``; days after ``today``
    are not counted yet. Overlapping intervals are counted once.
    """
    today = _require_date(today, "today")
    spans: list[tuple[date, date]] = []
    for index, interval in enumerate(intervals):
        try:
            start, end = interval
        except (TypeError, ValueError):
            raise ValueError(
                f"suspension {index} must be a (start, end) pair, end None while still suspended"
            ) from None
        start = _require_date(start, f"suspension {index} start")
        if end is not None:
            end = _require_date(end, f"suspension {index} end")
            if end < start:
                raise ValueError(
                    f"suspension {index} ends ({end.isoformat()}) before it starts "
                    f"({start.isoformat()})"
                )
        stop = today if end is None else min(end, today)
        if start < stop:
            spans.append((start, stop))
    total = 0
    covered_until: date | None = None
    for start, stop in sorted(spans):
        if covered_until is not None and start < covered_until:
            start = covered_until  # the overlap was already counted
        if stop > start:
            total += (stop - start).days
            covered_until = stop
    return total


def extension_notice_valid(
    received_on: date,
    notice_sent_on: date,
    *,
    suspended_days: int = 0,
    country: str = DEFAULT_COUNTRY,
) -> bool:
    """Whether an extension notice sent on ``notice_sent_on`` extends the period.

    Art. 12(3) requires the data subject to be told of the extension, with its reasons, within
    the first month: the notice is valid when sent on or before the one-month due date (with the
    same suspensions and working-day move), and too late afterwards.
    """
    received_on = _require_date(received_on, "received_on")
    notice_sent_on = _require_date(notice_sent_on, "notice_sent_on")
    if notice_sent_on < received_on:
        raise ValueError(
            f"the extension notice ({notice_sent_on.isoformat()}) cannot precede the receipt "
            f"of the request ({received_on.isoformat()})"
        )
    first_due = reply_due(received_on, suspended_days=suspended_days, country=country)
    return notice_sent_on <= first_due
