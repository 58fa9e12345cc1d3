"""``flask --app wsgi cookies scan URL [URL ...] [--site KEY] [--pages N] [--json FILE]
[--html FILE]``: exit status 0 when clean, 1 when problems were found, 2 when incomplete."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask.cli import AppGroup

from ..content import get_content
from ..content.cookies import Registry
from ..extensions import db
from .report import terminal_lines, write_html, write_json
from .scanner import Limits, ScanError, launch_browser
from .services import record_scan, scan_and_assess

cookies_cli = AppGroup("cookies", help="The cookie registry checked against the operator's site.")

OUTPUT = click.Path(dir_okay=False, path_type=Path)


def _check_output(path: Path | None, option: str) -> None:
    if path is not None and not path.resolve().parent.is_dir():
        raise click.BadParameter(f"the folder of {path} does not exist", param_hint=option)


def _scan(urls: list[str], registry: Registry, site: str, limits: Limits) -> dict:
    with launch_browser() as browser:
        return scan_and_assess(browser, urls, registry, site, limits)


@cookies_cli.command("scan")
@click.argument("urls", nargs=-1, required=True)
@click.option("--site", "site_key", help="The site's key in operator.yaml (default: consent_site).")
@click.option(
    "--pages",
    type=click.IntRange(1, 1000),
    default=20,
    show_default=True,
    help="At most this many pages per pass, following same-site links from the URLs.",
)
@click.option(
    "--page-timeout",
    type=click.FloatRange(1, 600),
    default=30,
    show_default=True,
    help="Seconds a page may take to load.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(10, 24 * 3600),
    default=900,
    show_default=True,
    help="Seconds the whole scan may take; what was seen by then is reported.",
)
@click.option("--json", "json_path", type=OUTPUT, help="Also write the report as JSON here.")
@click.option("--html", "html_path", type=OUTPUT, help="Also write the report as HTML here.")
@click.option("--lang", "language", help="The HTML report's language (default: the operator's).")
def scan_command(
    urls: tuple[str, ...],
    site_key: str | None,
    pages: int,
    page_timeout: float,
    timeout: float,
    json_path: Path | None,
    html_path: Path | None,
    language: str | None,
) -> None:
    """Visit the operator's pages at URL... in headless Chromium, before any choice, after
    'refuse all' and after 'accept all', and compare what they set with content/cookies.yaml."""
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise click.BadParameter(f"{url!r} is not an http(s) address", param_hint="URL")
    content = get_content()
    site = site_key or content.operator.consent_site
    if content.operator.site(site) is None:
        known = ", ".join(entry.key for entry in content.operator.sites)
        raise click.BadParameter(
            f"no site {site!r} in operator.yaml ({known})", param_hint="--site"
        )
    language = language or content.operator.default_language
    if language not in content.operator.languages:
        raise click.BadParameter(
            f"{language!r} is not one of {', '.join(content.operator.languages)}",
            param_hint="--lang",
        )
    _check_output(json_path, "--json")
    _check_output(html_path, "--html")
    limits = Limits(max_pages=pages, page_seconds=page_timeout, total_seconds=timeout)
    try:
        # Playwright's sync API refuses a thread that already runs an event loop (or another
        # Playwright): the browser gets a thread of its own.
        with ThreadPoolExecutor(max_workers=1) as worker:
            report = worker.submit(_scan, list(urls), content.registry, site, limits).result()
    except ScanError as error:
        cannot_scan = click.ClickException(str(error))
        cannot_scan.exit_code = 2  # it saw nothing: never mistaken for findings (1)
        raise cannot_scan from error
    record_scan(db.session, report)
    if json_path is not None:
        write_json(report, json_path)
    if html_path is not None:
        write_html(report, html_path, language)
    for line in terminal_lines(report):
        click.echo(line)
    click.get_current_context().exit(report["exit_status"])
