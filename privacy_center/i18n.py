"""Language negotiation and the translation catalogue commands.

Order: ``?lang=`` > language cookie > ``Accept-Language`` > operator default. A valid ``?lang=``
is remembered in the language cookie.
"""

from __future__ import annotations

import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import click
from babel.messages.pofile import read_po, write_po
from flask import Flask, current_app, request
from flask.cli import AppGroup
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header
from werkzeug.wrappers import Response

from .config import PROJECT_ROOT
from .content import get_content

LANGUAGE_NAMES = {"fr": "Français", "en": "English", "es": "Español", "de": "Deutsch"}


def negotiate_language(
    languages: tuple[str, ...],
    default: str,
    query: str | None,
    cookie: str | None,
    accept_language_match: str | None,
) -> str:
    for candidate in (query, cookie, accept_language_match):
        if candidate in languages:
            return candidate
    return default


@lru_cache(maxsize=512)
def best_accepted(accept_language: str, languages: tuple[str, ...]) -> str | None:
    """The best of ``languages`` for an Accept-Language header (few distinct values: cached)."""
    return parse_accept_header(accept_language, LanguageAccept).best_match(languages)


LANGUAGE_KEY = "privacy_center.language"


def current_language() -> str:
    """The language of the current request, negotiated once per request."""
    environ = request.environ
    language = environ.get(LANGUAGE_KEY)
    if language is None:
        operator = get_content().operator
        # Most requests carry no query string and no cookie: don't parse what is absent.
        language = environ[LANGUAGE_KEY] = negotiate_language(
            operator.languages,
            operator.default_language,
            request.args.get("lang") if environ.get("QUERY_STRING") else None,
            request.cookies.get(current_app.config["LANGUAGE_COOKIE"])
            if environ.get("HTTP_COOKIE")
            else None,
            best_accepted(environ.get("HTTP_ACCEPT_LANGUAGE", ""), operator.languages),
        )
    return language


def remember_language(response: Response) -> Response:
    """Store an explicit ``?lang=`` choice in the language cookie."""
    if not request.environ.get("QUERY_STRING") or response.mimetype != "text/html":
        return response
    chosen = request.args.get("lang")
    config = current_app.config
    if (
        chosen in get_content().operator.languages
        and request.cookies.get(config["LANGUAGE_COOKIE"]) != chosen
    ):
        response.set_cookie(
            config["LANGUAGE_COOKIE"],
            chosen,
            max_age=config["LANGUAGE_COOKIE_MAX_AGE"],
            samesite="Lax",
            # Secure wherever the session cookie is (production), even when TLS ends at a proxy
            # whose X-Forwarded-Proto is not trusted; and on any https request.
            secure=request.is_secure or bool(config.get("SESSION_COOKIE_SECURE")),
            httponly=True,
        )
    return response


translations_cli = AppGroup("translations", help="Extract, update and compile the catalogues.")

TRANSLATIONS_DIR = PROJECT_ROOT / "translations"
TEMPLATE_FILE = TRANSLATIONS_DIR / "messages.pot"


def _pybabel(*arguments: str) -> None:
    command = [sys.executable, "-m", "babel.messages.frontend", *arguments]
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise click.ClickException(f"pybabel {arguments[0]} failed:\n{result.stderr.strip()}")


def fill_source_catalogue(po_path: Path) -> None:
    """English is the source language: its catalogue repeats each message as its translation."""
    with po_path.open("rb") as handle:
        catalogue = read_po(handle, locale="en")
    for message in catalogue:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            message.string = tuple(message.id)
        else:
            message.string = message.id
        message.flags.discard("fuzzy")
    temporary = po_path.with_suffix(".po.tmp")
    with temporary.open("wb") as handle:
        write_po(handle, catalogue, width=100)
    temporary.replace(po_path)


# Besides pybabel's defaults (_, gettext, ngettext, pgettext, ...): lazy forms used in forms
# and module-level tables, "lazy_pgettext(context, text)" included.
EXTRACT_KEYWORDS = ("-k", "_l", "-k", "lazy_pgettext:1c,2")


@translations_cli.command("extract")
def extract_command() -> None:
    """Collect every translatable string into translations/messages.pot."""
    _pybabel(
        "extract", "-F", "babel.cfg", *EXTRACT_KEYWORDS, "--no-location", "--sort-output",
        "--project", "Privacy Center", "--copyright-holder", "Privacy Center",
        "-o", str(TEMPLATE_FILE), "privacy_center",
    )  # fmt: skip
    click.echo(f"Wrote {TEMPLATE_FILE.relative_to(PROJECT_ROOT)}")


@translations_cli.command("update")
def update_command() -> None:
    """Extract, then merge new strings into every language's catalogue."""
    extract_command.callback()  # type: ignore[misc]
    for language in get_content().operator.languages:
        po_path = TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.po"
        action = "update" if po_path.exists() else "init"
        # A message gone from the code is dropped, not kept as a comment.
        options = ["--no-fuzzy-matching", "--ignore-obsolete"] if action == "update" else []
        _pybabel(action, "-i", str(TEMPLATE_FILE), "-d", str(TRANSLATIONS_DIR), "-l", language,
                 "-w", "100", *options)  # fmt: skip
        if language == "en":
            fill_source_catalogue(po_path)
        click.echo(f"Updated {po_path.relative_to(PROJECT_ROOT)}")


@translations_cli.command("compile")
def compile_command() -> None:
    """Compile the catalogues (.po) into the binary files (.mo) that the app reads."""
    _pybabel("compile", "-d", str(TRANSLATIONS_DIR), "--statistics")
    click.echo("Compiled the catalogues")


def init_app(app: Flask) -> None:
    app.after_request(remember_language)
    app.cli.add_command(translations_cli)
