"""Error pages, in the visitor's language."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, SecurityError

from .hosts import UNKNOWN_HOST

LAYOUTS_KEY = "privacy_center.error_layouts"


def use_error_layout(app: Flask, blueprint: str, layout: str) -> None:
    """Errors raised in ``blueprint``'s pages are drawn in ``layout`` (the staff console's
    pages keep the console's header and show no visitors' banner)."""
    app.extensions.setdefault(LAYOUTS_KEY, {})[blueprint] = layout


def _layout() -> str:
    return current_app.extensions.get(LAYOUTS_KEY, {}).get(request.blueprint, "base.html")


def refuse_untrusted_host(error: SecurityError) -> tuple[str, int, dict[str, str]]:
    # hosts.HostGuard refuses such a request before any layer sees it; Flask's own check (the
    # same werkzeug rule) answers alike should its settings be changed after create_app.
    return UNKNOWN_HOST.decode(), 400, {"Content-Type": "text/plain; charset=utf-8"}


def render_error(error: HTTPException) -> tuple[Any, int, list[tuple[str, str]]]:
    titles = {
        400: _("The request could not be understood"),
        403: _("You are not allowed to see this page"),
        404: _("This page does not exist"),
        405: _("This action is not allowed here"),
        413: _("The file is too large"),
        429: _("Too many attempts; please wait a moment"),
    }
    code = error.code or 500
    # The headers the error carries are kept: Allow on a 405 (RFC 9110), Retry-After...
    headers = [(name, value) for name, value in error.get_headers() if name != "Content-Type"]
    if request.path.startswith("/api/"):
        return jsonify(error=error.description), code, headers
    title = titles.get(code, _("Something went wrong on our side"))
    page = render_template("errors/error.html", code=code, title=title, layout=_layout())
    return page, code, headers


def render_server_error(error: Exception) -> tuple[str, int]:
    if request.path.startswith("/api/"):
        return jsonify(error="internal error; nothing was recorded"), 500
    return render_template(
        "errors/error.html",
        code=500,
        title=_("Something went wrong on our side"),
        layout=_layout(),
    ), 500


def init_app(app: Flask) -> None:
    app.register_error_handler(SecurityError, refuse_untrusted_host)
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(500, render_server_error)
