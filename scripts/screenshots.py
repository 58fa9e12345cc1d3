"""`make screenshots`: every page of the catalogue (tests/browser_pages.py) in four languages at
320 and 1280 px, rendered by Debian's Chromium into ``screenshots/<role>/<page>-<lang>-<width>.png``
(full page; public pages with the consent banner shown, as a first visit sees them).

The application runs on a throw-away SQLite database and throw-away folders, with the demo
operator loaded (as ``make run`` does) and the examples the pages with ids need (a request with
its document and letter, a copy of the data, a cookie scan...). Nothing under ``instance/`` is
written but the development keys ``make run`` also makes.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the page catalogue is shared with the browser test
sys.path.insert(0, str(ROOT))

import browser_pages as pages  # noqa: E402


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots", help="the folder")
    parser.add_argument("--only", default="", help="only the pages whose name contains this")
    parser.add_argument("--languages", nargs="+", default=list(pages.LANGUAGES))
    parser.add_argument("--widths", nargs="+", type=int, default=list(pages.WIDTHS))
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="the browser binary")
    return parser.parse_args()


def start_application(folder: Path):
    """The application on a throw-away database, migrated, with the demo operator and the
    examples; served on a free loopback port. Returns (app, base URL, examples)."""
    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from privacy_center import create_app
    from privacy_center.accounts.demo_cli import seed_demo
    from privacy_center.content import get_content
    from privacy_center.extensions import db

    overrides = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'screenshots.sqlite3'}",
        "IDENTITY_DOCUMENT_DIR": str(folder / "identity-documents"),
        "EXPORT_DIR": str(folder / "exports"),
        "MAIL_OUTBOX_DIR": str(folder / "outbox"),
        "MAIL_SERVER": None,
        "POLICY_PDF_PRERENDER": False,
        # Every context signs in and one files a request, from this one address.
        "LOGIN_RATE_LIMIT": "10000 per minute",
        "REQUEST_RATE_LIMIT": "10000 per hour",
        "UPLOAD_RATE_LIMIT": "10000 per hour",
    }
    app = create_app("development", overrides)
    with app.app_context():
        upgrade()
        seed_demo(db.session, get_content())
        db.session.remove()
    examples = pages.build_examples(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return app, server, f"http://127.0.0.1:{server.server_port}", examples


def main() -> int:
    arguments = parse_arguments()
    chromium = Path(arguments.chromium)
    if not chromium.exists():
        print(f"{chromium} is missing: `make install-test` installs Debian's chromium package")
        return 1
    from playwright.sync_api import sync_playwright

    from privacy_center.cookie_scan.scanner import CHROMIUM_ARGS

    started = time.monotonic()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    folder = Path(tempfile.mkdtemp(prefix="pc-screenshots-"))
    out: Path = arguments.out
    shutil.rmtree(out, ignore_errors=True)
    written = 0
    try:
        app, server, base, examples = start_application(folder)
        catalogue = [page for page in pages.route_catalogue() if arguments.only in page.id]
        members = {
            "enrolled": pages.make_member(app, role="agent"),
            "unenrolled": pages.make_member(app, role="agent", enrolled=False),
        }
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
            for role in pages.ROLES:
                chosen = [page for page in catalogue if page.role == role]
                if not chosen:
                    continue
                for language in arguments.languages:
                    for width in arguments.widths:
                        context = pages.new_context(browser, width, locale=language)
                        tab = context.new_page()
                        if role == pages.HOLDER:
                            pages.sign_in_holder(tab, base, examples, language)
                        elif role == pages.STAFF:
                            pages.sign_in_staff(tab, base, pages.make_member(app), language)
                        for page in chosen:
                            pages.reach(tab, base, page, examples, language, members)
                            if role in (pages.PUBLIC, pages.HOLDER):
                                tab.locator(".pc-banner").wait_for(timeout=10_000)
                            target = out / role / f"{page.name}-{language}-{width}.png"
                            target.parent.mkdir(parents=True, exist_ok=True)
                            tab.screenshot(path=str(target), full_page=True)
                            written += 1
                        context.close()
            browser.close()
        server.shutdown()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{written} screenshots in {out} ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
