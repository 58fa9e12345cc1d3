"""The staff console's lists and figures: the queue of requests (open ones, or closed ones by
status or reference), the dashboard and the request register. Thin: read the filters, call one
service, render."""

from __future__ import annotations

from flask import Response, abort, render_template, request, stream_with_context

from ..extensions import db
from ..i18n import current_language
from ..ids import parse_id
from ..rights.kinds import KINDS, POSTMORTEM_KINDS
from ..workflow import FINAL_STATES, STATE_LABELS, RequestState
from . import dashboard as figures
from .auth.access import has_role, staff_required
from .blueprint import bp
from .console import operator_today, signed_in
from .queue import ANY_CLOSED, UNASSIGNED, list_queue, staff_members

# The queue's kind filter: every right, and the requests about a deceased person.
QUEUE_KINDS = {**KINDS, **POSTMORTEM_KINDS}
OPEN_STATES = {key: label for key, label in STATE_LABELS.items() if key not in FINAL_STATES}
CLOSED_STATES = {key: label for key, label in STATE_LABELS.items() if key in FINAL_STATES}


@bp.get("/")
@staff_required()
def index() -> str:
    args = request.args
    state = args.get("state", "")
    kind = args.get("kind", "")
    assignee = args.get("assignee", "")
    search = args.get("q", "")[:254]
    if state and state != ANY_CLOSED and state not in {s.value for s in RequestState}:
        state = ""
    if kind and kind not in QUEUE_KINDS:
        kind = ""
    if assignee not in ("", UNASSIGNED) and parse_id(assignee) is None:
        abort(400)  # not a member's id: a forged or mistyped address (ids.py)
    today = operator_today()
    rows = list_queue(
        db.session, today=today, state=state, kind=kind, assignee=assignee, search=search
    )
    return render_template(
        "staff/queue.html",
        rows=rows,
        today=today,
        filters={"state": state, "kind": kind, "assignee": assignee, "q": search},
        open_states=OPEN_STATES,
        closed_states=CLOSED_STATES,
        any_closed=ANY_CLOSED,
        kinds=QUEUE_KINDS,
        members=staff_members(db.session),
        unassigned=UNASSIGNED,
        me=signed_in(),
        can_see_figures=has_role(signed_in(), "dpo"),
    )


@bp.get("/dashboard")
@staff_required("dpo")
def dashboard() -> str:
    today = operator_today()
    numbers = figures.build_dashboard(db.session, today=today)
    return render_template(
        "staff/dashboard.html",
        figures=numbers,
        chart=figures.chart_svg(numbers.months, language=current_language()),
        state_labels=STATE_LABELS,
        today=today,
        me=signed_in(),
        can_see_figures=True,
    )


@bp.get("/register.csv")
@staff_required("dpo")
def register() -> Response:
    response = Response(stream_with_context(figures.register_rows(db.session)), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="request-register-{operator_today().isoformat()}.csv"'
    )
    return response
