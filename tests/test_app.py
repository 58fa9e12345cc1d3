"""Factory, settings and security defaults."""

from __future__ import annotations

import pytest
from flask import session

from privacy_center import create_app
from privacy_center.config import ConfigurationError, database_url


def test_production_refuses_to_start_without_secret_key(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="SECRET_KEY is missing"):
        create_app("production")
    monkeypatch.setenv("SECRET_KEY", "short")
    with pytest.raises(ConfigurationError, match="shorter than 32"):
        create_app("production")


def test_unknown_environment_is_refused():
    with pytest.raises(ConfigurationError, match="not a known environment"):
        create_app("staging")


def test_production_session_cookie_flags(monkeypatch, database_url, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("TRUSTED_HOSTS", "privacy.example")
    for name in ("IDENTITY_DOCUMENT", "EXPORT"):
        monkeypatch.setenv(f"PC_{name}_KEY", "A" * 43 + "=")
        monkeypatch.setenv(f"PC_{name}_DIR", str(tmp_path / name.lower()))
    monkeypatch.setenv("PC_AUDIT_KEY", "A" * 43 + "=")
    app = create_app("production", {"SQLALCHEMY_DATABASE_URI": database_url})

    @app.get("/set-session")
    def set_session():
        session["probe"] = 1
        return "ok"

    response = app.test_client().get("/set-session", base_url="https://privacy.example")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("pc_session=")
    for flag in ("Secure", "HttpOnly", "SameSite=Lax"):
        assert flag in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_database_url_defaults_to_sqlite_in_instance(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert database_url(str(tmp_path)) == f"sqlite:///{tmp_path}/privacy_center.sqlite3"
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db:5432/pc")
    assert database_url(str(tmp_path)) == "postgresql+psycopg://u:p@db:5432/pc"


def test_security_headers_on_every_response(client):
    for path in ("/policy", "/nowhere", "/policy/pdf", "/"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "Strict-Transport-Security" not in headers  # plain http in this test


def test_hsts_over_https(client):
    response = client.get("/policy", base_url="https://privacy.example")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_error_pages_are_translated(client):
    response = client.get("/nowhere?lang=de")
    assert response.status_code == 404
    assert '<html lang="de">' in response.data.decode()
    assert "Diese Seite existiert nicht" in response.data.decode()


def test_static_files_are_fingerprinted_and_cached(client):
    body = client.get("/policy?lang=en").data.decode()
    assert "/static/css/site.css?v=" in body
    response = client.get("/static/css/site.css")
    response.close()
    assert response.status_code == 200
    assert "max-age=31536000" in response.headers["Cache-Control"]


def test_production_answers_only_its_trusted_hosts(monkeypatch, database_url, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    for name in ("IDENTITY_DOCUMENT", "EXPORT"):
        monkeypatch.setenv(f"PC_{name}_KEY", "A" * 43 + "=")
        monkeypatch.setenv(f"PC_{name}_DIR", str(tmp_path / name.lower()))
    monkeypatch.setenv("PC_AUDIT_KEY", "A" * 43 + "=")
    monkeypatch.delenv("TRUSTED_HOSTS", raising=False)
    with pytest.raises(ConfigurationError, match="TRUSTED_HOSTS is missing"):
        create_app("production", {"SQLALCHEMY_DATABASE_URI": database_url})
    monkeypatch.setenv("TRUSTED_HOSTS", "privacy.example, www.privacy.example")
    app = create_app("production", {"SQLALCHEMY_DATABASE_URI": database_url})
    client = app.test_client()
    # A forged Host would otherwise end up in the links the privacy center mails.
    assert client.get("/policy?lang=en", base_url="https://evil.example").status_code == 400
    assert client.get("/policy?lang=en", base_url="https://www.privacy.example").status_code == 200
