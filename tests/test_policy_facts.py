"""The policy's facts come from the configuration the code enforces (policy/facts.py).

Each fact is checked twice: the policy states the value the code uses, and changing the
configuration (in a copy of the content) changes what the policy says. A fact typed in the text
instead of named is refused when the content is loaded.
"""

from __future__ import annotations

import html
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

from privacy_center import deadlines
from privacy_center.config import PROJECT_ROOT
from privacy_center.consent.configuration import max_age_seconds
from privacy_center.content import OperatorContent, get_content, load_content
from privacy_center.content.cookies import MAX_LIFETIME_MONTHS, Lifetime
from privacy_center.content.policy_facts import escape_markdown, list_fact, spell_period
from privacy_center.operator import ContentError, Period
from privacy_center.rights.documents import identity_document_needed
from privacy_center.rights.kinds import KINDS

CONTENT_DIR = PROJECT_ROOT / "content"
LANGUAGES = ("fr", "en", "es", "de")


@pytest.fixture(scope="module")
def content() -> OperatorContent:
    return load_content(CONTENT_DIR)


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, target)
    return target


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def plain(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def stated(content: OperatorContent, language: str) -> str:
    """Everything the newest version says in ``language``: summary and body, as plain text."""
    document = content.versions[-1].document(language)
    return " ".join([*(point.text for point in document.summary), plain(document.html)])


def front_matter(language: str) -> dict:
    source = (CONTENT_DIR / "policy" / "v3" / f"{language}.md").read_text(encoding="utf-8")
    return yaml.safe_load(source.split("---\n")[1])


# --- How periods are written ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "language", "words"),
    [
        (Period(months=6), "en", "six (6) months"),
        (Period(months=6), "fr", "six (6) mois"),
        (Period(months=6), "es", "seis (6) meses"),
        (Period(months=6), "de", "sechs (6) Monate"),
        (Period(months=1), "en", "one (1) month"),
        (Period(months=1), "fr", "un (1) mois"),
        (Period(months=1), "es", "un (1) mes"),
        (Period(months=1), "de", "einen (1) Monat"),
        (Period(years=1), "de", "ein (1) Jahr"),
        (Period(years=1), "fr", "un (1) an"),
        (Period(days=30), "es", "treinta (30) días"),
        (Period(days=21), "es", "veintiún (21) días"),
        (Period(days=21), "fr", "vingt et un (21) jours"),
        (Period(days=71), "fr", "soixante et onze (71) jours"),
        (Period(days=80), "fr", "quatre-vingts (80) jours"),
        (Period(days=92), "fr", "quatre-vingt-douze (92) jours"),
        (Period(days=21), "de", "einundzwanzig (21) Tage"),
        (Period(months=13), "en", "thirteen (13) months"),
        (Period(days=45), "en", "forty-five (45) days"),
        (Period(years=1, months=6), "en", "one (1) year and six (6) months"),
        (Period(years=2, months=1), "de", "zwei (2) Jahre und einen (1) Monat"),
    ],
)
def test_periods_are_written_as_the_policy_writes_them(period, language, words):
    assert spell_period(period, language) == words


def test_a_period_too_long_to_write_is_a_content_error():
    with pytest.raises(ContentError, match="larger unit"):
        spell_period(Period(days=120), "en")


def test_list_facts_join_names_as_each_language_does():
    fact = list_fact(["HIPAY", "Google", {"en": "AB Tasty", "fr": "AB Tasty"}], ("en", "fr"))
    assert fact.text == {"en": "HIPAY, Google, and AB Tasty", "fr": "HIPAY, Google et AB Tasty"}
    assert escape_markdown("a*b_[c]<d>") == "a\\*b\\_\\[c\\]&lt;d&gt;"


def test_no_token_is_left_in_any_version(content):
    for version in content.versions:
        for language in LANGUAGES:
            document = version.document(language)
            assert "{{" not in document.html and "}}" not in document.html
            assert not any("{{" in point.text for point in document.summary)


# --- The consent lifetime ---------------------------------------------------------------------


def test_the_consent_lifetime_stated_is_the_one_the_widget_and_retention_apply(content):
    site = content.operator.site(content.operator.consent_site)
    months = site.consent_lifetime_months
    for language in LANGUAGES:
        assert spell_period(Period(months=months), language) in stated(content, language)
    # The widget's cookie lasts as long (calendar months), the registry and the retention table
    # say so, and the retention run keeps receipts valid for that long.
    assert max_age_seconds(months, date(2026, 1, 31)) == max_age_seconds(
        content.operator.consent_lifetime_months, date(2026, 1, 31)
    )
    (cookie,) = [c for s in content.registry.services for c in s.cookies if c.name == "pc_consent"]
    assert cookie.lifetime == Lifetime(months, "months")
    (rule,) = [rule for rule in content.retention if rule.key == "cookie-choice"]
    assert rule.period == Period(months=months)


def test_changing_the_consent_lifetime_changes_the_policy(content_copy):
    replace_in(
        content_copy / "operator.yaml", "consent_lifetime_months: 6", "consent_lifetime_months: 12"
    )
    content = load_content(content_copy)
    for language, words in {
        "en": "Your choice is kept for twelve (12) months;",
        "fr": "Votre choix est conservé pendant douze (12) mois ;",  # (a narrow space, collapsed)
        "es": "Su elección se conserva durante doce (12) meses;",
        "de": "Ihre Auswahl wird zwölf (12) Monate lang gespeichert;",
    }.items():
        text = stated(content, language)
        assert words in text
        assert spell_period(Period(months=6), language) not in text
    (cookie,) = [c for s in content.registry.services for c in s.cookies if c.name == "pc_consent"]
    assert cookie.lifetime == Lifetime(12, "months")
    (rule,) = [rule for rule in content.retention if rule.key == "cookie-choice"]
    assert rule.period == Period(months=12)
    # A published version keeps the words it was published with.
    assert "six (6) months" in plain(content.versions[1].document("en").html)


def test_sites_with_different_lifetimes_cannot_be_stated_as_one(content_copy):
    replace_in(
        content_copy / "operator.yaml",
        "# The site whose choice",
        "  - key: shop\n    name: Shop\n    origins: []\n    consent_lifetime_months: 12\n"
        "# The site whose choice",
    )
    with pytest.raises(ContentError, match=r"consent_lifetime_months differ"):
        load_content(content_copy)


def test_the_longest_cookie_lifetime_stated_is_the_registrys_limit(content):
    for language in LANGUAGES:
        words = spell_period(Period(months=MAX_LIFETIME_MONTHS), language)
        assert words in plain(content.versions[-1].document(language).html)


# --- Retention periods ------------------------------------------------------------------------

STATED_RULES = ("account", "audience-statistics", "raw-visits", "invoices", "claims")


def test_retention_periods_stated_are_the_rules_of_retention_yaml(content):
    rules = {rule.key: rule for rule in content.retention}
    for language in LANGUAGES:
        text = stated(content, language)
        for key in STATED_RULES:
            assert spell_period(rules[key].period, language) in text, (language, key)
        # The identity documents' longest keeping, in the paragraph on exercising one's rights.
        assert spell_period(rules["identity-documents"].period, language) in text


def test_changing_a_retention_period_changes_the_policy(content_copy):
    replace_in(
        content_copy / "retention.yaml",
        '    period: {years: 5}\n    starts:\n      en: "From your last activity',
        '    period: {years: 3}\n    starts:\n      en: "From your last activity',
    )
    content = load_content(content_copy)
    for language, words in {
        "en": "three (3) years",
        "fr": "trois (3) ans",
        "es": "tres (3) años",
        "de": "drei (3) Jahre",
    }.items():
        document = content.versions[-1].document(language)
        how_long = next(point for point in document.summary if point.key == "how-long")
        assert words in how_long.text
        assert words in plain(document.html)
    (rule,) = [rule for rule in content.retention if rule.key == "account"]
    assert rule.period == Period(years=3)  # what the retention run deactivates accounts after


# --- Reply times ------------------------------------------------------------------------------


def test_reply_times_stated_are_those_the_deadlines_compute(content):
    received = date(2026, 3, 2)
    assert deadlines.reply_due(received) == deadlines.due_date(received, deadlines.REPLY_MONTHS)
    for language in LANGUAGES:
        text = stated(content, language)
        assert spell_period(Period(months=deadlines.REPLY_MONTHS), language) in text
        extension = deadlines.EXTENDED_REPLY_MONTHS - deadlines.REPLY_MONTHS
        assert spell_period(Period(months=extension), language) in text
    assert "at the latest one (1) month after" in stated(content, "en")
    assert "extended by two (2) months" in stated(content, "en")


def test_changing_the_time_limits_changes_the_policy(monkeypatch):
    monkeypatch.setattr(deadlines, "REPLY_MONTHS", 2)
    monkeypatch.setattr(deadlines, "EXTENDED_REPLY_MONTHS", 5)
    content = load_content(CONTENT_DIR)
    received = date(2026, 3, 2)
    assert deadlines.reply_due(received) == deadlines.due_date(received, 2)
    text = stated(content, "de")
    assert "spätestens zwei (2) Monate nach Eingang" in text
    assert "um drei (3) Monate verlängert" in text
    assert "einen (1) Monat" not in text


# --- Channels ---------------------------------------------------------------------------------


def test_the_channels_stated_are_the_operators(content, client):
    operator = content.operator
    for language in LANGUAGES:
        document = content.versions[-1].document(language)
        assert f'<a href="mailto:{operator.privacy_email}">' in document.html
        assert operator.postal_contact in plain(document.html)
        # The online forms named are the privacy center's own.
        assert 'href="/rights"' in document.html
        assert 'href="/rights/post-mortem/request"' in document.html
    assert client.get("/rights").status_code == 200
    assert client.get("/rights/post-mortem/request").status_code == 200


def test_changing_the_channels_changes_the_policy(content_copy):
    replace_in(
        content_copy / "operator.yaml",
        "privacy_email: contact@allopass.com",
        "privacy_email: dpo@example.org",
    )
    replace_in(
        content_copy / "operator.yaml",
        "postal_contact: ALLOPASS – Responsable des données personnelles – 244",
        "postal_contact: ALLOPASS – DPO – BP 12 – 244",
    )
    content = load_content(content_copy)
    for language in LANGUAGES:
        document = content.versions[-1].document(language)
        assert document.html.count('href="mailto:dpo@example.org"') == 3
        assert "contact@allopass.com" not in document.html
        assert plain(document.html).count("ALLOPASS – DPO – BP 12 – 244, route de Seysses") == 3


# --- What the forms ask, and the identity document ----------------------------------------------


def file_inputs(page: str) -> set[str]:
    return set(re.findall(r'<input[^>]*type="file"[^>]*name="([a-z_]+)"', page)) | set(
        re.findall(r'<input[^>]*name="([a-z_]+)"[^>]*type="file"', page)
    )


@pytest.mark.parametrize("setting", ["required", "on_doubt"])
def test_the_paragraph_on_exercising_rights_says_what_the_forms_ask(
    app, make_app, content_copy, setting
):
    replace_in(
        content_copy / "operator.yaml",
        "identity_document: required",
        f"identity_document: {setting}",
    )
    application = make_app(CONTENT_DIR=str(content_copy))
    client = application.test_client()
    for language in LANGUAGES:
        page = plain(client.get(f"/policy?lang={language}").data.decode())
        texts = front_matter(language)["choices"]["identity_document"]
        other = next(value for value in texts if value != setting)
        # The text of the setting in force, not the other (their first words differ).
        assert plain(texts[setting].split("{{")[0]) in page
        assert plain(texts[other].split("{{")[0]) not in page
    with application.app_context():
        operator = get_content().operator
    # Every form asks for the name, the email address, the language and what is asked (details
    # and the kind's own fields), the identity document as the setting says, and nothing else:
    # no signature, no postal address.
    for kind in KINDS.values():
        page = client.get(f"/rights/requests/new/{kind.key}?lang=en").data.decode()
        form = re.search(r"<form[^>]*multipart.*?</form>", page, re.S).group(0)
        names = set(re.findall(r'<(?:input|select|textarea)[^>]*name="([^"]+)"', form))
        document = identity_document_needed(kind, own_account=False, operator=operator)
        common = {"csrf_token", "name", "email", "language", "details"}
        assert {name for name in names if not name.startswith("specific_")} == common | (
            {"document"} if document else set()
        ), kind.key
        assert ("document" in file_inputs(form)) == document
    assert identity_document_needed(KINDS["access"], own_account=False, operator=operator) == (
        setting == "required"
    )
    # Stopping marketing never needs a document, as the "required" text says.
    marketing = client.get("/rights/requests/new/objection_marketing?lang=en").data.decode()
    assert "document" not in file_inputs(marketing)
    # Heirs always send the three documents the paragraph names.
    heirs = client.get("/rights/post-mortem/request?lang=en").data.decode()
    assert {"death_certificate", "capacity_proof", "identity"} <= file_inputs(heirs)


def test_every_value_of_the_identity_setting_has_its_text_in_every_language(content_copy):
    policy = content_copy / "policy" / "v3" / "es.md"
    text = policy.read_text(encoding="utf-8")
    without = re.sub(r"\n    on_doubt: \"[^\n]*\"", "", text, count=1)
    assert without != text
    policy.write_text(without, encoding="utf-8")
    with pytest.raises(ContentError, match=r"v3/es\.md: choices: identity_document needs one text"):
        load_content(content_copy)


# --- Facts are named, never typed -------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "token", "typed"),
    [
        ("en", "{{ consent_lifetime }}", "six (6) months"),
        ("fr", "{{ consent_lifetime }}", "6 mois"),
        ("de", "{{ reply_time }}", "einen Monat"),
        ("es", "{{ retention.account }}", "cinco (5) años"),
    ],
)
def test_a_period_typed_instead_of_named_is_refused(content_copy, language, token, typed):
    replace_in(content_copy / "policy" / "v3" / f"{language}.md", token, typed)
    with pytest.raises(ContentError) as raised:
        load_content(content_copy)
    message = str(raised.value)
    assert f"v3/{language}.md" in message and typed in message and "is typed" in message


def test_a_channel_typed_instead_of_named_is_refused(content_copy):
    replace_in(
        content_copy / "policy" / "v3" / "en.md",
        "By email to: {{ privacy_email }}",
        "By email to: [contact@allopass.com](mailto:contact@allopass.com)",
    )
    with pytest.raises(
        ContentError, match=r"contact@allopass\.com.* is typed: write \{\{ privacy_email"
    ):
        load_content(content_copy)


def test_an_unknown_fact_is_refused_with_its_file_and_line(content_copy):
    policy = content_copy / "policy" / "v3" / "de.md"
    replace_in(policy, "{{ consent_lifetime }}", "{{ consent_lifetim }}")
    line = 1 + policy.read_text(encoding="utf-8").split("{{ consent_lifetim }}")[0].count("\n")
    with pytest.raises(ContentError) as raised:
        load_content(content_copy)
    message = str(raised.value)
    assert f"v3/de.md, line {line}: unknown fact {{{{ consent_lifetim }}}}" in message
    assert "consent_lifetime" in message.split("the facts are:")[1]


def test_versions_published_before_facts_keep_their_typed_words(content):
    number = yaml.safe_load((CONTENT_DIR / "policy" / "versions.yaml").read_text())["facts_from"]
    assert number == 3
    assert "six (6) months" in plain(content.version(2).document("en").html)


def test_the_served_policy_states_the_facts(client, content):
    page = client.get("/policy?lang=fr").data.decode()
    assert "Votre choix est conservé pendant six (6) mois" in html.unescape(page)
    assert "au plus tard un (1) mois après" in html.unescape(page)


def test_the_changes_page_says_what_version_3_changed(client, content):
    body = html.unescape(client.get("/policy/changes?from=2&to=3&lang=en").data.decode())
    assert content.version(3).changes("en") in body
    inserted = " ".join(re.findall(r"<ins>(.*?)</ins>", body, re.DOTALL))
    assert "We never ask you to sign your request" in inserted
    assert "{{" not in body


def test_a_new_placeholder_is_required_from_its_version_on_only(content_copy, monkeypatch):
    from privacy_center.content import policy_versions as versions

    monkeypatch.setattr(versions, "PLACEHOLDERS", {**versions.PLACEHOLDERS, "recipients": 3})
    with pytest.raises(ContentError, match=r"v3/fr\.md: each of the placeholders .*\[\[recipients"):
        load_content(content_copy)
    # Every version from 3 on needs it (the later ones copy version 3).
    later = sorted(content_copy.glob("policy/v*/"), key=lambda path: int(path.name[1:]))[2:]
    for folder in later:
        for language in LANGUAGES:
            replace_in(
                folder / f"{language}.md",
                "\n[[retention]]\n",
                "\n[[retention]]\n\n[[recipients]]\n",
            )
    content = load_content(content_copy)  # versions 1 and 2 were published without it
    assert ("placeholder", "recipients") in content.versions[-1].document("en").parts
    assert ("placeholder", "recipients") not in content.versions[1].document("en").parts
