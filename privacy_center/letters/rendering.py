"""The one PDF function of the project.

WeasyPrint may only read the application's own static files (stylesheets, fonts, images) and
``data:`` URLs. Every other URL, remote ones above all, is refused: a letter never sends a request
to a third party and never depends on the network.
"""

from __future__ import annotations

import mimetypes
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from ..config import STATIC_DIR


class LocalOnlyURLFetcher(URLFetcher):
    """Serves ``data:`` URLs and files under the static folder; refuses everything else."""

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        parts = urlsplit(url)
        if parts.scheme == "data":
            return super().fetch(url, headers)
        if parts.scheme == "file":
            path = Path(unquote(parts.path)).resolve()
            if path.is_relative_to(STATIC_DIR) and path.is_file():
                media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(
                    path.as_uri(), path.read_bytes(), headers={"Content-Type": media_type}
                )
        # WeasyPrint logs the refusal and renders the document without the resource.
        raise ValueError(f"refused to fetch {url!r}: only the application's own files are used")


@lru_cache(maxsize=32)
def _parsed_stylesheet(path: Path, modified_ns: int) -> CSS:
    """A static stylesheet parsed once per version of the file (its modification time is part
    of the key): letters reuse it instead of parsing it again for every PDF."""
    del modified_ns
    return CSS(
        string=path.read_text(encoding="utf-8"),
        base_url=path.as_uri(),
        url_fetcher=LocalOnlyURLFetcher(),
    )


def _stylesheet(name: str) -> CSS:
    path = (STATIC_DIR / name).resolve()
    if not path.is_relative_to(STATIC_DIR) or not path.is_file():
        raise ValueError(f"{name!r} is not a stylesheet of the static folder")
    return _parsed_stylesheet(path, path.stat().st_mtime_ns)


_thread_fonts = threading.local()


def _font_configuration() -> FontConfiguration:
    """This thread's font configuration, made once: making one loads Fontconfig's configuration
    and opens the system fonts again (about 10 ms, a tenth of a one-page letter). Pango's font
    map is not thread-safe, hence one per thread. The documents use system fonts only (no
    @font-face), so nothing accumulates in it from one document to the next."""
    fonts = getattr(_thread_fonts, "configuration", None)
    if fonts is None:
        fonts = _thread_fonts.configuration = FontConfiguration()
    return fonts


def render_pdf(html: str, *, stylesheets: Sequence[str] = ()) -> bytes:
    """Render an HTML document to PDF; relative URLs resolve inside the static folder.

    ``stylesheets`` are static files (``"css/letter.css"``), parsed once and reused across
    renders; they apply as user stylesheets (the document's own ``<style>`` wins a conflict).
    """
    document = HTML(
        string=html, base_url=STATIC_DIR.as_uri() + "/", url_fetcher=LocalOnlyURLFetcher()
    )
    return document.write_pdf(
        stylesheets=[_stylesheet(name) for name in stylesheets], font_config=_font_configuration()
    )
