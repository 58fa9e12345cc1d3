"""Security headers on every response.

Framing is refused by the CSP's ``frame-ancestors`` (every current browser honours it, so
X-Frame-Options would only repeat it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, request
from werkzeug.wrappers import Response

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
HSTS = "max-age=31536000; includeSubDomains"


def https_headers(environ: WSGIEnvironment) -> list[tuple[str, str]]:
    """HSTS for an answer sent over https, for the answers written below Flask."""
    return (
        [("Strict-Transport-Security", HSTS)] if environ.get("wsgi.url_scheme") == "https" else []
    )


def add_security_headers(response: Response) -> Response:
    # Pre-rendered pages carry these headers already; one lookup spares the whole loop.
    if "Content-Security-Policy" not in response.headers:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    for name, value in https_headers(request.environ):
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
