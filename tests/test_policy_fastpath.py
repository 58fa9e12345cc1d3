"""Pre-rendered policy pages answered before Flask dispatches: same answer, no request context."""

from __future__ import annotations

import gzip

import pytest

IGNORED = {"Date", "Server"}


@pytest.fixture
def counted_app(make_app):
    """A fresh app that counts the requests Flask itself dispatched."""
    app = make_app()
    dispatched: list[str] = []

    @app.before_request
    def count() -> None:
        from flask import request

        dispatched.append(request.path)

    return app, dispatched


def headers_of(response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name not in IGNORED}


def test_second_request_is_served_without_dispatch_and_identically(counted_app):
    app, dispatched = counted_app
    client = app.test_client()
    request_headers = {"Accept-Language": "de", "Accept-Encoding": "gzip"}
    first = client.get("/policy", headers=request_headers)
    assert dispatched == ["/policy"]
    second = client.get("/policy", headers=request_headers)
    assert dispatched == ["/policy"], "the cached page went through Flask again"
    assert second.status_code == first.status_code == 200
    assert second.data == first.data
    assert headers_of(second) == headers_of(first)
    assert second.headers["Content-Encoding"] == "gzip"
    assert b'<html lang="de">' in gzip.decompress(second.data)
    assert "unsafe-inline" not in second.headers["Content-Security-Policy"]


def test_fast_path_negotiates_language_from_cookie_and_header(counted_app):
    app, dispatched = counted_app
    client = app.test_client()
    for language in ("fr", "en", "es", "de"):
        client.get("/policy", headers={"Accept-Language": language})
    dispatched.clear()
    assert b'lang="es"' in client.get("/policy", headers={"Accept-Language": "es-ES,es"}).data
    client.set_cookie("pc_lang", "en")
    assert b'lang="en"' in client.get("/policy", headers={"Accept-Language": "de"}).data
    assert dispatched == []


def test_fast_path_conditional_get_and_head(counted_app):
    app, dispatched = counted_app
    client = app.test_client()
    etag = client.get("/policy").headers["ETag"]
    dispatched.clear()
    not_modified = client.get("/policy", headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.data == b""
    assert "Content-Length" not in not_modified.headers
    head = client.head("/policy")
    assert head.status_code == 200 and head.data == b""
    assert int(head.headers["Content-Length"]) > 1000
    assert dispatched == []


def test_fast_path_adds_hsts_over_https(counted_app):
    app, _ = counted_app
    client = app.test_client()
    client.get("/policy", base_url="https://privacy.example")
    response = client.get("/policy", base_url="https://privacy.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Strict-Transport-Security" not in client.get("/policy").headers


def test_query_strings_and_other_methods_go_to_flask(counted_app):
    app, dispatched = counted_app
    client = app.test_client()
    client.get("/policy")
    dispatched.clear()
    response = client.get("/policy?lang=de")
    assert "pc_lang=de" in response.headers["Set-Cookie"]
    assert client.post("/policy").status_code in (400, 405)
    assert dispatched == ["/policy", "/policy"]
