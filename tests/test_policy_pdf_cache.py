"""The policy's PDFs are made ahead of time (in the background after start, and by
``policy export-static``) and kept on disk by version, language and content."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from privacy_center.content import get_content
from privacy_center.policy import views
from privacy_center.policy.pdfcache import cached_pdf
from privacy_center.policy.setup import PRERENDER_KEY


def every_pdf(app: Flask) -> set[tuple[int, str]]:
    with app.app_context():
        content = get_content()
        return {
            (version.number, language)
            for version in content.versions
            for language in content.operator.languages
        }


def cached_files(directory: Path) -> dict[tuple[int, str], Path]:
    files = {}
    for path in directory.glob("policy-v*.pdf"):
        number, language, _ = path.name.removeprefix("policy-v").split("-", 2)
        assert (int(number), language) not in files, "one file per version and language"
        files[int(number), language] = path
    return files


def no_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(html: str, **options: object) -> bytes:
        raise AssertionError("the PDF was rendered again instead of read from the cache")

    monkeypatch.setattr(views, "render_pdf", refuse)


def test_the_pdfs_are_made_by_export_static_and_in_the_background_after_start(
    make_app: Callable[..., Flask], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    exporter = make_app(POLICY_PDF_DIR=str(cache))
    out = tmp_path / "out"
    result = exporter.test_cli_runner().invoke(args=["policy", "export-static", str(out)])
    assert result.exit_code == 0, result.output
    # export-static kept every version's PDF in every language, for the server too.
    files = cached_files(cache)
    assert set(files) == every_pdf(exporter)
    assert files[1, "es"].read_bytes() == (out / "policy/versions/1/es/policy.pdf").read_bytes()

    # A server on the same folder: one PDF is missing (a published change, say).
    with exporter.app_context():
        current = get_content().current_version(get_content().operator.today()).number
    files[current, "de"].unlink()
    app = make_app(POLICY_PDF_PRERENDER=True, POLICY_PDF_DIR=str(cache))
    prerenderer = app.extensions[PRERENDER_KEY]
    # Creating the application renders nothing and starts nothing.
    assert prerenderer.thread is None
    client = app.test_client()
    assert client.get("/policy?lang=en").status_code == 200
    prerenderer.thread.join()
    files = cached_files(cache)
    assert set(files) == every_pdf(app)

    # The first request in a language is served from the file, without rendering.
    no_rendering(monkeypatch)
    for path, key in (
        ("/policy/pdf?lang=de", (current, "de")),
        ("/policy/versions/1/pdf?lang=es", (1, "es")),
    ):
        answer = client.get(path)
        assert answer.status_code == 200
        assert answer.data == files[key].read_bytes()


def test_tests_start_no_background_rendering(client, app: Flask) -> None:
    client.get("/policy?lang=en")
    assert app.config["POLICY_PDF_PRERENDER"] is False
    assert app.extensions[PRERENDER_KEY].thread is None


def test_a_changed_document_gets_a_new_file_and_the_old_one_goes(tmp_path: Path) -> None:
    rendered: list[str] = []

    def render(html: str) -> bytes:
        rendered.append(html)
        return f"%PDF {html}".encode()

    assert cached_pdf(tmp_path, 3, "fr", "<p>un</p>", render) == b"%PDF <p>un</p>"
    assert cached_pdf(tmp_path, 3, "fr", "<p>un</p>", render) == b"%PDF <p>un</p>"
    assert cached_pdf(tmp_path, 3, "en", "<p>one</p>", render) == b"%PDF <p>one</p>"
    assert rendered == ["<p>un</p>", "<p>one</p>"]
    # A publication changes the HTML: a new file, and the old one is deleted.
    assert cached_pdf(tmp_path, 3, "fr", "<p>deux</p>", render) == b"%PDF <p>deux</p>"
    files = cached_files(tmp_path)
    assert set(files) == {(3, "fr"), (3, "en")}
    assert files[3, "fr"].read_bytes() == b"%PDF <p>deux</p>"
    assert not list(tmp_path.glob("*.partial"))


def test_a_folder_that_cannot_be_written_only_costs_a_rendering(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    assert cached_pdf(blocked, 1, "fr", "<p>x</p>", lambda html: b"%PDF x") == b"%PDF x"
