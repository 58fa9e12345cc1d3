"""A demo page of the operator's own site, on another origin than the privacy center.

It embeds the consent widget with one script tag, under a strict Content-Security-Policy, with
local fake trackers in every category, so that the widget can be seen (and tested) at work:
nothing of them runs or is even requested before consent.

    flask --app "demo_site:create_demo_site('http://127.0.0.1:5000')" run --port 5001
"""

from __future__ import annotations

import secrets

from flask import Flask, g, render_template, request

# The page's languages: ?lang= picks one, as an operator's localised pages would.
LANGUAGES = ("en", "fr", "es", "de")


def create_demo_site(privacy_center_url: str = "http://127.0.0.1:5000") -> Flask:
    app = Flask(__name__)
    app.config["PRIVACY_CENTER_URL"] = privacy_center_url.rstrip("/")
    # False shows a page whose CSP forgets the privacy center in connect-src: the widget's
    # banner still works, with its built-in texts.
    app.config["CONNECT_TO_CENTER"] = True

    @app.before_request
    def make_nonce() -> None:
        g.nonce = secrets.token_urlsafe(16)

    @app.after_request
    def strict_csp(response):
        center = app.config["PRIVACY_CENTER_URL"]
        response.headers["Content-Security-Policy"] = "; ".join(
            (
                "default-src 'self'",
                f"script-src 'self' {center} 'nonce-{g.nonce}'",
                f"style-src 'self' {center}",
                f"connect-src 'self' {center}"
                if app.config["CONNECT_TO_CENTER"]
                else "connect-src 'self'",
                "frame-src 'self'",
                "img-src 'self' data:",
                "object-src 'none'",
                "base-uri 'none'",
            )
        )
        return response

    @app.get("/")
    def home() -> str:
        lang = request.args.get("lang", "en")
        return render_template(
            "demo/index.html",
            center=app.config["PRIVACY_CENTER_URL"],
            lang=lang if lang in LANGUAGES else "en",
        )

    @app.get("/embed/video")
    def video() -> str:
        return render_template("demo/video.html")

    @app.get("/collect")
    def collect() -> tuple[str, int]:
        return "", 204

    return app
