"""The consent banner first on screen, alive when the privacy center cannot be reached, and
reached with the keyboard first (issue 19), in real Chromium on the operator's strict-CSP page."""

from __future__ import annotations

import re

import pytest
from test_browser_widget import PENDING, Visit, receipt_post, stored_receipt

from privacy_center.consent.widget import WIDGET_DIR, load_builds

pytestmark = pytest.mark.browser

BANNER = ".pc-banner"


@pytest.fixture
def visit(browser, operator_page):
    visits: list[Visit] = []

    def make(**context_options) -> Visit:
        visits.append(Visit(browser, operator_page, **context_options))
        return visits[-1]

    yield make
    for opened in visits:
        opened.close()


def widget_requests(requests: list[str]) -> list[str]:
    """What the page asked the privacy center for besides the script."""
    return [url for url in requests if "/api/v1/" in url or re.search(r"/widget/.*\.css", url)]


def test_the_banner_needs_no_request_after_the_script(visit):
    page = visit().open()
    banner = page.page.locator(BANNER)
    banner.wait_for()
    # Shown, styled and in the page's language, with nothing fetched but the script.
    assert widget_requests(page.requests) == []
    assert banner.locator("h2").inner_text() == "Your choices about cookies"
    assert banner.evaluate("(el) => getComputedStyle(el).position") == "fixed"
    assert page.page.evaluate("() => window.__csp") == []

    page.click_and_wait_for_receipt(f'{BANNER} [data-pc-action="reject-all"]')
    # A returning visitor's page asks the privacy center for nothing: the receipt panel too is
    # filled from what the script carries.
    page.requests.clear()
    page.page.reload()
    page.wait_for_widget()
    panel = page.page.locator("[data-pc-receipt]")
    panel.locator("dl").wait_for()
    assert page.choice()["r"] in panel.inner_text()
    assert widget_requests(page.requests) == []
    assert page.page.locator(BANNER).count() == 0


def test_the_dialog_fetches_the_cookie_details_when_it_opens(visit):
    page = visit().open()
    page.page.locator(BANNER).wait_for()
    with page.page.expect_response(lambda response: "/config" in response.url) as config:
        page.page.locator(f'{BANNER} [data-pc-action="customize"]').click()
    assert config.value.status == 200
    dialog = page.page.locator('[role="dialog"]')
    dialog.wait_for()
    assert dialog.locator(".pc-ck li").count() > 0  # the cookie list, from the configuration


def block(page, how: str) -> None:
    """Makes the privacy center's API unreachable for the page: a network error or a 503 (the
    CSP case is the demo site's setting)."""

    def refuse(route) -> None:
        if how == "abort":
            route.abort()
        else:
            origin = route.request.headers.get("origin", "*")
            headers = {"Access-Control-Allow-Origin": origin}
            route.fulfill(status=503, json={"error": "down"}, headers=headers)

    page.page.route("**/api/v1/**", refuse)


@pytest.fixture
def demo_site(operator_server):
    site = operator_server[0]
    yield site
    site.config["CONNECT_TO_CENTER"] = True


@pytest.mark.parametrize("how", ["abort", "503", "csp"])
def test_alive_when_the_privacy_center_cannot_be_reached(visit, app, demo_site, how):
    page = visit()
    if how == "csp":
        demo_site.config["CONNECT_TO_CENTER"] = False
    else:
        block(page, how)
    page.open()
    banner = page.page.locator(BANNER)
    banner.wait_for()
    assert banner.locator('[data-pc-action="accept-all"]').inner_text() == "Accept all"
    # Without the configuration there is no dialog to open: "Customize" goes away.
    banner.locator('[data-pc-action="customize"]').click()
    banner.locator('[data-pc-action="customize"]').wait_for(state="detached")
    assert page.page.locator('[role="dialog"]').count() == 0
    if how == "csp":
        # The browser reports the violation in a task of its own, after the fetch failed.
        page.page.wait_for_function(
            "() => window.__csp.some((seen) => seen.includes('connect-src'))"
        )

    banner.locator('[data-pc-action="accept-all"]').click()
    # The choice applies on the page and is kept...
    page.page.wait_for_function("() => document.cookie.includes('_ga=')")
    assert any("/static/trackers/analytics.js" in url for url in page.requests)
    choice = page.choice()
    assert choice["c"]["analytics"] == 1 and choice["c"]["advertising"] == 1
    assert page.page.locator(BANNER).count() == 0
    # ...and its receipt waits for the privacy center.
    assert page.page.evaluate(PENDING) == [choice["r"]]
    assert stored_receipt(app, choice["r"]) is None

    page.page.unroute_all()
    demo_site.config["CONNECT_TO_CENTER"] = True
    with page.page.expect_response(receipt_post(choice["r"])) as posted:
        page.page.reload()
    assert posted.value.status == 201
    page.page.wait_for_function(f"() => {PENDING}.length === 0")
    recorded = stored_receipt(app, choice["r"])
    assert recorded is not None and recorded.action == "accept-all"
    assert page.page.locator(BANNER).count() == 0  # the kept choice still holds


def test_the_first_tab_stop_is_the_first_choice(visit):
    page = visit().open()
    page.page.locator(BANNER).wait_for()
    order = []
    for _ in range(5):
        page.page.keyboard.press("Tab")
        order.append(
            page.page.evaluate(
                "() => document.activeElement.closest('.pc-banner') &&"
                " (document.activeElement.dataset.pcAction || document.activeElement.tagName)"
            )
        )
    assert order == ["accept-all", "reject-all", "customize", "A", "close"]
    assert page.page.evaluate("() => window.scrollY") == 0


def test_the_script_as_built_fetches_the_configuration_first(visit):
    # The hashed address (pinned with Subresource Integrity) carries no texts: it still works.
    build = load_builds().current
    body = (WIDGET_DIR / build.js).read_bytes()
    page = visit()
    page.page.route(
        "**/widget/consent.js*",
        lambda route: route.fulfill(body=body, content_type="text/javascript"),
    )
    page.open()
    page.page.locator(BANNER).wait_for()
    assert any("/config" in url for url in page.requests)
    assert page.page.locator(BANNER).evaluate("(el) => getComputedStyle(el).position") == "fixed"
