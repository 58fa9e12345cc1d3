"""Time to a visible consent banner: our widget against three public ones, in one Chromium.

The anchors (vanilla-cookieconsent 3.1, Klaro 0.7.22, tarteaucitron 1.34) are installed from
npm into a throw-away folder, each served on its own page origin with a minimal equivalent
configuration (the same five categories, texts of about the same length). Ours is served
cross-origin from the privacy center, as in production, on a page with the demo site's strict
Content-Security-Policy. Every load is cold (a new browser context: empty cache, no cookie),
under the same emulated network (40 ms latency, 5 Mbit/s down), interleaved ours/anchors.

Time to a visible banner: from navigation start to the first animation frame (or DOM mutation)
where the banner element has a box on screen, and neither it nor an ancestor is hidden
(display, visibility, opacity). The same init script measures all four.

Budget: ours below every anchor on the median and on the 90th percentile.

    python bench/widget_banner.py [--loads 15]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from privacy_center.cookie_scan.scanner import CHROMIUM_ARGS  # noqa: E402 (after sys.path)

ANCHORS = {
    "vanilla-cookieconsent": "vanilla-cookieconsent@3.1",
    "klaro": "klaro@0.7.22",
    "tarteaucitron": "tarteaucitronjs@1.34",
}
CHROMIUM = Path(os.environ.get("PC_CHROMIUM", "/usr/bin/chromium"))
NETWORK = {
    "offline": False,
    "latency": 40,
    "downloadThroughput": 625_000,
    "uploadThroughput": 125_000,
}

TITLE = "Your choices about cookies"
TEXT = (
    "We use cookies to measure our audience, show you relevant ads and content, and let you "
    "share on social networks. Only the cookies needed for the site to work are set without "
    "your consent. You can change your mind at any time."
)
CATEGORIES = {
    "analytics": ("Audience measurement", "Counts visits and pages to improve the site."),
    "advertising": ("Advertising", "Shows ads that match your interests and measures them."),
    "personalization": ("Personalization", "Tests variants of pages to improve them."),
    "social": ("Social networks", "Videos and share buttons of social networks."),
}
BODY = """<header><h1>Demo shop</h1></header><main>
<p>A page of the operator's site, with the same content for every widget measured.</p>
<p><button type="button" data-pc-open>Cookie settings</button></p>
<h2>Products</h2><ul><li>Day pass</li><li>Week pass</li><li>Year pass</li></ul></main>"""

# Same for all four: records performance.now() when the banner is first visible.
PROBE = """(() => {
  const selector = %s;
  const visible = (el) => {
    if (!el) return false;
    const box = el.getBoundingClientRect();
    if (box.width < 1 || box.height < 1 || box.bottom <= 0 || box.top >= innerHeight) return false;
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const style = getComputedStyle(e);
      if (style.display === "none" || style.visibility === "hidden" || +style.opacity === 0)
        return false;
    }
    return true;
  };
  const check = () => {
    if (window.__bannerAt != null) return;
    if (visible(document.querySelector(selector))) window.__bannerAt = performance.now();
    else requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
  new MutationObserver(check).observe(document, {childList: true, subtree: true, attributes: true});
})();"""


def page(head: str) -> bytes:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Demo shop</title>{head}</head><body>{BODY}</body></html>"
    ).encode()


def vanilla_head() -> tuple[str, str]:
    sections = [
        {"title": name, "description": text, "linkedCategory": key}
        for key, (name, text) in CATEGORIES.items()
    ]
    # hideFromBots: it would hide itself from a browser driven by Playwright (navigator.webdriver).
    config = {
        "hideFromBots": False,
        "categories": {
            "necessary": {"enabled": True, "readOnly": True},
            **{key: {} for key in CATEGORIES},
        },
        "language": {
            "default": "en",
            "translations": {
                "en": {
                    "consentModal": {
                        "title": TITLE,
                        "description": TEXT,
                        "acceptAllBtn": "Accept all",
                        "acceptNecessaryBtn": "Refuse all",
                        "showPreferencesBtn": "Customize",
                    },
                    "preferencesModal": {
                        "title": "Cookie settings",
                        "acceptAllBtn": "Accept all",
                        "acceptNecessaryBtn": "Refuse all",
                        "savePreferencesBtn": "Save my choices",
                        "closeIconLabel": "Close without saving",
                        "sections": sections,
                    },
                }
            },
        },
    }
    return (
        '<link rel="stylesheet" href="/a/vanilla-cookieconsent/dist/cookieconsent.css">'
        '<script src="/a/vanilla-cookieconsent/dist/cookieconsent.umd.js" defer></script>'
        '<script src="/config.js" defer></script>',
        f"CookieConsent.run({json.dumps(config)});",
    )


def klaro_head() -> tuple[str, str]:
    config = {
        "version": 1,
        "elementID": "klaro",
        "storageMethod": "cookie",
        "cookieName": "klaro",
        "default": False,
        "mustConsent": False,
        "acceptAll": True,
        "hideDeclineAll": False,
        "lang": "en",
        "translations": {
            "en": {
                "consentNotice": {"title": TITLE, "description": TEXT},
                "purposes": {key: name for key, (name, _) in CATEGORIES.items()},
            }
        },
        "services": [
            {"name": key, "title": name, "purposes": [key], "cookies": [f"_{key}"]}
            for key, (name, _) in CATEGORIES.items()
        ],
    }
    return (
        '<script src="/config.js"></script>'
        '<script src="/a/klaro/dist/klaro.js" data-config="klaroConfig" defer></script>',
        f"window.klaroConfig = {json.dumps(config)};",
    )


def tarteaucitron_head() -> tuple[str, str]:
    init = {
        "privacyUrl": "",
        "hashtag": "#tarteaucitron",
        "cookieName": "tarteaucitron",
        "orientation": "bottom",
        "showAlertSmall": False,
        "cookieslist": True,
        "showIcon": False,
        "highPrivacy": True,
        "DenyAllCta": True,
        "AcceptAllCta": True,
        "removeCredit": True,
        "moreInfoLink": True,
        "mandatory": True,
        "handleBrowserDNTRequest": False,
    }
    return (
        '<script src="/a/tarteaucitronjs/tarteaucitron.js"></script>'
        '<script src="/config.js"></script>',
        "var tarteaucitronForceLanguage = 'en';"
        f"tarteaucitron.init({json.dumps(init)});"
        "(tarteaucitron.job = tarteaucitron.job || []).push('gtag', 'youtube', 'facebook');"
        "tarteaucitron.user.gtagUa = 'G-DEMO';",
    )


SELECTORS = {
    "ours": ".pc-banner",
    "vanilla-cookieconsent": "#cc-main .cm",
    "klaro": ".klaro .cookie-notice",
    "tarteaucitron": "#tarteaucitronAlertBig",
}


def static_app(folder: Path, head: str, config_js: str) -> Callable:
    """An anchor's page origin: the page, its configuration script and the package's files."""

    @Request.application
    def application(request: Request) -> Response:
        if request.path == "/":
            return Response(page(head), mimetype="text/html")
        if request.path == "/config.js":
            return Response(config_js, mimetype="text/javascript")
        if request.path.startswith("/a/"):
            target = (folder / request.path[3:]).resolve()
            if target.is_relative_to(folder) and target.is_file():
                kind = {".js": "text/javascript", ".css": "text/css"}.get(target.suffix)
                return Response(target.read_bytes(), mimetype=kind or "application/octet-stream")
        return Response("not found", status=404)

    return application


def ours_app(center: str) -> Callable:
    """Our page origin: the widget from the privacy center, under the demo's strict CSP."""
    csp = (
        f"default-src 'self'; script-src 'self' {center}; style-src 'self' {center}; "
        f"connect-src 'self' {center}; img-src 'self' data:; object-src 'none'; base-uri 'none'"
    )
    head = (
        f'<script src="{center}/widget/consent.js" data-site="demo" data-lang="en" defer></script>'
    )

    @Request.application
    def application(request: Request) -> Response:
        response = Response(page(head), mimetype="text/html")
        response.headers["Content-Security-Policy"] = csp
        return response

    return application


@contextmanager
def serving(app: Callable, host: str) -> Iterator[str]:
    server = make_server(host, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def install_anchors(folder: Path) -> Path:
    (folder / "package.json").write_text('{"private": true}\n')
    subprocess.run(
        [
            "npm",
            "install",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--silent",
            *ANCHORS.values(),
        ],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    return folder / "node_modules"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    rank = share * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def measure(browser, url: str, selector: str) -> float:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        tab = context.new_page()
        cdp = context.new_cdp_session(tab)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        cdp.send("Network.emulateNetworkConditions", NETWORK)
        tab.add_init_script(PROBE % json.dumps(selector))
        tab.goto(url, wait_until="commit")
        tab.wait_for_function("() => window.__bannerAt != null", timeout=20_000)
        return float(tab.evaluate("() => window.__bannerAt"))
    finally:
        context.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=15)
    loads = max(15, parser.parse_args().loads)

    subprocess.run(["npm", "run", "--silent", "build:widget"], cwd=ROOT, check=True)
    os.environ.setdefault("PC_ENV", "development")
    from playwright.sync_api import sync_playwright

    from privacy_center import create_app

    center_app = create_app()
    heads = {
        "vanilla-cookieconsent": vanilla_head(),
        "klaro": klaro_head(),
        "tarteaucitron": tarteaucitron_head(),
    }
    folder = Path(tempfile.mkdtemp(prefix="pc-anchors-"))
    times: dict[str, list[float]] = {name: [] for name in SELECTORS}
    try:
        modules = install_anchors(folder)
        with (
            serving(center_app, "127.0.0.1") as center,
            serving(ours_app(center), "127.0.0.2") as ours,
            serving(static_app(modules, *heads["vanilla-cookieconsent"]), "127.0.0.3") as vanilla,
            serving(static_app(modules, *heads["klaro"]), "127.0.0.4") as klaro,
            serving(static_app(modules, *heads["tarteaucitron"]), "127.0.0.5") as tarte,
            sync_playwright() as playwright,
        ):
            urls = {
                "ours": ours,
                "vanilla-cookieconsent": vanilla,
                "klaro": klaro,
                "tarteaucitron": tarte,
            }
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            for name in SELECTORS:  # one warm-up each (server and browser code paths)
                measure(browser, urls[name] + "/", SELECTORS[name])
            for _ in range(loads):
                for name in SELECTORS:
                    times[name].append(measure(browser, urls[name] + "/", SELECTORS[name]))
            browser.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    figures = {
        name: (statistics.median(values), percentile(values, 0.9)) for name, values in times.items()
    }
    for name, (median, p90) in figures.items():
        print(f"{name:<22} median {median:6.0f} ms  p90 {p90:6.0f} ms  ({len(times[name])} loads)")
    ours_median, ours_p90 = figures["ours"]
    rows = []
    for name in ANCHORS:
        median, p90 = figures[name]
        rows.append(
            {
                "budget": f"time to visible banner, median: ours < {name}",
                "figure": f"{ours_median:.0f} ms vs {median:.0f} ms",
                "pass": ours_median < median,
            }
        )
        rows.append(
            {
                "budget": f"time to visible banner, p90: ours < {name}",
                "figure": f"{ours_p90:.0f} ms vs {p90:.0f} ms",
                "pass": ours_p90 < p90,
            }
        )
    print(json.dumps(rows))
    return 0 if all(row["pass"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
