"""The consent widget in real Chromium, on the operator's page of another origin, strict CSP.

Blocking is checked on the network (every request the page makes), not only in the DOM.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from conftest import current_policy_version
from sqlalchemy import select
from test_browser_policy import axe_violations

from privacy_center.extensions import db as database
from privacy_center.models import ConsentReceipt

pytestmark = pytest.mark.browser

TRACKERS = ("/static/trackers/analytics.js", "/static/trackers/ads.js",
            "/static/trackers/abtasty.js", "/embed/video", "/collect")  # fmt: skip
NON_ESSENTIAL_COOKIES = ("_ga", "_ga_DEMO", "_fbp", "_gcl_au", "ABTasty", "YSC")


class Visit:
    """A browser context on the operator's page that records every request and CSP violation."""

    def __init__(self, browser, url: str, **context_options) -> None:
        self.url = url
        self.context = browser.new_context(**context_options)
        self.requests: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.page = self.context.new_page()
        self.page.add_init_script(
            "window.__csp = []; document.addEventListener('securitypolicyviolation',"
            " (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
        )

    def open(self) -> Visit:
        self.page.goto(self.url)
        return self

    def wait_for_widget(self) -> None:
        self.page.wait_for_function("() => window.PrivacyCenter && window.PrivacyCenter.__loaded")

    def trackers_requested(self) -> list[str]:
        return [url for url in self.requests if any(path in url for path in TRACKERS)]

    def cookies(self) -> dict[str, str]:
        return {cookie["name"]: cookie["value"] for cookie in self.context.cookies(self.url)}

    def choice(self) -> dict:
        return json.loads(urllib.parse.unquote(self.cookies()["pc_consent"]))

    def log(self) -> list[str]:
        return self.page.locator("#tracker-log li").all_inner_texts()

    def click_and_wait_for_receipt(self, selector: str) -> dict:
        with self.page.expect_response(
            lambda response: (
                "/api/v1/consents" in response.url and response.request.method == "POST"
            )
        ) as answer:
            self.page.locator(selector).click()
        assert answer.value.status == 201, answer.value.text()
        return answer.value.json()

    def close(self) -> None:
        # A route handler still relaying a request when the page closes would raise in whatever
        # Playwright call comes next, in another test.
        self.page.unroute_all(behavior="ignoreErrors")
        self.context.close()


@pytest.fixture
def visit(browser, operator_page):
    visits: list[Visit] = []

    def make(**context_options) -> Visit:
        visits.append(Visit(browser, operator_page, **context_options))
        return visits[-1]

    yield make
    for opened in visits:
        opened.close()


def stored_receipt(app, receipt_id: str) -> ConsentReceipt | None:
    with app.app_context(), database.engine.connect() as connection:
        row = connection.execute(
            select(ConsentReceipt.__table__).where(ConsentReceipt.receipt_id == receipt_id)
        ).first()
    return row


def test_nothing_non_essential_before_a_choice_and_after_refusal(visit):
    page = visit().open()
    banner = page.page.locator(".pc-banner")
    banner.wait_for()
    for action in ("accept-all", "reject-all", "customize"):
        assert banner.locator(f'[data-pc-action="{action}"]').is_visible()
    # The three choices have equal weight: same class, same size.
    boxes = [banner.locator(f'[data-pc-action="{a}"]').bounding_box()
             for a in ("accept-all", "reject-all", "customize")]  # fmt: skip
    assert len({round(box["height"]) for box in boxes}) == 1
    classes = {banner.locator(f'[data-pc-action="{a}"]').get_attribute("class")
               for a in ("accept-all", "reject-all", "customize")}  # fmt: skip
    assert len(classes) == 1
    page.page.wait_for_load_state("networkidle")
    assert page.trackers_requested() == []
    assert not set(page.cookies()) & set(NON_ESSENTIAL_COOKIES)
    assert page.page.locator(".pc-placeholder").is_visible()
    assert page.page.locator("iframe[data-consent]").get_attribute("src") is None
    # The page stays usable: no cookie wall.
    assert page.page.locator("h1").is_visible()

    receipt = page.click_and_wait_for_receipt('.pc-banner [data-pc-action="reject-all"]')
    page.page.wait_for_load_state("networkidle")
    assert page.trackers_requested() == []
    assert page.choice()["c"] == {
        "analytics": 0,
        "advertising": 0,
        "personalization": 0,
        "social": 0,
    }
    assert page.choice()["r"] == receipt["receiptId"]
    assert page.page.locator(".pc-banner").count() == 0
    assert page.page.evaluate("window.__csp") == []


def test_closing_the_banner_is_a_refusal(visit, app):
    page = visit().open()
    receipt = page.click_and_wait_for_receipt('.pc-banner [data-pc-action="close"]')
    row = stored_receipt(app, receipt["receiptId"])
    assert row.action == "close"
    assert row.choices == {"functional": True, "analytics": False, "advertising": False,
                           "personalization": False, "social": False}  # fmt: skip
    assert page.trackers_requested() == []


def test_granting_analytics_runs_it_without_reload_then_reload_remembers(visit, app):
    page = visit().open()
    page.page.evaluate("window.__sameDocument = true")
    page.page.locator('.pc-banner [data-pc-action="customize"]').click()
    dialog = page.page.locator('[role="dialog"]')
    dialog.wait_for()
    dialog.locator('[data-pc-category="analytics"]').check()
    receipt = page.click_and_wait_for_receipt('[role="dialog"] [data-pc-action="save"]')
    page.page.wait_for_function("() => document.cookie.includes('_ga=')")
    assert page.page.evaluate("window.__sameDocument") is True  # no reload
    assert any("analytics.js" in url for url in page.requests)
    assert not any(path in url for url in page.requests for path in ("ads.js", "abtasty.js"))
    assert "analytics tag ran (_ga set)" in page.log()
    assert page.page.evaluate("PrivacyCenter.getConsent()") == {
        "functional": True, "analytics": True, "advertising": False,
        "personalization": False, "social": False,
        "services": {"google-analytics": True, "google-ads": False, "meta-pixel": False,
                     "ab-tasty": False, "youtube": False, "x-twitter": False},
    }  # fmt: skip

    # The receipt is in the database and the visitor can look it up.
    row = stored_receipt(app, receipt["receiptId"])
    assert row is not None and row.choices["analytics"] is True and row.action == "save"
    with urllib.request.urlopen(receipt["url"]) as answer:
        looked_up = json.load(answer)
    assert looked_up["choices"]["analytics"] is True
    assert looked_up["textsHash"] == row.texts_hash and looked_up["build"] == row.widget_build

    page.requests.clear()
    page.page.reload()
    page.wait_for_widget()
    page.page.wait_for_function("() => document.querySelector('#tracker-log li')")
    assert page.page.locator(".pc-banner").count() == 0
    assert "analytics tag ran (_ga set)" in page.log()
    assert not any("ads.js" in url for url in page.requests)


def test_withdrawal_deletes_the_listed_cookies(visit):
    page = visit().open()
    page.click_and_wait_for_receipt('.pc-banner [data-pc-action="accept-all"]')
    page.page.wait_for_function(
        "() => ['_ga=', '_fbp=', 'ABTasty='].every((name) => document.cookie.includes(name))"
    )
    assert page.page.evaluate("localStorage.getItem('ABTastyData')") is not None
    # An unrelated cookie of the operator stays.
    page.page.evaluate("document.cookie = 'cart=3; path=/'")
    page.page.locator("button[data-pc-open]").click()
    dialog = page.page.locator('[role="dialog"]')
    dialog.locator('[data-pc-category="analytics"]').uncheck()
    dialog.locator('[data-pc-category="personalization"]').uncheck()
    receipt = page.click_and_wait_for_receipt('[role="dialog"] [data-pc-action="save"]')
    cookies = page.cookies()
    assert "_ga" not in cookies and "_ga_DEMO" not in cookies and "ABTasty" not in cookies
    assert "_fbp" in cookies and "cart" in cookies
    assert page.page.evaluate("localStorage.getItem('ABTastyData')") is None
    assert page.choice()["r"] == receipt["receiptId"]


def test_a_new_policy_version_asks_again(visit):
    page = visit().open()
    page.click_and_wait_for_receipt('.pc-banner [data-pc-action="accept-all"]')
    page.page.wait_for_function("() => document.querySelectorAll('#tracker-log li').length >= 4")
    page.page.wait_for_load_state("networkidle")
    visitor = page.choice()["id"]
    older = dict(page.choice(), v=1)
    page.context.add_cookies(
        [{"name": "pc_consent", "value": urllib.parse.quote(json.dumps(older)), "url": page.url}]
    )
    page.requests.clear()
    page.page.reload()
    page.page.locator(".pc-banner").wait_for()
    page.page.wait_for_load_state("networkidle")
    assert page.trackers_requested() == []
    page.click_and_wait_for_receipt('.pc-banner [data-pc-action="reject-all"]')
    assert page.choice()["v"] == current_policy_version() and page.choice()["id"] == visitor


def test_global_privacy_control_pre_refuses_advertising_and_social(visit, app):
    page = visit(extra_http_headers={"Sec-GPC": "1"})
    page.page.add_init_script(
        "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})"
    )
    page.open()
    banner = page.page.locator(".pc-banner")
    banner.wait_for()
    assert "Global Privacy Control" in banner.inner_text()
    receipt = page.click_and_wait_for_receipt('.pc-banner [data-pc-action="accept-all"]')
    page.page.wait_for_function("() => document.cookie.includes('_ga=')")
    consent = page.page.evaluate("PrivacyCenter.getConsent()")
    assert consent["analytics"] and consent["personalization"]
    assert not consent["advertising"] and not consent["social"]
    assert not any("ads.js" in url or "/embed/video" in url for url in page.requests)
    row = stored_receipt(app, receipt["receiptId"])
    assert row.gpc is True and row.method == "gpc"
    # The visitor can still opt in explicitly.
    page.page.locator("button[data-pc-open]").click()
    page.page.locator('[role="dialog"] [data-pc-category="advertising"]').check()
    page.click_and_wait_for_receipt('[role="dialog"] [data-pc-action="save"]')
    page.page.wait_for_function("() => document.cookie.includes('_fbp=')")


def test_consent_mode_default_comes_before_update(visit):
    page = visit().open()
    page.click_and_wait_for_receipt('.pc-banner [data-pc-action="accept-all"]')
    entries = page.page.evaluate(
        "window.dataLayer.filter((e) => e[0] === 'consent').map((e) => Array.from(e))"
    )
    assert entries[0][1] == "default"
    default = entries[0][2]
    assert default["ad_storage"] == default["analytics_storage"] == "denied"
    assert default["functionality_storage"] == default["security_storage"] == "granted"
    assert default["wait_for_update"] > 0
    update = entries[-1]
    assert update[1] == "update"
    assert update[2]["analytics_storage"] == "granted"
    assert update[2]["ad_storage"] == update[2]["ad_user_data"] == "granted"
    assert update[2]["ad_personalization"] == update[2]["personalization_storage"] == "granted"


def test_strict_csp_page_runs_inline_and_external_blocked_scripts_in_order(visit):
    page = visit().open()
    page.click_and_wait_for_receipt('.pc-banner [data-pc-action="accept-all"]')
    page.page.wait_for_function("() => document.querySelectorAll('#tracker-log li').length >= 4")
    assert page.log() == [
        "analytics tag ran (_ga set)",
        "advertising tag ran (_fbp, _gcl_au set)",
        "inline advertising code ran",
        "personalization tag ran (ABTasty set)",
    ]
    page.page.locator("iframe[data-consent]").wait_for()
    assert page.page.locator("iframe[data-consent]").get_attribute("src") == "/embed/video"
    assert page.page.evaluate("window.__csp") == []
    assert page.page.evaluate("document.querySelectorAll('[style]').length") == 0


def test_iframe_placeholder_allows_its_category(visit, app):
    page = visit().open()
    page.page.locator(".pc-banner").wait_for()
    placeholder = page.page.locator(".pc-placeholder")
    assert "YouTube" in placeholder.inner_text()
    receipt = page.click_and_wait_for_receipt(".pc-placeholder [data-pc-allow]")
    page.page.wait_for_function(
        "() => document.querySelector('iframe[data-consent]').getAttribute('src')"
    )
    assert stored_receipt(app, receipt["receiptId"]).action == "embed"
    assert page.page.evaluate("PrivacyCenter.getConsent()")["social"] is True
    assert page.page.evaluate("PrivacyCenter.getConsent()")["analytics"] is False


def test_elements_added_later_obey_the_choice(visit):
    page = visit().open()
    page.click_and_wait_for_receipt('.pc-banner [data-pc-action="reject-all"]')
    page.page.evaluate(
        """() => {
            const late = [["analytics", "late-analytics"], ["functional", "late-functional"]];
            for (const [key, name] of late) {
                const script = document.createElement("script");
                script.type = "text/plain";
                script.dataset.consent = key;
                script.src = "/static/trackers/log.js?" + name;
                document.body.append(script);
            }
        }"""
    )
    page.page.wait_for_function("() => performance.getEntriesByType('resource').some("
                                "(e) => e.name.includes('late-functional'))")  # fmt: skip
    page.page.wait_for_timeout(200)
    assert not any("late-analytics" in url for url in page.requests)
    page.page.evaluate("PrivacyCenter.show()")
    page.page.locator('[role="dialog"] [data-pc-category="analytics"]').check()
    page.click_and_wait_for_receipt('[role="dialog"] [data-pc-action="save"]')
    page.page.wait_for_function("() => performance.getEntriesByType('resource').some("
                                "(e) => e.name.includes('late-analytics'))")  # fmt: skip


def test_api_events_and_loading_twice(visit):
    page = visit().open()
    page.wait_for_widget()
    page.page.evaluate(
        """() => {
            window.__events = [];
            PrivacyCenter.on("change", (c) => window.__events.push(["on", c.analytics]));
            document.addEventListener(
                "pc:change", (e) => window.__events.push(["event", e.detail.analytics]));
            const again = document.createElement("script");
            again.src = document.querySelector('script[src*="/widget/consent"]').src;
            document.head.append(again);
        }"""
    )
    page.page.wait_for_timeout(300)
    assert page.page.locator(".pc-banner").count() == 1
    page.click_and_wait_for_receipt('.pc-banner [data-pc-action="accept-all"]')
    assert page.page.evaluate("window.__events") == [["on", True], ["event", True]]


def test_preferences_dialog_keyboard_and_focus(visit):
    page = visit().open()
    opener = page.page.locator("main button[data-pc-open]")
    page.page.locator(".pc-banner").wait_for()
    opener.focus()
    page.page.keyboard.press("Enter")
    dialog = page.page.locator('[role="dialog"]')
    dialog.wait_for()
    assert dialog.get_attribute("aria-modal") == "true"
    assert page.page.evaluate(
        "document.querySelector('[role=dialog]').contains(document.activeElement)"
    )
    # Tab and Shift+Tab stay inside the dialog.
    for key in ["Tab"] * 25 + ["Shift+Tab"] * 25:
        page.page.keyboard.press(key)
        assert page.page.evaluate(
            "document.querySelector('[role=dialog]').contains(document.activeElement)"
        ), key
    functional = dialog.locator('[data-pc-category="functional"]')
    assert functional.is_checked() and functional.is_disabled()
    page.page.keyboard.press("Escape")
    assert dialog.count() == 0 or not dialog.is_visible()
    assert page.page.evaluate("document.activeElement.hasAttribute('data-pc-open')")
    assert "pc_consent" not in page.cookies()  # Esc closes without saving


@pytest.mark.parametrize("width", [320, 1280])
def test_widget_has_no_accessibility_violation(browser, operator_page, width):
    context = browser.new_context(bypass_csp=True, viewport={"width": width, "height": 640})
    tab = context.new_page()
    tab.goto(operator_page)
    tab.locator(".pc-banner").wait_for()
    assert axe_violations(tab) == []
    # Usable at 320 px: the three choices are on screen without horizontal scrolling.
    assert tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    for action in ("accept-all", "reject-all", "customize"):
        assert tab.locator(f'.pc-banner [data-pc-action="{action}"]').is_visible()
    tab.locator('.pc-banner [data-pc-action="customize"]').click()
    tab.locator('[role="dialog"]').wait_for()
    assert axe_violations(tab) == []
    context.close()


# Each word of a choice on one line (a word split across lines gives two rectangles).
WORDS_SPLIT = """() => [...document.querySelectorAll('.pc-banner .pc-btn')].flatMap((button) => {
    const text = button.firstChild;
    const split = [];
    for (const match of text.data.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(text, match.index);
        range.setEnd(text, match.index + match[0].length);
        if (range.getClientRects().length > 1) split.push(match[0]);
    }
    return split;
})"""


@pytest.mark.parametrize("language", ["fr", "en", "es", "de"])
@pytest.mark.parametrize("size", [(320, 568), (360, 640), (390, 844), (1280, 800)])
def test_the_three_choices_are_in_sight_and_their_words_whole(browser, live_server, language, size):
    width, height = size
    # Without the slide-in, so that the banner is measured where it stays.
    context = browser.new_context(
        viewport={"width": width, "height": height}, reduced_motion="reduce"
    )
    tab = context.new_page()
    tab.goto(f"{live_server}/policy?lang={language}")
    tab.locator(".pc-banner .pc-btn").first.wait_for()
    # On a small screen the text scrolls inside the banner; the choices never leave the screen.
    for action in ("accept-all", "reject-all", "customize"):
        box = tab.locator(f'.pc-banner [data-pc-action="{action}"]').bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height, action
    assert tab.evaluate(WORDS_SPLIT) == []
    context.close()


def test_policy_page_shows_the_current_choice_with_its_receipt(browser, live_server):
    context = browser.new_context()
    tab = context.new_page()
    tab.goto(f"{live_server}/policy?lang=en")
    tab.locator(".pc-banner").wait_for()
    with tab.expect_response(lambda r: r.url.endswith("/api/v1/consents")) as answer:
        tab.locator('.pc-banner [data-pc-action="reject-all"]').click()
    receipt_id = answer.value.json()["receiptId"]
    panel = tab.locator(".your-choice [data-pc-receipt]")
    panel.locator(f'a[href$="{receipt_id}"]').wait_for()
    assert "Refused" in panel.inner_text()
    # The policy's own "change your choices" links open the preferences.
    tab.locator(".policy-body a[data-pc-open]").first.click()
    tab.locator('[role="dialog"]').wait_for()
    context.close()


# --- receipts not acknowledged are kept and posted again --------------------------------------

CONSENTS = "**/api/v1/consents"
PENDING = "JSON.parse(localStorage.getItem('pc_pending') || '[]').map((body) => body.receiptId)"


def receipt_post(receipt_id: str | None = None):
    """A predicate for the widget's POST of a receipt (of this receipt id, when given)."""

    def matches(message) -> bool:
        request = getattr(message, "request", message)
        if request.method != "POST" or not request.url.endswith("/api/v1/consents"):
            return False
        return receipt_id is None or json.loads(request.post_data)["receiptId"] == receipt_id

    return matches


def answer_receipts(visit: Visit, answer: dict) -> None:
    """Routes the receipt posts: aborted (network error) or answered with ``answer["status"]``
    while it is set, sent to the server when it is None; their receipt ids are listed in
    ``answer["posted"]``. Preflights always reach the server."""
    answer["posted"] = []

    def handle(route) -> None:
        status = answer.get("status")
        if route.request.method == "POST":
            answer["posted"].append(json.loads(route.request.post_data)["receiptId"])
        if route.request.method != "POST" or status is None:
            route.continue_()
        elif status == "abort":
            route.abort()
        else:
            # Readable by the page, as the server's own error answers are.
            headers = {"Access-Control-Allow-Origin": route.request.headers.get("origin", "")}
            route.fulfill(status=status, json={"error": "test"}, headers=headers)

    visit.page.route(CONSENTS, handle)


def receipt_looked_up(live_server: str, receipt_id: str) -> dict:
    with urllib.request.urlopen(f"{live_server}/api/v1/consents/{receipt_id}") as answer:
        return json.load(answer)


def test_a_receipt_not_recorded_is_posted_again_on_the_next_page(visit, app, live_server):
    page = visit()
    # Timers only run when the test says so: the same-page retry cannot overtake the reload.
    page.page.clock.install()
    page.page.clock.pause_at(datetime.now(UTC) + timedelta(seconds=1))
    answer = {"status": "abort"}
    answer_receipts(page, answer)
    page.open()
    with page.page.expect_request(receipt_post()):
        page.page.locator('.pc-banner [data-pc-action="accept-all"]').click()
    # The choice applies even though the server never heard of it.
    page.page.wait_for_function("() => document.cookie.includes('_ga=')")
    first = page.choice()["r"]
    # A second choice answered 503 is kept too, after the first.
    answer["status"] = 503
    page.page.locator("button[data-pc-open]").click()
    page.page.locator('[role="dialog"] [data-pc-category="analytics"]').uncheck()
    with page.page.expect_response(receipt_post()) as refused:
        page.page.locator('[role="dialog"] [data-pc-action="save"]').click()
    assert refused.value.status == 503
    second = page.choice()["r"]
    assert second != first
    assert page.page.evaluate(PENDING) == [first, second]
    assert stored_receipt(app, first) is None and stored_receipt(app, second) is None

    page.page.unroute(CONSENTS)
    with (
        page.page.expect_response(receipt_post(first)) as posted_first,
        page.page.expect_response(receipt_post(second)) as posted_second,
    ):
        page.page.reload()
    assert posted_first.value.status == 201 and posted_second.value.status == 201
    page.page.wait_for_function(f"() => {PENDING}.length === 0")
    accepted, saved = receipt_looked_up(live_server, first), receipt_looked_up(live_server, second)
    assert accepted["action"] == "accept-all" and accepted["choices"]["analytics"] is True
    assert saved["action"] == "save" and saved["choices"]["analytics"] is False
    with app.app_context(), database.engine.connect() as connection:
        rows = connection.execute(
            select(ConsentReceipt.receipt_id).where(ConsentReceipt.receipt_id.in_([first, second]))
        ).all()
    assert sorted(row.receipt_id for row in rows) == sorted([first, second])  # once each


def test_a_receipt_not_recorded_is_posted_again_once_on_the_same_page(visit, app):
    page = visit()
    page.page.clock.install()
    page.page.clock.pause_at(datetime.now(UTC) + timedelta(seconds=1))
    answer = {"status": 503}
    answer_receipts(page, answer)
    page.open()
    with page.page.expect_response(receipt_post()) as refused:
        page.page.locator('.pc-banner [data-pc-action="reject-all"]').click()
    assert refused.value.status == 503
    receipt_id = page.choice()["r"]
    assert page.page.evaluate(PENDING) == [receipt_id]
    answer["status"] = None
    with page.page.expect_response(receipt_post(receipt_id)) as posted:
        page.page.clock.run_for(5000)
    assert posted.value.status == 201
    page.page.wait_for_function(f"() => {PENDING}.length === 0")
    assert stored_receipt(app, receipt_id).action == "reject-all"

    # That was this page's one retry: a later failure waits for the next page.
    answer["status"] = 503
    page.page.locator("button[data-pc-open]").click()
    with page.page.expect_response(receipt_post()):
        page.page.locator('[role="dialog"] [data-pc-action="save"]').click()
    later = page.choice()["r"]
    page.page.clock.run_for(60_000)
    assert page.page.evaluate(PENDING) == [later]
    assert answer["posted"] == [receipt_id, receipt_id, later]


def test_a_receipt_refused_for_good_is_not_posted_again(visit):
    page = visit()
    answer_receipts(page, {"status": 422})
    page.open()
    with page.page.expect_response(receipt_post()) as refused:
        page.page.locator('.pc-banner [data-pc-action="reject-all"]').click()
    assert refused.value.status == 422
    # Forgotten at once: the next page has nothing to post again.
    page.page.wait_for_function(f"() => {PENDING}.length === 0")
    assert page.choice()["c"]["analytics"] == 0
    page.requests.clear()
    page.page.reload()
    page.wait_for_widget()
    page.page.wait_for_load_state("networkidle")
    assert not any(url.endswith("/api/v1/consents") for url in page.requests)


def test_withdrawal_keeps_the_pending_receipts(visit):
    page = visit()

    def every_key_is_analytics(route) -> None:
        response = route.fetch()
        config = response.json()
        for category in config["categories"]:
            for service in category["services"]:
                if service["key"] == "google-analytics":
                    service["storage"].append("*")
        route.fulfill(response=response, json=config)

    page.page.route("**/api/v1/sites/*/config*", every_key_is_analytics)
    answer_receipts(page, {"status": "abort"})
    page.open()
    with page.page.expect_request(receipt_post()):
        page.page.locator('.pc-banner [data-pc-action="accept-all"]').click()
    page.page.wait_for_function("() => document.cookie.includes('_ga=')")
    accepted = page.choice()["r"]
    page.page.evaluate("localStorage.setItem('analytics-anything', '1')")
    page.page.locator("button[data-pc-open]").click()
    page.page.locator('[role="dialog"] [data-pc-category="analytics"]').uncheck()
    with page.page.expect_request(receipt_post()):
        page.page.locator('[role="dialog"] [data-pc-action="save"]').click()
    # Withdrawing analytics removed every key its pattern "*" matches but the pending receipts.
    assert page.page.evaluate("localStorage.getItem('analytics-anything')") is None
    assert page.page.evaluate(PENDING) == [accepted, page.choice()["r"]]


def test_without_storage_the_choice_is_still_recorded(visit, app):
    page = visit()
    page.page.add_init_script(
        "Object.defineProperty(window, 'localStorage', {get() {"
        " throw new DOMException('storage is disabled', 'SecurityError'); }})"
    )
    errors: list[str] = []
    page.page.on("pageerror", lambda error: errors.append(str(error)))
    page.open()
    receipt = page.click_and_wait_for_receipt('.pc-banner [data-pc-action="reject-all"]')
    assert receipt["receiptId"] == page.choice()["r"]
    assert stored_receipt(app, receipt["receiptId"]).action == "reject-all"
    assert page.page.locator(".pc-banner").count() == 0
    assert errors == []


def test_without_crypto_random_uuid_the_ids_are_still_version_4(visit, app):
    # crypto.randomUUID exists only on secure pages: an http page gets the widget's own UUIDs.
    page = visit()
    page.page.add_init_script("delete Crypto.prototype.randomUUID")
    page.open()
    assert page.page.evaluate("typeof crypto.randomUUID") == "undefined"
    receipt = page.click_and_wait_for_receipt('.pc-banner [data-pc-action="reject-all"]')
    choice = page.choice()
    uuid4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
    assert uuid4.match(choice["id"]) and uuid4.match(choice["r"]) and choice["id"] != choice["r"]
    assert stored_receipt(app, receipt["receiptId"]).receipt_id == choice["r"]
