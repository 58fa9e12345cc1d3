"""Engagement with the operator's emails, as it happens (the ``email`` source of retention.yaml).

- ``GET /go/<token>``: a tracked link of an email. Records the click as the account's activity
  and redirects to the address signed in the token, only if it is under one of the declared
  ``redirect_to`` prefixes (never an open redirect); a forged token or another address gets an
  error page and nothing is recorded.
- ``POST /api/v1/activity``: the operator's mailer reports engagement (opens, clicks on its own
  links): ``{"activity": [{"email": "...", "at": "ISO 8601"} | {"account_id": 1, "at": ...}]}``
  -> ``{"recorded": n, "unknown": m}``.
- ``POST /api/v1/activity/links``: the mailer asks for tracked links while it builds a mail:
  ``{"links": [{"email" | "account_id", "url"}]}`` -> ``{"links": ["https://.../go/..."]}``.

Both API calls need ``Authorization: Bearer <token>``, the token being the value of the
environment variable named by the source's ``token_env``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, redirect, request, url_for

from ..extensions import db
from ..models.types import utcnow
from .activity import MAX_FEED_ENTRIES, ActivityRejected, account_ids, record_feed, token_matches
from .activity_links import LinkRefused, follow_link, link_token
from .activity_sources import ActivitySource, email_source
from .rules import DEACTIVATE_ACCOUNTS, enforced_rules

links = Blueprint("activity_links", __name__)
api = Blueprint("activity_api", __name__, url_prefix="/api/v1/activity")


def _source() -> ActivitySource:
    """The declared email source; 404 when the operator declared none."""
    for rule in enforced_rules():
        if rule.action == DEACTIVATE_ACCOUNTS:
            found = email_source(rule.activity)
            if found is not None:
                return found
    abort(404)


@links.get("/go/<token>")
def follow(token: str) -> Response:
    source = _source()
    try:
        target = follow_link(db.session, current_app.secret_key, source, token, utcnow())  # type: ignore[arg-type]
    except LinkRefused:
        db.session.rollback()
        abort(404)
    db.session.commit()
    answer = redirect(target, code=302)
    answer.headers["Cache-Control"] = "no-store"
    answer.headers["Referrer-Policy"] = "no-referrer"
    return answer


def _authenticated() -> ActivitySource:
    source = _source()
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not token_matches(source, presented.strip()):
        abort(401, "send the mailer's token: Authorization: Bearer <token>")
    return source


def _json_body(key: str) -> Any:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or key not in body:
        abort(400, f'expected a JSON object {{"{key}": [...]}}')
    return body[key]


@api.post("", provide_automatic_options=False)  # a server-to-server call: no CORS
def feed() -> tuple[Response, int]:
    source = _authenticated()
    try:
        counts = record_feed(db.session, source, _json_body("activity"), utcnow())
    except ActivityRejected as error:
        db.session.rollback()
        return jsonify(error=str(error)), 400
    db.session.commit()
    return jsonify(counts), 200


@api.post("/links", provide_automatic_options=False)
def make_links() -> tuple[Response, int]:
    source = _authenticated()
    wanted = _json_body("links")
    if (
        not isinstance(wanted, list)
        or not 1 <= len(wanted) <= MAX_FEED_ENTRIES
        or not all(isinstance(item, dict) for item in wanted)
    ):
        return jsonify(error=f"links: a list of 1 to {MAX_FEED_ENTRIES} {{email, url}}"), 400
    try:
        accounts = account_ids(db.session, wanted, "links")
    except ActivityRejected as error:
        return jsonify(error=str(error)), 400
    made: list[str | None] = []
    for index, (account_id, item) in enumerate(zip(accounts, wanted, strict=True)):
        if account_id < 0:
            made.append(None)  # nobody with an account here: no link to track
            continue
        try:
            token = link_token(current_app.secret_key, source, account_id, item.get("url"))  # type: ignore[arg-type]
        except LinkRefused as error:
            return jsonify(error=f"links[{index}]: {error}"), 400
        made.append(url_for("activity_links.follow", token=token, _external=True))
    return jsonify(links=made), 200
