"""The design system in real headless Chromium: one cascade order (primary and danger buttons do
not look like secondary ones), the header menu that folds without JavaScript, pages at 320 px."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

LANGUAGES = ("fr", "en", "es", "de")


@pytest.fixture
def narrow(browser):
    """A phone-sized tab without JavaScript (the menu must fold without it) nor the banner."""
    context = browser.new_context(viewport={"width": 320, "height": 720}, java_script_enabled=False)
    yield context.new_page()
    context.close()


def button_colours(tab, selector: str) -> dict[str, str]:
    return tab.locator(selector).first.evaluate(
        """(element) => {
            const style = getComputedStyle(element);
            return {background: style.backgroundColor, color: style.color,
                    border: style.borderTopColor};
        }"""
    )


def test_primary_danger_and_secondary_buttons_look_different(live_server, page):
    page.goto(f"{live_server}/rights/requests/new/access?lang=en")
    primary = button_colours(page, "main .button.button-primary")
    # The brand colour of content/operator.yaml, under white text.
    assert primary == {
        "background": "rgb(11, 87, 208)",
        "color": "rgb(255, 255, 255)",
        "border": "rgb(11, 87, 208)",
    }
    page.goto(f"{live_server}/rights?lang=en")
    secondary = button_colours(page, "main a.button:not(.button-primary)")
    assert secondary["background"] == "rgb(255, 255, 255)"
    assert secondary["color"] == "rgb(11, 87, 208)"
    # A danger button on the same page, with the page's real stylesheets.
    page.evaluate(
        """() => {
            const button = document.createElement("button");
            button.className = "button button-danger";
            button.textContent = "Withdraw";
            document.querySelector("main").append(button);
        }"""
    )
    danger = button_colours(page, "main .button.button-danger")
    assert danger["background"] == "rgb(179, 38, 30)"
    assert danger["color"] == "rgb(255, 255, 255)"
    assert len({primary["background"], secondary["background"], danger["background"]}) == 3


def test_the_navigation_folds_into_a_menu_on_a_phone_without_javascript(live_server, narrow):
    narrow.goto(f"{live_server}/policy?lang=de")
    menu = narrow.locator("details.nav-menu > summary")
    assert menu.is_visible() and menu.inner_text() == "Menü"
    rights = narrow.locator("nav.main-nav").get_by_role("link", name="Ihre Rechte", exact=True)
    assert not rights.is_visible()
    menu.focus()
    narrow.keyboard.press("Enter")
    assert rights.is_visible()
    english = narrow.locator("nav.language-switcher a[hreflang=en]")
    assert english.is_visible()
    # The menu's panel stays on the screen; the header's title is not clipped.
    assert narrow.evaluate("document.documentElement.scrollWidth") <= 320
    title = narrow.locator(".brand-title")
    box = title.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 320
    assert title.evaluate("(e) => e.scrollWidth <= e.clientWidth")


def test_the_navigation_stays_in_the_header_row_on_a_wide_screen(live_server, page):
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server}/policy?lang=de")
    assert not page.locator("details.nav-menu > summary").is_visible()
    links = page.locator("nav.main-nav a")
    tops = {round(links.nth(index).bounding_box()["y"]) for index in range(links.count())}
    assert len(tops) == 1  # one row, not a column
    assert page.locator("nav.language-switcher a[hreflang=fr]").is_visible()


@pytest.mark.parametrize("language", LANGUAGES)
def test_public_pages_fit_a_320_px_screen(live_server, narrow, language):
    for path in (
        "/policy",
        "/policy/versions",
        "/policy/changes?from=2&to=3",
        "/rights",
        "/rights/requests/new/access",
        "/rights/post-mortem/request",
        "/rights/sign-in",
    ):
        separator = "&" if "?" in path else "?"
        narrow.goto(f"{live_server}{path}{separator}lang={language}")
        width = narrow.evaluate("document.documentElement.scrollWidth")
        assert width <= 320, (path, language, width)


def test_the_policy_tables_become_labelled_rows_on_a_phone(live_server, narrow):
    narrow.goto(f"{live_server}/policy?lang=en")
    cell = narrow.locator("#retention-summary tbody tr").first.locator("td").first
    assert cell.evaluate("(e) => getComputedStyle(e).display") == "block"
    label = cell.evaluate("(e) => getComputedStyle(e, '::before').content")
    assert label == '"Kept for"'


def test_the_footer_stays_at_the_bottom_of_a_short_page(live_server, page):
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(f"{live_server}/rights/requests/find?lang=en")
    footer = page.locator("footer.site-footer").bounding_box()
    assert footer["y"] + footer["height"] == pytest.approx(1000, abs=1)
