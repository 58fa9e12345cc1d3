"""A sent letter served as the PDF file it was, for the requester's status page and the staff
console alike (each view checks who may see the request first)."""

from __future__ import annotations

from flask import Response, abort

from ..models import PrivacyRequest
from .services import attachment_name, find_sent_letter


def sent_letter_response(privacy_request: PrivacyRequest, letter_id: int) -> Response:
    """The letter's PDF byte for byte, as an attachment; 404 for a letter of another request
    or one never sent."""
    letter = find_sent_letter(privacy_request, letter_id)
    if letter is None:
        abort(404)
    response = Response(letter.pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{attachment_name(privacy_request, letter.kind)}"'
    )
    return response
