"""The staff page of retention: the schedule, the rules and the last runs (DPO and admin)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_babel import lazy_gettext as _l

from ..content import get_content
from ..extensions import db
from ..i18n import current_language
from ..staff.auth.access import current_staff, staff_required
from .rules import (
    ARCHIVE_INVOICES,
    DEACTIVATE_ACCOUNTS,
    DELETE_CLOSED_REQUESTS,
    DELETE_CONSENT_RECEIPTS,
    DELETE_IDENTITY_DOCUMENTS,
    DELETE_ROWS,
    enforced_rules,
)
from .services import last_runs

bp = Blueprint("retention", __name__, url_prefix="/staff/retention", template_folder="templates")

ACTION_LABELS = {
    DEACTIVATE_ACCOUNTS: _l(
        "Inactive accounts are deactivated; the holder is warned by email first"
    ),
    DELETE_ROWS: _l("Rows older than the period are deleted"),
    ARCHIVE_INVOICES: _l(
        "Invoices of closed accounts go to the intermediate archive; deleted once the period has "
        "passed since the end of their financial year"
    ),
    DELETE_CONSENT_RECEIPTS: _l(
        "Consent receipts are deleted once the period has passed since they stopped being valid"
    ),
    DELETE_CLOSED_REQUESTS: _l(
        "Closed requests are deleted with their letters, notes and documents; the audit log stays"
    ),
    DELETE_IDENTITY_DOCUMENTS: _l("Identity documents not yet destroyed are destroyed"),
}
STEP_LABELS = {
    "warned": _l("warned"),
    "deactivated": _l("deactivated"),
    "archived": _l("archived"),
    "deleted": _l("deleted"),
    "erased": _l("erased"),
}
# What an erasure did to a category (connectors/base.py ERASURE_ACTIONS).
CATEGORY_ACTIONS = {
    "removed": _l("removed"),
    "anonymised": _l("anonymised"),
    "kept": _l("kept"),
    "elsewhere": _l("held by another company"),
    "failed": _l("not reached: accounts left for the next run"),
}
SOURCE_LABELS = {
    "sql": _l("read from the connector's database once per run"),
    "http": _l("asked of the connector's service once per run"),
    "email": _l("recorded as it happens: tracked email links and the mailer's feed"),
}
STATUS_LABELS = {
    "running": _l("Running"),
    "completed": _l("Completed"),
    "failed": _l("Failed"),
    "interrupted": _l("Interrupted"),
}


@bp.get("/")
@staff_required("dpo")
def index() -> str:
    content = get_content()
    policy_rules = {rule.key: rule for rule in content.retention}
    return render_template(
        "retention/index.html",
        schedule=current_app.config["RETENTION_SCHEDULE"],
        rules=enforced_rules(),
        policy_rules=policy_rules,
        language=current_language(),
        runs=last_runs(db.session),
        action_labels=ACTION_LABELS,
        step_labels=STEP_LABELS,
        category_actions=CATEGORY_ACTIONS,
        source_labels=SOURCE_LABELS,
        status_labels=STATUS_LABELS,
        me=current_staff(),
        can_see_figures=True,
    )
