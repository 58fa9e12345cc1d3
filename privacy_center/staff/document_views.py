"""A request's identity document as staff see it: a page of server-rendered images of its
pages, each image, and the original as a download (never shown in the browser)."""

from __future__ import annotations

import logging

from flask import Response, abort, current_app, render_template

from ..extensions import db
from ..uploads.storage import StoredDocumentError
from . import documents
from .actions.identity import DocumentUnavailable, view_identity_document
from .auth.access import staff_required
from .blueprint import bp
from .console import request_or_404, signed_in

log = logging.getLogger(__name__)

_EXTENSIONS = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}
# The original is a download: were it opened anyway (a browser ignoring the attachment), no
# script, plugin, form or request of it runs.
_SANDBOX_POLICY = "sandbox; default-src 'none'; frame-ancestors 'none'"


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/requests/<reference>/documents/<int:document_id>")
@staff_required()
def document(reference: str, document_id: int) -> Response:
    """The document's pages as images (rendered at the first view, then cached encrypted)."""
    privacy_request = request_or_404(reference)
    try:
        document = documents.live_document(db.session, privacy_request, document_id)
        pages = documents.page_count(
            db.session, privacy_request, document_id, settings=current_app.config
        )
    except DocumentUnavailable:
        abort(404)
    except StoredDocumentError:
        log.exception("identity document %s of %s unreadable", document_id, reference)
        abort(500)
    number = [item.id for item in privacy_request.documents].index(document.id) + 1
    page = render_template(
        "staff/document.html",
        req=privacy_request,
        document=document,
        number=number,
        pages=pages,
        me=signed_in(),
    )
    return _private(Response(page, mimetype="text/html"))


@bp.get("/requests/<reference>/documents/<int:document_id>/pages/<int:page>.png")
@staff_required()
def document_page(reference: str, document_id: int, page: int) -> Response:
    """One page's image: a PNG made on the server, never a byte of the original."""
    privacy_request = request_or_404(reference)
    try:
        image = documents.view_page(
            db.session,
            privacy_request,
            document_id,
            page,
            staff=signed_in(),
            settings=current_app.config,
        )
    except DocumentUnavailable:
        abort(404)
    except StoredDocumentError:
        log.exception("identity document %s of %s unreadable", document_id, reference)
        abort(500)
    response = _private(Response(image, mimetype="image/png"))
    response.headers["Content-Disposition"] = "inline"
    return response


@bp.get("/requests/<reference>/documents/<int:document_id>/original")
@staff_required()
def document_original(reference: str, document_id: int) -> Response:
    """The original file, only as a download; every download is audited."""
    privacy_request = request_or_404(reference)
    try:
        data, mime_type = view_identity_document(
            db.session,
            privacy_request,
            document_id,
            staff=signed_in(),
            settings=current_app.config,
        )
    except DocumentUnavailable:
        abort(404)
    except StoredDocumentError:
        log.exception("identity document %s of %s unreadable", document_id, reference)
        abort(500)
    extension = _EXTENSIONS.get(mime_type, "bin")
    response = _private(Response(data, mimetype=mime_type))
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{privacy_request.reference}-document-{document_id}.{extension}"'
    )
    response.headers["Content-Security-Policy"] = _SANDBOX_POLICY
    return response
