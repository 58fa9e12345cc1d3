"""The widget, its configuration, and the consent receipts API (``/api/v1``)."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from contextlib import nullcontext
from functools import cache
from pathlib import Path

import yaml
from flask import Blueprint, Response, abort, current_app, request, url_for
from flask_babel import force_locale

from ..content import get_content
from ..extensions import db
from ..i18n import best_accepted, negotiate_language
from ..operator import Site
from ..templating import format_lifetime
from .choices import optional_services, receipt_services_schema
from .configuration import site_config, widget_boot
from .intake import PostedReceipt, answer_receipt, error_document, origin_allowed
from .services import MAX_RECEIPT_BYTES, find_receipt, receipt_document
from .texts import WIDGET_TEXTS
from .widget import Builds, build_file, load_builds

bp = Blueprint("consent", __name__)

CONFIG_CACHE = "privacy_center.widget_config"
BOOT_CACHE = "privacy_center.widget_boot"
# What widget/src/config.js leaves for the server to fill in (the built-in texts).
BOOT_PLACEHOLDER = b'"__PC_BOOT__"'
WRITER = "privacy_center.receipt_writer"
BUILDS = "privacy_center.widget_builds"
OPENAPI_CACHE = "privacy_center.openapi"
CONFIG_MAX_AGE = 300
# The stable address of the widget is revalidated hourly; hashed addresses never change.
WIDGET_MAX_AGE = 3600
IMMUTABLE = "public, max-age=31536000, immutable"
# The API's description, shipped with the package; served with the deployment's values.
OPENAPI_FILE = Path(__file__).with_name("openapi.yaml")


def _json(document: object, status: int = 200) -> Response:
    return Response(
        json.dumps(document, ensure_ascii=False, separators=(",", ":")),
        status=status,
        mimetype="application/json",
    )


def _error(message: str, status: int = 400) -> Response:
    return _json(error_document(message), status)


def _builds() -> Builds:
    """The widget's builds, read once; read again while there is none (built after start)."""
    builds = current_app.extensions.get(BUILDS)
    if builds is None or builds.current is None:
        builds = current_app.extensions[BUILDS] = load_builds()
    return builds


def _own_origin() -> str:
    return request.host_url.rstrip("/")


def _allowed(origin: str | None, sites: tuple[Site, ...]) -> bool:
    return origin_allowed(
        origin,
        _own_origin(),
        current_app.config["CONSENT_EXTRA_ORIGINS"],
        [allowed for site in sites for allowed in site.origins],
    )


def _with_cors(response: Response, origin: str | None) -> Response:
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.vary.add("Origin")
    return response


# --- the widget files -----------------------------------------------------------------------


@bp.get("/widget/consent.js")
def widget_script() -> Response:
    build = _builds().current
    if build is None:
        abort(404, "the widget is not built: run `make` (npm run build:widget)")
    gpc = request.headers.get("Sec-GPC", "").strip() == "1"
    body = _script_with_boot(build.js, gpc)
    response = Response(body, mimetype="text/javascript")
    response.headers["Cache-Control"] = f"public, max-age={WIDGET_MAX_AGE}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.vary.update(("Sec-GPC", "Accept-Language"))
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    return response.make_conditional(request)


def _cacheable_language() -> str:
    """``?lang=``, else negotiated from Accept-Language; never the language cookie, since a
    shared cache keeps one answer per ``?lang=`` and Accept-Language (``Vary``), not per
    cookie."""
    operator = get_content().operator
    return negotiate_language(
        operator.languages,
        operator.default_language,
        request.args.get("lang"),
        None,
        best_accepted(request.headers.get("Accept-Language", ""), operator.languages),
    )


def _script_with_boot(name: str, gpc: bool) -> bytes:
    """The script at the stable address, with what its banner needs built in for the request's
    language (``?lang=``, else negotiated): no request stands between the script and the
    banner. The hashed addresses (pinned with Subresource Integrity, immutable) are served as
    built and fetch the configuration first."""
    content = get_content()
    today = content.operator.today()
    language = _cacheable_language()
    cache: dict = current_app.extensions.setdefault(BOOT_CACHE, {})
    key = (name, language, content.current_version(today).number, today, gpc, request.host_url)
    body = cache.get(key)
    if body is None:
        with force_locale(language):
            texts = {text_key: str(text) for text_key, text in WIDGET_TEXTS.items()}
        boot = widget_boot(
            content,
            language,
            texts,
            url_for("policy.current", lang=language, _external=True),
            url_for("consent.record", _external=True),
            gpc,
            today,
        )
        built, _ = build_file(_builds().file(name))
        # JSON is a JavaScript expression; "</" is escaped all the same.
        literal = json.dumps(boot, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
        body = built.replace(BOOT_PLACEHOLDER, literal.encode(), 1)
        if len(cache) > 64:
            cache.clear()
        cache[key] = body
    return body


@bp.get("/widget/<name>")
def widget_asset(name: str) -> Response:
    if _builds().file(name) is None:
        abort(404)
    return _widget_file(name, IMMUTABLE)


def _widget_file(name: str, cache_control: str) -> Response:
    body, etag = build_file(_builds().file(name))
    mimetype = "text/javascript" if name.endswith(".js") else "text/css"
    response = Response(body, mimetype=mimetype)
    response.headers["Cache-Control"] = cache_control
    # Cross-origin pages may load it with Subresource Integrity (crossorigin="anonymous").
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.set_etag(etag)
    return response.make_conditional(request)


@bp.get("/widget/builds")
def widget_builds() -> Response:
    """Every published build with its Subresource Integrity hashes, newest first."""
    builds = _builds()
    document = {
        "current": builds.current.build if builds.current else None,
        "builds": [
            {
                "build": build.build,
                "builtAt": build.built_at,
                "js": url_for("consent.widget_asset", name=build.js, _external=True),
                "css": url_for("consent.widget_asset", name=build.css, _external=True),
                "integrity": build.integrity,
                "gzipBytes": build.gzip,
            }
            for build in builds.all
        ],
    }
    response = _json(document)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.cache_control.public = True
    response.cache_control.max_age = CONFIG_MAX_AGE
    return response


# --- configuration --------------------------------------------------------------------------


@bp.get("/api/v1/sites/<site_key>/config")
def widget_config(site_key: str) -> Response:
    content = get_content()
    site = content.operator.site(site_key)
    if site is None:
        return _error(f"unknown site {site_key!r}", 404)
    language = _cacheable_language()
    today = content.operator.today()
    builds = _builds()
    cache: dict = current_app.extensions.setdefault(CONFIG_CACHE, {})
    key = (site.key, language, content.current_version(today).number, today)
    base = cache.get(key)
    if base is None:
        with force_locale(language):
            texts = {name: str(text) for name, text in WIDGET_TEXTS.items()}
            lifetimes = {
                f"{service.key}/{cookie.name}": format_lifetime(cookie.lifetime)
                for service in content.registry.services
                for cookie in service.cookies
            }
        base = site_config(content, site, language, texts, lifetimes, today)
        cache[key] = base
    gpc = request.headers.get("Sec-GPC", "").strip() == "1"
    document = {
        **base,
        "gpc": gpc,
        "policyUrl": url_for("policy.current", lang=language, _external=True),
        "apiUrl": url_for("consent.record", _external=True),
        "build": builds.current.build if builds.current else None,
        "stylesheet": (
            url_for("consent.widget_asset", name=builds.current.css, _external=True)
            if builds.current
            else None
        ),
    }
    response = _json(document)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.cache_control.public = True
    response.cache_control.max_age = CONFIG_MAX_AGE
    response.vary.update(("Sec-GPC", "Accept-Language"))
    response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:32])
    return response.make_conditional(request)


# --- receipts -------------------------------------------------------------------------------


@bp.route("/api/v1/consents", methods=["OPTIONS"])
@bp.route("/api/v1/consents/<receipt_id>", methods=["OPTIONS"])
def preflight(receipt_id: str | None = None) -> Response:
    origin = request.headers.get("Origin")
    if not _allowed(origin, get_content().operator.sites):
        return _error("this origin may not use the consent API", 403)
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "GET, POST"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = "86400"
    return _with_cors(response, origin)


@bp.post("/api/v1/consents")
def record() -> Response:
    """Used when receipts are not group-committed (the WSGI intake answers otherwise)."""
    posted = PostedReceipt(
        origin=request.headers.get("Origin"),
        address=request.remote_addr or "unknown",
        length=request.content_length,
        body=request.get_data() if (request.content_length or 0) <= MAX_RECEIPT_BYTES else b"",
        user_agent=request.headers.get("User-Agent", ""),
        own_origin=_own_origin(),
        root_url=request.url_root,
    )
    answer = answer_receipt(
        posted,
        get_content(),
        current_app.config,
        lambda: nullcontext(db.session),
        current_app.extensions.get(WRITER),
    )
    response = _json(answer.document, answer.status)
    response.headers.extend(answer.headers)
    return response


@bp.get("/api/v1/consents/<receipt_id>")
def receipt(receipt_id: str) -> Response:
    stored = find_receipt(db.session, receipt_id)
    origin = request.headers.get("Origin")
    allowed = origin if _allowed(origin, get_content().operator.sites) else None
    if stored is None:
        return _with_cors(_error("no receipt has this id", 404), allowed)
    response = _json(receipt_document(stored, stored.site.key))
    response.headers["Cache-Control"] = "private, no-store"
    return _with_cors(response, allowed)


# --- the API's description ------------------------------------------------------------------


@cache
def _openapi_file() -> dict:
    return yaml.safe_load(OPENAPI_FILE.read_text(encoding="utf-8"))


def openapi_description(
    sites: list[str],
    languages: list[str],
    current_version: int,
    services: Mapping[str, str] | None = None,
) -> str:
    """The shipped OpenAPI description, with a deployment's sites, languages, current policy
    version and switchable services (``key -> category``) in the receipt's schema (what
    ``validate_receipt`` accepts there), and its sites as examples of the configuration's
    ``site_key``."""
    document = copy.deepcopy(_openapi_file())
    fields = document["components"]["schemas"]["ReceiptInput"]["properties"]
    fields["site"]["enum"] = sites
    fields["language"]["enum"] = languages
    fields["policyVersion"]["maximum"] = current_version
    if services is not None:
        receipt = document["components"]["schemas"]["ReceiptInput"]
        fields["services"], receipt["allOf"] = receipt_services_schema(services)
    document["components"]["parameters"]["SiteKey"]["examples"] = {
        site: {"value": site} for site in sites
    }
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


@bp.get("/api/v1/openapi.yaml")
def openapi() -> Response:
    content = get_content()
    operator = content.operator
    current = content.current_version(operator.today()).number
    served: dict = current_app.extensions.setdefault(OPENAPI_CACHE, {})
    text = served.get(current)
    if text is None:
        sites = [site.key for site in operator.sites]
        text = served[current] = openapi_description(
            sites, list(operator.languages), current, optional_services(content.registry)
        )
    response = Response(text, mimetype="application/yaml")
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.cache_control.public = True
    response.cache_control.max_age = CONFIG_MAX_AGE
    return response
