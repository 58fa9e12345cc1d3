"""Policy pages: rendered once per (page, version, language), then served from memory."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from werkzeug.datastructures import Headers
from werkzeug.http import http_date, parse_accept_header, parse_date
from werkzeug.wrappers import Response

from ..config import STATIC_DIR
from ..content import OperatorContent
from ..content.policy_versions import PolicyVersion
from ..security import SECURITY_HEADERS

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


@dataclass(frozen=True)
class RenderedPage:
    """A page with everything its answers need, computed once: serving it is a lookup."""

    body: bytes
    gzip_body: bytes | None
    mimetype: str
    etag: str  # quoted, as sent in the ETag header
    last_modified: datetime
    # Headers shared by the 200 and 304 answers, security headers included.
    headers: tuple[tuple[str, str], ...]


def build_page(
    body: bytes,
    mimetype: str,
    last_modified: datetime,
    max_age: int,
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> RenderedPage:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    validated = Headers(
        (
            ("ETag", etag),
            ("Last-Modified", http_date(last_modified)),
            ("Cache-Control", f"public, max-age={max_age}"),
            ("Vary", "Accept-Language, Cookie, Accept-Encoding"),
            *extra_headers,
            *SECURITY_HEADERS.items(),
        )
    )
    headers = tuple(validated.to_wsgi_list())
    # PDFs are compressed already; text compresses about five-fold.
    compressed = gzip.compress(body, 9, mtime=0) if mimetype.startswith("text/") else None
    return RenderedPage(body, compressed, mimetype, etag, last_modified, headers)


class TrustedHeaders(Headers):
    """Headers built from values that were validated once, when the page was rendered.

    Werkzeug re-validates every value of a new ``Headers``; for a pre-rendered page that work is
    the largest cost of a request, and it always gives the same answer.
    """

    @classmethod
    def from_validated(cls, items: tuple[tuple[str, str], ...]) -> TrustedHeaders:
        headers = cls()
        headers._list = list(items)
        return headers


class PrerenderedResponse(Response):
    """An answer with a pre-rendered page: its headers need no second pass.

    Werkzeug copies and re-validates every header before sending; the page's headers were
    validated when it was rendered, and the answer has no Location to rewrite.
    """

    def get_wsgi_headers(self, environ: WSGIEnvironment) -> Headers:
        return self.headers


@lru_cache(maxsize=256)
def accepts_gzip(accept_encoding: str) -> bool:
    return parse_accept_header(accept_encoding)["gzip"] > 0


def not_modified(environ: WSGIEnvironment, etag: str, last_modified: datetime) -> bool:
    """Whether a conditional GET can be answered 304 (If-None-Match wins over the date)."""
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None:
        return if_none_match.strip() == "*" or etag in if_none_match
    since = parse_date(environ.get("HTTP_IF_MODIFIED_SINCE"))
    return since is not None and since >= last_modified.replace(microsecond=0)


def page_answer(
    page: RenderedPage, environ: WSGIEnvironment
) -> tuple[int, list[tuple[str, str]], bytes | None]:
    """Status, headers and body answering a GET of ``page`` (None: no body, for a 304)."""
    headers = list(page.headers)
    if not_modified(environ, page.etag, page.last_modified):
        return 304, headers, None
    body = page.body
    if page.gzip_body is not None and accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", "")):
        headers.append(("Content-Encoding", "gzip"))
        body = page.gzip_body
    headers += [("Content-Type", page.mimetype), ("Content-Length", str(len(body)))]
    return 200, headers, body


class PageCache:
    """Rendered pages keyed by (kind, version, language); the content never changes at run time."""

    def __init__(self) -> None:
        self._pages: dict[tuple[str, int, str], RenderedPage] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int, str]) -> RenderedPage | None:
        return self._pages.get(key)

    def get_or_render(
        self, key: tuple[str, int, str], render: Callable[[], RenderedPage]
    ) -> RenderedPage:
        page = self._pages.get(key)
        if page is None:
            rendered = render()
            with self._lock:
                page = self._pages.setdefault(key, rendered)
        return page


@dataclass(frozen=True)
class ExportedFile:
    path: str  # relative to the export folder
    render: Callable[[], bytes]


def export_files(
    content: OperatorContent,
    render_page: Callable[[str, PolicyVersion, str], bytes],
    today_version: PolicyVersion,
) -> list[ExportedFile]:
    """Every pre-rendered file of the static export (pages in every version and language)."""
    operator = content.operator
    files: list[ExportedFile] = []

    def page(kind: str, version: PolicyVersion, language: str) -> Callable[[], bytes]:
        return lambda: render_page(kind, version, language)

    for language in operator.languages:
        files.append(
            ExportedFile(f"policy/{language}/index.html", page("current", today_version, language))
        )
        files.append(
            ExportedFile(f"policy/{language}/policy.pdf", page("pdf", today_version, language))
        )
        files.append(
            ExportedFile(
                f"policy/versions/{language}/index.html", page("versions", today_version, language)
            )
        )
        for version in content.versions:
            base = f"policy/versions/{version.number}/{language}"
            files.append(ExportedFile(f"{base}/index.html", page("version", version, language)))
            files.append(ExportedFile(f"{base}/policy.pdf", page("pdf", version, language)))
            if version.number > 1:
                span = f"{version.number - 1}-{version.number}"
                files.append(
                    ExportedFile(
                        f"policy/changes/{span}/{language}/index.html",
                        page("changes", version, language),
                    )
                )
    default = operator.default_language
    files.append(ExportedFile("policy/index.html", page("current", today_version, default)))
    return files


def write_static_export(target: Path, files: list[ExportedFile]) -> int:
    """Write the export into ``target`` atomically: a failure leaves the previous export intact."""
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for exported in files:
            destination = staging / exported.path
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(exported.render())
        shutil.copytree(STATIC_DIR, staging / "static")
        if target.exists():
            backup = target.with_name(f".{target.name}-old")
            shutil.rmtree(backup, ignore_errors=True)
            os.replace(target, backup)
            os.replace(staging, target)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return len(files)
