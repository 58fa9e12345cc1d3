"""Settings, read from the environment when the application is created."""

import os
import secrets
from pathlib import Path
from typing import ClassVar

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The application's static files (the Flask static folder, the widget's builds, PDF styles).
STATIC_DIR = Path(__file__).resolve().parent / "static"


class ConfigurationError(RuntimeError):
    """A setting is missing or wrong; the message says which and how to fix it."""


class Config:
    """Production settings: every secret must come from the environment."""

    ENVIRONMENT = "production"
    SQLALCHEMY_ENGINE_OPTIONS: ClassVar[dict[str, object]] = {"pool_pre_ping": True}
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "pc_session"
    PREFERRED_URL_SCHEME = "https"
    # Number of reverse proxies whose X-Forwarded-* headers are trusted (0: none).
    TRUSTED_PROXIES = 0
    # Seconds that browsers and CDNs may reuse a policy page before revalidating it.
    POLICY_MAX_AGE = 300
    # Static files carry a content fingerprint in their address (static_url), so browsers may
    # keep them for a year.
    SEND_FILE_MAX_AGE_DEFAULT = 365 * 24 * 3600
    LANGUAGE_COOKIE = "pc_lang"
    LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 3600
    CONTENT_DIR = str(PROJECT_ROOT / "content")
    BABEL_TRANSLATION_DIRECTORIES = str(PROJECT_ROOT / "translations")
    TESTING = False
    # Consent receipts a single address may post ("N per second|minute|hour|day").
    CONSENT_RATE_LIMIT = "60 per minute"
    # Receipts of concurrent requests share one transaction (consent/writer.py).
    RECEIPT_GROUP_COMMIT = True

    def __init__(self, instance_path: str) -> None:
        self.SQLALCHEMY_DATABASE_URI = database_url(instance_path)
        self.REDIS_URL = os.environ.get("REDIS_URL") or None
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        self.CONSENT_RATE_LIMIT = os.environ.get("CONSENT_RATE_LIMIT", self.CONSENT_RATE_LIMIT)
        # Origins allowed for every site besides those of content/operator.yaml (e.g. staging).
        self.CONSENT_EXTRA_ORIGINS = tuple(os.environ.get("CONSENT_EXTRA_ORIGINS", "").split())
        self.CONTENT_DIR = os.environ.get("CONTENT_DIR", self.CONTENT_DIR)
        self.TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", self.TRUSTED_PROXIES))
        self.SECRET_KEY = self.secret_key(instance_path)

    def secret_key(self, instance_path: str) -> str:
        key = os.environ.get("SECRET_KEY", "")
        if len(key) < 32:
            raise ConfigurationError(
                "SECRET_KEY is missing or shorter than 32 characters. In production set it in the "
                "environment, for example: export SECRET_KEY=$(python -c 'import secrets; "
                "print(secrets.token_hex(32))'). For local development set PC_ENV=development."
            )
        return key


class DevelopmentConfig(Config):
    """Local development: plain http, and a secret key kept under ``instance/``."""

    ENVIRONMENT = "development"
    SESSION_COOKIE_SECURE = False
    PREFERRED_URL_SCHEME = "http"

    def secret_key(self, instance_path: str) -> str:
        if os.environ.get("SECRET_KEY"):
            return super().secret_key(instance_path)
        key_file = Path(instance_path) / "dev-secret-key"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_hex(32))
            key_file.chmod(0o600)
        return key_file.read_text().strip()


class TestConfig(DevelopmentConfig):
    """The test suite; it passes the throw-away database's URL as an override."""

    ENVIRONMENT = "test"
    TESTING = True
    WTF_CSRF_ENABLED = True
    # Tests roll each one's writes back: receipts go through the test's session, except in the
    # tests of the group commit itself.
    RECEIPT_GROUP_COMMIT = False

    def secret_key(self, instance_path: str) -> str:
        return "test-" + "x" * 40


CONFIGS = {"production": Config, "development": DevelopmentConfig, "test": TestConfig}


def database_url(instance_path: str) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return "sqlite:///" + str(Path(instance_path) / "privacy_center.sqlite3")
    # Accept the common "postgres://" and "postgresql://" spellings; always use psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_config(name: str | None, instance_path: str) -> Config:
    name = name or os.environ.get("PC_ENV", "production")
    if name not in CONFIGS:
        raise ConfigurationError(
            f"PC_ENV={name!r} is not a known environment; use one of {', '.join(CONFIGS)}."
        )
    return CONFIGS[name](instance_path)
