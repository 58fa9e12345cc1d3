"""Settings, read from the environment when the application is created."""

import atexit
import base64
import binascii
import functools
import ipaddress
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, TypeVar

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
    # Addresses (or networks) of the reverse proxies whose X-Forwarded-* headers are believed,
    # by the application and by gunicorn alike (hosts.py, gunicorn.conf.py); empty: nobody's.
    TRUSTED_PROXIES: tuple[str, ...] = ()
    # Seconds that browsers and CDNs may reuse a policy page before revalidating it.
    POLICY_MAX_AGE = 300
    # The policy's PDFs are made ahead of time, in a thread started by the first request (every
    # version, every language) and kept on disk in POLICY_PDF_DIR (policy/pdfcache.py).
    POLICY_PDF_PRERENDER = True
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
    # Password sign-in attempts, counted per address and per email typed.
    LOGIN_RATE_LIMIT = "10 per minute"
    # Staff sign-in (staff/auth/): failed passwords or codes in a row before the member is
    # locked out for STAFF_LOCKOUT_MINUTES; minutes without a request before the console asks
    # to sign in again.
    STAFF_LOCKOUT_ATTEMPTS = 5
    STAFF_LOCKOUT_MINUTES = 15
    STAFF_IDLE_MINUTES = 30
    # Signed-in sessions (session_records.py): hours after signing in when a staff session ends
    # whatever the activity (besides the idle timeout), and when an account holder's does.
    STAFF_SESSION_HOURS = 12
    ACCOUNT_SESSION_HOURS = 24
    # Emailed sign-in links asked for, counted per address and per email typed.
    SIGN_IN_LINK_RATE_LIMIT = "5 per hour"
    # Rights requests filed (and "find my request" attempts) per address, and identity
    # documents uploaded per address (rights/views.py).
    REQUEST_RATE_LIMIT = "20 per hour"
    UPLOAD_RATE_LIMIT = "20 per hour"
    # Largest request body: an identity document of 10 MB plus the form around it. Bigger
    # bodies are refused (413) before they are read.
    MAX_CONTENT_LENGTH = 11 * 1024 * 1024
    # A request's status link works while the request is open and this many days after it is
    # closed, or after a fresh link is sent by "find my request" (rights/status_links.py).
    STATUS_LINK_DAYS_AFTER_CLOSE = 30
    # Copies of a person's data (exports/): one with more rows than this is prepared in the
    # background (jobs.py) and kept, encrypted, for EXPORT_LIFETIME_DAYS; a smaller one streams
    # at once. The summary (HTML, PDF) shows the first EXPORT_SUMMARY_ROWS rows of each category.
    EXPORT_INLINE_MAX_ROWS = 20_000
    EXPORT_LIFETIME_DAYS = 7
    EXPORT_SUMMARY_ROWS = 5
    # Copies a signed-in person may start.
    EXPORT_RATE_LIMIT = "10 per hour"
    # Receipts of concurrent requests share one transaction (consent/writer.py).
    RECEIPT_GROUP_COMMIT = True
    # The retention run (retention/): rows per batch (each batch is one short transaction), and
    # when the operator's scheduler runs it, as shown on the staff page (README: cron, systemd).
    RETENTION_BATCH_SIZE = 5000
    RETENTION_SCHEDULE = "daily at 03:30 (systemd timer privacy-center-retention.timer)"
    # Outgoing mail (mail.py): through MAIL_SERVER when it is set, otherwise written as .eml
    # files to MAIL_OUTBOX_DIR (development). MAIL_USE_TLS is STARTTLS, MAIL_USE_SSL implicit TLS.
    MAIL_PORT = 25
    MAIL_TIMEOUT = 10.0

    def __init__(self, instance_path: str) -> None:
        self.SQLALCHEMY_DATABASE_URI = database_url(instance_path)
        self.REDIS_URL = os.environ.get("REDIS_URL") or None
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        self.CONSENT_RATE_LIMIT = os.environ.get("CONSENT_RATE_LIMIT", self.CONSENT_RATE_LIMIT)
        self.LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", self.LOGIN_RATE_LIMIT)
        self.SIGN_IN_LINK_RATE_LIMIT = os.environ.get(
            "SIGN_IN_LINK_RATE_LIMIT", self.SIGN_IN_LINK_RATE_LIMIT
        )
        self.REQUEST_RATE_LIMIT = os.environ.get("REQUEST_RATE_LIMIT", self.REQUEST_RATE_LIMIT)
        self.UPLOAD_RATE_LIMIT = os.environ.get("UPLOAD_RATE_LIMIT", self.UPLOAD_RATE_LIMIT)
        # Origins allowed for every site besides those of content/operator.yaml (e.g. staging).
        self.CONSENT_EXTRA_ORIGINS = tuple(os.environ.get("CONSENT_EXTRA_ORIGINS", "").split())
        self.CONTENT_DIR = os.environ.get("CONTENT_DIR", self.CONTENT_DIR)
        self.TRUSTED_PROXIES = trusted_proxies(os.environ.get("TRUSTED_PROXIES", ""))
        self.SECRET_KEY = self.secret_key(instance_path)
        self.TRUSTED_HOSTS = self.trusted_hosts()
        # Identity documents, encrypted at rest (uploads/storage.py), outside the web root.
        self.IDENTITY_DOCUMENT_DIR = self.private_dir(instance_path, "identity-documents")
        self.IDENTITY_DOCUMENT_KEY = self.encryption_key(
            instance_path, "identity-documents", "it encrypts the identity documents people upload"
        )
        # The policy's PDFs, made once per version, language and content (policy/pdfcache.py).
        self.POLICY_PDF_DIR = self.policy_pdf_dir(instance_path)
        # Prepared copies of people's data, encrypted at rest with their own key (exports/).
        self.EXPORT_DIR = self.private_dir(instance_path, "exports")
        self.EXPORT_KEY = self.encryption_key(
            instance_path, "exports", "it encrypts the copies of people's data made for download"
        )
        # Keys replaced by a rotation, still read until `flask storage rotate-keys` has run.
        self.IDENTITY_DOCUMENT_PREVIOUS_KEYS = previous_keys("identity-documents")
        self.EXPORT_PREVIOUS_KEYS = previous_keys("exports")
        # The audit log's chain is sealed with HMAC-SHA256 under a key kept out of the database
        # (audit.py); rows sealed with a previous key are still checked with it. Checkpoints of
        # the chain's head go to a file outside the database too.
        self.AUDIT_KEY = self.encryption_key(
            instance_path,
            "audit",
            "it seals the audit log (HMAC-SHA256), so that no one without it can rewrite the log "
            "unnoticed",
        )
        self.AUDIT_PREVIOUS_KEYS = previous_keys("audit")
        self.AUDIT_CHECKPOINT_FILE = self.audit_checkpoint_file(instance_path)
        self.EXPORT_INLINE_MAX_ROWS = _env_number(
            "EXPORT_INLINE_MAX_ROWS", self.EXPORT_INLINE_MAX_ROWS
        )
        self.EXPORT_RATE_LIMIT = os.environ.get("EXPORT_RATE_LIMIT", self.EXPORT_RATE_LIMIT)
        self.RETENTION_BATCH_SIZE = _env_number("RETENTION_BATCH_SIZE", self.RETENTION_BATCH_SIZE)
        self.RETENTION_SCHEDULE = os.environ.get("RETENTION_SCHEDULE") or self.RETENTION_SCHEDULE
        self.STATUS_LINK_DAYS_AFTER_CLOSE = _env_number(
            "STATUS_LINK_DAYS_AFTER_CLOSE", self.STATUS_LINK_DAYS_AFTER_CLOSE
        )
        for name in (
            "STAFF_LOCKOUT_ATTEMPTS",
            "STAFF_LOCKOUT_MINUTES",
            "STAFF_IDLE_MINUTES",
            "STAFF_SESSION_HOURS",
            "ACCOUNT_SESSION_HOURS",
        ):
            setattr(self, name, _env_number(name, getattr(self, name)))
        # The test suite never mails anyone: it reads the outbox or runs its own SMTP server.
        self.MAIL_SERVER = None if self.TESTING else os.environ.get("MAIL_SERVER") or None
        self.MAIL_PORT = _env_number("MAIL_PORT", self.MAIL_PORT)
        self.MAIL_USE_TLS = _env_flag("MAIL_USE_TLS")
        self.MAIL_USE_SSL = _env_flag("MAIL_USE_SSL")
        if self.MAIL_USE_TLS and self.MAIL_USE_SSL:
            raise ConfigurationError(
                "MAIL_USE_TLS (STARTTLS, usually port 587) and MAIL_USE_SSL (implicit TLS, usually "
                "port 465) exclude each other: set only one."
            )
        self.MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
        self.MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
        self.MAIL_TIMEOUT = _env_number("MAIL_TIMEOUT", self.MAIL_TIMEOUT)
        # None: "<operator name> <no-reply@localhost>" (mail.default_sender).
        self.MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER") or None
        self.MAIL_OUTBOX_DIR = os.environ.get("MAIL_OUTBOX_DIR") or str(
            Path(instance_path) / "outbox"
        )

    def secret_key(self, instance_path: str) -> str:
        key = os.environ.get("SECRET_KEY", "")
        if len(key) < 32:
            raise ConfigurationError(
                "SECRET_KEY is missing or shorter than 32 characters. In production set it in the "
                "environment, for example: export SECRET_KEY=$(python -c 'import secrets; "
                "print(secrets.token_hex(32))'). For local development set PC_ENV=development."
            )
        return key

    def trusted_hosts(self) -> list[str] | None:
        # Emailed links (sign-in, confirmation, status, download) are built from the request's
        # host: a forged Host header would mail a victim a valid link to the attacker's site.
        hosts = os.environ.get("TRUSTED_HOSTS", "").replace(",", " ").split()
        if not hosts:
            raise ConfigurationError(
                "TRUSTED_HOSTS is missing: set the host names this privacy center answers to, "
                "for example: export TRUSTED_HOSTS=privacy.example.com. Requests for any other "
                "host are refused, so that no emailed link can point elsewhere."
            )
        return [host_name(host) for host in hosts]

    def private_dir(self, instance_path: str, name: str) -> str:
        """A folder of encrypted files (``PC_<NAME>_DIR``, default ``instance/<name>``), which
        must stay out of the static folder that the web server publishes."""
        variable = _variable(name, "DIR")
        directory = Path(os.environ.get(variable) or Path(instance_path) / name).resolve()
        if directory.is_relative_to(STATIC_DIR.resolve()):
            raise ConfigurationError(
                f"{variable}={str(directory)!r} is inside the static folder, which the web "
                "server publishes: choose a directory outside it."
            )
        return str(directory)

    def policy_pdf_dir(self, instance_path: str) -> str:
        """Where the policy's PDFs are kept once made (``PC_POLICY_PDF_DIR``, default
        ``instance/policy-pdf``): public documents, but written by the application only."""
        default = Path(instance_path) / "policy-pdf"
        return str(Path(os.environ.get("PC_POLICY_PDF_DIR") or default).resolve())

    def audit_checkpoint_file(self, instance_path: str) -> str:
        """Where the audit log's checkpoints are appended (``PC_AUDIT_CHECKPOINT_FILE``, default
        ``instance/audit-checkpoints.jsonl``)."""
        default = Path(instance_path) / "audit-checkpoints.jsonl"
        return str(Path(os.environ.get("PC_AUDIT_CHECKPOINT_FILE") or default).resolve())

    def encryption_key(self, instance_path: str, name: str, purpose: str) -> bytes:
        """A 256-bit key from ``PC_<NAME>_KEY`` (URL-safe base64 of 32 bytes)."""
        variable = _variable(name, "KEY")
        value = os.environ.get(variable, "")
        if not value:
            raise ConfigurationError(
                f"{variable} is missing: {purpose}. In production set it in the environment, for "
                f"example: export {variable}=$(python -c 'import base64, secrets; "
                "print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())'). Keep it "
                "safe: what it protects cannot be read or checked without it. For local "
                "development set PC_ENV=development."
            )
        return parse_document_key(value, variable)


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

    def trusted_hosts(self) -> list[str] | None:
        return super().trusted_hosts() if os.environ.get("TRUSTED_HOSTS") else None

    def encryption_key(self, instance_path: str, name: str, purpose: str) -> bytes:
        # Without the variable, a key made once and kept under instance/ (mode 0600).
        if os.environ.get(_variable(name, "KEY")):
            return super().encryption_key(instance_path, name, purpose)
        key_file = Path(instance_path) / ENCRYPTED_FOLDERS[name][1]
        if not key_file.exists():
            _create_key_file(key_file)
        return parse_document_key(key_file.read_text().strip(), str(key_file))


class TestConfig(DevelopmentConfig):
    """The test suite; it passes the throw-away database's URL as an override."""

    ENVIRONMENT = "test"
    TESTING = True
    WTF_CSRF_ENABLED = True
    # Tests roll each one's writes back: receipts go through the test's session, except in the
    # tests of the group commit itself.
    RECEIPT_GROUP_COMMIT = False
    # No background rendering of the policy's PDFs, unless a test turns it on.
    POLICY_PDF_PRERENDER = False

    def secret_key(self, instance_path: str) -> str:
        return "test-" + "x" * 40

    def private_dir(self, instance_path: str, name: str) -> str:
        return _test_dir(name)

    def encryption_key(self, instance_path: str, name: str, purpose: str) -> bytes:
        return _test_key()

    def policy_pdf_dir(self, instance_path: str) -> str:
        return _test_dir("policy-pdf")

    def audit_checkpoint_file(self, instance_path: str) -> str:
        # The `db` fixture gives each test a file of its own (its rows are rolled back).
        return str(Path(_test_dir("audit")) / "checkpoints.jsonl")


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


# What werkzeug accepts as a Host (a name or IPv4 address, or [IPv6], and a port), with the
# leading dot that stands for every subdomain.
HOST_NAME = re.compile(r"\.?(?:[a-z0-9][a-z0-9.-]*|\[[a-f0-9]*:[a-f0-9.:]+])(?::[1-9][0-9]{0,4})?")


def host_name(value: str) -> str:
    """One entry of TRUSTED_HOSTS, as browsers send it in ``Host`` (lower case, IDNA)."""
    dot = "." if value.startswith(".") else ""
    try:
        name = dot + value.removeprefix(".").lower().encode("idna").decode("ascii")
    except UnicodeError:
        name = ""
    if not HOST_NAME.fullmatch(name):
        raise ConfigurationError(
            f"TRUSTED_HOSTS: {value!r} is not a host name; write names such as "
            "privacy.example.com (or .example.com for every subdomain), separated by spaces."
        )
    return name


def trusted_proxies(value: str) -> tuple[str, ...]:
    """TRUSTED_PROXIES: the addresses or networks (CIDR) of the reverse proxies, separated by
    spaces or commas. The application (hosts.py) and gunicorn (``forwarded_allow_ips``, in
    gunicorn.conf.py) both read it through this function."""
    proxies = value.replace(",", " ").split()
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy)
        except ValueError:
            hint = (
                " It no longer counts proxies: name their addresses instead."
                if proxy.isdigit()
                else ""
            )
            raise ConfigurationError(
                f"TRUSTED_PROXIES: {proxy!r} is not an IP address or network.{hint} Set the "
                "addresses of the reverse proxies whose X-Forwarded-For, -Proto and -Host "
                "headers are to be believed, for example: export TRUSTED_PROXIES=127.0.0.1 or "
                "TRUSTED_PROXIES=10.0.0.0/24. Leave it empty when no proxy is in front."
            ) from None
    return tuple(proxies)


def parse_document_key(value: str, source: str) -> bytes:
    """The 32 bytes of an identity-document key written as URL-safe base64 (padding optional)."""
    try:
        key = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise ConfigurationError(
            f"{source} must be the URL-safe base64 of 32 random bytes (44 characters), for "
            "example the output of: python -c 'import base64, secrets; "
            "print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())'."
        )
    return key


def previous_keys(name: str) -> tuple[bytes, ...]:
    """The keys a folder's files may still be sealed with after a rotation
    (``PC_<NAME>_PREVIOUS_KEYS``: URL-safe base64 keys separated by spaces or commas)."""
    variable = _variable(name, "PREVIOUS_KEYS")
    values = os.environ.get(variable, "").replace(",", " ").split()
    return tuple(parse_document_key(value, variable) for value in values)


def document_key(config: Mapping[str, object]) -> bytes:
    """The identity documents' encryption key (32 bytes) from an application's settings."""
    value = config.get("IDENTITY_DOCUMENT_KEY")
    if isinstance(value, str):
        return parse_document_key(value, "IDENTITY_DOCUMENT_KEY")
    if isinstance(value, bytes) and len(value) == 32:
        return value
    raise ConfigurationError("IDENTITY_DOCUMENT_KEY must be 32 bytes (AES-256).")


def _create_key_file(key_file: Path) -> None:
    """Write a new key file (mode 0600) that appears complete or not at all; when two processes
    start at once, the first link wins and both use its key."""
    key_file.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=key_file.parent, prefix=".", suffix=".partial")
    try:
        with os.fdopen(fd, "w") as file:
            file.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode() + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.link(temporary, key_file)
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)


# Keys kept outside the database (the encrypted folders' and the audit log's): their environment
# variables' stem, and the development key file.
ENCRYPTED_FOLDERS = {
    "identity-documents": ("IDENTITY_DOCUMENT", "identity-document-key"),
    "exports": ("EXPORT", "export-key"),
    "audit": ("AUDIT", "audit-key"),
}


def _variable(name: str, suffix: str) -> str:
    """("identity-documents", "KEY") -> "PC_IDENTITY_DOCUMENT_KEY"."""
    return f"PC_{ENCRYPTED_FOLDERS[name][0]}_{suffix}"


@functools.cache
def _test_key() -> bytes:
    # One key per test process: whatever a test stores, no other run can read.
    return secrets.token_bytes(32)


@functools.cache
def _test_dir(name: str) -> str:
    # One throw-away directory per test process and kind, never the instance folder.
    directory = tempfile.mkdtemp(prefix=f"pc-{name}-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory


def _env_flag(name: str) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ConfigurationError(f"{name}={value!r}: use 1/true/yes/on or 0/false/no/off.")


Number = TypeVar("Number", int, float)


def _env_number(name: str, default: Number) -> Number:
    """A positive number of the default's type (a port is an int, a timeout may be 2.5)."""
    value = os.environ.get(name)
    if not value:
        return default
    try:
        number = type(default)(value)
    except ValueError:
        number = type(default)(0)
    if number <= 0:
        kind = "whole number" if isinstance(default, int) else "number"
        raise ConfigurationError(f"{name}={value!r}: expected a positive {kind}.")
    return number


def load_config(name: str | None, instance_path: str) -> Config:
    name = name or os.environ.get("PC_ENV", "production")
    if name not in CONFIGS:
        raise ConfigurationError(
            f"PC_ENV={name!r} is not a known environment; use one of {', '.join(CONFIGS)}."
        )
    return CONFIGS[name](instance_path)
