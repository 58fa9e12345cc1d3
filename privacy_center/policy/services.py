"""Policy pages: rendered once per (page, version, language), then served from memory."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..content import OperatorContent
from ..letters.rendering import STATIC_DIR, render_pdf
from .versions import PolicyVersion


@dataclass(frozen=True)
class RenderedPage:
    body: bytes
    etag: str
    last_modified: datetime
    mimetype: str


class PageCache:
    """Rendered pages keyed by (kind, version, language); the content never changes at run time."""

    def __init__(self) -> None:
        self._pages: dict[tuple[str, int, str], RenderedPage] = {}
        self._lock = threading.Lock()

    def get_or_render(
        self,
        key: tuple[str, int, str],
        render: Callable[[], bytes],
        last_modified: datetime,
        mimetype: str,
    ) -> RenderedPage:
        page = self._pages.get(key)
        if page is None:
            body = render()
            page = RenderedPage(
                body=body,
                etag=hashlib.sha256(body).hexdigest()[:32],
                last_modified=last_modified,
                mimetype=mimetype,
            )
            with self._lock:
                page = self._pages.setdefault(key, page)
        return page


def policy_pdf(html: str) -> bytes:
    return render_pdf(html)


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
                files.append(
                    ExportedFile(
                        f"policy/changes/{version.number - 1}-{version.number}/{language}/index.html",
                        page("changes", version, language),
                    )
                )
    default = operator.default_language
    files.append(
        ExportedFile("policy/index.html", page("current", today_version, default))
    )
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
