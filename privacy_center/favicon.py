"""``/favicon.ico``: browsers ask for it by name on every site, whatever the pages link to.

The pages link ``static/favicon.svg`` (fingerprinted, cached a year); this answer is the same
drawing as an ICO for the browsers and tools that only know the old address. Its address cannot
change with its content, so it is cached for a month rather than a year. It reads no session and
sets no cookie: a stranger's browser asks for it before anything else.
"""

from __future__ import annotations

from flask import Flask, send_from_directory
from werkzeug.wrappers import Response

from .config import STATIC_DIR

FAVICON_MAX_AGE = 30 * 24 * 3600


def favicon() -> Response:
    return send_from_directory(
        STATIC_DIR, "favicon.ico", mimetype="image/x-icon", max_age=FAVICON_MAX_AGE
    )


def init_app(app: Flask) -> None:
    app.add_url_rule("/favicon.ico", "favicon", favicon)
