"""The one PDF function refuses every remote URL."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from privacy_center.config import STATIC_DIR
from privacy_center.letters.rendering import LocalOnlyURLFetcher, render_pdf


@pytest.fixture
def remote_server():
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body { color: red }")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", hits
    server.shutdown()
    server.server_close()


def test_remote_resources_are_never_fetched(remote_server):
    base, hits = remote_server
    html = f"""<html><head><link rel="stylesheet" href="{base}/style.css"></head>
    <body><p>Hello</p><img src="{base}/pixel.png"><img src="file:///etc/hostname"></body></html>"""
    pdf = render_pdf(html)
    assert pdf.startswith(b"%PDF")
    assert hits == []


def test_fetcher_allows_static_files_and_data_urls():
    fetcher = LocalOnlyURLFetcher()
    css = fetcher.fetch((STATIC_DIR / "css" / "print.css").as_uri())
    assert b"@page" in css.read()
    assert fetcher.fetch("data:text/plain,hi").read() == b"hi"
    for refused in ("https://example.com/x.css", "file:///etc/passwd",
                    (STATIC_DIR / ".." / "__init__.py").as_uri()):  # fmt: skip
        with pytest.raises(ValueError, match="refused"):
            fetcher.fetch(refused)
