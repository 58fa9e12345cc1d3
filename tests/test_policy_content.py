"""The operator content: complete against the seed, and refused when it is wrong."""

from __future__ import annotations

import re
import shutil
import unicodedata
from pathlib import Path

import pytest

from privacy_center.config import PROJECT_ROOT
from privacy_center.content import load_content
from privacy_center.content.cookies import parse_lifetime
from privacy_center.operator import ContentError

CONTENT_DIR = PROJECT_ROOT / "content"
# A copy of the operator's policy as published (shared/seed/000_d8fbff540be5213d.txt).
SEED = Path(__file__).parent / "data" / "allopass-policy-seed.txt"

# Every heading of the operator's policy as published (the seed), with the anchor it lives at.
SEED_HEADINGS = {
    "COOKIES POLICY": "cookies",
    "What is a cookie?": "what-is-a-cookie",
    "What is the function of cookies, tags and tracers on our site?": "cookie-purposes",
    "Functional cookies": "functional-cookies",
    "Analytic and audience measurement cookies": "analytics-cookies",
    "Personalize ads according to your interests": "advertising-cookies",
    "Personalization of user experience": "personalization-cookies",
    "Accept or decline cookies": "cookie-preferences",
    "Setting up your internet browser": "browser-settings",
    "Chrome": "browser-chrome",
    "Firefox": "browser-firefox",
    "Internet Explorer": "browser-edge",
    "Safari": "browser-safari",
    "Private Navigation": "private-browsing",
    "Disabling third-party cookies": "third-party-cookies",
    "Policy on data protection": "data-protection",
    "Who collects your data ?": "who-collects",
    "What data is involved ?": "what-data",
    "Banking data": "banking-data",
    "« Plug-ins » and social modules": "social-plugins",
    "What are the associated rules for data collection and retention ?": "collection-retention",
    "Date of collection": "collection-date",
    "Time of data retention": "retention",
    "Who has access to your data ?": "recipients",
    "Customer support": "customer-support",
    "Marketing": "marketing",
    "Transfer and hosting of your data": "transfers",
    "For what purposes is your personal data collected?": "purposes",
    "Management of subscribed services": "purpose-services",
    "Personalization of our services": "purpose-personalization",
    "ALLOPASS information": "purpose-newsletters",
    "Personalization of ads on the ALLOPASS website and social networks": "purpose-social-ads",
    "Cookies and advertising targeting": "purpose-targeting",
    "What are your legal rights?": "your-rights",
    "Your rights under the Data Protection Act": "rights-overview",
    "Access rights": "right-access",
    "Rights of rectification": "right-rectification",
    "Right to erasure": "right-erasure",
    "Limitation rights": "right-restriction",
    "Rights to Data Portability": "right-portability",
    "Right to object to processing and profiling": "right-objection",
    "Post-Mortem Instructions": "post-mortem",
    "How to exercise your Specific Rights ?": "exercise-rights",
    "How your data is secured ?": "security",
    "Contacts and complaints": "contact",
    "Glossary": "glossary",
}


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


@pytest.fixture(scope="module")
def content():
    return load_content(CONTENT_DIR)


def test_seed_headings_are_the_ones_listed():
    """The list above is taken from the seed: each heading really occurs in it."""
    seed = normalise(SEED.read_text(encoding="utf-8"))
    for heading in SEED_HEADINGS:
        assert normalise(heading) in seed, heading


@pytest.mark.parametrize("language", ["en", "fr", "es", "de"])
def test_every_seed_section_is_in_every_version_and_language(content, language):
    for version in content.versions:
        document = version.document(language)
        titles = {heading.id: heading.title for heading in document.headings}
        for seed_heading, anchor in SEED_HEADINGS.items():
            assert anchor in titles, (
                f"v{version.number}/{language}: no section for {seed_heading!r}"
            )
            assert titles[anchor].strip(), f"v{version.number}/{language}: #{anchor} is empty"
            if language == "en":
                assert normalise(seed_heading) in normalise(titles[anchor]), (
                    seed_heading,
                    titles[anchor],
                )


@pytest.mark.parametrize("language", ["fr", "es", "de"])
def test_translations_are_translated(content, language):
    """A translated heading differs from the English one, proper names apart."""
    proper_names = {
        "Chrome",
        "Firefox",
        "Safari",
        "Marketing",
        "Internet Explorer",
        "Internet Explorer and Microsoft Edge",
    }
    for version in content.versions:
        english = {h.id: h.title for h in version.document("en").headings}
        translated = {h.id: h.title for h in version.document(language).headings}
        same = [
            anchor
            for anchor, title in translated.items()
            if title == english[anchor] and title not in proper_names
        ]
        assert not same, f"v{version.number}/{language} headings left in English: {same}"


def test_versions_have_the_same_headings_in_every_language(content):
    for version in content.versions:
        reference = [h.id for h in version.document("en").headings]
        for language in content.operator.languages:
            assert [h.id for h in version.document(language).headings] == reference


def test_cookie_list_and_retention_come_from_the_registry(content):
    names = [cookie.name for service in content.registry.services for cookie in service.cookies]
    assert {"pc_consent", "pc_lang", "_ga", "_ga_*", "IDE", "ABTasty", "YSC"} <= set(names)
    assert [rule.key for rule in content.retention][:3] == [
        "account",
        "audience-statistics",
        "raw-visits",
    ]


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("session", True),
        ("13 months", True),
        ("390 days", True),
        ("14 months", False),
        ("400 days", False),
        ("9600 hours", False),
        ("0 days", False),
        ("forever", False),
    ],
)
def test_cookie_lifetime_limit(value, accepted):
    if accepted:
        assert parse_lifetime(value, "here").unit in {"session", "days", "months", "hours"}
    else:
        with pytest.raises(ContentError):
            parse_lifetime(value, "here")


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, target)
    return target


def test_a_cookie_living_over_13_months_stops_loading_and_is_named(content_copy):
    registry = content_copy / "cookies.yaml"
    text = registry.read_text(encoding="utf-8")
    changed = text.replace(
        '"_ga"\n        lifetime: "13 months"', '"_ga"\n        lifetime: "25 months"'
    )
    assert changed != text
    registry.write_text(changed, encoding="utf-8")
    with pytest.raises(ContentError) as raised:
        load_content(content_copy)
    message = str(raised.value)
    assert "'_ga'" in message and "13 months" in message and "cookies.yaml" in message


def test_a_consent_mode_signal_of_another_category_stops_loading(content_copy):
    registry = content_copy / "cookies.yaml"
    text = registry.read_text(encoding="utf-8")
    # Google Analytics (analytics) may not drive an advertising signal.
    changed = text.replace("consent_mode: [analytics_storage]", "consent_mode: [ad_storage]")
    assert changed != text
    registry.write_text(changed, encoding="utf-8")
    with pytest.raises(
        ContentError, match="'ad_storage' is not a Consent Mode signal of analytics"
    ):
        load_content(content_copy)


def test_a_heading_without_anchor_is_refused(content_copy):
    policy = content_copy / "policy" / "v1" / "de.md"
    policy.write_text(
        policy.read_text(encoding="utf-8") + "\n## Anhang\n\nText.\n", encoding="utf-8"
    )
    with pytest.raises(ContentError, match="heading without an anchor"):
        load_content(content_copy)


def test_languages_must_share_anchors(content_copy):
    policy = content_copy / "policy" / "v2" / "es.md"
    policy.write_text(
        policy.read_text(encoding="utf-8").replace("{#glossary}", "{#glosario}"), encoding="utf-8"
    )
    with pytest.raises(ContentError, match="anchors differ"):
        load_content(content_copy)


def test_missing_translation_of_a_cookie_purpose_is_refused(content_copy):
    registry = content_copy / "cookies.yaml"
    lines = registry.read_text(encoding="utf-8").splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.strip().startswith("de:") and i > 40)
    del lines[index]
    registry.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(ContentError, match="no text for de"):
        load_content(content_copy)


def test_current_version_follows_effective_dates(content):
    from datetime import date

    assert content.current_version(date(2026, 11, 1)).number == 1
    assert content.current_version(date(2026, 11, 2)).number == 2
    with pytest.raises(ContentError):
        content.current_version(date(2018, 5, 24))
