"""Helpers available in every template. The policy feature adds its own (``page_url`` and
``language_url``, policy/setup.py): this module knows no feature."""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

from flask import Flask, url_for
from flask_babel import format_date, gettext, ngettext
from markupsafe import Markup

from .config import STATIC_DIR
from .content import get_content
from .content.cookies import Lifetime
from .i18n import LANGUAGE_NAMES, current_language
from .operator import Period


@cache
def _static_fingerprint(filename: str) -> str:
    return hashlib.sha256((STATIC_DIR / filename).read_bytes()).hexdigest()[:12]


def static_url(filename: str) -> str:
    """A static file's address with a content fingerprint, so it can be cached for a year."""
    return url_for("static", filename=filename, v=_static_fingerprint(filename))


def format_lifetime(lifetime: Lifetime) -> str:
    if lifetime.is_session:
        return gettext("End of the browsing session")
    amount = lifetime.amount
    return {
        "minutes": ngettext("%(num)d minute", "%(num)d minutes", amount),
        "hours": ngettext("%(num)d hour", "%(num)d hours", amount),
        "days": ngettext("%(num)d day", "%(num)d days", amount),
        "months": ngettext("%(num)d month", "%(num)d months", amount),
    }[lifetime.unit]


def format_period(period: Period) -> str:
    parts = []
    if period.years:
        parts.append(ngettext("%(num)d year", "%(num)d years", period.years))
    if period.months:
        parts.append(ngettext("%(num)d month", "%(num)d months", period.months))
    if period.days:
        parts.append(ngettext("%(num)d day", "%(num)d days", period.days))
    return " ".join(parts)


def csrf_field(form: Any) -> Markup:
    """A form's hidden CSRF field, without an id: a page with several forms would repeat it.
    Nothing where CSRF protection is off (the form then has no such field)."""
    field = getattr(form, "csrf_token", None)
    return field(id=False) if field is not None else Markup("")


def template_context() -> dict[str, Any]:
    content = get_content()
    return {
        "operator": content.operator,
        "lang": current_language(),
        "language_names": LANGUAGE_NAMES,
    }


def init_app(app: Flask) -> None:
    app.context_processor(template_context)
    app.jinja_env.globals.update(
        static_url=static_url,
        csrf_field=csrf_field,
    )
    app.jinja_env.filters.update(
        lifetime=format_lifetime, period=format_period, format_date=format_date
    )
    app.jinja_env.policies["ext.i18n.trimmed"] = True
