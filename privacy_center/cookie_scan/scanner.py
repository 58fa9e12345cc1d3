"""The browser passes: the operator's pages in headless Chromium (Playwright), three fresh profiles.

Polite and bounded: only pages of the origins given, at most ``max_pages`` per pass, a time limit
per page and for the whole scan; links are followed, forms never submitted (and a navigation
that is not a GET of an allowed page is aborted).
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from .compare import PassResult, SeenCookie, SeenRequest, SeenStorage

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The widget's banner buttons (widget/src/ui.js): stable data attributes, not texts.
BUTTONS = {
    "refused": '.pc-banner [data-pc-action="reject-all"]',
    "accepted": '.pc-banner [data-pc-action="accept-all"]',
}
# After a page loaded: how long to wait for its network to go quiet, then for late scripts.
QUIET_MS = 3000
SETTLE_MS = 500
LINKS_JS = "() => Array.from(document.querySelectorAll('a[href]'), (a) => a.href)"
STORAGE_JS = """() => {
  const keys = [];
  for (const area of ["localStorage", "sessionStorage"]) {
    try { for (const key of Object.keys(window[area])) keys.push([area, key]); } catch (e) {}
  }
  return keys;
}"""


class ScanError(Exception):
    """The scan cannot run at all (no Chromium, no Playwright)."""


@dataclass(frozen=True)
class Limits:
    max_pages: int = 20
    page_seconds: float = 30.0
    total_seconds: float = 600.0


@dataclass
class Scan:
    urls: list[str]
    passes: list[PassResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None

    @property
    def site_hosts(self) -> set[str]:
        return {urlsplit(url).hostname or "" for url in self.urls}


def chromium_path() -> Path:
    return Path(os.environ.get("PC_CHROMIUM") or DEFAULT_CHROMIUM)


@contextmanager
def launch_browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright; a clear ScanError when either is missing."""
    executable = chromium_path()
    if not executable.exists():
        raise ScanError(
            f"Chromium is missing ({executable}): install it (Debian: apt-get install chromium) "
            "or set PC_CHROMIUM to its path; see the README, 'Cookie scanner'"
        )
    try:
        from playwright.sync_api import sync_playwright  # only the scanner needs it
    except ImportError as error:
        raise ScanError(
            "Playwright is missing: pip install 'playwright>=1.48' (see the README, "
            "'Cookie scanner')"
        ) from error
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def scan_site(browser: Any, urls: list[str], limits: Limits) -> Scan:
    """Three passes over the pages reachable from ``urls``, each in a fresh browser profile."""
    scan = Scan(urls=list(urls))
    deadline = time.monotonic() + limits.total_seconds
    for name in ("before", "refused", "accepted"):
        if time.monotonic() >= deadline:
            scan.errors.append(f"{name}: not run, the time limit of the scan was reached")
            continue
        scan.passes.append(_run_pass(browser, name, scan, limits, deadline))
    scan.finished_at = datetime.now(UTC)
    return scan


def _run_pass(browser: Any, name: str, scan: Scan, limits: Limits, deadline: float) -> PassResult:
    from playwright.sync_api import Error as PlaywrightError

    result = PassResult(name=name)
    allowed = {origin(url) for url in scan.urls}
    context = browser.new_context()
    current = {"page": ""}

    def record(request: Any) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname:
            result.requests.append(SeenRequest(parts.hostname, request.url, current["page"]))

    context.on("request", record)
    context.route("**/*", lambda route: _guard(route, allowed))
    page = context.new_page()
    cookies: dict[tuple[str, str, str], SeenCookie] = {}
    queue = deque(urldefrag(url)[0] for url in scan.urls)
    queued = set(queue)
    chosen = name == "before"
    try:
        while queue and len(result.pages) < limits.max_pages:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                scan.errors.append(f"{name}: stopped, the time limit of the scan was reached")
                break
            url = queue.popleft()
            current["page"] = url
            timeout_ms = 1000 * min(limits.page_seconds, remaining)
            try:
                page.goto(url, wait_until="load", timeout=timeout_ms)
            except PlaywrightError as error:
                scan.errors.append(f"{name}: {url} did not load ({_first_line(error)})")
                continue
            result.pages.append(url)
            _settle(page, timeout_ms)
            if not chosen:
                chosen = True
                if not _choose(page, name, timeout_ms, scan):
                    break
                _settle(page, timeout_ms)
            _collect(page, url, result, cookies, context)
            for link in _links(page):
                if origin(link) in allowed and link not in queued:
                    queued.add(link)
                    queue.append(link)
    finally:
        # A guard still answering a request would otherwise raise in the next Playwright call.
        context.unroute_all(behavior="ignoreErrors")
        context.close()
    result.cookies = list(cookies.values())
    return result


def _guard(route: Any, allowed: set[str]) -> None:
    """Never a form submission, never a page of another site in the tab itself."""
    from playwright.sync_api import Error as PlaywrightError

    request = route.request
    try:
        top = request.is_navigation_request() and request.frame.parent_frame is None
    except PlaywrightError:
        top = False  # a service worker's request has no frame
    if top and (request.method != "GET" or origin(request.url) not in allowed):
        route.abort()
    else:
        route.continue_()


def _settle(page: Any, timeout_ms: float) -> None:
    from playwright.sync_api import Error as PlaywrightError

    # A page that keeps polling never goes quiet: what it did so far is collected.
    with suppress(PlaywrightError):
        page.wait_for_load_state("networkidle", timeout=min(QUIET_MS, timeout_ms))
    page.wait_for_timeout(SETTLE_MS)


def _choose(page: Any, name: str, timeout_ms: float, scan: Scan) -> bool:
    """Clicks "refuse all" or "accept all" in the widget's banner; False when it cannot."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        page.locator(BUTTONS[name]).click(timeout=timeout_ms)
        page.wait_for_function(
            "() => document.cookie.split('; ').some((c) => c.startsWith('pc_consent='))",
            timeout=timeout_ms,
        )
    except PlaywrightError as error:
        scan.errors.append(
            f"{name}: the consent banner's button was not found or did not store the choice on "
            f"{page.url} ({_first_line(error)}); this pass was not run"
        )
        return False
    return True


def _collect(
    page: Any,
    url: str,
    result: PassResult,
    cookies: dict[tuple[str, str, str], SeenCookie],
    context: Any,
) -> None:
    from playwright.sync_api import Error as PlaywrightError

    now = datetime.now(UTC)
    for cookie in context.cookies():
        key = (cookie["name"], cookie["domain"], cookie["path"])
        expires = cookie.get("expires", -1)
        seen = SeenCookie(
            name=cookie["name"],
            domain=cookie["domain"],
            path=cookie["path"],
            expires=datetime.fromtimestamp(expires, UTC) if expires and expires > 0 else None,
            seen_at=now,
            page=cookies[key].page if key in cookies else url,
        )
        cookies[key] = seen
    known = {(item.area, item.key) for item in result.storage}
    for frame in page.frames:
        try:
            keys = frame.evaluate(STORAGE_JS)
        except PlaywrightError:
            continue  # a frame that went away or refuses scripts
        for area, key in keys:
            if (area, key) not in known:
                known.add((area, key))
                result.storage.append(SeenStorage(area, key, url))


def _links(page: Any) -> list[str]:
    from playwright.sync_api import Error as PlaywrightError

    try:
        hrefs = page.evaluate(LINKS_JS)
    except PlaywrightError:
        return []
    links = []
    for href in hrefs:
        link = urldefrag(urljoin(page.url, href))[0]
        if urlsplit(link).scheme in ("http", "https"):
            links.append(link)
    return links


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
