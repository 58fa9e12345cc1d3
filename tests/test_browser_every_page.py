"""Every page in real headless Chromium, in four languages at 320 and 1280 px (issue 18).

The pages come from ``browser_pages.catalogue`` (read from the application's routes): as a
visitor, as a signed-in account holder, on the staff sign-in steps and as a signed-in staff
member. Each page is opened once per (language, width) in a browser context of its role (one
context per role, language and width, reused) and checked:

- ``reach``: it answers its status, at its own address (no redirect), in the language asked;
- ``overflow``: nothing wider than the window (the page, or an element outside a scroll
  container);
- ``axe``: no axe-core violation of WCAG 2.0, 2.1 and 2.2 A/AA;
- ``console``: no error in the browser's console (a failed load, a CSP refusal, a script error);
- ``buttons``: primary and danger buttons do not look like secondary ones (nor danger like
  primary);
- ``no-banner`` (staff pages): neither the visitors' consent banner nor the widget's script;
- ``focus-not-covered`` (other pages): with the consent banner shown, no element reached with Tab
  lies under the banner.

Each check is a test of its own, named ``<role>/<page>-<language>-<width>-<check>``. The data the
pages show is committed to the live server's database; its requests are withdrawn at the end.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser_pages import (
    EXCLUDED,
    LANGUAGES,
    PUBLIC,
    STAFF,
    STAFF_SIGN_IN,
    WIDTHS,
    Page,
    UncataloguedRoute,
    build_examples,
    catalogue,
    close_examples,
    get_endpoints,
    make_member,
    new_context,
    reach,
    route_catalogue,
    sign_in_holder,
    sign_in_staff,
)
from page_checks import AXE, axe, buttons, focus_under_banner, overflow, widget_on_page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

pytestmark = pytest.mark.browser

PAGES = route_catalogue()
COMMON_CHECKS = ("reach", "overflow", "axe", "console", "buttons")
LOCALES = {"fr": "fr-FR", "en": "en-GB", "es": "es-ES", "de": "de-DE"}
# Sign-ins and filed requests of many contexts in a few minutes, from one address.
RAISED_LIMITS = {
    "LOGIN_RATE_LIMIT": "10000 per minute",
    "REQUEST_RATE_LIMIT": "10000 per hour",
    "UPLOAD_RATE_LIMIT": "10000 per hour",
}


def is_staff(role: str) -> bool:
    return role in (STAFF, STAFF_SIGN_IN)


def checks_of(page: Page) -> tuple[str, ...]:
    return COMMON_CHECKS + (("no-banner",) if is_staff(page.role) else ("focus-not-covered",))


def cases() -> Iterator[Any]:
    # Ordered by context (role, language, width): a context is made once and used up in turn.
    for role in (PUBLIC, "holder", STAFF_SIGN_IN, STAFF):
        for language in LANGUAGES:
            for width in WIDTHS:
                for page in (page for page in PAGES if page.role == role):
                    for check in checks_of(page):
                        yield pytest.param(
                            page, language, width, check,
                            id=f"{page.id}-{language}-{width}-{check}",
                        )  # fmt: skip


class Harness:
    """The browser contexts, the examples and the results of the pages already visited."""

    def __init__(self, app: Any, live_server: str, browser: Any) -> None:
        self.app = app
        self.base = live_server
        self.browser = browser
        self.examples = build_examples(app)
        self.members = {
            "enrolled": make_member(app, role="agent"),
            "unenrolled": make_member(app, role="agent", enrolled=False),
        }
        self.contexts: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.results: dict[tuple[str, str, int], dict[str, list[str]]] = {}
        self.console: list[str] = []
        self.requested: list[str] = []
        self.started = self.last = time.monotonic()
        # Seconds spent in each phase (printed at the end: -s shows them).
        self.spent: dict[str, float] = {}

    def tab(self, role: str, language: str, width: int) -> Any:
        key = (role, language, width)
        if key not in self.contexts:
            for context, _tab in self.contexts.values():
                context.close()  # one context at a time: the cases are ordered by context
            self.contexts.clear()
            context = new_context(self.browser, width, locale=LOCALES[language])
            context.add_init_script(path=str(AXE))
            tab = context.new_page()
            tab.on("console", self._console)
            tab.on("pageerror", lambda error: self.console.append(f"script error: {error}"))
            tab.on("request", lambda request: self.requested.append(request.url))
            if role == "holder":
                sign_in_holder(tab, self.base, self.examples, language)
            elif role == STAFF:
                sign_in_staff(tab, self.base, make_member(self.app), language)
            self.contexts[key] = (context, tab)
        return self.contexts[key][1]

    def _forget(self) -> None:
        """Forget what the previous page (or the steps to this one) logged and requested."""
        self.console.clear()
        self.requested.clear()

    def _console(self, message: Any) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            self.console.append(f"{message.text} ({where})" if where else message.text)

    def result(self, page: Page, language: str, width: int) -> dict[str, list[str]]:
        key = (page.id, language, width)
        if key not in self.results:
            self.results[key] = self._inspect(page, language, width)
        return self.results[key]

    def _lap(self, phase: str) -> None:
        now = time.monotonic()
        self.spent[phase] = self.spent.get(phase, 0.0) + now - self.last
        self.last = now

    def _inspect(self, page: Page, language: str, width: int) -> dict[str, list[str]]:
        self.last = time.monotonic()
        tab = self.tab(page.role, language, width)
        self._lap("contexts and sign-in")
        response = reach(tab, self.base, page, self.examples, language, self.members, self._forget)
        found: dict[str, list[str]] = {check: [] for check in checks_of(page)}
        expected_path = urlsplit(page.path.format(**self.examples.values)).path
        if response is None:
            found["reach"].append("no answer")
        elif response.status != page.status:
            found["reach"].append(f"status {response.status}, expected {page.status}")
        if urlsplit(tab.url).path != expected_path:
            found["reach"].append(f"ended on {tab.url}, expected {expected_path}")
        shown_language = tab.get_attribute("html", "lang")
        if shown_language != language:
            found["reach"].append(f'the page is in "{shown_language}", expected "{language}"')
        if found["reach"]:
            unreached = f"the page was not reached: {'; '.join(found['reach'])}"
            for check in found:
                if check != "reach":
                    found[check].append(unreached)
            return found
        if is_staff(page.role):
            tab.wait_for_load_state("load")
            found["no-banner"] = widget_on_page(tab, self.requested)
        else:
            # A banner that never comes is reported by the focus check.
            with contextlib.suppress(PlaywrightTimeout):
                tab.locator(".pc-banner").wait_for(timeout=10_000)
        self._lap("open")
        found["overflow"] = overflow(tab)
        found["buttons"] = buttons(tab)
        self._lap("overflow and buttons")
        found["axe"] = axe(tab)
        self._lap("axe")
        if not is_staff(page.role):
            found["focus-not-covered"] = focus_under_banner(tab)
            self._lap("focus")
        own_address = response.url if page.status != 200 else None
        found["console"] = [
            line for line in self.console if own_address is None or own_address not in line
        ]
        return found

    def close(self) -> None:
        for context, _tab in self.contexts.values():
            context.close()
        self.contexts.clear()


@pytest.fixture(scope="module")
def harness(app, live_server, browser) -> Iterator[Harness]:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make test` runs `npm ci`")
    saved = {name: app.config[name] for name in RAISED_LIMITS}
    app.config.update(RAISED_LIMITS)
    made = Harness(app, live_server, browser)
    try:
        yield made
    finally:
        made.close()
        app.config.update(saved)
        close_examples(app, made.examples)
        spent = time.monotonic() - made.started
        phases = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in made.spent.items())
        print(f"\nevery page: {len(made.results)} pages opened in {spent:.0f} s ({phases})")


@pytest.mark.parametrize(("page", "language", "width", "check"), list(cases()))
def test_every_page(harness: Harness, page: Page, language: str, width: int, check: str) -> None:
    problems = harness.result(page, language, width)[check]
    assert not problems, f"{page.id} in {language} at {width} px, {check}:\n- " + "\n- ".join(
        problems
    )


def test_every_get_route_is_a_page_or_excluded(app) -> None:
    endpoints = get_endpoints(app)
    pages = catalogue(app)
    catalogued = {page.endpoint for page in pages}
    assert set(endpoints) - catalogued - set(EXCLUDED) == set()
    assert set(EXCLUDED) <= set(endpoints), "an excluded endpoint no longer exists"
    assert catalogued & set(EXCLUDED) == set()
    # Each role has its pages.
    assert {page.role for page in pages} == {PUBLIC, "holder", STAFF_SIGN_IN, STAFF}


def test_a_new_get_route_must_be_catalogued_or_excluded() -> None:
    """A GET page added with an argument and no example fails the catalogue."""
    from privacy_center import create_app

    other = create_app("test", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    other.add_url_rule("/rights/new-thing/<token>", "rights.new_thing", lambda token: token)
    with pytest.raises(UncataloguedRoute, match=r"rights\.new_thing"):
        catalogue(other)
