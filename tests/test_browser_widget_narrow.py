"""The banner on narrow screens, in real Chromium: it fits a 320 px screen in every language, is
compact on a phone, and the page keeps room under it, so that the element that has focus is
never hidden by it (WCAG 2.4.11, focus not obscured)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

# Each Tab press: where the focused element is, and whether the banner's rectangle covers it.
FOCUSED = """() => {
    const banner = document.querySelector(".pc-banner").getBoundingClientRect();
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const box = el.getBoundingClientRect();
    return {
        id: el.outerHTML.slice(0, 80),
        inBanner: !!el.closest(".pc-banner"),
        covered: box.bottom > banner.top + 0.5 && box.top < banner.bottom - 0.5,
        visible: box.top >= 0 && box.bottom <= innerHeight,
    };
}"""

# Every element of the page outside the banner that Tab reaches.
FOCUSABLE_OUTSIDE = """() => Array.from(document.querySelectorAll(
    "a[href], button:not([disabled]), input:not([disabled]), select, textarea, summary"))
    .filter((el) => !el.closest(".pc-banner") && el.getClientRects().length > 0)
    .map((el) => el.outerHTML.slice(0, 80))"""


def open_banner(browser, operator_page: str, language: str, width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height})
    tab = context.new_page()
    tab.goto(f"{operator_page}?lang={language}")
    tab.locator(".pc-banner").wait_for()
    # The page's room under its content follows the banner's height.
    tab.wait_for_function(
        "() => parseFloat(getComputedStyle(document.documentElement).paddingBottom)"
        " === document.querySelector('.pc-banner').offsetHeight"
    )
    return context, tab


@pytest.mark.parametrize("language", ["de", "fr", "es", "en"])
def test_at_320_px_the_banner_fits_and_never_hides_the_focused_element(
    browser, operator_page, language
):
    context, tab = open_banner(browser, operator_page, language, 320, 640)
    assert tab.evaluate("document.documentElement.lang") == language
    assert tab.evaluate("document.querySelector('.pc-banner').lang") == language
    # No horizontal overflow, neither of the page nor inside the banner.
    assert tab.evaluate("document.documentElement.scrollWidth <= innerWidth")
    assert tab.evaluate(
        "(() => { const b = document.querySelector('.pc-banner');"
        " return b.scrollWidth <= b.clientWidth && b.getBoundingClientRect().right <= innerWidth"
        " })()"
    )
    # Tab through the whole page: the banner's choices first, then every link, field and button
    # of the page down to the footer, none of them under the banner.
    wanted = tab.evaluate(FOCUSABLE_OUTSIDE)
    assert any("Accessibility" in item for item in wanted)  # the footer's last link
    reached: list[str] = []
    first = None
    for _ in range(len(wanted) + 12):
        tab.keyboard.press("Tab")
        focused = tab.evaluate(FOCUSED)
        if focused is None:
            continue
        if first is None:
            first = focused
        if not focused["inBanner"]:
            assert not focused["covered"], focused["id"]
            assert focused["visible"], focused["id"]
            reached.append(focused["id"])
    assert first["inBanner"] and "accept-all" in first["id"]
    assert set(reached) == set(wanted)
    context.close()


@pytest.mark.parametrize("language", ["de", "fr", "es", "en"])
def test_on_a_phone_the_banner_is_compact(browser, operator_page, language):
    context, tab = open_banner(browser, operator_page, language, 390, 844)
    height = tab.evaluate("document.querySelector('.pc-banner').getBoundingClientRect().height")
    # Well under the 45 % of the screen it used to cover, and all of it shown: no inner scroll.
    assert height <= 0.38 * 844
    assert tab.evaluate(
        "(() => { const b = document.querySelector('.pc-banner');"
        " return b.scrollHeight <= b.clientHeight && document.documentElement.scrollWidth"
        " <= innerWidth })()"
    )
    for action in ("accept-all", "reject-all", "customize", "close"):
        assert tab.locator(f'.pc-banner [data-pc-action="{action}"]').is_visible()
    context.close()
