"""Answering a posted consent receipt, as the Flask view and the WSGI intake both do.

Receipts are the product's busiest write (every visitor's every choice). In production, the
WSGI intake answers ``POST /api/v1/consents`` before Flask builds a request context, running the
same checks as the view through :func:`answer_receipt`; the group-commit writer makes the receipt
durable before the answer leaves.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.wsgi import get_host

from ..content import EXTENSION_KEY, OperatorContent
from ..extensions import db, rate_limiter
from ..security import SECURITY_HEADERS, https_headers
from .services import (
    MAX_RECEIPT_BYTES,
    InvalidReceipt,
    ReceiptConflict,
    browser_family,
    iso_utc,
    record_receipt,
    validate_receipt,
)
from .writer import ReceiptNotRecorded, ReceiptWriter

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

RECEIPTS_PATH = "/api/v1/consents"


@dataclass(frozen=True)
class PostedReceipt:
    """What a receipt post carries, whichever layer received it."""

    origin: str | None
    address: str
    length: int | None
    body: bytes
    user_agent: str
    # The privacy center's own origin and root URL (e.g. https://privacy.example/).
    own_origin: str
    root_url: str


@dataclass(frozen=True)
class Answer:
    status: int
    document: dict[str, object]
    headers: tuple[tuple[str, str], ...]


def error_document(message: str, field: str | None = None) -> dict[str, object]:
    """The body of every error of the consent API: what is wrong, and which field."""
    return {"error": message, "field": field} if field else {"error": message}


def origin_allowed(
    origin: str | None, own_origin: str, extra_origins: Iterable[str], site_origins: Iterable[str]
) -> bool:
    return origin is not None and (
        origin == own_origin or origin in extra_origins or origin in site_origins
    )


def answer_receipt(
    posted: PostedReceipt,
    content: OperatorContent,
    config: Mapping[str, Any],
    session_scope: Callable[[], AbstractContextManager[Session]],
    writer: ReceiptWriter | None,
) -> Answer:
    """Check, record and answer one posted receipt (status, JSON document, headers)."""
    extra = config["CONSENT_EXTRA_ORIGINS"]
    every_origin = [origin for site in content.operator.sites for origin in site.origins]
    # Errors are readable by the operator's pages, never by others.
    readable = origin_allowed(posted.origin, posted.own_origin, extra, every_origin)
    cors = (("Access-Control-Allow-Origin", posted.origin), ("Vary", "Origin")) if readable else ()

    def error(status: int, message: str, field: str | None = None, *extra_headers) -> Answer:
        return Answer(status, error_document(message, field), (*cors, *extra_headers))

    if not rate_limiter.hit(config["CONSENT_RATE_LIMIT"], "consent-receipts", posted.address):
        return error(429, "too many receipts from this address; try again in a minute", None,
                     ("Retry-After", "60"))  # fmt: skip
    if posted.origin is None:
        return error(403, "the Origin header is required")
    if posted.length is None or posted.length > MAX_RECEIPT_BYTES:
        limit = f"the body must be JSON of at most {MAX_RECEIPT_BYTES} bytes, with its length"
        return error(400, limit)
    try:
        data = json.loads(posted.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: arrays or objects nested a thousand deep fit in the 2 KB allowed.
        data = None
    try:
        receipt = validate_receipt(data, content, content.operator.today())
    except InvalidReceipt as invalid:
        return error(400, str(invalid), invalid.field)
    site = content.operator.site(receipt.site)
    if not origin_allowed(posted.origin, posted.own_origin, extra, site.origins):
        message = f"origin {posted.origin} may not post receipts for site {site.key!r}"
        return Answer(403, error_document(message), ())
    try:
        recorded_at, created = record_receipt(
            session_scope, receipt, site, browser_family(posted.user_agent), writer
        )
    except ReceiptConflict as conflict:
        return error(409, str(conflict), "receiptId")
    except ReceiptNotRecorded:
        return error(503, "the receipt could not be recorded now; nothing was stored, retry",
                     None, ("Retry-After", "5"))  # fmt: skip
    document = {
        "receiptId": receipt.receipt_id,
        "recordedAt": iso_utc(recorded_at),
        "url": f"{posted.root_url.rstrip('/')}{RECEIPTS_PATH}/{receipt.receipt_id}",
    }
    return Answer(201 if created else 200, document, cors)


class ReceiptIntake:
    """WSGI middleware: ``POST /api/v1/consents`` answered without Flask's request machinery."""

    def __init__(self, wsgi_app: WSGIApplication, app: Flask, writer: ReceiptWriter) -> None:
        self.wsgi_app = wsgi_app
        self.app = app
        self.writer = writer

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """A session in an application context, for the rare receipts that need one."""
        with self.app.app_context():
            yield db.session

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != RECEIPTS_PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.wsgi_app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            length = None
        body = environ["wsgi.input"].read(length) if length and length <= MAX_RECEIPT_BYTES else b""
        # hosts.HostGuard let only a trusted host through; werkzeug's get_host writes it as
        # Flask's request.host does (no :443 on https), so both paths compare the same origin.
        scheme, host = environ["wsgi.url_scheme"], get_host(environ)
        posted = PostedReceipt(
            origin=environ.get("HTTP_ORIGIN"),
            address=environ.get("REMOTE_ADDR") or "unknown",
            length=length,
            body=body,
            user_agent=environ.get("HTTP_USER_AGENT", ""),
            own_origin=f"{scheme}://{host}",
            root_url=f"{scheme}://{host}{environ.get('SCRIPT_NAME', '')}/",
        )
        try:
            answer = answer_receipt(
                posted, self.app.extensions[EXTENSION_KEY], self.app.config, self._session,
                self.writer,
            )  # fmt: skip
        except Exception:
            self.app.logger.exception("consent receipt intake failed")
            answer = Answer(500, {"error": "internal error; nothing was recorded"}, ())
        payload = json.dumps(answer.document, ensure_ascii=False, separators=(",", ":")).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
            *answer.headers,
            *SECURITY_HEADERS.items(),
            *https_headers(environ),
        ]
        start_response(f"{answer.status} {HTTPStatus(answer.status).phrase}", headers)
        return [payload]
