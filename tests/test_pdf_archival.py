"""Every PDF the privacy center makes is PDF/A-3a (archival, tagged), the policy also PDF/UA-1:
checked in the files themselves, as a validator would (tests/pdf_checks.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pikepdf
import pytest
from conftest import sign_in
from flask import Flask
from flask_babel import force_locale, gettext
from pdf_checks import assert_in_order, check_archival, pdftotext
from subject_data import fill_account
from test_exports import ask_for_copy, open_zip
from test_postmortem import PAGE, directive_form, versions_of

from privacy_center.connectors import get_connector_set
from privacy_center.content import get_content
from privacy_center.exports import archive
from privacy_center.letters.kinds import LETTER_KINDS
from privacy_center.letters.rendering import Attachment, render_pdf
from privacy_center.letters.samples import DEMO_TEXT, demo_request, sample_names
from privacy_center.postmortem import services as postmortem_services

LANGUAGES = ["fr", "en", "es", "de"]
NAMES = sample_names()


@pytest.fixture(scope="module")
def samples(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every letter in every language, written by ``flask letters sample --all``."""
    directory = tmp_path_factory.mktemp("letters")
    result = app.test_cli_runner().invoke(args=["letters", "sample", "--all", str(directory)])
    assert result.exit_code == 0, result.output
    return directory


def test_the_samples_are_every_letter_the_console_sends(samples: Path) -> None:
    # Each kind once, the completion letter once per right, post-mortem ones included.
    assert "acknowledgement" in NAMES and "refusal" in NAMES and "completion" not in NAMES
    assert {f"completion-{right}" for right in LETTER_KINDS["completion"].variants} <= set(NAMES)
    assert "completion-postmortem_closure" in NAMES
    expected = {f"{name}-{lang}.pdf" for name in NAMES for lang in LANGUAGES}
    assert {path.name for path in samples.iterdir()} == expected


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", NAMES)
def test_every_letter_is_archival_and_tagged(
    app: Flask, samples: Path, name: str, language: str
) -> None:
    data = (samples / f"{name}-{language}.pdf").read_bytes()
    kind, _, right = name.partition("-")
    request = demo_request(right or "access", language)
    with app.app_context(), force_locale(language):
        operator = get_content().operator
        subject = LETTER_KINDS[kind].subject_for(request.reference)
        reference, closing = gettext("Our reference:"), gettext("Yours sincerely,")
        subject_line = f"{gettext('Subject:')} {subject}"
    checked = check_archival(data, lang=language, title=subject, author=operator.legal_name)
    # The subject is the letter's heading; paragraphs are paragraphs.
    assert checked.structure.count("H1") == 1 and "P" in checked.structure
    if right == "erasure":
        assert {"L", "LI", "LBody"} <= set(checked.structure)
    # Reading order: letterhead, references, subject, what staff wrote, the closing; the
    # accents as the translation has them.
    text = pdftotext(data)
    assert_in_order(
        text, [operator.legal_name, reference, subject_line, DEMO_TEXT[language], closing]
    )


def test_the_sample_command_writes_one_letter_and_refuses_unknown_ones(
    app: Flask, tmp_path: Path
) -> None:
    runner = app.test_cli_runner()
    target = tmp_path / "letter.pdf"
    arguments = ["letters", "sample", "completion-erasure", "--lang", "de", "-o", str(target)]
    result = runner.invoke(args=arguments)
    assert result.exit_code == 0, result.output
    assert "Vom Personal für diesen Brief" in pdftotext(target.read_bytes())

    unknown = runner.invoke(
        args=["letters", "sample", "letter", "--lang", "fr", "-o", str(tmp_path / "x.pdf")]
    )
    assert unknown.exit_code != 0 and "completion-erasure" in unknown.output
    foreign = runner.invoke(
        args=["letters", "sample", "refusal", "--lang", "xx", "-o", str(tmp_path / "x.pdf")]
    )
    assert foreign.exit_code != 0 and "'xx'" in foreign.output
    assert runner.invoke(args=["letters", "sample", "refusal"]).exit_code != 0
    assert sorted(path.name for path in tmp_path.iterdir()) == ["letter.pdf"]


def test_the_post_mortem_certificate_is_archival_and_tagged(client, db, make_account) -> None:
    client.environ_base["REMOTE_ADDR"] = "10.85.85.86"
    account = make_account(language="fr")
    sign_in(client, account)
    client.post(PAGE, data=directive_form(client))
    (recorded,) = versions_of(db, account)
    answer = client.get(f"{PAGE}/certificate.pdf?lang=en")
    assert answer.status_code == 200
    with force_locale("fr"):
        title = gettext("Certificate of post-mortem directives")
        directives = gettext("Directives")
    operator = get_content().operator
    checked = check_archival(answer.data, lang="fr", title=title, author=operator.legal_name)
    assert {"H1", "H2", "Table", "TR", "TH", "TD"} <= set(checked.structure)
    text = pdftotext(answer.data)
    fingerprint = postmortem_services.group_fingerprint(recorded.fingerprint)
    assert_in_order(text, [operator.legal_name, title, directives, fingerprint])


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_summary_pdf_carries_data_json_and_its_schema(
    client, db, make_account, language: str
) -> None:
    account = make_account(first_name="Zoé", last_name="Müller", language="fr")
    fill_account(db, account)
    sign_in(client, account)
    copy = open_zip(ask_for_copy(client, lang=language))
    data = copy.read("summary.pdf")
    operator = get_content().operator
    with force_locale(language):
        title = gettext("Your data held by %(operator)s", operator=operator.name)
        attached = gettext(
            "This PDF also carries data.json and data.schema.json as attached files: your PDF "
            "reader lists them in its attachments panel, from which you can save them."
        )
        rights = gettext("Your rights")
    checked = check_archival(data, lang=language, title=title, author=operator.legal_name)
    assert {"H1", "H2", "H3", "Table", "L", "LI"} <= set(checked.structure)
    # The one file is also the machine-readable copy: the same bytes as in the zip.
    pdf = checked.pdf
    assert set(pdf.attachments) == {"data.json", "data.schema.json"}
    for name in ("data.json", "data.schema.json"):
        assert pdf.attachments[name].get_file().read_bytes() == copy.read(name)
    assert json.loads(pdf.attachments["data.json"].get_file().read_bytes())["language"] == language
    relations = {str(spec.UF): spec.AFRelationship for spec in pdf.Root.AF}
    assert relations == {"data.json": "/Data", "data.schema.json": "/Supplement"}
    # Each attached file is described in the person's language.
    descriptions = {str(spec.UF): str(spec.Desc) for spec in pdf.Root.AF}
    with force_locale(language):
        assert descriptions == {
            "data.json": gettext("Every record of this copy (JSON)"),
            "data.schema.json": gettext("JSON Schema of data.json"),
        }
    if language != "en":
        assert descriptions["data.json"] != "Every record of this copy (JSON)"
    # The table of contents links to each category, described by its name.
    labels = {category.label(language) for category in get_connector_set().categories()}
    assert checked.links and set(checked.links) <= labels
    text = pdftotext(data)
    assert_in_order(text, [operator.legal_name, title, attached, rights])
    assert "Zoé" in text


def test_a_data_json_too_large_to_embed_is_left_beside_the_pdf(
    client, db, make_account, monkeypatch
) -> None:
    monkeypatch.setattr(archive, "EMBED_MAX_BYTES", 100)
    account = make_account(language="en")
    fill_account(db, account)
    sign_in(client, account)
    copy = open_zip(ask_for_copy(client, lang="en"))
    assert len(copy.read("data.json")) > 100
    pdf = pikepdf.open(io.BytesIO(copy.read("summary.pdf")))
    assert set(pdf.attachments) == {"data.schema.json"}
    assert "data.json, too large to attach, is beside it" in pdftotext(copy.read("summary.pdf"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_policy_pdf_is_accessible_with_bookmarks_for_its_sections(
    client, language: str
) -> None:
    answer = client.get(f"/policy/pdf?lang={language}")
    assert answer.status_code == 200
    content = get_content()
    operator = content.operator
    document = content.current_version(operator.today()).document(language)
    checked = check_archival(
        answer.data,
        lang=language,
        title=f"{document.title} — {operator.name}",
        author=operator.legal_name,
        accessible=True,
    )
    headings = [kind for kind in checked.structure if kind in {"H1", "H2", "H3", "H4"}]
    assert headings[0] == "H1" and "H2" in headings
    # One bookmark per heading, the first the policy's title.
    assert len(checked.outline) == len(headings)
    assert checked.outline[0] == document.title
    with force_locale(language):
        glance, contents = gettext("At a glance"), gettext("Contents")
    assert glance in checked.outline and contents in checked.outline
    # Links (the table of contents) say where they go in words.
    assert checked.links
    assert all(not link.startswith("#") for link in checked.links)
    assert_in_order(pdftotext(answer.data), [operator.legal_name, document.title, glance, contents])


def test_links_are_described_by_their_words_and_embedded_files_kept(app: Flask) -> None:
    html = """<!doctype html><html lang="de"><head><title>Prüfung</title>
    <meta name="author" content="Beispiel GmbH"><meta name="description" content="Größe">
    </head><body><h1>Überschrift</h1>
    <p><a href="https://example.org/datenschutz">Datenschutzerklärung</a></p>
    <p><a href="https://example.org/x" title="Kontakt aufnehmen">hier</a></p></body></html>"""
    with app.app_context():
        data = render_pdf(html, attachments=[Attachment("a.json", b"{}", "Daten")], accessible=True)
    checked = check_archival(
        data, lang="de", title="Prüfung", author="Beispiel GmbH", accessible=True
    )
    assert checked.links == [
        "Datenschutzerklärung (https://example.org/datenschutz)",
        "Kontakt aufnehmen (https://example.org/x)",
    ]
    assert checked.pdf.attachments["a.json"].get_file().read_bytes() == b"{}"
    assert len(checked.pdf.Root.AF) == 1  # each associated file listed once
    assert pdftotext(data) == "Überschrift Datenschutzerklärung hier"
