"""Plugs the policy feature into the application."""

from pathlib import Path

from flask import Flask

from .cli import policy_cli
from .fastpath import PrerenderedPages
from .pdfcache import Prerenderer
from .services import PageCache
from .views import CACHE_KEY, bp, language_url, page_url, prerender_pdfs

PRERENDER_KEY = "privacy_center.policy_pdf_prerender"


def init_app(app: Flask) -> None:
    app.extensions[CACHE_KEY] = PageCache()
    app.register_blueprint(bp)
    # Every page's language links, and the policy's addresses (path-based in the static export).
    app.jinja_env.globals.update(page_url=page_url, language_url=language_url)
    app.cli.add_command(policy_cli)
    app.wsgi_app = PrerenderedPages(app.wsgi_app, app, CACHE_KEY)  # type: ignore[method-assign]
    lock_file = Path(app.config["POLICY_PDF_DIR"]) / ".prerender.lock"
    prerenderer = Prerenderer(lambda: prerender_pdfs(app), lock_file)
    app.extensions[PRERENDER_KEY] = prerenderer
    if app.config["POLICY_PDF_PRERENDER"]:
        # The first request starts it: start-up and commands (flask db upgrade...) never wait.
        @app.before_request
        def start_prerendering() -> None:
            prerenderer.start()
