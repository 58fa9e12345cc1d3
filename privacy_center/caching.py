"""Nothing personal is stored by a browser or a cache.

Every answer is ``Cache-Control: no-store`` unless its view decided otherwise (the policy pages,
the widget files and configuration, the consent receipts set their own header) or it is a
public file (``PUBLIC_ENDPOINTS``). A new page is thus private by default: forgetting the header
can no longer leave a holder's data in a shared cache or the browser's history.
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.wrappers import Response

NO_STORE = "no-store"
# Public answers that set no Cache-Control of their own: static files keep Flask's conditional
# answers (ETag, Last-Modified) and the browser's heuristics.
PUBLIC_ENDPOINTS = frozenset({"static"})


def is_public(endpoint: str | None) -> bool:
    return endpoint in PUBLIC_ENDPOINTS


def default_no_store(response: Response) -> Response:
    if "Cache-Control" not in response.headers and not is_public(request.endpoint):
        response.headers["Cache-Control"] = NO_STORE
    return response


def init_app(app: Flask) -> None:
    app.after_request(default_no_store)
