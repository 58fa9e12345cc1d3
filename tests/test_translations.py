"""Every user-facing string is translated in every language, and the catalogues are current."""

from __future__ import annotations

import subprocess
import sys

import pytest
from babel.messages.pofile import read_po

from privacy_center.config import PROJECT_ROOT
from privacy_center.i18n import EXTRACT_KEYWORDS

LANGUAGES = ("fr", "en", "es", "de")


def load(language: str):
    with (PROJECT_ROOT / "translations" / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_has_no_untranslated_or_fuzzy_entry(language):
    catalogue = load(language)
    problems = []
    for message in catalogue:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        elif not all(strings):
            problems.append(f"untranslated: {message.id!r}")
    assert not problems, f"{language}: " + "; ".join(problems)


def test_catalogues_contain_every_string_of_the_code(tmp_path):
    """A string added to a template or to the code without `translations update` fails here."""
    template = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         *EXTRACT_KEYWORDS, "--no-location", "-o", str(template), "privacy_center"],
        cwd=PROJECT_ROOT, check=True, capture_output=True,
    )  # fmt: skip
    with template.open("rb") as handle:
        extracted = {message.id for message in read_po(handle) if message.id}
    assert extracted, "nothing was extracted: check babel.cfg"
    for language in LANGUAGES:
        known = {message.id for message in load(language) if message.id}
        missing = extracted - known
        assert not missing, (
            f"{language} misses {sorted(map(str, missing))}: run `flask translations update`"
        )


@pytest.mark.parametrize("language", ["fr", "es", "de"])
def test_interface_is_really_translated(client, language):
    english = client.get("/policy?lang=en").data.decode()
    translated = client.get(f"/policy?lang={language}").data.decode()
    for phrase in ("At a glance", "Download as PDF", "Contents", "How long we keep your data"):
        assert phrase in english
        assert phrase not in translated, (language, phrase)


# The regulation's name in each language: "GDPR" is English only.
REGULATION_NAME = {"fr": "RGPD", "es": "RGPD", "de": "DSGVO"}


def _texts_by_language(node, language=None):
    """Every string of a YAML content file with the language it is written in (the key of its
    nearest language mapping), or None when it is not in one."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _texts_by_language(value, key if key in LANGUAGES else language)
    elif isinstance(node, list):
        for item in node:
            yield from _texts_by_language(item, language)
    elif isinstance(node, str):
        yield language, node


@pytest.mark.parametrize("language", ["fr", "es", "de"])
def test_the_regulation_is_called_by_its_name_in_each_language(language):
    wrong = [
        message.id
        for message in load(language)
        if message.id
        and any(
            "GDPR" in text
            for text in (message.string if isinstance(message.string, tuple) else (message.string,))
        )
    ]
    assert not wrong, f"{language} says GDPR instead of {REGULATION_NAME[language]}: {wrong}"


def test_content_texts_in_french_spanish_and_german_do_not_say_gdpr():
    import yaml

    content = PROJECT_ROOT / "content"
    wrong = [
        str(path.relative_to(content))
        for path in sorted(content.glob("policy/v*/*.md"))
        if path.stem in REGULATION_NAME and "GDPR" in path.read_text(encoding="utf-8")
    ]
    for path in sorted(content.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        wrong += [
            f"{path.name} ({language}): {text[:60]}"
            for language, text in _texts_by_language(data)
            if language in REGULATION_NAME and "GDPR" in text
        ]
    assert not wrong, wrong


@pytest.mark.parametrize("language", ["fr", "es", "de"])
def test_rights_pages_name_the_regulation_in_the_readers_language(client, language):
    for path in ("/rights", "/rights/requests/new/erasure"):
        html = client.get(f"{path}?lang={language}").get_data(as_text=True)
        assert f"{REGULATION_NAME[language]} art. 17" in html or "Art. 17 DSGVO" in html, path
        assert "GDPR" not in html, path
