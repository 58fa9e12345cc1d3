"""Policy pages: the current policy, every earlier version, what changed, and the PDF."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    render_template,
    request,
    url_for,
)
from flask.ctx import RequestContext
from flask_babel import get_locale
from jinja2 import pass_context

from ..content import OperatorContent, get_content
from ..content.policy_versions import PolicyVersion
from ..i18n import current_language
from ..letters.rendering import render_pdf
from ..operator import Authority
from .changes import compare_documents
from .pdfcache import cached_pdf
from .services import (
    PageCache,
    PrerenderedResponse,
    RenderedPage,
    TrustedHeaders,
    build_page,
    page_answer,
)

bp = Blueprint("policy", __name__, url_prefix="/policy", template_folder="templates")

CACHE_KEY = "privacy_center.policy_pages"
ENDPOINTS = {
    "current": "policy.current",
    "versions": "policy.versions",
    "version": "policy.version",
    "pdf": "policy.version_pdf",
    "changes": "policy.changes",
}


def page_url(kind: str, version: PolicyVersion | None = None, language: str | None = None) -> str:
    """Address of a policy page; path-based in the static export, which has no query strings.

    ``version`` is required for the kinds ``version``, ``pdf`` and ``changes`` (with the version
    before it).
    """
    language = language or current_language()
    number = version.number if version else 0
    if g.get("static_export"):
        return {
            "current": f"/policy/{language}/",
            "versions": f"/policy/versions/{language}/",
            "version": f"/policy/versions/{number}/{language}/",
            "pdf": f"/policy/versions/{number}/{language}/policy.pdf",
            "changes": f"/policy/changes/{number - 1}-{number}/{language}/",
        }[kind]
    arguments: dict[str, object] = {"lang": language}
    if kind in ("version", "pdf"):
        arguments["number"] = number
    elif kind == "changes":
        arguments.update({"from": number - 1, "to": number})
    return url_for(ENDPOINTS[kind], **arguments)


@pass_context
def language_url(context: Any, language: str) -> str:
    """The same page in another language."""
    kind = context.get("page_kind")
    if kind:
        return page_url(kind, context.get("page_version"), language)
    if request.endpoint and not g.get("static_export"):
        return url_for(request.endpoint, **(request.view_args or {}), lang=language)
    return page_url("current", None, language)


def collation_key(text: str) -> str:
    """Alphabetical order that puts "Österreich" among the O and "Éire" among the E."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _sorted_authorities(content: OperatorContent) -> list[tuple[str, Authority]]:
    """The authorities with their country's name in the page's language, in that order."""
    territories = get_locale().territories
    named = [(territories.get(a.country, a.country), a) for a in content.authorities]
    return sorted(named, key=lambda pair: collation_key(pair[0]))


def render_policy(
    kind: str, version: PolicyVersion, language: str, older: PolicyVersion | None = None
) -> bytes:
    """Render one policy page (or its PDF) for the current request's language."""
    content = get_content()
    current = content.current_version(content.operator.today())
    context = {
        "content": content,
        "operator": content.operator,
        "version": version,
        "document": version.document(language),
        "language": language,
        "current_version": current,
        "is_current": version.number == current.number,
        "authorities": _sorted_authorities(content),
        "page_kind": kind,
        "page_version": version,
    }
    if kind == "versions":
        return render_template("policy/versions.html", **context).encode()
    if kind == "changes":
        older = older or content.version(version.number - 1)
        changes = compare_documents(older.document(language), version.document(language))
        return render_template(
            "policy/changes.html", older=older, changes=changes, **context
        ).encode()
    if kind == "pdf":
        html = render_template("policy/print.html", **context)
        directory = Path(current_app.config["POLICY_PDF_DIR"])
        return cached_pdf(directory, version.number, language, html, _policy_pdf)
    return render_template("policy/page.html", **context).encode()


def _policy_pdf(html: str) -> bytes:
    # Tagged for a screen reader too (PDF/UA-1): the policy is what the seed reads aloud.
    return render_pdf(html, accessible=True)


def offline_request(app: Flask, path: str) -> RequestContext:
    """A request context for rendering outside any request (the PDFs made ahead of time, the
    static export), addressed to the first trusted host: with TRUSTED_HOSTS set, as in
    production, the default ``localhost`` would be refused and no address could be built."""
    hosts = app.config.get("TRUSTED_HOSTS") or ["localhost"]
    scheme = app.config.get("PREFERRED_URL_SCHEME", "http")
    return app.test_request_context(path, base_url=f"{scheme}://{hosts[0].removeprefix('.')}")


def prerender_pdfs(app: Flask) -> Iterator[tuple[int, str]]:
    """Makes the PDF of every version in every language, the current version first, into the
    PDF cache (versions not in force yet included: they are ready the day they take effect)."""
    with app.app_context():
        content = get_content()
        current = content.current_version(content.operator.today())
    versions = [current, *(item for item in reversed(content.versions) if item is not current)]
    for version in versions:
        for language in content.operator.languages:
            with offline_request(app, f"/policy/pdf?lang={language}"):
                render_policy("pdf", version, language)
            yield version.number, language


def _serve(kind: str, version: PolicyVersion, older: PolicyVersion | None = None) -> Response:
    language = current_language()
    content = get_content()
    cache: PageCache = current_app.extensions[CACHE_KEY]

    def render() -> RenderedPage:
        extra: tuple[tuple[str, str], ...] = ()
        if kind == "pdf":
            filename = f"{content.operator.name.lower()}-policy-v{version.number}-{language}.pdf"
            extra = (("Content-Disposition", f'inline; filename="{filename}"'),)
        return build_page(
            render_policy(kind, version, language, older),
            "application/pdf" if kind == "pdf" else "text/html; charset=utf-8",
            content.loaded_at,
            current_app.config["POLICY_MAX_AGE"],
            extra,
        )

    page = cache.get_or_render(
        (f"{kind}-{older.number}" if older else kind, version.number, language), render
    )
    status, headers, body = page_answer(page, request.environ)
    answer = PrerenderedResponse(body, status, headers=TrustedHeaders.from_validated(headers))
    if "lang" in request.args:
        # This answer also sets the language cookie: shared caches must not keep it.
        answer.headers["Cache-Control"] = "private, max-age=0"
    return answer


def _version_or_404(number: int) -> PolicyVersion:
    content = get_content()
    version = content.version(number)
    if version is None or version.effective > content.operator.today():
        abort(404)
    return version


@bp.get("")
def current() -> Response:
    content = get_content()
    return _serve("current", content.current_version(content.operator.today()))


@bp.get("/versions")
def versions() -> Response:
    content = get_content()
    return _serve("versions", content.current_version(content.operator.today()))


@bp.get("/versions/<int:number>")
def version(number: int) -> Response:
    return _serve("version", _version_or_404(number))


@bp.get("/versions/<int:number>/pdf")
def version_pdf(number: int) -> Response:
    return _serve("pdf", _version_or_404(number))


@bp.get("/pdf")
def current_pdf() -> Response:
    content = get_content()
    return _serve("pdf", content.current_version(content.operator.today()))


@bp.get("/changes")
def changes() -> Response:
    content = get_content()
    current = content.current_version(content.operator.today())
    newer = _version_or_404(request.args.get("to", default=current.number, type=int))
    older = _version_or_404(request.args.get("from", default=newer.number - 1, type=int))
    if older.number >= newer.number:
        abort(404)
    return _serve("changes", newer, older)
