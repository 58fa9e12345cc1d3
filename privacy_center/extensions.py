"""Extensions, created unbound; ``create_app`` binds them to the application."""

import os

from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import Engine, MetaData, event
from sqlalchemy.orm import DeclarativeBase

from .ratelimit import RateLimiter

# Stable constraint names make migrations reviewable and portable between SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
babel = Babel()
csrf = CSRFProtect()
login_manager = LoginManager()
rate_limiter = RateLimiter()

# Every SQLite transaction takes the write lock at once (see configure_sqlite).
SQLITE_BEGIN = "BEGIN IMMEDIATE"


def sqlite_lock_path(engine: Engine, purpose: str) -> str | None:
    """A lock file beside the engine's SQLite database file; None when there is no such file."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    return f"{engine.url.database}.{purpose}-lock"


def sqlite_file_path(engine: Engine) -> str | None:
    """The SQLite database file of ``engine``; None in memory or with a ``file:`` URI (whose
    options SQLite reads itself)."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    if str(engine.url.query.get("uri", "")).lower() in ("1", "true"):
        return None
    return engine.url.database


def create_private_file(path: str) -> None:
    """Create ``path`` empty with mode 0600 (the umask can only take bits away), unless it
    exists; a missing folder is left to SQLite to report."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except (FileExistsError, FileNotFoundError):
        return
    os.close(descriptor)


def configure_sqlite(engine: Engine) -> None:
    """Make SQLite behave like a real transactional database.

    pysqlite starts transactions lazily and ignores SAVEPOINTs inside them; SQLAlchemy's documented
    fix is to let it do nothing and emit BEGIN ourselves. BEGIN IMMEDIATE takes the write lock at
    once: with several workers, a transaction that read first and writes later would otherwise
    fail at once with "database is locked" instead of waiting its turn. Foreign keys are off by
    default in SQLite.

    The database file is created readable and writable by its owner only (0600), like the keys
    (config.py): SQLite would create it 0644 (less the umask), and it gives the ``-wal``,
    ``-shm`` and ``-journal`` files the database file's own mode.
    """

    @event.listens_for(engine, "do_connect")
    def before_connect(dialect, connection_record, cargs, cparams):
        path = sqlite_file_path(engine)
        if path is not None:
            create_private_file(path)

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, connection_record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        # In WAL mode, NORMAL keeps every commit across an application crash; only a power
        # loss can take back the last ones. PostgreSQL is the production database.
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Receipts append to the same few pages at every commit, and a checkpoint copies a page
        # once however many commits changed it: one every 20,000 pages (a WAL of up to ~80 MB)
        # instead of SQLite's 1,000 writes and syncs the database file far less often.
        cursor.execute("PRAGMA wal_autocheckpoint=20000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        connection.exec_driver_sql(SQLITE_BEGIN)
