"""Staff sign-in pages (password, then TOTP code or enrolment), sign-out, and sessions in force
(the idle timeout and the session's lifetime) on every console request. The admin's staff
members page is in member_views.py."""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import urlsplit

import segno
from flask import (
    after_this_request,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from markupsafe import Markup
from werkzeug.wrappers import Response

from ...accounts.sign_in import safe_next
from ...accounts.views import too_many_attempts
from ...content import get_content
from ...extensions import db, rate_limiter
from ...i18n import current_language
from ...jobs import close_connection
from ...mail_queue import deliver_after_response
from ...models import StaffMember
from ...models.types import utcnow
from ...session_records import (
    RECORD_KEY,
    SESSION_ID_KEY,
    ended_because,
    find_record,
    open_record,
    revoke_token,
    touch,
)
from ...sessions import is_staff_path
from ..blueprint import bp
from .access import (
    PENDING_AT_KEY,
    PENDING_KEY,
    current_staff,
    target_path,
)
from .forms import (
    CodeForm,
    StaffSignInForm,
)
from .lockout import is_locked, source_of
from .sign_in import (
    check_code,
    check_password,
    end_session_by_time,
    pending_secret,
    record_sign_out,
)
from .totp import provisioning_uri

# Time allowed between the password and the code.
PENDING_SECONDS = 10 * 60
# Pages that a session which ended may still reach (signing out of it is no harm).
AUTH_ENDPOINTS = frozenset({"staff.sign_in", "staff.code", "staff.enrol", "staff.sign_out"})


@bp.after_request
def no_store(response: Response) -> Response:
    # Console pages carry personal data: no cache may keep them.
    response.headers["Cache-Control"] = "no-store"
    return response


def _new_session() -> None:
    """Drop the whole staff session and the CSRF token cached for this request."""
    session.clear()
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


@bp.before_app_request
def session_in_force() -> Response | None:
    """Every console request of a signed-in member: a live session is noted (the idle timeout
    counts from it); one that ended (STAFF_IDLE_MINUTES without a request, STAFF_SESSION_HOURS
    after signing in, signed out elsewhere, ended by an admin or a reset) sends the browser to
    sign in again, and back to the page asked for."""
    if not is_staff_path(request.path) or request.endpoint in AUTH_ENDPOINTS:
        return None
    if not session.get("_user_id"):
        return None  # not signed in, or only the password checked
    if current_staff() is not None:
        record = g.get(RECORD_KEY)
        if record is not None and touch(record):
            db.session.commit()
        return None
    return _ended()


def _ended() -> Response:
    """Sign the browser out of a session the server no longer accepts, saying why."""
    now = utcnow()
    record = find_record(db.session, session.get(SESSION_ID_KEY))
    idle = timedelta(minutes=current_app.config["STAFF_IDLE_MINUTES"])
    why = None
    if record is not None and record.kind == "staff" and record.owner_id == session.get("_user_id"):
        why = ended_because(record, now=now, idle=idle)
    hours = 0
    if record is not None and why in ("idle", "lifetime"):
        # Ended by time, noticed now: the record and the audit log say so.
        end_session_by_time(db.session, record, reason=str(why), now=now)
        db.session.commit()
        hours = round((record.expires_at - record.created_at).total_seconds() / 3600)
    if why == "idle":
        message = _("You were away for a while: please sign in again.")
    elif why == "lifetime":
        message = _("You signed in %(hours)d hours ago: please sign in again.", hours=hours)
    else:
        message = _("Your session was ended: please sign in again.")
    target = target_path()
    if target is None and request.referrer:
        # After a form posted from a page: back to that page.
        referrer = urlsplit(request.referrer)
        if referrer.netloc == request.host and is_staff_path(referrer.path):
            target = referrer.path + (f"?{referrer.query}" if referrer.query else "")
    logout_user()
    _new_session()
    flash(message)
    return redirect(url_for("staff.sign_in", next=safe_next(target)))


def _home() -> str:
    """The console's first page (the queue), or the members page until the console exists."""
    if "staff.index" in current_app.view_functions:
        return url_for("staff.index")
    return url_for("staff.members")


def _refused() -> str:
    # One message for an unknown email, a wrong password, a deactivated account or a source
    # locked out of the account.
    minutes = current_app.config["STAFF_LOCKOUT_MINUTES"]
    return _(
        "The email address or the password is not right, or sign-in from here is locked for a "
        "while (%(minutes)d minutes or more after repeated failures).",
        minutes=minutes,
    )


def _source() -> str:
    """Where the attempt comes from (lockout.py): a keyed digest of the client address."""
    return source_of(current_app.config["SECRET_KEY"], request.remote_addr)


def _over_limit() -> bool:
    """Count one attempt (password or code) by address; True when over. Not by email: a
    stranger's attempts must not slow the member down (lockout.py locks per member and source).
    """
    notation = current_app.config["LOGIN_RATE_LIMIT"]
    return not rate_limiter.hit(notation, "staff-sign-in-address", request.remote_addr or "-")


def _deliver(mails: list[int]) -> None:
    """Deliver the mails just committed to the outbox (a lockout's notice to the member) once
    the answer has been sent: an answer that waited for the mail server would tell that the
    address typed is a member's."""
    deliver_after_response(mails)


def _close_connection(response: Response) -> Response:
    close_connection(response)
    return response


def _too_many() -> Response:
    return too_many_attempts(current_app.config["LOGIN_RATE_LIMIT"], url_for("staff.sign_in"))


def _pending_member() -> StaffMember | None:
    """The member whose password was checked in this session, if recent enough."""
    member_id = session.get(PENDING_KEY)
    started = session.get(PENDING_AT_KEY)
    if not isinstance(member_id, int) or not isinstance(started, int):
        return None
    if int(time.time()) - started > PENDING_SECONDS:
        return None
    member = db.session.get(StaffMember, member_id)
    return member if member is not None and member.is_active else None


def _back_to_sign_in(message: str | None = None) -> Response:
    next_target = safe_next(request.form.get("next") or request.args.get("next"))
    _new_session()
    if message:
        flash(message)
    return redirect(url_for("staff.sign_in", next=next_target))


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Response | str:
    form = StaffSignInForm()
    if request.method == "GET":
        target = safe_next(request.args.get("next"))
        if current_staff() is not None:
            return redirect(target or _home())
        form.next.data = target or ""
        return render_template("staff/auth/sign_in.html", form=form, error=None)
    if _over_limit():
        return _too_many()
    error = None
    if form.validate():
        mails: list[int] = []
        member = check_password(
            db.session,
            current_app.config,
            email=form.email.data,
            password=form.password.data,
            source=_source(),
            mails=mails,
        )
        db.session.commit()  # the failures counted and audited are kept
        _deliver(mails)
        # Every answer ends its connection, with a notice to mail after it or not (jobs.py).
        after_this_request(_close_connection)
        if member is not None:
            target = safe_next(form.next.data)
            # A new session (session fixation): only the pending member and the target.
            _new_session()
            session[PENDING_KEY] = member.id
            session[PENDING_AT_KEY] = int(time.time())
            step = "staff.code" if member.totp_enrolled_at else "staff.enrol"
            return redirect(url_for(step, next=target))
        error = _refused()
    form.password.data = ""
    return render_template("staff/auth/sign_in.html", form=form, error=error)


def _complete(member: StaffMember, target: str | None) -> Response:
    lifetime = timedelta(hours=current_app.config["STAFF_SESSION_HOURS"])
    session_id = open_record(db.session, member, lifetime=lifetime)
    db.session.commit()
    _new_session()
    login_user(member)
    session[SESSION_ID_KEY] = session_id
    return redirect(target or _home())


def _code_step(member: StaffMember, form: CodeForm) -> tuple[Response | None, str | None]:
    """Check a posted code: (the response when signed in or sent back, or the error)."""
    if _over_limit():
        return _too_many(), None
    if not form.validate():
        return None, None
    mails: list[int] = []
    signed_in = check_code(
        db.session,
        current_app.config,
        member,
        code=form.code.data,
        source=_source(),
        language=current_language(),
        mails=mails,
    )
    db.session.commit()
    _deliver(mails)
    after_this_request(_close_connection)
    if signed_in:
        return _complete(member, safe_next(form.next.data)), None
    if is_locked(db.session, member, _source(), utcnow()):
        # Locked out by this failure: start again (and meet the same generic message).
        return _back_to_sign_in(_refused()), None
    return None, _("The code is not right, or it was already used. Wait for the next code.")


def _code_form(member: StaffMember) -> tuple[CodeForm, str | None, Response | None]:
    """The code form of the second step (code or enrolment page): on GET with its target, on
    POST checked (a response when signed in or sent back); the code is never shown again."""
    form = CodeForm()
    error = None
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
    else:
        response, error = _code_step(member, form)
        if response is not None:
            return form, None, response
    form.code.data = ""
    return form, error, None


@bp.route("/sign-in/code", methods=["GET", "POST"])
def code() -> Response | str:
    member = _pending_member()
    if member is None:
        return _back_to_sign_in()
    if member.totp_enrolled_at is None:
        return redirect(url_for("staff.enrol", next=request.args.get("next")))
    form, error, response = _code_form(member)
    if response is not None:
        return response
    return render_template("staff/auth/code.html", form=form, error=error)


def _qr_code(uri: str) -> Markup:
    """The provisioning URI as an inline SVG drawn here (no remote image, no inline style)."""
    svg = segno.make(uri, error="m").svg_inline(
        scale=5,
        dark="#000",
        light="#fff",
        title=_("QR code to scan with your authenticator app"),
        svgclass="staff-qr",
        lineclass=None,
    )
    return Markup(svg.replace("<svg ", '<svg role="img" ', 1))  # noqa: S704 (segno escapes)


@bp.route("/sign-in/enrol", methods=["GET", "POST"])
def enrol() -> Response | str:
    """First sign-in (or after an admin's reset): set up the authenticator app, then confirm
    it with a first code."""
    member = _pending_member()
    if member is None:
        return _back_to_sign_in()
    if member.totp_enrolled_at is not None:
        return redirect(url_for("staff.code", next=request.args.get("next")))
    secret = pending_secret(db.session, current_app.config, member)
    db.session.commit()
    form, error, response = _code_form(member)
    if response is not None:
        return response
    issuer = f"{get_content().operator.name} staff"
    return render_template(
        "staff/auth/enrol.html",
        form=form,
        error=error,
        qr=_qr_code(provisioning_uri(secret, member, issuer)),
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        member=member,
    )


@bp.post("/sign-out")
def sign_out() -> Response:
    """Sign out (a POST with the CSRF token). The session ends on the server: a copy of the
    cookie opens nothing any more."""
    member = current_staff()
    ended = revoke_token(db.session, session.get(SESSION_ID_KEY), reason="sign_out")
    if member is not None:
        record_sign_out(db.session, member, reason="sign_out")
    if member is not None or ended:
        db.session.commit()
    logout_user()
    _new_session()
    flash(_("You are signed out."))
    return redirect(url_for("staff.sign_in"))
