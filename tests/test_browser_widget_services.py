"""Choices per service in real Chromium: the dialog's service switches, `data-consent` for one
service, and the receipt, API, events and Google Consent Mode carrying the services."""

from __future__ import annotations

import pytest
from test_browser_widget import Visit, stored_receipt

pytestmark = pytest.mark.browser

ALL_OFF = {"google-analytics": False, "google-ads": False, "meta-pixel": False,
           "ab-tasty": False, "youtube": False, "x-twitter": False}  # fmt: skip

LATE = """(late) => {
    for (const [key, name] of late) {
        const script = document.createElement("script");
        script.type = "text/plain";
        script.dataset.consent = key;
        script.src = "/static/trackers/log.js?" + name;
        document.body.append(script);
    }
}"""


@pytest.fixture
def visit(browser, operator_page):
    visits: list[Visit] = []

    def make() -> Visit:
        visits.append(Visit(browser, operator_page))
        return visits[-1]

    yield make
    for opened in visits:
        opened.close()


def loaded(page: Visit, name: str) -> None:
    page.page.wait_for_function(
        "(name) => performance.getEntriesByType('resource').some((e) => e.name.includes(name))",
        arg=name,
    )


def last_consent_update(page: Visit) -> dict:
    return page.page.evaluate(
        "window.dataLayer.filter((e) => e[0] === 'consent' && e[1] === 'update')"
        ".map((e) => e[2]).pop()"
    )


def test_each_service_has_its_own_switch_and_the_category_follows(visit, app):
    page = visit().open()
    page.page.locator('.pc-banner [data-pc-action="customize"]').click()
    dialog = page.page.locator('[role="dialog"]')
    dialog.wait_for()
    category = dialog.locator('[data-pc-category="advertising"]')
    ads = dialog.locator('[data-pc-service="google-ads"]')
    meta = dialog.locator('[data-pc-service="meta-pixel"]')
    assert dialog.get_by_label("Meta Pixel").count() == 1  # each service has a labelled switch
    assert dialog.locator("[data-pc-service]").count() == len(ALL_OFF)
    assert dialog.locator('[data-pc-service="allopass-site"]').count() == 0  # always on
    # The category's switch turns all its services on and off.
    category.check()
    assert ads.is_checked() and meta.is_checked()
    category.uncheck()
    assert not ads.is_checked() and not meta.is_checked()
    # A category is on as soon as one of its services is, off when none is.
    meta.check()
    assert category.is_checked() and not ads.is_checked()
    dialog.locator('[data-pc-service="google-analytics"]').check()
    assert dialog.locator('[data-pc-category="analytics"]').is_checked()
    dialog.locator('[data-pc-service="google-analytics"]').uncheck()
    assert not dialog.locator('[data-pc-category="analytics"]').is_checked()
    dialog.locator('[data-pc-service="google-analytics"]').check()
    page.page.evaluate(
        """() => {
            window.__events = [];
            PrivacyCenter.on("change", (c) => window.__events.push(c));
            document.addEventListener("pc:change", (e) => window.__events.push(e.detail));
        }"""
    )
    receipt = page.click_and_wait_for_receipt('[role="dialog"] [data-pc-action="save"]')

    wanted = {**ALL_OFF, "google-analytics": True, "meta-pixel": True}
    row = stored_receipt(app, receipt["receiptId"])
    assert row.services == wanted
    assert row.choices["advertising"] is True and row.choices["analytics"] is True
    assert row.choices["social"] is False
    consent = page.page.evaluate("PrivacyCenter.getConsent()")
    assert consent["services"] == wanted and consent["advertising"] is True
    events = page.page.evaluate("window.__events")
    assert [event["services"] for event in events] == [wanted, wanted]
    # Consent Mode: ad_* follow Google Ads (refused) although advertising is granted.
    update = last_consent_update(page)
    assert update["analytics_storage"] == "granted"
    assert update["ad_storage"] == update["ad_user_data"] == "denied"
    assert update["ad_personalization"] == "denied"

    # Reloaded, the choice per service is read back from the cookie.
    page.page.reload()
    page.wait_for_widget()
    assert page.page.evaluate("PrivacyCenter.getConsent()")["services"] == wanted
    page.page.evaluate("PrivacyCenter.show()")
    dialog.wait_for()
    assert dialog.locator('[data-pc-service="meta-pixel"]').is_checked()
    assert not dialog.locator('[data-pc-service="google-ads"]').is_checked()
    dialog.locator('[data-pc-service="google-ads"]').check()
    page.click_and_wait_for_receipt('[role="dialog"] [data-pc-action="save"]')
    update = last_consent_update(page)
    assert update["ad_storage"] == update["ad_user_data"] == "granted"


def test_data_consent_for_one_service_waits_for_that_service(visit, app):
    page = visit().open()
    page.wait_for_widget()
    page.page.evaluate(LATE, [["advertising:google-ads", "late-gads"],
                              ["advertising:meta-pixel", "late-meta"],
                              ["advertising:unknown-partner", "late-unknown"],
                              ["functional:allopass-site", "late-own"]])  # fmt: skip
    loaded(page, "late-own")
    # Only the other advertising service granted: the Google Ads element stays blocked.
    page.page.locator('.pc-banner [data-pc-action="customize"]').click()
    page.page.locator('[role="dialog"] [data-pc-service="meta-pixel"]').check()
    receipt = page.click_and_wait_for_receipt('[role="dialog"] [data-pc-action="save"]')
    loaded(page, "late-meta")
    page.page.wait_for_timeout(200)
    assert not any("late-gads" in url or "late-unknown" in url for url in page.requests)
    assert stored_receipt(app, receipt["receiptId"]).services["google-ads"] is False
    # That service granted: it runs, without reload.
    page.page.evaluate("PrivacyCenter.show()")
    page.page.locator('[role="dialog"] [data-pc-service="google-ads"]').check()
    page.click_and_wait_for_receipt('[role="dialog"] [data-pc-action="save"]')
    loaded(page, "late-gads")
    assert not any("late-unknown" in url for url in page.requests)


def test_accept_all_from_the_banner_grants_every_service(visit, app):
    page = visit().open()
    receipt = page.click_and_wait_for_receipt('.pc-banner [data-pc-action="accept-all"]')
    every = {key: True for key in ALL_OFF}
    assert stored_receipt(app, receipt["receiptId"]).services == every
    assert page.page.evaluate("PrivacyCenter.getConsent()")["services"] == every


def test_switching_off_one_service_deletes_its_cookies_and_keeps_the_others(visit, app):
    page = visit().open()
    page.click_and_wait_for_receipt('.pc-banner [data-pc-action="accept-all"]')
    # The advertising tag sets the cookies of both advertising services.
    page.page.wait_for_function(
        "() => ['_fbp=', '_gcl_au='].every((name) => document.cookie.includes(name))"
    )
    page.page.evaluate(
        "['_fbp', '_gcl_au'].forEach((key) => localStorage.setItem(key, '1'));"
        "document.cookie = '_fbp=set-by-hand; path=/; max-age=600'"
    )
    page.page.evaluate("PrivacyCenter.show()")
    dialog = page.page.locator('[role="dialog"]')
    dialog.locator('[data-pc-service="meta-pixel"]').uncheck()
    assert dialog.locator('[data-pc-category="advertising"]').is_checked()
    receipt = page.click_and_wait_for_receipt('[role="dialog"] [data-pc-action="save"]')

    # Meta Pixel's cookie and storage are gone; Google Ads, in the same category, keeps its own.
    cookies = page.cookies()
    assert "_fbp" not in cookies
    assert "_gcl_au" in cookies and "_ga" in cookies
    assert page.page.evaluate("localStorage.getItem('_fbp')") is None
    assert page.page.evaluate("localStorage.getItem('_gcl_au')") == "1"
    row = stored_receipt(app, receipt["receiptId"])
    assert row.choices["advertising"] is True
    assert row.services["meta-pixel"] is False and row.services["google-ads"] is True
    assert page.choice()["s"] == {"meta-pixel": 0}


def test_a_service_switched_off_loses_its_cookies_on_the_parent_domains_too(
    visit, operator_page, live_server
):
    page = visit()
    # The operator's page on a host with parent domains (www.shop.test), served by the demo site;
    # the privacy center's answers are relayed too (Chromium keeps such a page from loopback).
    origin = operator_page.rstrip("/")
    page.page.route(
        "http://www.shop.test/**",
        lambda route: route.fulfill(
            response=route.fetch(url=route.request.url.replace("http://www.shop.test", origin))
        ),
    )
    page.page.route(f"{live_server}/**", lambda route: route.fulfill(response=route.fetch()))
    page.page.goto("http://www.shop.test/")
    page.page.locator('.pc-banner [data-pc-action="accept-all"]').click()
    page.page.wait_for_function("() => document.cookie.includes('_fbp=')")  # the ads tag ran
    page.page.evaluate(
        """() => {
            for (const domain of ["", "; domain=www.shop.test", "; domain=shop.test"]) {
                document.cookie = "_fbp=1" + domain + "; path=/";
                document.cookie = "_gcl_au=1" + domain + "; path=/";
            }
        }"""
    )
    jar = {(c["name"], c["domain"]) for c in page.context.cookies("http://www.shop.test/")}
    assert {("_fbp", "www.shop.test"), ("_fbp", ".www.shop.test"), ("_fbp", ".shop.test")} <= jar
    page.page.evaluate("PrivacyCenter.show()")
    dialog = page.page.locator('[role="dialog"]')
    dialog.locator('[data-pc-service="meta-pixel"]').uncheck()
    dialog.locator('[data-pc-action="save"]').click()
    page.page.wait_for_function("() => !document.cookie.includes('_fbp=')")

    left = {(c["name"], c["domain"]) for c in page.context.cookies("http://www.shop.test/")}
    assert not [cookie for cookie in left if cookie[0] == "_fbp"], left
    assert {("_gcl_au", "www.shop.test"), ("_gcl_au", ".shop.test")} <= left
