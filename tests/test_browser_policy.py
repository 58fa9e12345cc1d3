"""The policy pages in real headless Chromium: accessibility, navigation, language, read-aloud."""

from __future__ import annotations

import pytest

from privacy_center.config import PROJECT_ROOT

pytestmark = pytest.mark.browser

AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
LANGUAGES = ("fr", "en", "es", "de")


@pytest.fixture
def audited_page(browser):
    """A tab where axe-core can be injected despite the page's strict CSP."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make test` runs `npm ci`")
    context = browser.new_context(bypass_csp=True)
    tab = context.new_page()
    yield tab
    context.close()


def axe_violations(tab) -> list[dict]:
    tab.add_script_tag(path=str(AXE))
    return tab.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ")),
            }));
        }"""
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_policy_has_no_accessibility_violation(live_server, audited_page, language):
    audited_page.goto(f"{live_server}/policy?lang={language}")
    assert audited_page.get_attribute("html", "lang") == language
    audited_page.locator(".pc-banner").wait_for()  # audited with the consent banner shown
    assert axe_violations(audited_page) == []


@pytest.mark.parametrize(
    "path", ["/policy/versions?lang=de", "/policy/changes?lang=fr", "/policy/versions/1?lang=es"]
)
def test_other_policy_pages_have_no_accessibility_violation(live_server, audited_page, path):
    audited_page.goto(live_server + path)
    audited_page.locator(".pc-banner").wait_for()
    assert axe_violations(audited_page) == []


def test_no_csp_violation_on_the_policy_page(live_server, page):
    """The page runs under its strict CSP: nothing of it is blocked."""
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.goto(f"{live_server}/policy?lang=en")
    page.wait_for_load_state("load")
    assert errors == []


def test_table_of_contents_links_reach_their_sections(live_server, page):
    page.goto(f"{live_server}/policy?lang=en")
    links = page.locator("nav.toc a")
    count = links.count()
    assert count >= 15
    for index in (0, count // 2, count - 1):
        link = links.nth(index)
        target = link.get_attribute("href")
        link.click()
        page.wait_for_function("hash => location.hash === hash", arg=target)
        section = page.locator(target)
        assert section.count() == 1
        box = section.bounding_box()
        assert box is not None and 0 <= box["y"] < page.viewport_size["height"]


def test_language_switcher_changes_the_language_and_remembers_it(live_server, page):
    page.goto(f"{live_server}/policy?lang=en")
    page.locator("nav.language-switcher a[hreflang=de]").click()
    page.wait_for_url("**lang=de")
    assert page.get_attribute("html", "lang") == "de"
    assert page.locator("nav.language-switcher a[aria-current=true]").inner_text() == "Deutsch"
    # Without ?lang=, the language cookie keeps German.
    page.goto(f"{live_server}/policy/versions")
    assert page.get_attribute("html", "lang") == "de"


def test_cookie_settings_controls_open_the_preferences(live_server, page):
    page.goto(f"{live_server}/policy?lang=fr")
    page.locator(".pc-banner").wait_for()
    for control in ("header [data-pc-open]", ".policy-body a[data-pc-open]"):
        page.locator(control).first.click()
        dialog = page.locator('[role="dialog"]')
        dialog.wait_for()
        assert dialog.get_attribute("lang") == "fr"
        page.keyboard.press("Escape")
        dialog.wait_for(state="detached")


def test_cookie_settings_link_works_without_javascript(live_server, browser):
    context = browser.new_context(java_script_enabled=False)
    tab = context.new_page()
    tab.goto(f"{live_server}/policy?lang=fr")
    tab.locator(".policy-body a[data-pc-open]").first.click()
    assert tab.url.endswith("#cookie-preferences")
    context.close()


FAKE_SPEECH = """
(() => {
  const spoken = [];
  window.__spoken = spoken;
  const voices = [{lang: "es-ES", name: "Test voice", default: true}];
  class Utterance extends EventTarget { constructor(text) { super(); this.text = text; } }
  window.SpeechSynthesisUtterance = Utterance;
  Object.defineProperty(window, "speechSynthesis", {value: {
    getVoices: () => voices, speak: (u) => spoken.push({text: u.text, lang: u.lang}),
    cancel: () => { spoken.push({cancel: true}); }, addEventListener: () => {},
  }});
})();
"""


def test_read_aloud_reads_the_policy_in_the_page_language(live_server, browser):
    context = browser.new_context()
    context.add_init_script(FAKE_SPEECH)
    tab = context.new_page()
    tab.goto(f"{live_server}/policy?lang=es")
    button = tab.locator("[data-read-aloud]")
    assert button.is_visible()
    button.click()
    spoken = tab.evaluate("window.__spoken.filter(entry => entry.text)")
    assert len(spoken) > 50
    assert all(entry["lang"] == "es-ES" for entry in spoken)
    title = tab.locator(".policy-body h2").first.inner_text()
    assert spoken[0]["text"] == title
    assert button.get_attribute("aria-pressed") == "true"
    button.click()
    assert button.get_attribute("aria-pressed") == "false"
    context.close()


def test_read_aloud_is_hidden_without_a_voice_for_the_language(live_server, browser):
    context = browser.new_context()
    context.add_init_script(FAKE_SPEECH)  # a Spanish voice only
    tab = context.new_page()
    tab.goto(f"{live_server}/policy?lang=de")
    assert tab.locator("[data-read-aloud]").is_hidden()
    context.close()
    context = browser.new_context()
    context.add_init_script(
        "delete window.speechSynthesis; delete window.SpeechSynthesisUtterance;"
    )
    tab = context.new_page()
    tab.goto(f"{live_server}/policy?lang=en")
    assert tab.locator("[data-read-aloud]").is_hidden()
    context.close()
