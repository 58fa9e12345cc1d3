"""Markup every page must get right whatever its design: ids unique on a page (a label, an
error summary's link or a script finds the wrong element otherwise)."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser

import pytest
from flask.testing import FlaskClient

from tests.conftest import sign_in, staff_sign_in

PUBLIC_PAGES = (
    "/policy",
    "/policy/versions",
    "/policy/changes",
    "/rights",
    "/rights/requests/new/access",
    "/rights/requests/new/rectification",
    "/rights/requests/new/erasure",
    "/rights/requests/new/objection_marketing",
    "/rights/requests/find",
    "/rights/post-mortem/request",
    "/rights/post-mortem/verify",
    "/rights/sign-in",
    "/rights/sign-in/link",
    "/staff/sign-in",
)

# Pages of a signed-in account holder (the directives page holds two forms).
ACCOUNT_PAGES = ("/rights/post-mortem", "/rights/preferences", "/rights/download")

STAFF_PAGES = (
    "/staff/",
    "/staff/dashboard",
    "/staff/requests/new",
    "/staff/mail",
    "/staff/members",
    "/staff/retention/",
    "/staff/consent-records/",
    "/staff/cookie-scan/",
)


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: Counter[str] = Counter()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" and value is not None:
                self.ids[value] += 1


def duplicate_ids(html: str) -> list[str]:
    parser = _Ids()
    parser.feed(html)
    return sorted(key for key, count in parser.ids.items() if count > 1)


def _page(client: FlaskClient, path: str, language: str = "en") -> str:
    response = client.get(path, headers={"Accept-Language": language})
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def test_the_checker_finds_a_duplicate():
    assert duplicate_ids('<p id="a"></p><input id="b"><span id="a">') == ["a"]
    assert duplicate_ids('<p id="a"></p><p id="b">') == []


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_page_ids_are_unique(client: FlaskClient, path: str):
    for language in ("en", "fr"):
        assert duplicate_ids(_page(client, path, language)) == [], path


def test_account_page_ids_are_unique(client: FlaskClient, make_account):
    sign_in(client, make_account())
    for path in ACCOUNT_PAGES:
        assert duplicate_ids(_page(client, path)) == [], path


def test_directives_page_with_directives_in_force_has_unique_ids(
    client: FlaskClient, db, make_account
):
    # With directives in force the page shows the withdraw form beside the change form: two
    # CSRF fields, which both rendered id="csrf_token".
    from privacy_center.postmortem import services

    account = make_account()
    services.record_directives(
        db,
        account=account,
        choices={},
        category_keys=[],
        communicate_nothing=True,
        designated_name="",
        designated_email="",
        designated_relation="",
        consent=True,
        language="en",
    )
    sign_in(client, account)
    html = _page(client, "/rights/post-mortem")
    assert html.count('name="csrf_token"') == 2
    assert duplicate_ids(html) == []


def test_staff_page_ids_are_unique(client: FlaskClient, make_staff):
    staff_sign_in(client, make_staff("admin"))
    for path in STAFF_PAGES:
        assert duplicate_ids(_page(client, path)) == [], path


def test_favicon_ico_is_a_real_icon_cached_long_without_cookies(client: FlaskClient):
    from io import BytesIO

    from PIL import Image

    for headers in ({}, {"Accept-Language": "de"}):
        with client.get("/favicon.ico?lang=fr", headers=headers) as response:
            data = response.data
        assert response.status_code == 200
        assert response.mimetype == "image/x-icon"
        icon = Image.open(BytesIO(data))
        assert icon.format == "ICO"
        assert (32, 32) in icon.info["sizes"]
        assert response.cache_control.max_age >= 7 * 24 * 3600
        assert response.cache_control.public
        assert "Set-Cookie" not in response.headers
        assert "Vary" not in response.headers or "Cookie" not in response.headers["Vary"]


@pytest.mark.parametrize("path", ["/policy", "/rights", "/staff/sign-in"])
def test_pages_link_an_svg_icon_that_is_served(client: FlaskClient, path: str):
    import re

    html = _page(client, path)
    link = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', html)
    assert link, path
    with client.get(link[1]) as icon:
        assert icon.status_code == 200
        assert icon.mimetype == "image/svg+xml"
        assert icon.data.startswith(b"<svg")


def test_error_summary_names_the_consent_box_shortly(client: FlaskClient, make_account):
    import re

    from privacy_center.postmortem.services import CONSENT_WORDING

    sign_in(client, make_account())
    page = _page(client, "/rights/post-mortem")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]
    answer = client.post(
        "/rights/post-mortem",
        data={"csrf_token": token, "communicate_nothing": "y"},
        headers={"Accept-Language": "en"},
    )
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    summary = re.search(r'<div class="alert alert-error error-summary".*?</div>', html, re.S)[0]
    links = re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary)
    assert ("consent", "Your consent: ") in [(target, text[:14]) for target, text in links]
    assert str(CONSENT_WORDING)[:40] not in summary
    # The box itself keeps its whole wording: it is what the holder agrees to.
    assert str(CONSENT_WORDING) in html
    assert duplicate_ids(html) == []
