"""Issue 16, item 8: files on disk.

- The SQLite database and its ``-wal`` / ``-shm`` files are readable by their owner only
  (0600), like the keys: ``flask db upgrade`` on a fresh instance, run under a umask that takes
  nothing away (0000), leaves nobody else able to read the data of every person in it.
- ``flask demo seed`` refuses to run in production (it adds demo account holders with a known
  password) unless told ``--allow-production``: it says why, exits non-zero and writes nothing.

The commands run as an operator runs them: ``flask --app wsgi`` in a process of its own, with
the environment it reads (never the worktree's instance folder).
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import _postgres_database, _uses_postgres

from privacy_center import create_app
from privacy_center.extensions import db

PROJECT = Path(__file__).resolve().parent.parent
FLASK = Path(sys.executable).parent / "flask"


def _key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def run_flask(
    environment: str, database_url: str, folder: Path, *args: str, umask: int = 0o000
) -> subprocess.CompletedProcess[str]:
    """``flask --app wsgi ARGS`` in ``environment`` on ``database_url``, every other file it
    may write under ``folder``, with ``umask``."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(folder),
        "LANG": "C.UTF-8",
        "PC_ENV": environment,
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_hex(32),
        "TRUSTED_HOSTS": "privacy.example.com",
        "PC_IDENTITY_DOCUMENT_KEY": _key(),
        "PC_EXPORT_KEY": _key(),
        "PC_AUDIT_KEY": _key(),
        "PC_IDENTITY_DOCUMENT_DIR": str(folder / "identity-documents"),
        "PC_EXPORT_DIR": str(folder / "exports"),
        "PC_AUDIT_CHECKPOINT_FILE": str(folder / "audit-checkpoints.jsonl"),
        "MAIL_OUTBOX_DIR": str(folder / "outbox"),
    }
    # The umask is set by the shell that runs flask: it applies to that process only.
    command = ["sh", "-c", f'umask {umask:03o} && exec "$0" "$@"', str(FLASK), "--app", "wsgi"]
    return subprocess.run(
        [*command, *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- the SQLite files ----------------------------------------------------------------------------


def test_db_upgrade_on_a_fresh_instance_creates_the_database_for_its_owner_only(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    database = instance / "privacy_center.sqlite3"
    result = run_flask("development", f"sqlite:///{database}", tmp_path, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    # Under umask 0000 SQLite alone would have made it 0644: anyone on the machine reads it.
    assert mode(database) == 0o600

    # The write-ahead log and its index, while a connection of the application has them open.
    app = create_app("test", {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"})
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE probe (x INTEGER)"))
        connection.execute(sa.text("INSERT INTO probe VALUES (1)"))
        sidecars = [instance / f"{database.name}-wal", instance / f"{database.name}-shm"]
        assert all(path.exists() for path in sidecars)
        assert [oct(mode(path)) for path in sidecars] == [oct(0o600)] * 2
    with app.app_context():
        db.engine.dispose()
    # Nothing else in the instance folder is readable by others either.
    assert {path.name: oct(mode(path)) for path in instance.iterdir() if mode(path) & 0o077} == {}


def test_the_application_creates_its_sqlite_database_0600_whatever_the_umask(tmp_path):
    database = tmp_path / "fresh.sqlite3"
    app = create_app("test", {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"})
    previous = os.umask(0o000)
    try:
        with app.app_context():
            with db.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
            db.engine.dispose()
    finally:
        os.umask(previous)
    assert mode(database) == 0o600


def test_an_existing_database_keeps_the_mode_its_operator_gave_it(tmp_path):
    # Only creation is ours: an operator who shares the file with a backup group keeps it so.
    database = tmp_path / "shared.sqlite3"
    database.touch()
    database.chmod(0o640)
    app = create_app("test", {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"})
    with app.app_context():
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        db.engine.dispose()
    assert mode(database) == 0o640


# --- demo seed in production ---------------------------------------------------------------------


@pytest.fixture
def fresh_database_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of the backend under test (never the suite's shared one: the seed that
    is allowed commits)."""
    if _uses_postgres():
        yield from _postgres_database()
    else:
        yield f"sqlite:///{tmp_path / 'production.sqlite3'}"


def counts(database_url: str) -> dict[str, int]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return {
                table: connection.scalar(sa.select(sa.func.count()).select_from(sa.table(table)))
                for table in ("site", "account", "audience_statistic")
            }
    finally:
        engine.dispose()


def test_demo_seed_in_production_is_refused_and_changes_nothing(tmp_path, fresh_database_url):
    upgrade = run_flask("production", fresh_database_url, tmp_path, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    before = counts(fresh_database_url)
    assert before == {"site": 0, "account": 0, "audience_statistic": 0}

    refused = run_flask("production", fresh_database_url, tmp_path, "demo", "seed")
    assert refused.returncode != 0
    assert "refusing to load the demo operator in production" in refused.stderr
    assert "Nothing was changed" in refused.stderr and "--allow-production" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert counts(fresh_database_url) == before

    # Told explicitly, it runs: the refusal above is what kept the tables empty.
    allowed = run_flask(
        "production", fresh_database_url, tmp_path, "demo", "seed", "--allow-production"
    )
    assert allowed.returncode == 0, allowed.stderr
    seeded = counts(fresh_database_url)
    assert seeded["site"] >= 1 and seeded["account"] >= 1 and seeded["audience_statistic"] >= 1


def test_demo_seed_runs_in_development_without_the_flag(tmp_path, fresh_database_url):
    assert run_flask("development", fresh_database_url, tmp_path, "db", "upgrade").returncode == 0
    seeded = run_flask("development", fresh_database_url, tmp_path, "demo", "seed")
    assert seeded.returncode == 0, seeded.stderr
    assert counts(fresh_database_url)["site"] >= 1
