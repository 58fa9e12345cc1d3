"""The policy pages: current and earlier versions, changes, PDF, caching and the loose ends."""

from __future__ import annotations

import re
import subprocess
from datetime import date
from html.parser import HTMLParser

import pytest
from conftest import current_policy_version

from privacy_center.content import get_content


class Anchors(HTMLParser):
    """Collects element ids and in-page links of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.fragment_links: list[str] = []
        self.pc_open: list[str] = []
        self.html_lang: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids.add(attributes["id"])
        if tag == "html":
            self.html_lang = attributes.get("lang")
        if tag == "a" and (attributes.get("href") or "").startswith("#"):
            self.fragment_links.append(attributes["href"][1:])
        if "data-pc-open" in attributes and tag == "a":
            self.pc_open.append(attributes.get("href") or "")


def parse(html: bytes) -> Anchors:
    parser = Anchors()
    parser.feed(html.decode())
    return parser


@pytest.mark.parametrize("language", ["fr", "en", "es", "de"])
def test_current_policy_in_each_language(client, app, language):
    response = client.get(f"/policy?lang={language}")
    assert response.status_code == 200
    page = parse(response.data)
    assert page.html_lang == language
    with app.app_context():
        content = get_content()
        document = content.current_version(content.operator.today()).document(language)
    assert document.title.encode() in response.data
    # Table of contents, summary and body links all land on an element of the page.
    assert page.fragment_links, "no in-page link"
    missing = sorted(set(page.fragment_links) - page.ids)
    assert not missing, f"links to missing anchors: {missing}"
    for heading in document.headings:
        assert heading.id in page.ids
    for point in document.summary:
        assert f'href="#{point.section}"'.encode() in response.data


def test_language_negotiation_order(client):
    def lang_of(response):
        return parse(response.data).html_lang

    assert lang_of(client.get("/policy", headers={"Accept-Language": "de-DE,de;q=0.9"})) == "de"
    client.set_cookie("pc_lang", "es")
    assert lang_of(client.get("/policy", headers={"Accept-Language": "de"})) == "es"
    assert lang_of(client.get("/policy?lang=en", headers={"Accept-Language": "de"})) == "en"
    client.delete_cookie("pc_lang")
    assert lang_of(client.get("/policy", headers={"Accept-Language": "ja, zh"})) == "fr"
    assert lang_of(client.get("/policy?lang=xx")) == "fr"


def test_lang_parameter_is_remembered_in_a_cookie(client):
    response = client.get("/policy?lang=de")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("pc_lang=de") and "SameSite=Lax" in cookie and "HttpOnly" in cookie
    assert "private" in response.headers["Cache-Control"]
    assert parse(client.get("/policy").data).html_lang == "de"


def test_language_switcher_on_every_page(client):
    for path in (
        "/policy",
        "/policy/versions",
        "/policy/versions/1",
        "/policy/changes",
        "/nowhere",
    ):
        html = client.get(path + "?lang=en").data.decode()
        switcher = re.search(r'<nav class="language-switcher".*?</nav>', html, re.DOTALL).group(0)
        for code in ("fr", "en", "es", "de"):
            assert f'hreflang="{code}"' in switcher, (path, code)
        assert 'aria-current="true">English' in switcher


def test_earlier_version_stays_at_its_permanent_address(client):
    response = client.get("/policy/versions/1?lang=en")
    assert response.status_code == 200
    body = response.data.decode()
    assert "earlier version" in body
    assert "Article 40-1" in body and "Article 85 of Law" not in body
    # As the operator published it: its own browser instructions and links, its “XXX” section.
    assert 'href="http://support.google.com/chrome/bin/answer.py?hl=fr&amp;hlrm=en' in body
    assert "From the Chrome menu, select “Settings”." in body
    assert "in the “XXX” section" in body
    current = client.get("/policy?lang=en").data.decode()
    assert "Article 85 of Law" in current
    assert client.get(f"/policy/versions/{current_policy_version() + 1}").status_code == 404
    assert client.get("/policy/versions/0").status_code == 404


def test_versions_list_links_every_published_version(client):
    body = client.get("/policy/versions?lang=en").data.decode()
    assert "/policy/versions/1" in body and "/policy/versions/2" in body
    assert "/policy/changes?" in body


def test_changes_between_versions(client):
    body = client.get("/policy/changes?from=1&to=2&lang=en").data.decode()
    assert "<ins>" in body and "<del>" in body
    inserted = " ".join(re.findall(r"<ins>(.*?)</ins>", body, re.DOTALL))
    deleted = " ".join(re.findall(r"<del>(.*?)</del>", body, re.DOTALL))
    assert "85" in inserted and "40-1" in body
    assert "2004" in deleted
    assert "six (6) months" in inserted
    # Sections that did not change are not listed.
    assert 'id="change-banking-data"' not in body
    assert 'id="change-post-mortem"' in body
    # The published browser instructions and links, replaced in version 2.
    assert "answer.py?hl=fr&amp;hlrm=en&amp;answer=95647" in deleted
    assert "https://support.google.com/chrome/answer/95647?hl=en" in inserted
    assert "“XXX”" in deleted and "communication preferences" in inserted
    assert re.search(r'id="change-cookie-list">.*?New section', body, re.DOTALL)
    # A heading that grew keeps its words apart from the added ones.
    grown = 'Internet Explorer <ins><span class="visually-hidden">[added] </span>and Microsoft'
    assert grown in body
    # A step rewritten through and through is shown whole: the old one, then the new one.
    rewritten = (
        '<p class="change-block change-delete"><del><span class="visually-hidden">[removed] '
        "</span>In the Firefox menu, go to “Tools” and then to “Options”.</del></p>"
    )
    assert rewritten in body
    # The two “Chrome” sections say which section they belong to.
    assert '<span class="change-parent">Setting up your internet browser ›</span>' in body
    assert '<span class="change-parent">Disabling third-party cookies ›</span>' in body
    assert client.get("/policy/changes?from=2&to=1").status_code == 404
    assert client.get("/policy/changes?from=1&to=9").status_code == 404


def test_loose_ends_of_the_seed_are_made_real(client):
    for language in ("fr", "en", "es", "de"):
        response = client.get(f"/policy?lang={language}")
        page = parse(response.data)
        body = response.data.decode()
        assert '"XXX"' not in body and "“XXX”" not in body
        assert 'href="/rights/preferences"' in body
        assert page.pc_open and all(href.endswith("#cookie-preferences") for href in page.pc_open)
        for stale in ("answer.py", "windows.microsoft.com", "docs.info.apple.com", "Activer%20et"):
            assert stale not in body, (language, stale)


def test_cookie_list_shows_every_registered_cookie(client, app):
    with app.app_context():
        registry = get_content().registry
    for language in ("fr", "en"):
        body = client.get(f"/policy?lang={language}").data.decode()
        for service in registry.services:
            for cookie in service.cookies:
                assert f"<code>{cookie.name}</code>" in body
                assert cookie.purpose(language).replace("'", "&#39;") in body
        for category in registry.categories:
            assert category.name(language) in body


def test_retention_at_a_glance(client):
    body = client.get("/policy?lang=en").data.decode()
    assert 'id="retention-table"' in body
    summary = re.search(
        r'<table class="retention stack" id="retention-summary">.*?</table>', body, re.S
    )
    periods = re.findall(r'<td class="period" data-label="Kept for">(.*?)</td>', summary.group(0))
    # As the policy words them: 13 months, not "1 year 1 month".
    assert periods[:4] == ["5 years", "13 months", "13 months", "10 years"]


def test_read_aloud_control_is_offered(client):
    body = client.get("/policy?lang=es").data.decode()
    assert re.search(r"<button[^>]*data-read-aloud[^>]*hidden", body, re.DOTALL)
    assert "data-read-aloud-source" in body


def test_conditional_get(client):
    first = client.get("/policy?lang=en")
    etag = first.headers["ETag"]
    assert first.headers["Last-Modified"]
    assert "max-age=" in first.headers["Cache-Control"]
    assert {"Accept-Language", "Cookie"} <= {v.strip() for v in first.headers["Vary"].split(",")}
    again = client.get("/policy?lang=en", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    since = client.get(
        "/policy?lang=en", headers={"If-Modified-Since": first.headers["Last-Modified"]}
    )
    assert since.status_code == 304
    other_language = client.get("/policy?lang=de", headers={"If-None-Match": etag})
    assert other_language.status_code == 200


def test_policy_pages_set_no_session(client):
    response = client.get("/policy", headers={"Accept-Language": "en"})
    assert "Set-Cookie" not in response.headers
    assert "public" in response.headers["Cache-Control"]


@pytest.mark.parametrize("language", ["fr", "de"])
def test_policy_pdf(client, app, tmp_path, language):
    response = client.get(f"/policy/pdf?lang={language}")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    pdf = tmp_path / "policy.pdf"
    pdf.write_bytes(response.data)
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = " ".join(text.split())
    with app.app_context():
        content = get_content()
        document = content.current_version(content.operator.today()).document(language)
    assert " ".join(document.title.split()) in flat
    for heading in document.headings[:5]:
        assert " ".join(heading.title.split()) in flat
    assert "ALLOPASS SAS" in flat
    assert re.search(r"\b1 / \d+\b", flat), "the print stylesheet (page numbers) was not applied"
    older = client.get(f"/policy/versions/1/pdf?lang={language}")
    assert older.status_code == 200 and older.data != response.data


def test_future_version_is_not_published_before_its_date(app, client, monkeypatch):
    with app.app_context():
        operator = get_content().operator
    monkeypatch.setattr(type(operator), "today", lambda self: date(2026, 11, 1))
    body = client.get("/policy?lang=en").data.decode()
    assert "Version 1," in body
    assert client.get("/policy/versions/2").status_code == 404


def test_root_redirects_to_policy(client):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/policy")


def test_authorities_listed_by_country_in_the_reader_language(client):
    body = client.get("/policy?lang=de").data.decode()
    table = re.search(r'<table class="authorities stack">.*?</table>', body, re.S).group(0)
    countries = re.findall(r'<th scope="row">(.*?)</th>', table)
    assert len(countries) == 30
    assert "Österreich" in countries and "Frankreich" in countries
    assert countries.index("Niederlande") < countries.index("Österreich") < countries.index("Polen")
