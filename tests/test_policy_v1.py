"""Version 1 of the policy is the text the operator published (the seed), word for word in
English, translated with the same structure into French, Spanish and German, and frozen: none
of it is generated from today's configuration."""

from __future__ import annotations

import re
import shutil
import unicodedata
from difflib import SequenceMatcher
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_policy_content import CONTENT_DIR, SEED

from privacy_center.content import load_content
from privacy_center.operator import ContentError

LANGUAGES = ("en", "fr", "es", "de")

# The only places where v1/en.md departs from the words of the seed, each with its reason:
# (what the seed says, what version 1 says, why). Everything else is the seed's own words.
FIXES = (
    (
        "structure/data-protection-authoritie s/index_en. htm",
        "structure/data-protection-authorities/index_en.htm",
        "the address of the list of authorities was broken by spaces at a line end",
    ),
)


def words(text: str) -> list[str]:
    """The words of a text: case, punctuation and layout apart."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[^\w]+", " ", text).split()


class _PlainText(HTMLParser):
    """The text a reader sees, every element separated from the next."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.parts.append(" ")

    def handle_endtag(self, tag):
        self.parts.append(" ")

    def handle_data(self, data):
        self.parts.append(data)


def plain_text(html: str) -> str:
    parser = _PlainText()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


BLOCKS = frozenset({"p", "ul", "ol", "li", "table", "tr", "th", "td", "dl", "dt", "dd"})


class _Shape(HTMLParser):
    """A document's skeleton: headings with their anchors, paragraphs, lists and their items,
    table rows and cells, definitions, and where every link goes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.shape: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in {"h2", "h3", "h4"}:
            self.shape.append(f"{tag}#{attributes.get('id')}")
        elif tag in BLOCKS:
            self.shape.append(tag)
        elif tag == "a":
            self.shape.append(f"a {attributes.get('href')} {'data-pc-open' in attributes}")


def shape(html: str) -> list[str]:
    parser = _Shape()
    parser.feed(html)
    parser.close()
    return parser.shape


@pytest.fixture(scope="module")
def content():
    return load_content(CONTENT_DIR)


@pytest.fixture(scope="module")
def v1(content):
    return content.version(1)


def test_each_fix_is_a_place_of_the_seed():
    seed = SEED.read_text(encoding="utf-8")
    for published, fixed, reason in FIXES:
        assert seed.count(published) == 1, (published, reason)
        assert words(published) != words(fixed), reason


def test_english_text_is_the_seed_word_for_word(v1):
    seed = SEED.read_text(encoding="utf-8")
    for published, fixed, _reason in FIXES:
        seed = seed.replace(published, fixed)
    expected = words(seed)
    actual = words(plain_text(v1.document("en").html))
    if actual != expected:
        matcher = SequenceMatcher(a=expected, b=actual, autojunk=False)
        differences = [
            f"seed: {' '.join(expected[a1:a2])!r} / v1: {' '.join(actual[b1:b2])!r}"
            for op, a1, a2, b1, b2 in matcher.get_opcodes()
            if op != "equal"
        ]
        pytest.fail("v1/en.md departs from the seed:\n" + "\n".join(differences[:20]))


def test_english_headings_are_the_seeds_in_its_order(v1):
    """Every heading of v1 is words of the seed, met in the seed's order."""
    seed = f" {' '.join(words(SEED.read_text(encoding='utf-8')))} "
    position = 0
    for heading in v1.document("en").headings:
        found = seed.find(f" {' '.join(words(heading.title))} ", position)
        assert found >= 0, f"#{heading.id} {heading.title!r} is not next in the seed"
        position = found + 1


@pytest.mark.parametrize("language", ["fr", "es", "de"])
def test_translations_have_the_structure_of_the_english(v1, language):
    """Same headings and anchors, paragraphs, list items, table cells and links, in the same
    order: a translation neither drops nor adds a part of the published text."""
    english = shape(v1.document("en").html)
    translated = shape(v1.document(language).html)
    assert translated == english
    assert len(v1.document(language).summary) == len(v1.document("en").summary)


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_published_addresses(v1, language):
    body = v1.document(language).html
    for address in (
        "http://support.google.com/chrome/bin/answer.py?hl=fr&amp;hlrm=en&amp;answer=95647",
        "http://support.mozilla.org/fr/kb/Activer%20et%20d%C3%A9sactiver%20les%20cookies",
        "http://windows.microsoft.com/fr-FR/windows-vista/Block-or-allow-cookies",
        "http://docs.info.apple.com/article.html?path=Safari/3.0/fr/9277.html",
        "http://www.cnil.fr/vos-droits/vos-traces/les-cookies/",
        "http://www.datenschutz.de",
        "http://www.privacycommission.be",
    ):
        assert f'href="{address}"' in body, (language, address)
    assert "40-1" in body and "2004" in body


def test_version_1_is_frozen(content, v1):
    """v1 types the facts published then; no part of it comes from today's configuration."""
    assert v1.generated_parts is False
    for language in LANGUAGES:
        assert [kind for kind, _ in v1.document(language).parts] == ["html"]
    assert all(version.generated_parts for version in content.versions[1:])


def test_the_list_of_cookies_it_points_to_is_in_the_current_version(content, v1):
    """v1's "you will find here the exhaustive list of cookies" links to the live list."""
    for language in LANGUAGES:
        assert 'href="/policy#cookie-list"' in v1.document(language).html
    for version in content.versions[1:]:
        assert "cookie-list" in {heading.id for heading in version.document("en").headings}


@pytest.mark.parametrize("language", LANGUAGES)
def test_summary_says_only_what_the_seed_says(v1, language):
    """At a glance, v1 offers no online channel (the seed names email and post) and every
    figure it gives is one of the seed's."""
    seed = SEED.read_text(encoding="utf-8")
    for point in v1.document(language).summary:
        assert not re.search(r"online|en ligne|en línea", point.text, re.IGNORECASE), point
        for figure in re.findall(r"\d+(?: \d+)*", point.text):
            assert figure in seed, (point.key, figure)
    assert "HIPAY" in v1.document(language).summary[1].text


def test_earlier_page_shows_no_generated_part(client):
    earlier = client.get("/policy/versions/1?lang=fr").data.decode()
    current = client.get("/policy?lang=fr").data.decode()
    for generated in (
        'id="cookie-registry"',
        'class="authorities stack"',
        'id="retention-summary"',
    ):
        assert generated in current
        assert generated not in earlier
    assert "answer.py?hl=fr&amp;hlrm=en&amp;answer=95647" in earlier
    assert "«\xa0XXX\xa0»" in earlier


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, target)
    return target


def test_a_frozen_version_with_a_placeholder_is_refused(content_copy):
    policy = content_copy / "policy" / "v1" / "de.md"
    policy.write_text(policy.read_text(encoding="utf-8") + "\n[[retention]]\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"v1/de\.md: has a placeholder \[\[retention\]\]"):
        load_content(content_copy)


def test_a_generated_version_must_keep_every_placeholder(content_copy):
    policy = content_copy / "policy" / "v2" / "es.md"
    text = policy.read_text(encoding="utf-8")
    assert "[[authorities]]" in text
    policy.write_text(text.replace("[[authorities]]", ""), encoding="utf-8")
    with pytest.raises(ContentError, match="must appear once"):
        load_content(content_copy)


def test_generated_parts_is_true_or_false(content_copy):
    index = content_copy / "policy" / "versions.yaml"
    text = index.read_text(encoding="utf-8")
    assert "generated_parts: false" in text
    index.write_text(text.replace("generated_parts: false", 'generated_parts: "no"'), "utf-8")
    with pytest.raises(ContentError, match="generated_parts must be true or false"):
        load_content(content_copy)
