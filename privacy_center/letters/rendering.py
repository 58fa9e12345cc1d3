"""The one PDF function of the project.

WeasyPrint may only read the application's own static files (stylesheets, fonts, images) and
``data:`` URLs. Every other URL, remote ones above all, is refused: a letter never sends a request
to a third party and never depends on the network.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import unquote, urlsplit

from weasyprint import HTML
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


def render_pdf(html: str) -> bytes:
    """Render an HTML document to PDF; relative URLs resolve inside the static folder."""
    document = HTML(
        string=html, base_url=STATIC_DIR.as_uri() + "/", url_fetcher=LocalOnlyURLFetcher()
    )
    return document.write_pdf()
