"""Legal time limits (GDPR art. 12(3), computed per Regulation 1182/71).

Every expected date below was worked out by hand from a calendar; the id says why.
French public holidays used (weekday in brackets):
2025: 1 May (Thu), 8 May (Thu), 15 Aug (Fri), 25 Dec (Thu).
2026: 1 Jan (Thu), Easter Monday 6 Apr, 1 May (Fri), 8 May (Fri), Ascension 14 May (Thu),
      Whit Monday 25 May, 14 Jul (Tue), 1 Nov (Sun), 11 Nov (Wed), 25 Dec (Fri).
2027: 1 Jan (Fri), Ascension 6 May (Thu), Whit Monday 17 May, 1 Nov (Mon).
2028: 1 Jan (Sat), 15 Aug (Tue).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from privacy_center.deadlines import (
    due_date,
    extension_notice_valid,
    is_working_day,
    next_working_day,
    reply_due,
    suspended_days_between,
)

D = date.fromisoformat

# (received on, months, expected due date, reason)
DUE_DATE_CASES = [
    # Plain cases: same date one month later, a working day.
    ("2026-02-10", 1, "2026-03-10", "tuesday-same-date-next-month"),
    ("2026-02-13", 1, "2026-03-13", "friday-end-is-a-working-day-no-move"),
    # 31 January and other month ends.
    ("2025-01-31", 1, "2025-02-28", "31-jan-common-year-ends-28-feb-a-friday"),
    ("2027-01-31", 1, "2027-03-01", "31-jan-common-year-28-feb-is-sunday-moves-to-monday-1-mar"),
    ("2028-01-31", 1, "2028-02-29", "31-jan-leap-year-ends-29-feb-a-tuesday"),
    ("2028-01-30", 1, "2028-02-29", "30-jan-leap-year-ends-29-feb"),
    ("2026-01-31", 1, "2026-03-02", "31-jan-ends-28-feb-a-saturday-moves-to-monday-2-mar"),
    ("2026-03-31", 1, "2026-04-30", "31-mar-april-has-30-days-ends-30-apr"),
    ("2026-05-31", 1, "2026-06-30", "31-may-ends-30-jun"),
    ("2026-08-31", 1, "2026-09-30", "31-aug-ends-30-sep"),
    ("2026-10-31", 1, "2026-11-30", "31-oct-ends-30-nov"),
    ("2026-06-30", 1, "2026-07-30", "30-jun-ends-30-jul-not-the-month-end-31"),
    ("2026-04-30", 1, "2026-06-01", "30-apr-ends-30-may-a-saturday-moves-to-monday-1-jun"),
    # Weekends.
    ("2026-02-07", 1, "2026-03-09", "ends-saturday-7-mar-moves-to-monday"),
    ("2026-02-08", 1, "2026-03-09", "ends-sunday-8-mar-moves-to-monday"),
    # Each French public holiday as the end date, moved to the next day.
    ("2025-12-01", 1, "2026-01-02", "ends-1-jan-thursday-moves-to-friday-across-year-end"),
    ("2026-03-06", 1, "2026-04-07", "ends-easter-monday-moves-to-tuesday"),
    ("2025-04-01", 1, "2025-05-02", "ends-1-may-thursday-moves-to-friday"),
    ("2025-04-08", 1, "2025-05-09", "ends-8-may-thursday-moves-to-friday"),
    ("2026-04-14", 1, "2026-05-15", "ends-ascension-thursday-moves-to-friday"),
    ("2026-04-25", 1, "2026-05-26", "ends-whit-monday-moves-to-tuesday"),
    ("2026-06-14", 1, "2026-07-15", "ends-14-jul-tuesday-moves-to-wednesday"),
    ("2028-07-15", 1, "2028-08-16", "ends-15-aug-tuesday-moves-to-wednesday"),
    ("2027-10-01", 1, "2027-11-02", "ends-1-nov-monday-moves-to-tuesday"),
    ("2026-10-11", 1, "2026-11-12", "ends-11-nov-wednesday-moves-to-thursday"),
    ("2025-11-25", 1, "2025-12-26", "ends-25-dec-thursday-moves-to-26-dec-a-working-day-in-france"),
    # Chained moves: a holiday next to a weekend.
    ("2026-04-01", 1, "2026-05-04", "ends-1-may-friday-then-weekend-moves-to-monday-4"),
    ("2026-04-08", 1, "2026-05-11", "ends-8-may-friday-then-weekend-moves-to-monday-11"),
    ("2025-07-15", 1, "2025-08-18", "ends-15-aug-friday-then-weekend-moves-to-monday-18"),
    ("2026-11-25", 1, "2026-12-28", "ends-25-dec-friday-then-weekend-moves-to-monday-28"),
    ("2026-03-04", 1, "2026-04-07", "ends-saturday-then-sunday-then-easter-monday-to-tuesday"),
    ("2027-04-15", 1, "2027-05-18", "ends-saturday-then-sunday-then-whit-monday-to-tuesday"),
    ("2027-12-01", 1, "2028-01-03", "ends-1-jan-on-a-saturday-then-sunday-moves-to-monday-3"),
    # Year end: received in December, due in January.
    ("2026-12-15", 1, "2027-01-15", "received-mid-december-due-friday-15-jan"),
    ("2026-12-31", 1, "2027-02-01", "received-31-dec-ends-sunday-31-jan-moves-to-monday-1-feb"),
    ("2026-12-01", 1, "2027-01-04", "received-1-dec-ends-1-jan-friday-then-weekend-to-monday-4"),
    # Receipt on a holiday: the receipt day is not counted, the period still runs from it.
    ("2026-07-14", 1, "2026-08-14", "received-on-14-jul-holiday-due-friday-14-aug"),
    ("2026-11-01", 1, "2026-12-01", "received-on-1-nov-a-sunday-holiday-due-tuesday-1-dec"),
    ("2026-12-25", 1, "2027-01-25", "received-on-christmas-due-monday-25-jan"),
    ("2027-05-06", 1, "2027-06-07", "received-on-ascension-ends-sunday-6-jun-moves-to-monday"),
    # Three months (extended period).
    ("2026-01-15", 3, "2026-04-15", "three-months-wednesday-15-apr"),
    ("2026-01-31", 3, "2026-04-30", "three-months-from-31-jan-ends-30-apr"),
    ("2025-11-30", 3, "2026-03-02", "three-months-from-30-nov-ends-saturday-28-feb-to-monday"),
    ("2027-11-29", 3, "2028-02-29", "three-months-from-29-nov-ends-29-feb-of-a-leap-year"),
    ("2027-02-17", 3, "2027-05-18", "three-months-ends-whit-monday-moves-to-tuesday"),
    ("2026-10-14", 3, "2027-01-14", "three-months-across-year-end-thursday-14-jan"),
]


@pytest.mark.parametrize(
    ("received", "months", "expected", "reason"),
    DUE_DATE_CASES,
    ids=[case[3] for case in DUE_DATE_CASES],
)
def test_due_date(received: str, months: int, expected: str, reason: str) -> None:
    assert due_date(D(received), months) == D(expected), reason


def test_default_period_is_one_month() -> None:
    assert due_date(D("2026-02-10")) == D("2026-03-10")


@pytest.mark.parametrize(
    "holiday",
    [
        "2026-01-01",
        "2026-04-06",
        "2026-05-01",
        "2026-05-08",
        "2026-05-14",
        "2026-05-25",
        "2026-07-14",
        "2026-08-15",
        "2026-11-01",
        "2026-11-11",
        "2026-12-25",
    ],
)
def test_every_french_public_holiday_is_not_a_working_day(holiday: str) -> None:
    assert not is_working_day(D(holiday), country="FR")


WORKING_DAY_CASES = [
    ("2026-03-10", True, "tuesday"),
    ("2026-03-13", True, "friday"),
    ("2026-03-14", False, "saturday"),
    ("2026-03-15", False, "sunday"),
    ("2025-12-26", True, "26-dec-is-not-a-holiday-in-france"),
    ("2025-04-18", True, "good-friday-is-not-a-holiday-in-france"),
]


@pytest.mark.parametrize(
    ("day", "working", "reason"), WORKING_DAY_CASES, ids=[case[2] for case in WORKING_DAY_CASES]
)
def test_is_working_day(day: str, working: bool, reason: str) -> None:
    assert is_working_day(D(day)) is working, reason


NEXT_WORKING_DAY_CASES = [
    ("2026-03-10", "2026-03-10", "working-day-returned-itself"),
    ("2026-03-14", "2026-03-16", "saturday-to-monday"),
    ("2026-12-25", "2026-12-28", "christmas-friday-to-monday"),
    ("2026-04-04", "2026-04-07", "saturday-sunday-easter-monday-to-tuesday"),
]


@pytest.mark.parametrize(
    ("day", "expected", "reason"),
    NEXT_WORKING_DAY_CASES,
    ids=[case[2] for case in NEXT_WORKING_DAY_CASES],
)
def test_next_working_day(day: str, expected: str, reason: str) -> None:
    assert next_working_day(D(day)) == D(expected), reason


def test_the_operators_country_decides_the_holidays() -> None:
    # 3 October 2025 (Friday) is German Unity Day: in Germany the period runs to Monday 6.
    assert due_date(D("2025-09-03"), country="DE") == D("2025-10-06")
    assert due_date(D("2025-09-03"), country="FR") == D("2025-10-03")
    # 14 July is a working day in Germany.
    assert due_date(D("2026-06-14"), country="DE") == D("2026-07-14")
    assert next_working_day(D("2025-10-03"), country="de") == D("2025-10-06")


def test_unknown_country_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"no public holiday calendar for country 'XX'"):
        due_date(D("2026-02-10"), country="XX")
    with pytest.raises(ValueError, match="ISO 3166-1"):
        is_working_day(D("2026-02-10"), country=" ")


@pytest.mark.parametrize("months", [0, -1, True, 1.5])
def test_period_must_be_whole_months(months: object) -> None:
    with pytest.raises(ValueError, match="months must be a whole number"):
        due_date(D("2026-02-10"), months)  # type: ignore[arg-type]


def test_a_datetime_is_refused() -> None:
    with pytest.raises(TypeError, match="received_on must be a date"):
        due_date(datetime(2026, 2, 10, 23, 30))  # noqa: DTZ001 - the point is the refusal
    with pytest.raises(TypeError, match="received_on must be a date"):
        due_date("2026-02-10")  # type: ignore[arg-type]


# (received on, extended, suspended days, expected, reason)
REPLY_DUE_CASES = [
    ("2026-03-02", False, 0, "2026-04-02", "one-month-no-suspension-thursday"),
    ("2026-03-02", False, 10, "2026-04-13", "ten-days-suspended-end-sunday-12-apr-to-monday"),
    ("2026-03-03", False, 3, "2026-04-07", "raw-friday-plus-3-is-easter-monday-to-tuesday"),
    ("2026-02-07", False, 2, "2026-03-09", "days-added-to-raw-saturday-end-not-to-moved-monday"),
    ("2028-01-31", False, 1, "2028-03-01", "29-feb-plus-one-day-is-1-mar"),
    ("2026-01-31", False, 1, "2026-03-02", "28-feb-plus-one-is-sunday-1-mar-to-monday"),
    ("2025-12-20", False, 12, "2026-02-02", "raw-20-jan-plus-12-is-sunday-1-feb-to-monday"),
    ("2026-01-15", True, 0, "2026-04-15", "extended-three-months"),
    ("2026-01-15", True, 5, "2026-04-20", "extended-plus-five-suspended-days-monday"),
    ("2026-11-25", True, 0, "2027-02-25", "extended-across-year-end-thursday"),
]


@pytest.mark.parametrize(
    ("received", "extended", "suspended", "expected", "reason"),
    REPLY_DUE_CASES,
    ids=[case[4] for case in REPLY_DUE_CASES],
)
def test_reply_due(
    received: str, extended: bool, suspended: int, expected: str, reason: str
) -> None:
    assert reply_due(D(received), extended=extended, suspended_days=suspended) == D(expected), (
        reason
    )


THREE_MONTH_CASES = [case for case in DUE_DATE_CASES if case[1] == 3]


@pytest.mark.parametrize(
    ("received", "months", "expected", "reason"),
    THREE_MONTH_CASES,
    ids=[case[3] for case in THREE_MONTH_CASES],
)
def test_extended_reply_due_is_the_three_month_due_date(
    received: str, months: int, expected: str, reason: str
) -> None:
    assert reply_due(D(received), extended=True) == D(expected), reason


def test_reply_due_refuses_negative_suspension() -> None:
    with pytest.raises(ValueError, match="suspended_days cannot be negative"):
        reply_due(D("2026-03-02"), suspended_days=-1)
    with pytest.raises(TypeError, match="whole number of days"):
        reply_due(D("2026-03-02"), suspended_days=1.5)  # type: ignore[arg-type]


TODAY = D("2026-03-20")

# (intervals, expected days as of 20 March 2026, reason)
SUSPENSION_CASES = [
    ([], 0, "no-suspension"),
    ([("2026-03-10", "2026-03-15")], 5, "closed-10-to-15-mar-is-5-days-resume-day-excluded"),
    ([("2026-03-10", None)], 10, "open-interval-counts-up-to-today"),
    ([("2026-03-10", "2026-03-10")], 0, "asked-and-answered-the-same-day"),
    ([("2026-03-01", "2026-03-03"), ("2026-03-10", "2026-03-12")], 4, "two-disjoint-intervals"),
    ([("2026-03-10", "2026-03-15"), ("2026-03-12", "2026-03-20")], 10, "overlap-counted-once"),
    ([("2026-03-01", "2026-03-15"), ("2026-03-05", "2026-03-08")], 14, "contained-counted-once"),
    ([("2026-03-05", "2026-03-08"), ("2026-03-01", "2026-03-05")], 7, "adjacent-any-order"),
    ([("2026-03-15", None), ("2026-03-10", "2026-03-17")], 10, "open-overlapping-a-closed-one"),
    ([("2026-02-25", "2026-03-03")], 6, "across-end-of-february"),
    ([("2026-03-18", "2026-03-25")], 2, "days-after-today-not-counted-yet"),
    ([("2026-03-25", None)], 0, "starts-after-today"),
]


@pytest.mark.parametrize(
    ("intervals", "expected", "reason"),
    SUSPENSION_CASES,
    ids=[case[2] for case in SUSPENSION_CASES],
)
def test_suspended_days_between(
    intervals: list[tuple[str, str | None]], expected: int, reason: str
) -> None:
    parsed = [(D(start), D(end) if end else None) for start, end in intervals]
    assert suspended_days_between(parsed, TODAY) == expected, reason


def test_suspended_days_accepts_any_iterable() -> None:
    start = D("2026-03-10")
    intervals = ((start + timedelta(days=offset), None) for offset in (0, 2))
    assert suspended_days_between(intervals, TODAY) == 10


def test_suspension_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match=r"suspension 1 ends \(2026-03-01\) before it starts"):
        suspended_days_between([(D("2026-03-01"), None), (D("2026-03-05"), D("2026-03-01"))], TODAY)
    with pytest.raises(ValueError, match=r"must be a \(start, end\) pair"):
        suspended_days_between([(D("2026-03-01"),)], TODAY)  # type: ignore[list-item]


# (received on, notice sent on, suspended days, valid, reason)
NOTICE_CASES = [
    ("2026-03-02", "2026-04-02", 0, True, "sent-on-the-due-date-valid"),
    ("2026-03-02", "2026-04-03", 0, False, "one-day-late-refused"),
    ("2026-03-02", "2026-03-02", 0, True, "sent-on-the-day-of-receipt-valid"),
    ("2026-02-07", "2026-03-09", 0, True, "due-date-moved-from-saturday-to-monday-still-valid"),
    ("2026-02-07", "2026-03-10", 0, False, "day-after-the-moved-due-date-refused"),
    ("2026-03-02", "2026-04-13", 10, True, "suspension-pushes-the-first-due-date-valid"),
    ("2026-03-02", "2026-04-14", 10, False, "day-after-the-suspended-due-date-refused"),
]


@pytest.mark.parametrize(
    ("received", "sent", "suspended", "valid", "reason"),
    NOTICE_CASES,
    ids=[case[4] for case in NOTICE_CASES],
)
def test_extension_notice_valid(
    received: str, sent: str, suspended: int, valid: bool, reason: str
) -> None:
    assert extension_notice_valid(D(received), D(sent), suspended_days=suspended) is valid, reason


def test_extension_notice_before_receipt_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot precede the receipt"):
        extension_notice_valid(D("2026-03-02"), D("2026-03-01"))
