"""Account pages: sign-in (password or emailed link), sign-out, communication preferences and
the one-click unsubscribe address."""

from __future__ import annotations

from datetime import timedelta

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from ..content import get_content
from ..extensions import db, rate_limiter
from ..i18n import current_language
from ..mail_intents import work_after_response
from ..models import Account
from ..ratelimit import parse_limit
from ..session_records import SESSION_ID_KEY, open_record, revoke_token
from .forms import (
    CHANNEL_LABELS,
    ConfirmForm,
    SignInForm,
    SignInLinkForm,
    SignOutForm,
    field_name,
    preferences_form,
    wanted_preferences,
)
from .lookup import rate_limit_key
from .preferences import EVERY, current_preferences, set_preferences
from .sign_in import (
    CONSENT_COOKIE,
    SIGN_IN_LINK_LIFETIME,
    ask_sign_in_link,
    authenticate,
    record_sign_in,
    redeem_sign_in_link,
    safe_next,
    sign_in_link_account,
    visitor_id_from_cookie,
)
from .unsubscribe import (
    UnsubscribeTarget,
    read_unsubscribe_token,
    unsubscribe,
    unsubscribe_target_email,
)

bp = Blueprint("accounts", __name__, url_prefix="/rights", template_folder="templates")


# Pages whose address holds a secret (a sign-in link, an unsubscribe token).
SECRET_ENDPOINTS = frozenset({"accounts.sign_in_with_link", "accounts.unsubscribe"})


@bp.after_request
def no_store(response: Response) -> Response:
    # These pages carry personal data or one-time links: no cache may keep them, and a secret
    # in the address is never sent on as Referer (not even to this site's own files).
    response.headers["Cache-Control"] = "no-store"
    if request.endpoint in SECRET_ENDPOINTS:
        response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _home() -> str:
    """Where a person lands after signing in without a ``next``: the rights entry page."""
    return url_for("rights.index")


def over_sign_in_limit(notation: str, scope: str, email: str) -> bool:
    """Count one attempt by address and by email typed; True when either is over the limit.
    (The staff sign-in counts its own attempts the same way, under its own scope.)"""
    by_address = rate_limiter.hit(notation, f"{scope}-address", request.remote_addr or "-")
    by_email = rate_limiter.hit(notation, f"{scope}-email", rate_limit_key(email))
    return not (by_address and by_email)


def too_many_attempts(notation: str, back_url: str) -> Response:
    """The 429 page: how long to wait, and the way back to the sign-in page."""
    seconds = parse_limit(notation).get_expiry()
    page = render_template(
        "accounts/rate_limited.html", minutes=max(1, -(-seconds // 60)), back_url=back_url
    )
    response = make_response(page, 429)
    response.headers["Retry-After"] = str(seconds)
    return response


def _new_session() -> None:
    """Drop everything the session held, and the CSRF token Flask-WTF cached for this request
    (it belongs to the session just dropped)."""
    session.clear()
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def _signed_in(account: Account, target: str | None) -> Response:
    """Open the session of ``account`` and go on to ``target`` (a local path) or home."""
    record_sign_in(
        db.session, account, visitor_id=visitor_id_from_cookie(request.cookies.get(CONSENT_COOKIE))
    )
    lifetime = timedelta(hours=current_app.config["ACCOUNT_SESSION_HOURS"])
    session_id = open_record(db.session, account, lifetime=lifetime)
    db.session.commit()
    # A new session: nothing set before signing in (a planted cookie, an old CSRF token)
    # carries over into the signed-in one (session fixation).
    _new_session()
    login_user(account)
    session[SESSION_ID_KEY] = session_id
    return redirect(target or _home())


@bp.route("/sign-in", methods=["GET", "POST"])
def login() -> Response | str:
    form = SignInForm()
    if request.method == "GET":
        target = safe_next(request.args.get("next"))
        if current_user.is_authenticated:
            return redirect(target or _home())
        form.next.data = target or ""
        return render_template("accounts/sign_in.html", form=form, error=None)
    limit = current_app.config["LOGIN_RATE_LIMIT"]
    if over_sign_in_limit(limit, "sign-in", form.email.data or ""):
        return too_many_attempts(limit, url_for(".login"))
    error = None
    if form.validate():
        account = authenticate(db.session, email=form.email.data, password=form.password.data)
        if account is not None:
            return _signed_in(account, safe_next(form.next.data))
        db.session.rollback()
        # One message for an unknown email, a wrong password and a closed account.
        error = _(
            "The email address or the password is not right. Check them, or get a sign-in "
            "link by email."
        )
    form.password.data = ""
    return render_template("accounts/sign_in.html", form=form, error=error)


def _link_page(form: SignInLinkForm, state: str, status: int = 200) -> Response:
    """The sign-in link page: ``ask`` (the form), ``sent`` or ``invalid`` (a dead link)."""
    minutes = int(SIGN_IN_LINK_LIFETIME.total_seconds() // 60)
    page = render_template("accounts/sign_in_link.html", form=form, state=state, minutes=minutes)
    return make_response(page, status)


@bp.route("/sign-in/link", methods=["GET", "POST"])
def request_link() -> Response:
    form = SignInLinkForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
        return _link_page(form, "sent" if request.args.get("sent") == "1" else "ask")
    limit = current_app.config["SIGN_IN_LINK_RATE_LIMIT"]
    if over_sign_in_limit(limit, "sign-in-link", form.email.data or ""):
        return too_many_attempts(limit, url_for(".login"))
    if not form.validate():
        return _link_page(form, "ask")
    # One write, the same for any address; the lookup and the mail come after the answer.
    intent = ask_sign_in_link(
        db.session,
        email=form.email.data,
        next_path=safe_next(form.next.data),
        base_url=request.url_root,
    )
    work_after_response(intent)
    # The same answer whether or not an account has this address.
    return redirect(url_for(".request_link", sent=1))


@bp.route("/sign-in/<token>", methods=["GET", "POST"])
def sign_in_with_link(token: str) -> Response | str:
    """The emailed link opens a page whose button signs in: mail scanners that fetch every link
    must not use it up."""
    target = safe_next(request.args.get("next"))
    if request.method == "POST":
        account = redeem_sign_in_link(db.session, token=token)
        if account is not None:
            return _signed_in(account, target)
        db.session.rollback()
    else:
        account = sign_in_link_account(db.session, token=token)
        if account is not None:
            form = ConfirmForm()
            action = url_for(".sign_in_with_link", token=token, next=target)
            return render_template(
                "accounts/sign_in_link_open.html", form=form, account=account, action=action
            )
    return _link_page(SignInLinkForm(formdata=None), "invalid", 404)


@bp.post("/sign-out")
def logout() -> Response:
    """Sign out (a POST with the CSRF token: a link or an image could not sign anyone out). The
    session ends on the server too: a copy of the cookie opens nothing any more."""
    if revoke_token(db.session, session.get(SESSION_ID_KEY), reason="sign_out"):
        db.session.commit()
    logout_user()
    _new_session()
    flash(_("You are signed out."))
    return redirect(url_for(".login"))


@bp.route("/preferences", methods=["GET", "POST"])
@login_required
def preferences() -> Response | str:
    communication = get_content().operator.communication
    account: Account = current_user._get_current_object()  # type: ignore[attr-defined]
    state = current_preferences(db.session, account, communication=communication)
    form = preferences_form(communication, state)
    if form.validate_on_submit():
        changes = set_preferences(
            db.session, account, wanted_preferences(form, communication), method="preferences"
        )
        db.session.commit()
        if changes:
            flash(
                ngettext(
                    "Your preferences are saved (%(num)d change).",
                    "Your preferences are saved (%(num)d changes).",
                    len(changes),
                )
            )
        else:
            flash(_("Nothing changed: your preferences were already these."))
        return redirect(url_for(".preferences"))
    return render_template(
        "accounts/preferences.html",
        form=form,
        communication=communication,
        field_name=field_name,
        account=account,
        sign_out_form=SignOutForm(),
    )


def _masked(email: str) -> str:
    """``c…@example.org``: enough to recognise one's address on a page anyone with the link
    may open."""
    local, _at, domain = email.partition("@")
    return f"{local[:1]}…@{domain}"


def _target_label(target: UnsubscribeTarget) -> tuple[str, str | None]:
    topic = get_content().operator.communication.topic(target.topic)
    channel = str(CHANNEL_LABELS.get(target.channel, target.channel))
    if target.topic == EVERY or topic is None:
        return channel, None
    return channel, topic.label(current_language())


# RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" to this address without any
# cookie, session or CSRF token, so this one route is exempt from CSRF (setup.py). The signed
# token is the authority: only this site can make one, and all a forged request could do is
# unsubscribe the token's owner, which the token alone already allows.
@bp.route("/unsubscribe/<token>", methods=["GET", "POST"], endpoint="unsubscribe")
def unsubscribe_page(token: str) -> Response | str:
    target = read_unsubscribe_token(current_app.config["SECRET_KEY"], token)
    email = unsubscribe_target_email(db.session, target) if target is not None else None
    if target is None or email is None:
        return make_response(render_template("accounts/unsubscribe.html", state="invalid"), 404)
    channel, topic = _target_label(target)
    if request.method == "POST":
        one_click = request.form.get("List-Unsubscribe") == "One-Click"
        unsubscribe(db.session, target, method="one-click" if one_click else "link")
        db.session.commit()
        state = "done"
    else:
        state = "confirm"
    return render_template(
        "accounts/unsubscribe.html",
        state=state,
        channel=channel,
        topic=topic,
        email=_masked(email),
        action=url_for(".unsubscribe", token=token),
    )
