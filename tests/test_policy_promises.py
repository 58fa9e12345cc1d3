"""What the policy and the letters say, the code does: every promise, and the tests that keep it.

Each :class:`Promise` quotes a sentence that the product says to a person (the current policy as
/policy shows it, a letter, a mail or a page, the README) and names the tests that prove the
behaviour behind it; the list follows the items of issue 14. Two checks keep it honest: the
sentence must really be said where it is quoted (a message of a letter, mail or page must be in
one the code still extracts; a sentence that changes makes its promise fail until the list
follows), and every named test must exist (a test removed or renamed leaves its promise
unproved). The behaviour itself is asserted by the named tests, which run on SQLite and
PostgreSQL like the rest of the suite.
"""

from __future__ import annotations

import ast
import html
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from privacy_center.config import PROJECT_ROOT
from privacy_center.i18n import EXTRACT_KEYWORDS

TESTS = Path(__file__).parent


@dataclass(frozen=True)
class Promise:
    # Where it is said: P, SAID or README (below).
    source: str
    sentence: str
    # "test_file.py::test_name" for each test that proves it.
    kept_by: tuple[str, ...]


P = "policy"  # the current policy, in English, as /policy shows it (facts rendered)
SAID = "said"  # in a message of the code: a letter, a mail or a page says it
README = "readme"  # the README, white space collapsed

PROMISES: tuple[Promise, ...] = (
    # --- 1. legal letters only through the workflow --------------------------------------------
    Promise(
        README,
        "A legal letter (identity request, clarification, extension notice, refusal, completion) "
        "is sent only by the action that makes the change it announces, in one transaction with "
        "it: the change, the letter stored with its SHA-256, the audit row and the mail queued in "
        "the outbox",
        (
            "test_legal_letters.py::test_each_legal_action_records_its_change_letter_audit_and_mail_together",
            "test_legal_letters.py::test_a_letter_that_cannot_be_rendered_leaves_nothing_written",
        ),
    ),
    Promise(
        SAID,
        "This letter is sent only by its action above, together with the change it announces; "
        "here it can only be previewed.",
        ("test_legal_letters.py::test_the_panel_previews_a_legal_letter_but_refuses_to_send_it",),
    ),
    Promise(
        README,
        "An extension is allowed once, on or before the first due date; its new due date is "
        "computed (three months from the start of the clock, plus the days the clock was "
        "suspended), never typed.",
        (
            "test_legal_letters.py::test_an_extension_after_the_first_due_date_is_refused_and_changes_nothing",
            "test_legal_letters.py::test_a_second_extension_is_refused",
            "test_legal_letters.py::test_the_extension_notice_carries_the_computed_due_date",
            "test_legal_letters.py::test_the_extended_due_date_gives_back_the_days_the_clock_was_suspended",
        ),
    ),
    Promise(
        SAID,
        "New due date, computed: %(date)s.",
        ("test_legal_letters.py::test_the_extension_notice_carries_the_computed_due_date",),
    ),
    Promise(
        README,
        "a mail that fails stays queued with its error, is tried again by `mail deliver` and "
        "shown to staff until it is delivered.",
        (
            "test_legal_letters.py::test_a_failed_mail_stays_queued_is_shown_to_staff_and_a_later_run_sends_it",
            "test_legal_letters.py::test_staff_retry_a_failed_mail_now",
            "test_legal_letters.py::test_the_wait_grows_after_each_failure_and_stays_bounded",
        ),
    ),
    Promise(
        SAID,
        "Each mail below carries a letter already recorded on its request. It stays queued and is "
        "tried again automatically, each time after a longer wait, until it is delivered.",
        (
            "test_legal_letters.py::test_a_failed_mail_stays_queued_is_shown_to_staff_and_a_later_run_sends_it",
        ),
    ),
    # --- 2. article 19: the recipients are told, and the requester is told who they are --------
    Promise(
        P,
        "When we erase, correct or restrict the use of your data at your request, we tell each of "
        "them who holds the data concerned, and our answer tells you which ones we told.",
        (
            "test_recipients.py::test_an_erasure_tells_each_recipient_holding_an_erased_category_and_no_other",
            "test_recipients.py::test_a_rectification_tells_the_recipients_of_the_categories_staff_name",
            "test_recipients.py::test_a_restriction_without_categories_tells_every_recipient",
            "test_recipients.py::test_the_completion_letter_names_who_was_told_and_who_could_not_be_reached",
        ),
    ),
    Promise(
        P,
        "Our recipients and processors, what each does and where it is:",
        (
            "test_recipients.py::test_the_policy_names_every_recipient_of_the_register",
            "test_recipients.py::test_the_policy_follows_the_register",
        ),
    ),
    Promise(
        SAID,
        "We have informed the following recipients of your data, who hold data concerned by your "
        "request, of what we did (article 19 GDPR):",
        (
            "test_recipients.py::test_the_completion_letter_names_who_was_told_and_who_could_not_be_reached",
        ),
    ),
    Promise(
        SAID,
        "We could not reach the following recipients of your data yet. We keep trying, and will "
        "write to you once they have been told:",
        (
            "test_recipients.py::test_the_completion_letter_names_who_was_told_and_who_could_not_be_reached",
            "test_recipients.py::test_the_waits_between_tries_double_until_the_last_try_fails",
        ),
    ),
    Promise(
        SAID,
        "None of the organisations that receive data from us holds the data concerned: there was "
        "no one else to inform.",
        ("test_recipients.py::test_an_erasure_with_no_recipient_concerned_says_so",),
    ),
    Promise(
        SAID,
        "As our letter about your request %(reference)s said, we have now informed these "
        "recipients of your data of what we did:",
        (
            "test_recipients.py::test_the_completion_letter_names_who_was_told_and_who_could_not_be_reached",
        ),
    ),
    # --- 3. requests that arrive by post, email or phone ---------------------------------------
    Promise(
        P,
        "or write to us by email at contact@allopass.com or by mail at:",
        (
            "test_intake.py::test_the_command_prints_the_reference_and_the_due_date_from_the_day_received",
            "test_intake.py::test_the_console_form_creates_the_request_with_its_scans",
        ),
    ),
    Promise(
        SAID,
        "The legal time limit runs from the date the request was received, not from today: one "
        "month, moved to the next working day when it ends on a weekend or a public holiday.",
        (
            "test_intake.py::test_the_command_prints_the_reference_and_the_due_date_from_the_day_received",
            "test_intake.py::test_bad_input_exits_non_zero_says_why_and_creates_nothing",
            "test_intake.py::test_an_unreadable_or_rejected_document_creates_nothing",
        ),
    ),
    Promise(
        SAID,
        "This requester gave no email address: no letter is mailed. Each letter is stored here as "
        "a PDF laid out for a window envelope: print it and post it to the address above.",
        (
            "test_intake.py::test_a_letter_to_a_requester_without_email_is_stored_to_print_with_the_address_in_the_window",
            "test_intake.py::test_a_post_request_without_email_is_in_the_queue_the_register_and_the_dashboard",
        ),
    ),
    Promise(
        SAID,
        "To add anything to your request, or to withdraw it, write to us at %(address)s or "
        "%(email)s, quoting its reference.",
        ("test_intake.py::test_letters_to_a_request_received_by_post_say_how_to_write_back",),
    ),
    # --- 4. requests that stall, end; the clock and its sources --------------------------------
    Promise(
        SAID,
        "The time limit for our answer keeps running while we wait for your answer: the sooner "
        "you answer, the sooner we can act on your request.",
        (
            "test_lapsing.py::test_the_clock_keeps_running_while_a_clarification_is_awaited",
            "test_lapsing.py::test_the_letters_say_how_the_clock_runs_and_when_the_request_lapses",
        ),
    ),
    Promise(
        SAID,
        "If we receive no answer within %(days)d days, your request will lapse: it will be closed "
        "without action, and you would have to file a new one.",
        (
            "test_lapsing.py::test_a_stalled_request_lapses_the_day_after_its_period_and_not_before",
            "test_lapsing.py::test_the_letters_say_how_the_clock_runs_and_when_the_request_lapses",
        ),
    ),
    Promise(
        SAID,
        "If we receive no proof of identity within %(days)d days, your request will lapse: it will "
        "be closed without action, and you would have to file a new one.",
        (
            "test_lapsing.py::test_a_stalled_request_lapses_the_day_after_its_period_and_not_before",
            "test_lapsing.py::test_the_letters_say_how_the_clock_runs_and_when_the_request_lapses",
        ),
    ),
    Promise(
        SAID,
        "This request is therefore closed (lapsed): nothing more will be done about it, and any "
        "document you sent us with it has been destroyed.",
        (
            "test_lapsing.py::test_documents_left_are_destroyed",
            "test_lapsing.py::test_the_status_page_shows_the_lapse_with_the_same_explanation",
            "test_lapsing.py::test_the_mail_says_why_and_how_to_file_again_in_the_requests_language",
        ),
    ),
    Promise(
        P,
        "a document proving your identity if we have reasonable doubts about it, telling you why "
        "(article 12(6) of the GDPR), the time limit being suspended until we receive it",
        (
            "test_lapsing.py::test_the_clock_is_suspended_while_a_proof_of_identity_is_awaited",
            "test_rights_requests.py::test_suspension_for_identity_moves_the_due_date_and_is_recorded",
        ),
    ),
    Promise(
        README,
        "`--dry-run` lists what would lapse (reference, what it waits for, since when, the "
        "period's last day) and changes nothing",
        ("test_lapsing.py::test_the_dry_run_lists_and_changes_nothing",),
    ),
    # --- 5. post-mortem communication delivers -------------------------------------------------
    Promise(
        SAID,
        "We communicated to you the following data of the deceased: %(categories)s.",
        (
            "test_postmortem_delivery.py::test_the_completion_letter_lists_exactly_the_categories_communicated",
        ),
    ),
    Promise(
        SAID,
        "Download them with this link, which works once:",
        (
            "test_postmortem_delivery.py::test_a_release_mails_a_single_use_encrypted_download_of_exactly_those_data",
            "test_postmortem_delivery.py::test_an_expired_link_is_refused_and_its_file_deleted",
        ),
    ),
    Promise(
        SAID,
        "No data of the deceased were communicated to you.",
        (
            "test_postmortem_delivery.py::test_completing_without_a_release_says_nothing_was_communicated",
        ),
    ),
    # --- 6. the policy's facts come from the configuration the code enforces ------------------
    Promise(
        P,
        "Your choice is kept for six (6) months; we then ask you again, and also whenever this "
        "Policy changes.",
        (
            "test_policy_facts.py::test_the_consent_lifetime_stated_is_the_one_the_widget_and_retention_apply",
            "test_policy_facts.py::test_changing_the_consent_lifetime_changes_the_policy",
            "test_browser_widget.py::test_a_new_policy_version_asks_again",
        ),
    ),
    Promise(
        P,
        "Refusing is as easy as accepting, and closing the banner counts as a refusal.",
        (
            "test_browser_widget.py::test_closing_the_banner_is_a_refusal",
            "test_browser_widget.py::test_nothing_non_essential_before_a_choice_and_after_refusal",
        ),
    ),
    Promise(
        P,
        "We keep a proof of each choice (its date, the policy version and the categories chosen), "
        "without any data that identifies you directly.",
        (
            "test_consent_api.py::test_receipt_is_recorded_and_returned",
            "test_versions_in_force.py::test_a_receipt_names_the_policy_version_it_was_given_under",
        ),
    ),
    Promise(
        P,
        "Others have a longer lifespan, but this never exceeds thirteen (13) months",
        (
            "test_policy_facts.py::test_the_longest_cookie_lifetime_stated_is_the_registrys_limit",
            "test_consent_api.py::test_consent_lifetime_over_13_months_is_refused",
        ),
    ),
    Promise(
        P,
        "At the end of this period, your account is considered as “inactive” and will be "
        "automatically deactivated.",
        ("test_retention.py::test_inactive_account_is_warned_30_days_before_then_deactivated",),
    ),
    Promise(
        P,
        "the statistics of audience measurement are not kept more than thirteen (13) months, and "
        "your raw data of frequentation of the site not more than thirteen (13) months.",
        (
            "test_policy_facts.py::test_retention_periods_stated_are_the_rules_of_retention_yaml",
            "test_retention.py::test_raw_visits_are_deleted_13_months_after_collection",
        ),
    ),
    Promise(
        P,
        "the obligation to keep invoices for ten (10) years",
        (
            "test_policy_facts.py::test_changing_a_retention_period_changes_the_policy",
            "test_retention.py::test_invoices_are_deleted_10_years_after_the_end_of_their_financial_year",
            "test_retention.py::test_invoices_of_closed_accounts_go_to_the_archive_and_leave_the_export",
        ),
    ),
    Promise(
        P,
        "A reply will be sent to you at the latest one (1) month after we receive your request",
        (
            "test_policy_facts.py::test_reply_times_stated_are_those_the_deadlines_compute",
            "test_policy_facts.py::test_changing_the_time_limits_changes_the_policy",
            "test_deadlines.py::test_due_date",
        ),
    ),
    Promise(
        P,
        "If necessary, this period may be extended by two (2) months",
        (
            "test_policy_facts.py::test_reply_times_stated_are_those_the_deadlines_compute",
            "test_deadlines.py::test_extended_reply_due_is_the_three_month_due_date",
        ),
    ),
    Promise(
        P,
        "You can exercise them online, without writing a letter",
        (
            "test_rights_requests.py::test_each_right_end_to_end_without_an_account",
            "test_policy_facts.py::test_the_channels_stated_are_the_operators",
            "test_policy_facts.py::test_changing_the_channels_changes_the_policy",
        ),
    ),
    Promise(
        P,
        "If you are not signed in to your account, the form also asks for a copy of an identity "
        "document",
        (
            "test_policy_facts.py::test_the_paragraph_on_exercising_rights_says_what_the_forms_ask",
            "test_rights_requests.py::test_the_document_is_required_by_the_operators_setting",
        ),
    ),
    Promise(
        P,
        "We never ask you to sign your request or to send a signed photocopy of your identity "
        "document.",
        ("test_policy_facts.py::test_the_paragraph_on_exercising_rights_says_what_the_forms_ask",),
    ),
    Promise(
        P,
        "ALLOPASS provides a copy of the Data being processed.",
        (
            "test_exports.py::test_every_file_is_in_the_zip",
            "test_exports.py::test_from_the_second_copy_the_fee_notice_must_be_acknowledged_first",
        ),
    ),
    Promise(
        P,
        "You can record, change or withdraw your directives online",
        (
            "test_postmortem.py::test_directives_are_recorded_only_with_the_separate_consent",
            "test_postmortem.py::test_changing_and_withdrawing_keep_every_version",
        ),
    ),
    # --- 7. version 1 is the text the operator published ---------------------------------------
    Promise(
        SAID,
        "You are reading an earlier version of this policy, kept at this permanent address.",
        (
            "test_policy_pages.py::test_earlier_version_stays_at_its_permanent_address",
            "test_policy_v1.py::test_english_text_is_the_seed_word_for_word",
        ),
    ),
    # --- 8. small truths -----------------------------------------------------------------------
    Promise(
        SAID,
        "Legal reference: Regulation (EU) 2016/679 (General Data Protection Regulation), article "
        "%(articles)s.",
        (
            "test_letter_wording.py::test_one_article_is_cited_in_the_singular_several_in_the_plural",
        ),
    ),
    Promise(
        SAID,
        "Anyone can check it on %(address)s: it tells whether this version is still in force.",
        (
            "test_postmortem_delivery.py::test_the_certificate_names_the_privacy_centers_own_verification_page",
        ),
    ),
    Promise(
        SAID,
        "A copy of the death certificate (acte de décès), as a PDF, JPEG or PNG file of at most "
        "%(limit)d MB.",
        ("test_postmortem_delivery.py::test_each_heirs_document_field_has_its_own_hint",),
    ),
    # --- issue 16, 1. signing out ends the session ----------------------------------------------
    Promise(
        README,
        "Signing out ends the session on the server: a copy of the cookie taken before opens "
        "nothing afterwards (a staff member is sent to sign in, an account holder is signed out).",
        (
            "test_security_sessions.py::test_a_staff_cookie_copied_before_sign_out_opens_nothing_after",
            "test_security_sessions.py::test_a_holders_cookie_copied_before_sign_out_opens_nothing_after",
        ),
    ),
    Promise(
        README,
        "A staff session also ends 12 hours after signing in whatever the activity "
        "(`STAFF_SESSION_HOURS`), besides the 30 minutes idle; an account holder's 24 hours after "
        "signing in (`ACCOUNT_SESSION_HOURS`).",
        (
            "test_security_sessions.py::test_a_staff_session_ends_after_its_lifetime_whatever_the_activity",
            "test_security_sessions.py::test_the_staff_lifetime_is_a_setting",
            "test_security_sessions.py::test_an_idle_copy_is_refused_by_the_server_not_only_by_its_cookie",
            "test_security_sessions.py::test_a_holders_session_ends_after_its_lifetime",
            "test_security_sessions.py::test_a_holders_lifetime_is_a_setting",
        ),
    ),
    Promise(
        README,
        'An admin ends every session of a member ("End the sessions" on `/staff/members`, which '
        "shows each member's open sessions; for themselves, every other session), audited; a "
        "two-factor reset, a deactivation and a new password (`flask --app wsgi staff "
        "reset-password EMAIL`) end every session of the member too.",
        (
            "test_security_sessions.py::test_an_admin_ends_a_members_sessions",
            "test_security_sessions.py::test_an_admin_ends_their_other_sessions_and_keeps_this_one",
            "test_security_sessions.py::test_a_two_factor_reset_ends_every_session",
            "test_security_sessions.py::test_deactivating_a_member_ends_their_sessions",
            "test_security_sessions.py::test_a_password_reset_ends_every_session",
        ),
    ),
    Promise(
        README,
        "Every console page has a sign-out button.",
        ("test_security_sessions.py::test_every_console_page_offers_the_sign_out_button",),
    ),
    Promise(
        README,
        "Ended sessions are deleted a day after they end by the daily retention run.",
        (
            "test_security_sessions.py::test_ended_sessions_are_deleted_a_day_later",
            "test_security_sessions.py::test_the_retention_run_deletes_ended_sessions",
        ),
    ),
    Promise(
        SAID,
        "You signed in %(hours)d hours ago: please sign in again.",
        (
            "test_security_sessions.py::test_a_staff_session_ends_after_its_lifetime_whatever_the_activity",
        ),
    ),
)


def _plain(markup: str) -> str:
    """The text a reader sees: tags dropped, entities decoded, white space collapsed."""
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.DOTALL)
    text = html.unescape(re.sub(r"<[^>]+>", " ", markup))
    return re.sub(r"\s+", " ", text).strip()


@cache
def _messages_of_the_code() -> frozenset[str]:
    """Every message the code and templates say today (extracted afresh, not the catalogue)."""
    with tempfile.TemporaryDirectory() as directory:
        template = Path(directory) / "messages.pot"
        subprocess.run(
            [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
             *EXTRACT_KEYWORDS, "--no-location", "-o", str(template), "privacy_center"],
            cwd=PROJECT_ROOT, check=True, capture_output=True,
        )  # fmt: skip
        with template.open("rb") as handle:
            return frozenset(
                message.id if isinstance(message.id, str) else message.id[0]
                for message in read_po(handle)
                if message.id
            )


def _readme() -> str:
    return re.sub(r"\s+", " ", (PROJECT_ROOT / "README.md").read_text(encoding="utf-8"))


@pytest.mark.parametrize("promise", PROMISES, ids=lambda promise: promise.sentence[:48])
def test_each_promise_is_said_where_it_is_quoted(client, promise):
    if promise.source == P:
        assert promise.sentence in _plain(client.get("/policy?lang=en").get_data(as_text=True))
    elif promise.source == SAID:
        assert any(promise.sentence in message for message in _messages_of_the_code())
    elif promise.source == README:
        assert promise.sentence in _readme()
    else:
        raise AssertionError(f"unknown source {promise.source!r}")


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
