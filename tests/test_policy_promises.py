"""What the policy and the letters say, the code does: every promise, and the tests that keep it.

Each :class:`Promise` quotes a sentence that the product says to a person (the current policy, a
letter, a page) and names the tests that prove the behaviour behind it. Two checks keep the list
honest: the sentence must really be said where it is quoted (a sentence that changes makes its
promise fail until the list follows), and every named test must exist (a test removed or renamed
leaves its promise unproved). The behaviour itself is asserted by the named tests, which run on
SQLite and PostgreSQL like the rest of the suite.
"""

from __future__ import annotations

import ast
import html
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

TESTS = Path(__file__).parent


@dataclass(frozen=True)
class Promise:
    # Where it is said: "policy" (the current version, in English, as /policy shows it).
    source: str
    sentence: str
    # "test_file.py::test_name" for each test that proves it.
    kept_by: tuple[str, ...]


PROMISES: tuple[Promise, ...] = (
    # --- consent -------------------------------------------------------------------------------
    Promise(
        "policy",
        "Refusing is as easy as accepting, and closing the banner counts as a refusal.",
        (
            "test_browser_widget.py::test_closing_the_banner_is_a_refusal",
            "test_browser_widget.py::test_nothing_non_essential_before_a_choice_and_after_refusal",
        ),
    ),
    Promise(
        "policy",
        "we then ask you again, and also whenever this Policy changes.",
        ("test_browser_widget.py::test_a_new_policy_version_asks_again",),
    ),
    Promise(
        "policy",
        "We keep a proof of each choice (its date, the policy version and the categories chosen), "
        "without any data that identifies you directly.",
        (
            "test_consent_api.py::test_receipt_is_recorded_and_returned",
            "test_retention.py::test_an_expired_choice_is_kept_5_years_after_its_6_months",
        ),
    ),
    Promise(
        "policy",
        "Others have a longer lifespan, but this never exceeds thirteen (13) months",
        ("test_consent_api.py::test_consent_lifetime_over_13_months_is_refused",),
    ),
    # --- retention -----------------------------------------------------------------------------
    Promise(
        "policy",
        "At the end of this period, your account is considered as “inactive” and will be "
        "automatically deactivated.",
        ("test_retention.py::test_inactive_account_is_warned_30_days_before_then_deactivated",),
    ),
    Promise(
        "policy",
        "the statistics of audience measurement are not kept more than thirteen (13) months, and "
        "your raw data of frequentation of the site not more than thirteen (13) months.",
        ("test_retention.py::test_raw_visits_are_deleted_13_months_after_collection",),
    ),
    Promise(
        "policy",
        "the obligation to keep invoices for ten (10) years",
        (
            "test_retention.py::test_invoices_are_deleted_10_years_after_the_end_of_their_financial_year",
            "test_retention.py::test_invoices_of_closed_accounts_go_to_the_archive_and_leave_the_export",
        ),
    ),
    # --- rights --------------------------------------------------------------------------------
    Promise(
        "policy",
        "A reply will be sent to you at the latest one (1) month after we receive your request",
        ("test_deadlines.py::test_due_date", "test_deadlines.py::test_default_period_is_one_month"),
    ),
    Promise(
        "policy",
        "If necessary, this period may be extended by two (2) months",
        (
            "test_deadlines.py::test_extended_reply_due_is_the_three_month_due_date",
            "test_rights_requests.py::test_an_extension_is_only_valid_before_the_first_due_date",
        ),
    ),
    Promise(
        "policy",
        "You can exercise them online, without writing a letter",
        ("test_rights_requests.py::test_each_right_end_to_end_without_an_account",),
    ),
    Promise(
        "policy",
        "ALLOPASS provides a copy of the Data being processed.",
        (
            "test_exports.py::test_every_file_is_in_the_zip",
            "test_exports.py::test_from_the_second_copy_the_fee_notice_must_be_acknowledged_first",
        ),
    ),
    Promise(
        "policy",
        "You can record, change or withdraw your directives online",
        (
            "test_postmortem.py::test_directives_are_recorded_only_with_the_separate_consent",
            "test_postmortem.py::test_changing_and_withdrawing_keep_every_version",
        ),
    ),
)


def _plain(markup: str) -> str:
    """The text a reader sees: tags dropped, entities decoded, white space collapsed."""
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.DOTALL)
    text = html.unescape(re.sub(r"<[^>]+>", " ", markup))
    return re.sub(r"\s+", " ", text).strip()


def _said_in(client, source: str) -> str:
    if source == "policy":
        return _plain(client.get("/policy?lang=en").get_data(as_text=True))
    raise AssertionError(f"unknown source {source!r}")


@pytest.mark.parametrize("promise", PROMISES, ids=lambda promise: promise.sentence[:48])
def test_each_promise_is_said_where_it_is_quoted(client, promise):
    said = _said_in(client, promise.source)
    assert re.sub(r"\s+", " ", promise.sentence) in said


@cache
def _test_names(file_name: str) -> frozenset[str]:
    tree = ast.parse((TESTS / file_name).read_text(encoding="utf-8"))
    return frozenset(
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    )


@pytest.mark.parametrize("promise", PROMISES, ids=lambda promise: promise.sentence[:48])
def test_each_promise_is_kept_by_tests_that_exist(promise):
    assert promise.kept_by, "a promise needs at least one test that keeps it"
    for node in promise.kept_by:
        file_name, _, name = node.partition("::")
        assert (TESTS / file_name).is_file(), node
        assert name in _test_names(file_name), f"{node} does not exist"
