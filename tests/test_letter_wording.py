"""The wording of the letters: the salutation and the legal references, read from the PDFs."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from test_letters import CASES, LANGUAGES, TODAY, new_reference, pdf_text

from privacy_center.letters.kinds import LETTER_KINDS
from privacy_center.letters.services import preview_letter
from privacy_center.models import PrivacyRequest
from privacy_center.rights.references import new_status_token


@pytest.fixture
def letter_request(db):
    """A request in progress from José Müller, received on 24 November 2026."""

    def factory(kind: str, language: str) -> PrivacyRequest:
        request = PrivacyRequest(
            reference=new_reference(),
            kind=kind,
            state="in_progress",
            language=language,
            email="jose@example.org",
            requester_name="José Müller",
            received_at=datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
            clock_started_on=date(2026, 11, 24),
            due_on=date(2026, 12, 24),
            status_token_hash=new_status_token()[1],
        )
        db.add(request)
        db.flush()
        return request

    return factory


# The salutation as each language writes it. French opens "Madame, Monsieur," (the name is in
# the address block, and the closing formula says "Madame, Monsieur" too), never both.
SALUTATIONS = {
    "fr": "Madame, Monsieur,",
    "en": "Dear José Müller,",
    "es": "Estimado/a señor/a José Müller:",
    "de": "Sehr geehrte/r José Müller,",
}
# One article cited, then several.
ONE_ARTICLE = {
    "fr": "Référence légale : règlement (UE) 2016/679 (règlement général sur la protection des "
    "données), article 12(3).",
    "en": "Legal reference: Regulation (EU) 2016/679 (General Data Protection Regulation), "
    "article 12(3).",
    "es": "Referencia legal: Reglamento (UE) 2016/679 (Reglamento General de Protección de "
    "Datos), artículo 12(3).",
    "de": "Rechtsgrundlage: Verordnung (EU) 2016/679 (Datenschutz-Grundverordnung), Artikel 12(3).",
}
SEVERAL_ARTICLES = {
    "fr": "Références légales : règlement (UE) 2016/679 (règlement général sur la protection des "
    "données), articles 12(4), 77, 79.",
    "en": "Legal references: Regulation (EU) 2016/679 (General Data Protection Regulation), "
    "articles 12(4), 77, 79.",
    "es": "Referencias legales: Reglamento (UE) 2016/679 (Reglamento General de Protección de "
    "Datos), artículos 12(4), 77, 79.",
    "de": "Rechtsgrundlagen: Verordnung (EU) 2016/679 (Datenschutz-Grundverordnung), "
    "Artikel 12(4), 77, 79.",
}
PLURAL_WORDS = {"fr": "articles 12(3)", "en": "articles 12(3)", "es": "artículos 12(3)"}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("kind", "right", "fields"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_the_salutation_is_the_languages_and_never_doubled(
    letter_request, language, kind, right, fields
):
    request = letter_request(right, language)
    if kind == "extension_notice":
        request.extended_on = TODAY
    text = pdf_text(preview_letter(None, request, kind, fields, today=TODAY))
    assert SALUTATIONS[language] in text
    assert text.count("José Müller") == (1 if language == "fr" else 2)  # address block (+ opening)
    if language == "fr":
        assert "Monsieur José" not in text and "Monsieur, José" not in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_one_article_is_cited_in_the_singular_several_in_the_plural(letter_request, language):
    request = letter_request("access", language)
    single = pdf_text(preview_letter(None, request, "acknowledgement", {}, today=TODAY))
    assert LETTER_KINDS["acknowledgement"].articles_for("access") == ("12(3)",)
    assert ONE_ARTICLE[language] in single
    if language in PLURAL_WORDS:
        assert PLURAL_WORDS[language] not in single
    refusal = pdf_text(
        preview_letter(
            None, letter_request("erasure", language), "refusal", {"reasons": "No."}, today=TODAY
        )
    )
    assert SEVERAL_ARTICLES[language] in refusal


@pytest.mark.parametrize(("kind", "right", "fields"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_every_letter_cites_its_articles_with_the_right_number(letter_request, kind, right, fields):
    request = letter_request(right, "en")
    if kind == "extension_notice":
        request.extended_on = TODAY
    text = pdf_text(preview_letter(None, request, kind, fields, today=TODAY))
    articles = LETTER_KINDS[kind].articles_for(right)
    word = "article" if len(articles) == 1 else "articles"
    assert f"Protection Regulation), {word} {', '.join(articles)}." in text
