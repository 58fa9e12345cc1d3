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
from privacy_center.content import get_content
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
# The newest version, in English, facts rendered: what /policy shows from its effective date
# (a version published ahead of it states its promises before they are in force).
NEWEST = "newest"
SAID = "said"  # in a message of the code: a letter, a mail or a page says it
README = "readme"  # the README, white space collapsed

PROMISES: tuple[Promise, ...] = (
    # --- issue 19: the consent banner first on screen, alive without the API, keyboard first ----
    Promise(
        README,
        "The banner needs no request after the script",
        (
            "test_browser_widget_first.py::test_the_banner_needs_no_request_after_the_script",
            "test_widget_script.py::test_the_script_carries_the_banner_texts_of_its_language",
        ),
    ),
    Promise(
        README,
        "When the privacy center's API cannot be reached (network error, 5xx, a page CSP without "
        "it in `connect-src`), the banner still shows with its built-in texts, choices apply on "
        "the page and are kept, and their receipts wait in `pc_pending` until the privacy center "
        "answers.",
        ("test_browser_widget_first.py::test_alive_when_the_privacy_center_cannot_be_reached",),
    ),
    Promise(
        README,
        'The banner\'s first Tab stop is its first choice, "Accept all".',
        ("test_browser_widget_first.py::test_the_first_tab_stop_is_the_first_choice",),
    ),
    Promise(
        README,
        "The banner fits a 320 px screen in every language and never hides the element that has "
        "focus: while it shows, the page keeps room under its content equal to the banner's "
        "height.",
        (
            "test_browser_widget_narrow.py::"
            "test_at_320_px_the_banner_fits_and_never_hides_the_focused_element",
            "test_browser_widget_narrow.py::test_on_a_phone_the_banner_is_compact",
        ),
    ),
    # --- issue 16, item 2: identity documents cannot attack the staff who open them -----------
    Promise(
        README,
        "Staff never open the original in the browser: each page is rendered on the server, in a "
        "separate process with memory, time and page limits, as a PNG image; the original is only "
        "downloaded as an attachment.",
        (
            "test_security_pdf.py::test_staff_see_each_page_as_a_png_and_the_original_only_as_a_download",
            "test_security_pdf.py::test_the_child_runs_under_the_limits_the_kernel_enforces",
            "test_security_pdf.py::test_a_document_stored_before_is_rendered_at_its_first_view",
        ),
    ),
    Promise(
        SAID,
        "The pages are shown as images made on our server, so nothing the file may hold (scripts, "
        "links, forms) runs in your browser.",
        (
            "test_security_pdf.py::test_staff_see_each_page_as_a_png_and_the_original_only_as_a_download",
            "test_security_pdf.py::test_a_photo_is_shown_as_a_png_rendered_on_the_server",
        ),
    ),
    Promise(
        SAID,
        "The PDF contains interactive content (links to web addresses or other files, forms that "
        "send or import data, or multimedia), which we do not accept for security reasons.",
        (
            "test_security_pdf.py::test_each_pdf_attack_is_refused_and_the_form_keeps_the_rest",
            "test_hostile_uploads.py::test_the_request_form_refuses_and_keeps_nothing",
        ),
    ),
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
    # --- issue 16, item 9: nobody stops the marketing of someone else's address -----------
    Promise(
        NEWEST,
        "If you object to our marketing while signed in to your account, with the unsubscribe "
        "link of our emails or in an email sent from the address concerned, it stops at once; "
        "otherwise it stops when you confirm your request with the link we send to that email "
        "address, so that nobody can stop the messages of someone else.",
        (
            "test_security_marketing.py::test_a_stranger_cannot_stop_someone_elses_marketing",
            "test_security_marketing.py::test_the_confirmation_link_stops_marketing_once",
            "test_security_marketing.py::test_an_expired_or_forged_link_stops_nothing",
            "test_security_marketing.py::test_a_signed_in_holder_stops_their_marketing_at_once",
            "test_security_marketing.py::test_an_email_from_the_address_itself_stops_marketing_at_once",
            "test_security_marketing.py::test_a_letter_or_a_call_naming_an_address_waits_for_its_confirmation",
            "test_preferences.py::test_one_click_unsubscribes_without_session_or_csrf_and_records_proof",
            "test_security_marketing.py::test_the_policy_says_when_marketing_stops",
        ),
    ),
    Promise(
        README,
        "`objection_marketing` (stops marketing at once when signed in; otherwise when the "
        "emailed confirmation link is used, so that nobody stops the marketing of an address "
        "that is not theirs; never confirmed, it lapses with nothing stopped)",
        (
            "test_security_marketing.py::test_a_signed_in_holder_stops_their_marketing_at_once",
            "test_security_marketing.py::test_the_confirmation_link_stops_marketing_once",
            "test_security_marketing.py::test_an_unconfirmed_objection_lapses_with_nothing_stopped",
        ),
    ),
    Promise(
        SAID,
        "Nothing has stopped yet: marketing to this address stops as soon as the link is used. "
        "If it is not used, the request lapses and nothing changes.",
        (
            "test_security_marketing.py::test_a_stranger_cannot_stop_someone_elses_marketing",
            "test_security_marketing.py::test_an_unconfirmed_objection_lapses_with_nothing_stopped",
        ),
    ),
    Promise(
        SAID,
        "Our marketing to this address was therefore not stopped.",
        ("test_security_marketing.py::test_an_unconfirmed_objection_lapses_with_nothing_stopped",),
    ),
    Promise(
        SAID,
        "A letter, a call or a signature does not prove that an email address is the requester's.",
        (
            "test_security_marketing.py::test_a_letter_or_a_call_naming_an_address_waits_for_its_confirmation",
            "test_security_marketing.py::test_the_command_line_needs_the_link_address_or_the_senders_proof",
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
    # --- issue 20: the cookie registry checked against the site ----------------------------------
    Promise(
        README,
        "at most `--pages` pages per pass, only the origins of those URLs; links are followed, "
        "forms never submitted",
        ("test_cookie_scan.py::test_the_clean_variant_scans_clean_and_the_scan_is_bounded",),
    ),
    Promise(
        README,
        "a cookie or storage key of a non-essential service, or a request to one of its `hosts`, "
        'before any choice or after "refuse all"',
        (
            "test_cookie_scan.py::test_a_tracker_that_sets_its_cookie_before_consent",
            "test_cookie_scan.py::test_a_script_that_keeps_running_after_refusal",
            "test_cookie_scan.py::test_compare_sorts_what_was_seen_into_findings",
        ),
    ),
    Promise(
        README,
        "Each page has `--page-timeout` seconds to load, the whole scan `--timeout` seconds; what "
        "was seen by then is reported.",
        (
            "test_cookie_scan.py::test_a_page_over_its_time_limit_is_reported_and_the_scan_goes_on",
            "test_cookie_scan.py::test_the_time_limit_of_the_whole_scan_is_reported",
        ),
    ),
    Promise(
        README,
        "**1** when there is a violation, an undeclared cookie or key, or a lifetime too long",
        (
            "test_cookie_scan.py::test_an_undeclared_http_cookie_fails_the_command",
            "test_cookie_scan.py::test_a_cookie_that_lives_two_years",
        ),
    ),
    Promise(
        README,
        'the staff console\'s "Cookie scan" page (DPO and admin) shows the last one and when '
        "it ran",
        (
            "test_cookie_scan.py::test_the_demo_site_scans_clean_through_the_command",
            "test_cookie_scan.py::test_the_console_says_when_no_scan_ran_and_keeps_the_last",
            "test_access_matrix.py::test_only_the_owner_reaches_the_object",
        ),
    ),
    Promise(
        SAID,
        "Clean: the site sets only what the registry declares, and only after consent.",
        ("test_cookie_scan.py::test_the_demo_site_scans_clean_through_the_command",),
    ),
    # --- issue 16, item 3: one host rule everywhere ---------------------------------------------
    Promise(
        README,
        "a request for any other `Host` is refused (400) on every path, the pre-rendered policy "
        "pages and the consent receipts included, before anything is answered, stored or built "
        "from it, so that no emailed link or receipt URL can name a forged host",
        (
            "test_security_hosts.py::test_forged_host_gets_no_prerendered_policy_page",
            "test_security_hosts.py::test_forged_host_with_matching_origin_stores_no_receipt",
            "test_security_hosts.py::test_every_route_refuses_a_forged_host",
            "test_security_hosts.py::test_the_host_rule_is_flasks_own",
        ),
    ),
    Promise(
        README,
        "The application and gunicorn (`forwarded_allow_ips`, set from it by `gunicorn.conf.py`) "
        "follow the same list; from any other peer the headers are ignored, so a client cannot "
        "claim https, another address (to escape its rate limit) or another host",
        (
            "test_security_hosts.py::test_forwarded_headers_from_an_untrusted_peer_are_ignored",
            "test_security_hosts.py::test_forwarded_headers_from_a_trusted_proxy_are_believed",
            "test_security_hosts.py::test_documented_gunicorn_trusts_no_forwarded_headers_by_default",
            "test_security_hosts.py::test_documented_gunicorn_trusts_the_proxies_named",
        ),
    ),
    # --- issue 17: archival, tagged PDFs ---------------------------------------------------------
    Promise(
        README,
        "is rendered by the one `letters.rendering.render_pdf` as **PDF/A-3a**: fonts embedded, "
        "an sRGB output intent, XMP metadata (title, author = the operator, subject, creation "
        "date, language), and tagged",
        (
            "test_pdf_archival.py::test_every_letter_is_archival_and_tagged",
            "test_pdf_archival.py::test_the_post_mortem_certificate_is_archival_and_tagged",
            "test_pdf_archival.py::test_the_summary_pdf_carries_data_json_and_its_schema",
            "test_pdf_archival.py::test_the_policy_pdf_is_accessible_with_bookmarks_for_its_sections",
        ),
    ),
    Promise(
        README,
        "every link described by its words (and, for an external one, its address)",
        ("test_pdf_archival.py::test_links_are_described_by_their_words_and_embedded_files_kept",),
    ),
    Promise(
        README,
        "has a bookmark for every heading, in each language",
        (
            "test_pdf_archival.py::test_the_policy_pdf_is_accessible_with_bookmarks_for_its_sections",
        ),
    ),
    Promise(
        SAID,
        "This PDF also carries data.json and data.schema.json as attached files: your PDF reader "
        "lists them in its attachments panel, from which you can save them.",
        ("test_pdf_archival.py::test_the_summary_pdf_carries_data_json_and_its_schema",),
    ),
    Promise(
        SAID,
        "This PDF carries data.schema.json as an attached file; data.json, too large to attach, "
        "is beside it in the download.",
        ("test_pdf_archival.py::test_a_data_json_too_large_to_embed_is_left_beside_the_pdf",),
    ),
    Promise(
        README,
        "An unknown kind or language exits non-zero, names the choices and writes nothing",
        (
            "test_pdf_archival.py::test_the_sample_command_writes_one_letter_and_refuses_unknown_ones",
            "test_pdf_archival.py::test_the_samples_are_every_letter_the_console_sends",
        ),
    ),
    Promise(
        README,
        "a publication or an upgrade names new files, and the old file of that version and "
        "language is deleted when its successor is written.",
        (
            "test_policy_pdf_cache.py::test_a_changed_document_gets_a_new_file_and_the_old_one_goes",
            "test_policy_pdf_cache.py::test_the_pdfs_are_made_by_export_static_and_in_the_background_after_start",
        ),
    ),
    # --- issue 16, item 6: no timing tells who has an account ----------------------------------
    Promise(
        README,
        'Asking for a sign-in link or for "find my request" records the same single row (a '
        "`mail_intent`: what was asked, the address and reference typed) whatever the address, "
        "and answers; the address is looked up, and the link made and mailed, only once the "
        "answer has been sent",
        (
            "test_security_timing.py::test_a_sign_in_link_does_the_same_work_for_a_known_and_an_unknown_address",
            "test_security_timing.py::test_a_deactivated_account_is_answered_like_an_unknown_address",
            "test_security_timing.py::test_find_my_request_does_the_same_work_whatever_matches",
            "test_security_timing.py::test_with_redis_the_worker_gets_the_intent_after_the_answer",
        ),
    ),
    Promise(
        README,
        "An intent holds no secret (the link's token is made when its mail is sent) and is "
        "deleted once handled; one whose mail could not go out is tried again by `mail deliver`",
        (
            "test_security_timing.py::test_a_sign_in_link_does_the_same_work_for_a_known_and_an_unknown_address",
            "test_security_timing.py::test_an_intent_whose_mail_fails_waits_for_mail_deliver",
            "test_security_timing.py::test_mail_deliver_works_out_an_unknown_address_by_sending_nothing",
        ),
    ),
    Promise(
        README,
        "A staff member's lockout notice likewise leaves only after the answer.",
        ("test_security_timing.py::test_the_staff_lockout_notice_leaves_after_the_answer",),
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
    # --- issue 19, item 5: consent records for staff -------------------------------------------
    Promise(
        SAID,
        "Each export is noted in the audit log with who made it and its filter.",
        (
            "test_consent_records.py::test_every_export_is_audited_with_its_filter",
            "test_consent_records.py::test_bad_filters_are_refused_with_a_message_and_export_nothing",
        ),
    ),
    Promise(
        README,
        "Choices per service: inside each category the preferences dialog lists the services of "
        "the cookie registry (`content/cookies.yaml`) with their own switch. The category's "
        "switch turns all its services on or off, and a category counts as granted when any of "
        "its services is.",
        (
            "test_browser_widget_services.py::"
            "test_each_service_has_its_own_switch_and_the_category_follows",
            "test_consent_api.py::test_services_that_contradict_or_miss_get_400",
        ),
    ),
    Promise(
        README,
        '`data-consent="CATEGORY:SERVICE"` waits for that one service; receipts, `getConsent()` '
        "and `pc:change` carry `services`, and Google Consent Mode signals follow the services a "
        "registry entry maps to them (`consent_mode`).",
        (
            "test_browser_widget_services.py::test_data_consent_for_one_service_waits_for_that_service",
            "test_browser_widget_services.py::"
            "test_each_service_has_its_own_switch_and_the_category_follows",
            "test_consent_api.py::test_receipt_carries_the_choice_of_each_service",
        ),
    ),
    Promise(
        README,
        "Switching off one service deletes the cookies and storage keys the registry declares "
        "for it, on the page's domain and its parent domains, while the other services of its "
        "category keep theirs.",
        (
            "test_browser_widget_services.py::"
            "test_switching_off_one_service_deletes_its_cookies_and_keeps_the_others",
            "test_browser_widget_services.py::"
            "test_a_service_switched_off_loses_its_cookies_on_the_parent_domains_too",
        ),
    ),
    Promise(
        README,
        "plus `services`: optional, so that a widget cached before services existed is still "
        "recorded, each service then following its category)",
        ("test_consent_api.py::test_receipt_without_services_grants_them_with_their_category",),
    ),
    Promise(
        README,
        "The consent dashboard reads a daily rollup (counts per UTC day, site, language and widget "
        "build) that is written with each batch of receipts, in the same transaction, never the "
        "receipts themselves;",
        (
            "test_consent_records.py::test_each_receipt_is_counted_in_the_rollup_as_it_is_written",
            "test_consent_records.py::test_group_committed_batches_update_the_rollup_with_their_receipts",
            "test_consent_records.py::test_the_dashboard_reads_the_rollup_not_the_receipts",
            "test_consent_records.py::test_dashboard_figures_from_the_rollup_equal_a_direct_count",
        ),
    ),
    Promise(
        README,
        "rebuilds it from the stored receipts (once after the upgrade that adds it; running it "
        "again changes nothing).",
        ("test_consent_records.py::test_backfill_counts_existing_receipts_and_is_idempotent",),
    ),
    Promise(
        README,
        "streamed, each receipt with the hash of the texts shown and its widget build (with the "
        "build's file, integrity hash and build date while the manifest lists it); a bad filter is "
        "answered 400 with what is wrong",
        (
            "test_consent_records.py::test_csv_export_streams_receipts_with_their_texts_hash_and_build",
            "test_consent_records.py::test_exports_name_the_widget_build_files_and_integrity",
            "test_consent_records.py::test_json_export_is_one_document_streamed_in_pieces",
            "test_consent_records.py::test_bad_filters_are_refused_with_a_message_and_export_nothing",
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
    elif promise.source == NEWEST:
        with client.application.app_context():
            newest = get_content().versions[-1]
        assert promise.sentence in _plain(newest.document("en").html)
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
