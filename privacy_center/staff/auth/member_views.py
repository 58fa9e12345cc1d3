"""The admin's staff members page (``/staff/members``): every member with their open sessions
and locked sources, adding a member, and deactivating, resetting two-factor, unlocking or
ending the sessions of one (members.py does the work, audited)."""

from __future__ import annotations

from datetime import timedelta

from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.wrappers import Response

from ...extensions import db
from ...models import StaffMember
from ...models.types import utcnow
from ...session_records import SESSION_ID_KEY, live_count
from ..blueprint import bp
from .access import current_staff, staff_actor, staff_required
from .forms import ROLE_LABELS, MemberActionForm, NewMemberForm
from .lockout import locked_sources
from .members import (
    StaffError,
    create_member,
    deactivate_member,
    end_sessions,
    list_members,
    reset_two_factor,
    unlock_member,
)


def _members_page(form: NewMemberForm, error: str | None = None, status: int = 200) -> Response:
    everyone = list_members(db.session)
    now = utcnow()
    idle = timedelta(minutes=current_app.config["STAFF_IDLE_MINUTES"])
    page = render_template(
        "staff/auth/members.html",
        members=everyone,
        locked={member.id: locked_sources(db.session, member, now) for member in everyone},
        open_sessions={
            member.id: live_count(db.session, member, now=now, idle=idle) for member in everyone
        },
        form=form,
        action_form=MemberActionForm(),
        role_labels=ROLE_LABELS,
        error=error,
        me=current_staff(),
    )
    return make_response(page, status)


@bp.route("/members", methods=["GET", "POST"])
@staff_required("admin")
def members() -> Response:
    form = NewMemberForm()
    if request.method == "GET":
        return _members_page(form)
    if not form.validate():
        return _members_page(form, status=400)
    try:
        member = create_member(
            db.session,
            email=form.email.data,
            name=form.name.data,
            role=form.role.data,
            password=form.password.data,
            actor=staff_actor(),
        )
    except StaffError as error:
        db.session.rollback()
        return _members_page(form, error=str(error), status=400)
    db.session.commit()
    flash(
        _(
            "%(name)s was added. They set up two-factor sign-in when they first sign in.",
            name=member.name,
        )
    )
    return redirect(url_for("staff.members"))


def _member_or_404(member_id: int) -> StaffMember:
    member = db.session.get(StaffMember, member_id)
    if member is None:
        abort(404)
    return member


@bp.post("/members/<int:member_id>/deactivate")
@staff_required("admin")
def deactivate(member_id: int) -> Response:
    member = _member_or_404(member_id)
    if not MemberActionForm().validate():
        return redirect(url_for("staff.members"))
    try:
        deactivate_member(db.session, member, actor=staff_actor())
    except StaffError as error:
        db.session.rollback()
        flash(str(error))
        return redirect(url_for("staff.members"))
    db.session.commit()
    flash(_("%(name)s can no longer sign in.", name=member.name))
    return redirect(url_for("staff.members"))


@bp.post("/members/<int:member_id>/reset-two-factor")
@staff_required("admin")
def reset_totp(member_id: int) -> Response:
    member = _member_or_404(member_id)
    if not MemberActionForm().validate():
        return redirect(url_for("staff.members"))
    reset_two_factor(db.session, member, actor=staff_actor())
    db.session.commit()
    flash(_("%(name)s sets up two-factor sign-in again at their next sign-in.", name=member.name))
    return redirect(url_for("staff.members"))


@bp.post("/members/<int:member_id>/unlock")
@staff_required("admin")
def unlock(member_id: int) -> Response:
    member = _member_or_404(member_id)
    if not MemberActionForm().validate():
        return redirect(url_for("staff.members"))
    unlock_member(db.session, member, actor=staff_actor())
    db.session.commit()
    flash(_("%(name)s can sign in again from everywhere.", name=member.name))
    return redirect(url_for("staff.members"))


@bp.post("/members/<int:member_id>/end-sessions")
@staff_required("admin")
def end_member_sessions(member_id: int) -> Response:
    """End every session of the member (the admin's own: every other one)."""
    member = _member_or_404(member_id)
    if not MemberActionForm().validate():
        return redirect(url_for("staff.members"))
    me = current_staff()
    keep = session.get(SESSION_ID_KEY) if me is not None and me.id == member.id else None
    ended = end_sessions(db.session, member, actor=staff_actor(), keep=keep)
    db.session.commit()
    flash(
        ngettext(
            "%(num)d session of %(name)s was ended: they sign in again.",
            "%(num)d sessions of %(name)s were ended: they sign in again.",
            ended,
            name=member.name,
        )
    )
    return redirect(url_for("staff.members"))
