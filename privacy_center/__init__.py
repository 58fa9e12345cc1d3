"""Privacy Center: the application factory."""

from __future__ import annotations

from typing import Any

from flask import Flask, redirect, request, url_for

from . import (
    access_log,
    audit,
    caching,
    demo,
    errors,
    favicon,
    hosts,
    i18n,
    ids,
    models,
    security,
    sessions,
    storage,
    templating,
    theme,
)
from .accounts.setup import init_app as init_accounts
from .config import PROJECT_ROOT, load_config
from .consent.setup import init_app as init_consent
from .consent_records.setup import init_app as init_consent_records
from .content import EXTENSION_KEY, load_content
from .cookie_scan.setup import init_app as init_cookie_scan
from .exports.setup import init_app as init_exports
from .extensions import babel, configure_sqlite, csrf, db, login_manager, migrate, rate_limiter
from .letters.setup import init_app as init_letters
from .policy.setup import init_app as init_policy
from .postmortem.setup import init_app as init_postmortem
from .recipients.setup import init_app as init_recipients
from .retention.setup import init_app as init_retention
from .rights.setup import init_app as init_rights
from .sessions import LazySessionInterface
from .staff.setup import init_app as init_staff

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# The models module is imported for its side effect: it registers the tables that migrations
# compare against.
__all__ = ["create_app", "models"]


def create_app(config_name: str | None = None, overrides: dict[str, Any] | None = None) -> Flask:
    """Build the application.

    ``config_name`` is ``production`` (the default, from ``PC_ENV``), ``development`` or ``test``.
    """
    app = Flask(__name__, instance_relative_config=True)
    # Before any blueprint adds a rule: every <int:...> is a bounded database id (ids.py).
    ids.init_app(app)
    app.config.from_object(load_config(config_name, app.instance_path))
    if overrides:
        app.config.update(overrides)

    app.extensions[EXTENSION_KEY] = load_content(app.config["CONTENT_DIR"])

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    babel.init_app(app, locale_selector=i18n.current_language)
    rate_limiter.init_app(app)
    app.session_interface = LazySessionInterface()
    # CSRF checks run from our own hook, which looks at the method first: reads cost nothing.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)

    @app.before_request
    def protect_unsafe_methods() -> None:
        # WTF_CSRF_ENABLED = False turns the check off, as Flask-WTF documents (tests only).
        if request.method in UNSAFE_METHODS and app.config["WTF_CSRF_ENABLED"]:
            csrf.protect(apply_exemptions=True)

    security.init_app(app)
    i18n.init_app(app)
    templating.init_app(app)
    errors.init_app(app)
    init_policy(app)
    init_consent(app)
    init_accounts(app)
    sessions.init_app(app, login_manager)
    init_rights(app)
    init_exports(app)
    init_staff(app)
    init_letters(app)
    init_postmortem(app)
    init_retention(app)
    init_cookie_scan(app)
    init_consent_records(app)
    init_recipients(app)
    demo.init_app(app)
    audit.init_app(app)
    storage.init_app(app)

    app.add_url_rule("/", "index", lambda: redirect(url_for("policy.current")))
    favicon.init_app(app)
    theme.init_app(app)
    caching.init_app(app)
    # The request logs (werkzeug's, gunicorn's) never write the secret of an emailed link.
    access_log.install(app.url_map)

    # Last, so in front of every layer (the WSGI fast paths too): one host rule, one proxy rule.
    hosts.init_app(app)
    return app
