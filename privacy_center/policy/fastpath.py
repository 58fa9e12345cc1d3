"""Pre-rendered policy pages answered at the WSGI layer, as a static file server would.

The Flask views render each page once and keep it in the page cache. From then on, a plain GET
of ``/policy`` or ``/policy/versions`` (no query string) is answered here, before Flask builds a
request context: the same bytes and headers as the view's answer, for less than a bare Flask
route costs. Anything else, including a page not rendered yet, goes on to Flask unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING

from flask import Flask
from werkzeug.http import parse_cookie

from ..content import EXTENSION_KEY, OperatorContent
from ..i18n import best_accepted, negotiate_language
from ..security import https_headers
from .services import PageCache, page_answer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

ROUTES = {"/policy": "current", "/policy/versions": "versions"}


class PrerenderedPages:
    def __init__(self, wsgi_app: WSGIApplication, app: Flask, cache_key: str) -> None:
        self.wsgi_app = wsgi_app
        self.cache: PageCache = app.extensions[cache_key]
        self.content: OperatorContent = app.extensions[EXTENSION_KEY]
        self.language_cookie: str = app.config["LANGUAGE_COOKIE"]

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        kind = ROUTES.get(environ.get("PATH_INFO", ""))
        if kind and method in ("GET", "HEAD") and not environ.get("QUERY_STRING"):
            answer = self._answer(kind, environ)
            if answer is not None:
                status, headers, body = answer
                start_response(f"{status} {HTTPStatus(status).phrase}", headers)
                return [body] if body is not None and method == "GET" else []
        return self.wsgi_app(environ, start_response)

    def _answer(self, kind: str, environ: WSGIEnvironment):
        operator = self.content.operator
        cookie = environ.get("HTTP_COOKIE")
        language = negotiate_language(
            operator.languages,
            operator.default_language,
            None,
            parse_cookie(cookie).get(self.language_cookie) if cookie else None,
            best_accepted(environ.get("HTTP_ACCEPT_LANGUAGE", ""), operator.languages),
        )
        version = self.content.current_version(operator.today())
        page = self.cache.get((kind, version.number, language))
        if page is None:
            return None
        status, headers, body = page_answer(page, environ)
        return status, headers + https_headers(environ), body
