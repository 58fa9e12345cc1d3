"""The cookie scanner (privacy_center/cookie_scan/): the registry checked against the site.

The matching rules are unit-tested on their own; then real Chromium scans the demo operator's
site (clean: exit 0) and variants of it made here, served on another loopback address, with a
"tracker" on a third one, so that third-party hosts are seen without the internet:

- ``tracker``: a pixel from the tracker's host sets ``_fbp`` before any choice;
- ``undeclared``: the page sets a cookie over HTTP that the registry does not name;
- ``two_years``: the analytics tag (after consent) writes ``_ga`` for two years;
- ``after_refusal``: a tag that treats any choice as a yes, and runs on after "refuse all".

The session's one Chromium is shared (conftest ``browser``); the command launches its own, so
it runs twice only.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import staff_sign_in
from flask import Flask, request
from werkzeug.serving import make_server

from privacy_center.content import get_content
from privacy_center.content.cookies import Lifetime, load_registry
from privacy_center.cookie_scan.compare import (
    PassResult,
    SeenCookie,
    SeenRequest,
    SeenStorage,
    compare,
    exit_status,
    find_cookie,
    find_host,
    lifetime_problems,
)
from privacy_center.cookie_scan.report import render_html
from privacy_center.cookie_scan.scanner import Limits, chromium_path
from privacy_center.cookie_scan.services import last_scan, record_scan, scan_and_assess
from privacy_center.operator import ContentError

NOW = datetime(2027, 1, 31, 12, 0, tzinfo=UTC)
TRACKER_HOST = "127.0.0.3"


def cookie(name: str, days: float | None = None, *, at: datetime = NOW) -> SeenCookie:
    expires = at + timedelta(days=days) if days is not None else None
    return SeenCookie(name, "127.0.0.2", "/", expires, at, "http://127.0.0.2/")


def registry(app: Flask):
    with app.app_context():
        return get_content().registry


# --- the matching rules, without a browser ---------------------------------------------------


def test_names_with_a_random_part_match_the_registry_patterns(app: Flask) -> None:
    declared = registry(app)
    service, entry = find_cookie(declared, "_ga_XK42QZ7P")  # type: ignore[misc]
    assert (service.key, entry.name) == ("google-analytics", "_ga_*")
    # The exact name wins over a pattern it also matches.
    assert find_cookie(declared, "_ga")[1].name == "_ga"  # type: ignore[index]
    assert find_cookie(declared, "_gax") is None
    assert find_cookie(declared, "x_ga_1") is None


def test_hosts_match_the_domain_and_its_subdomains_only(app: Flask) -> None:
    declared = registry(app)
    assert find_host(declared, "www.google-analytics.com").key == "google-analytics"  # type: ignore[union-attr]
    assert find_host(declared, "google-analytics.com").key == "google-analytics"  # type: ignore[union-attr]
    assert find_host(declared, "connect.facebook.net").key == "meta-pixel"  # type: ignore[union-attr]
    assert find_host(declared, "evilgoogle-analytics.com") is None
    assert find_host(declared, "facebook.net") is None


def test_a_lifetime_longer_than_declared_or_than_13_months_is_found() -> None:
    assert lifetime_problems(cookie("_gcl_au", 90), Lifetime(90, "days")) == []
    assert lifetime_problems(cookie("_gcl_au", 91), Lifetime(90, "days")) == ["declared"]
    # 395 days is within 13 months even on the 31st of January (when 13 months are 393 days).
    assert lifetime_problems(cookie("_ga", 395), Lifetime(13, "months")) == []
    assert lifetime_problems(cookie("_ga", 730), Lifetime(13, "months")) == [
        "declared",
        "maximum",
    ]
    # A session cookie that is written to last is longer than declared.
    assert lifetime_problems(cookie("SERVERID", 1), Lifetime(0, "session")) == ["declared"]
    assert lifetime_problems(cookie("SERVERID"), Lifetime(0, "session")) == []
    # Undeclared: only the 13 months apply.
    assert lifetime_problems(cookie("mystery", 400), None) == ["maximum"]


def test_compare_sorts_what_was_seen_into_findings(app: Flask) -> None:
    declared = registry(app)
    before = PassResult(
        "before",
        pages=["http://127.0.0.2/"],
        cookies=[cookie("pc_consent", 30), cookie("_ga_ABC", 30), cookie("visitor", None)],
        storage=[
            SeenStorage("localStorage", "pc_pending", "p"),
            SeenStorage("localStorage", "ABTastyX", "p"),
        ],
        requests=[
            SeenRequest("stats.g.doubleclick.net", "https://stats.g.doubleclick.net/x", "p"),
            SeenRequest("127.0.0.2", "http://127.0.0.2/", "p"),
            SeenRequest("cdn.example.org", "https://cdn.example.org/lib.js", "p"),
        ],
    )
    accepted = PassResult("accepted", cookies=[cookie("_fbp", 90), cookie("_ga", 730)])
    findings = compare(declared, [before, PassResult("refused"), accepted], {"127.0.0.2"})
    assert {(v["pass"], v["kind"], v["name"]) for v in findings["violations"]} == {
        ("before", "cookie", "_ga_ABC"),
        ("before", "storage", "ABTastyX"),
        ("before", "host", "stats.g.doubleclick.net"),
    }
    assert [(u["kind"], u["name"]) for u in findings["undeclared"]] == [("cookie", "visitor")]
    assert {(item["name"], item["problem"]) for item in findings["lifetimes"]} == {
        ("_ga", "declared"),
        ("_ga", "maximum"),
    }
    never = {item["name"] for item in findings["never_seen"]}
    assert {"IDE", "guest_id", "session"} <= never
    assert never.isdisjoint({"_ga", "_ga_*", "_fbp", "pc_consent"})
    assert {(h["host"], h["service"]) for h in findings["hosts"]} == {
        ("stats.g.doubleclick.net", "Google Ads / DoubleClick"),
        ("cdn.example.org", None),
    }
    assert exit_status(findings, []) == 1
    clean = compare(declared, [PassResult("before"), accepted.__class__("accepted")], set())
    assert exit_status(clean, []) == 0
    assert exit_status(clean, ["before: http://x/ did not load"]) == 2


def test_the_registry_refuses_a_host_that_is_not_a_host_name(tmp_path: Path) -> None:
    source = (Path(__file__).parent.parent / "content" / "cookies.yaml").read_text()
    broken = source.replace('hosts: ["*.abtasty.com"]', 'hosts: ["https://abtasty.com/x"]')
    assert broken != source
    path = tmp_path / "cookies.yaml"
    path.write_text(broken)
    with pytest.raises(ContentError, match="not a host name"):
        load_registry(path, ("fr", "en", "es", "de"), consent_lifetime_months=6)


def test_the_html_report_escapes_what_the_site_set(app: Flask) -> None:
    report = {
        "site": "demo",
        "urls": ["http://127.0.0.2/"],
        "started_at": "2027-01-31T12:00:00+00:00",
        "finished_at": "2027-01-31T12:01:00+00:00",
        "passes": {"before": {"pages": ["http://127.0.0.2/"]}},
        "findings": {
            "violations": [],
            "undeclared": [
                {
                    "kind": "storage",
                    "name": "<script>alert(1)</script>",
                    "where": "localStorage",
                    "passes": ["before"],
                    "page": "p",
                }
            ],
            "lifetimes": [],
            "never_seen": [],
            "hosts": [],
        },
        "errors": [],
        "exit_status": 1,
    }
    with app.app_context():
        page = render_html(report, "en")
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Problems found" in page


# --- the operator's site and its variants, in Chromium ---------------------------------------

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<script src="{center}/widget/consent.js" data-site="demo" data-lang="en" defer></script></head>
<body><h1>{title}</h1>
<nav><a href="/">Home</a> <a href="/about">About</a> <a href="/contact#form">Contact</a>
<a href="{tracker}/elsewhere">Another site</a> <a href="mailto:shop@example.org">Mail us</a></nav>
{extra}
<script type="text/plain" data-consent="analytics" src="/gated/analytics.js"></script>
</body></html>"""
FORM = """<form method="post" action="/subscribe"><input name="email" value="a@example.org">
<button>Subscribe</button></form>"""
# Treats any stored choice as a yes: it keeps running after "refuse all".
AFTER_REFUSAL = """<script>setInterval(() => {{ if (document.cookie.includes("pc_consent=")) {{
document.cookie = "_gcl_au=1.1.x; path=/; max-age=7776000; SameSite=Lax";
fetch("{tracker}/beacon", {{ mode: "no-cors" }}); }} }}, 100);</script>"""


class VariantSite:
    """The operator's site and its variants (``variant``), and the tracker's host, recording
    every request they answer."""

    def __init__(self, center: str) -> None:
        self.variant = "clean"
        self.release = threading.Event()
        self.hits: list[tuple[str, str]] = []
        self.tracker_hits: list[str] = []
        self.site, self.url = self._serve(self._site(center), "127.0.0.4")
        self.tracker, self.tracker_url = self._serve(self._tracker(), TRACKER_HOST)

    def _serve(self, app: Flask, host: str):
        server = make_server(host, 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"http://{host}:{server.server_port}"

    def _site(self, center: str) -> Flask:
        app = Flask("variant_site")

        @app.before_request
        def record() -> None:
            self.hits.append((request.method, request.path))

        def page(title: str, extra: str = ""):
            if self.variant == "tracker":
                extra += f'<script src="{self.tracker_url}/pixel.js"></script>'
            if self.variant == "after_refusal":
                extra += AFTER_REFUSAL.format(tracker=self.tracker_url)
            if self.variant == "slow":
                extra += '<a href="/slow">Slow</a>'
            html = PAGE.format(title=title, center=center, tracker=self.tracker_url, extra=extra)
            headers = {"Content-Type": "text/html; charset=utf-8"}
            if self.variant == "undeclared":
                headers["Set-Cookie"] = "visitor_id=v1; Max-Age=3600; Path=/; SameSite=Lax"
            return html, 200, headers

        app.add_url_rule("/", "home", lambda: page("Home"))
        app.add_url_rule("/about", "about", lambda: page("About"))
        app.add_url_rule("/contact", "contact", lambda: page("Contact", FORM))
        app.add_url_rule("/subscribe", "subscribe", lambda: ("subscribed", 200), methods=["POST"])

        @app.get("/slow")
        def slow():
            # Answers long after the scan's time limit for a page (released when the test ends).
            self.release.wait(30)
            return page("Slow")

        @app.get("/gated/analytics.js")
        def analytics():
            days = 730 if self.variant == "two_years" else 395
            script = f'document.cookie = "_ga=GA1.1.1; path=/; max-age={days * 86400}";'
            return script, 200, {"Content-Type": "text/javascript"}

        return app

    def _tracker(self) -> Flask:
        app = Flask("tracker")

        @app.before_request
        def record() -> None:
            self.tracker_hits.append(request.path)

        app.add_url_rule(
            "/pixel.js",
            "pixel",
            lambda: (
                'document.cookie = "_fbp=fb.1.1; path=/; max-age=7776000; SameSite=Lax";',
                200,
                {"Content-Type": "text/javascript"},
            ),
        )
        app.add_url_rule("/beacon", "beacon", lambda: ("", 204))
        app.add_url_rule("/elsewhere", "elsewhere", lambda: "another site")
        return app

    def close(self) -> None:
        self.release.set()
        self.site.shutdown()
        self.tracker.shutdown()


@pytest.fixture(scope="module")
def variants(app: Flask, live_server: str) -> Iterator[VariantSite]:
    site = VariantSite(live_server)
    # The variant's origin may post consent receipts, like the demo page's.
    extra = app.config["CONSENT_EXTRA_ORIGINS"]
    app.config["CONSENT_EXTRA_ORIGINS"] = (*extra, site.url)
    yield site
    app.config["CONSENT_EXTRA_ORIGINS"] = extra
    site.close()


@pytest.fixture(scope="module")
def tracker_registry(app: Flask, variants: VariantSite):
    """The registry, with the tracker's loopback host as the Meta pixel's host."""
    declared = registry(app)
    services = tuple(
        dataclasses.replace(service, hosts=(*service.hosts, TRACKER_HOST))
        if service.key == "meta-pixel"
        else service
        for service in declared.services
    )
    return dataclasses.replace(declared, services=services)


def scan_variant(
    browser, variants: VariantSite, registry, variant: str, pages: int = 10, page_seconds: int = 20
) -> dict:
    variants.variant = variant
    variants.hits.clear()
    variants.tracker_hits.clear()
    limits = Limits(max_pages=pages, page_seconds=page_seconds, total_seconds=300)
    return scan_and_assess(browser, [variants.url + "/"], registry, "demo", limits)


def kinds_and_names(items: list[dict], *keys: str) -> set[tuple]:
    return {tuple(item[key] for key in keys) for item in items}


@pytest.mark.browser
def test_the_demo_site_scans_clean_through_the_command(
    app: Flask, db, operator_page: str, tmp_path: Path, client, make_staff
) -> None:
    assert chromium_path().exists()
    json_file, html_file = tmp_path / "scan.json", tmp_path / "scan.html"
    result = app.test_cli_runner().invoke(
        args=[
            "cookies",
            "scan",
            operator_page,
            "--pages",
            "5",
            "--json",
            str(json_file),
            "--html",
            str(html_file),
            "--lang",
            "en",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Clean: the site sets only what the registry declares" in result.output
    report = json.loads(json_file.read_text())
    assert report["exit_status"] == 0
    assert report["findings"]["violations"] == []
    assert report["findings"]["undeclared"] == []
    assert report["findings"]["lifetimes"] == []
    seen = {
        name: {c["name"] for c in report["passes"][name]["cookies"]} for name in report["passes"]
    }
    # Before any choice, nothing; after refusal, the choice only; after acceptance, every tag.
    assert seen["before"] == set()
    assert seen["refused"] == {"pc_consent"}
    assert {"pc_consent", "_ga", "_ga_DEMO", "_fbp", "_gcl_au", "ABTasty", "YSC"} <= seen[
        "accepted"
    ]
    assert {"key": "ABTastyData", "area": "localStorage"}.items() <= next(
        item for item in report["passes"]["accepted"]["storage"] if item["key"] == "ABTastyData"
    ).items()
    never = {item["name"] for item in report["findings"]["never_seen"]}
    assert "_ga_*" not in never and "IDE" in never
    # The privacy center serves the widget from its own host: named as such, not as a tracker.
    assert report["findings"]["hosts"] == [
        {
            "host": "127.0.0.1",
            "service": None,
            "category": None,
            "widget": True,
            "passes": ["before", "refused", "accepted"],
        }
    ]
    page = html_file.read_text()
    assert page.startswith("<!doctype html>") and "Clean: the site sets only" in page

    # The console shows the last scan and when it ran, to a DPO.
    stored = last_scan(db)
    assert stored is not None and stored.report == report
    staff_sign_in(client, make_staff(role="dpo"))
    answer = client.get("/staff/cookie-scan/")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "Last scan:" in text and "Clean: the site sets only" in text
    assert "<code>IDE</code>" in text  # declared, never seen


@pytest.mark.browser
def test_an_undeclared_http_cookie_fails_the_command(
    app: Flask, db, browser, variants: VariantSite
) -> None:
    variants.variant = "undeclared"
    result = app.test_cli_runner().invoke(args=["cookies", "scan", variants.url + "/"])
    assert result.exit_code == 1, result.output
    assert "cookie visitor_id" in result.output
    stored = last_scan(db)
    assert stored is not None and stored.exit_status == 1 and stored.undeclared == 1
    undeclared = stored.report["findings"]["undeclared"]
    assert kinds_and_names(undeclared, "kind", "name") == {("cookie", "visitor_id")}
    assert set(undeclared[0]["passes"]) == {"before", "refused", "accepted"}
    assert stored.report["findings"]["violations"] == []


@pytest.mark.browser
def test_a_tracker_that_sets_its_cookie_before_consent(browser, variants, tracker_registry) -> None:
    report = scan_variant(browser, variants, tracker_registry, "tracker")
    violations = kinds_and_names(report["findings"]["violations"], "pass", "kind", "name")
    assert ("before", "cookie", "_fbp") in violations
    assert ("before", "host", TRACKER_HOST) in violations
    assert ("refused", "host", TRACKER_HOST) in violations
    assert report["exit_status"] == 1
    hosts = kinds_and_names(report["findings"]["hosts"], "host", "service")
    assert (TRACKER_HOST, "Meta Pixel") in hosts


@pytest.mark.browser
def test_a_cookie_that_lives_two_years(browser, variants, tracker_registry) -> None:
    report = scan_variant(browser, variants, tracker_registry, "two_years")
    findings = report["findings"]
    assert kinds_and_names(findings["lifetimes"], "name", "problem", "pass") == {
        ("_ga", "declared", "accepted"),
        ("_ga", "maximum", "accepted"),
    }
    # Chromium caps what a cookie asks for at 400 days (RFC 6265bis): still over 13 months.
    assert findings["lifetimes"][0]["days"] > 397
    assert findings["violations"] == [] and findings["undeclared"] == []
    assert report["exit_status"] == 1


@pytest.mark.browser
def test_a_script_that_keeps_running_after_refusal(browser, variants, tracker_registry) -> None:
    report = scan_variant(browser, variants, tracker_registry, "after_refusal")
    violations = kinds_and_names(report["findings"]["violations"], "pass", "kind", "name")
    assert ("refused", "cookie", "_gcl_au") in violations
    assert ("refused", "host", TRACKER_HOST) in violations
    # It waits for a choice: before any, it did nothing.
    assert not any(item[0] == "before" for item in violations)
    assert report["exit_status"] == 1


@pytest.mark.browser
def test_the_clean_variant_scans_clean_and_the_scan_is_bounded(
    browser, variants, tracker_registry
) -> None:
    report = scan_variant(browser, variants, tracker_registry, "clean")
    assert report["exit_status"] == 0, report["findings"]
    for name in ("before", "refused", "accepted"):
        assert sorted(report["passes"][name]["pages"]) == sorted(
            variants.url + path for path in ("/", "/about", "/contact")
        )
    # Links were followed, but the form never submitted and the other site never opened.
    assert ("GET", "/contact") in variants.hits
    assert not any(method == "POST" for method, _path in variants.hits)
    assert "/elsewhere" not in variants.tracker_hits

    limited = scan_variant(browser, variants, tracker_registry, "clean", pages=2)
    for name in ("before", "refused", "accepted"):
        assert len(limited["passes"][name]["pages"]) == 2
    pages_served = [path for method, path in variants.hits if path in ("/", "/about", "/contact")]
    assert len(pages_served) == 6
    assert "/contact" not in pages_served


def test_the_console_says_when_no_scan_ran_and_keeps_the_last(
    app: Flask, db, client, make_staff
) -> None:
    staff_sign_in(client, make_staff(role="admin"))
    # Every test's scans are rolled back with it: none yet.
    assert last_scan(db) is None
    assert "No scan has run yet." in client.get("/staff/cookie-scan/").get_data(as_text=True)
    base = {"site": "demo", "urls": ["http://127.0.0.2/"], "passes": {}, "errors": [],
            "findings": {"violations": [], "undeclared": [], "lifetimes": [], "never_seen": [],
                         "hosts": []}}  # fmt: skip
    old = {**base, "started_at": "2030-01-01T10:00:00+00:00",
           "finished_at": "2030-01-01T10:05:00+00:00", "exit_status": 0}  # fmt: skip
    new = {**base, "started_at": "2030-01-02T10:00:00+00:00",
           "finished_at": "2030-01-02T10:05:00+00:00", "exit_status": 2,
           "errors": ["refused: the consent banner's button was not found"]}  # fmt: skip
    record_scan(db, new)
    record_scan(db, old)
    assert last_scan(db).report == new  # type: ignore[union-attr]
    text = client.get("/staff/cookie-scan/").get_data(as_text=True)
    assert "The scan did not see everything" in text
    assert "the consent banner&#39;s button was not found" in text


def test_the_command_refuses_bad_input_before_scanning(app: Flask, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["cookies", "scan", "ftp://127.0.0.2/"])
    assert result.exit_code == 2 and "is not an http(s) address" in result.output
    result = runner.invoke(args=["cookies", "scan", "http://127.0.0.2/", "--site", "nope"])
    assert result.exit_code == 2 and "no site 'nope'" in result.output
    missing = tmp_path / "missing" / "scan.json"
    result = runner.invoke(args=["cookies", "scan", "http://127.0.0.2/", "--json", str(missing)])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_the_command_says_when_chromium_is_missing(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PC_CHROMIUM", str(tmp_path / "no-chromium"))
    result = app.test_cli_runner().invoke(args=["cookies", "scan", "http://127.0.0.2/"])
    assert result.exit_code == 2
    assert "Chromium is missing" in result.output and "apt-get install chromium" in result.output


@pytest.mark.browser
def test_a_page_over_its_time_limit_is_reported_and_the_scan_goes_on(
    browser, variants, tracker_registry
) -> None:
    report = scan_variant(browser, variants, tracker_registry, "slow", page_seconds=2)
    slow = variants.url + "/slow"
    assert [error for error in report["errors"] if slow in error and "did not load" in error]
    for name in ("before", "refused", "accepted"):
        pages = report["passes"][name]["pages"]
        assert slow not in pages and variants.url + "/contact" in pages
    # Nothing wrong was seen, but not everything was: exit status 2.
    assert report["exit_status"] == 2
    variants.release.set()


def test_the_time_limit_of_the_whole_scan_is_reported(app: Flask) -> None:
    from privacy_center.cookie_scan.scanner import scan_site
    from privacy_center.cookie_scan.services import assess

    limits = Limits(max_pages=5, page_seconds=1, total_seconds=0)
    # No pass starts once the limit is reached, so no browser is needed to see it.
    scan = scan_site(None, ["http://127.0.0.2/"], limits)
    assert scan.passes == []
    assert len(scan.errors) == 3 and all("time limit of the scan" in e for e in scan.errors)
    report = assess(scan, registry(app), "demo", limits)
    assert report["exit_status"] == 2
