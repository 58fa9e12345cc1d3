"""Migrations build the whole schema on an empty database, and match the models."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from conftest import _postgres_database, _uses_postgres


@pytest.fixture
def empty_database_url(tmp_path):
    if _uses_postgres():
        yield from _postgres_database()
    else:
        yield "sqlite:///" + str(tmp_path / "empty.sqlite3")


def test_upgrade_on_empty_database_then_check(make_app, empty_database_url):
    app = make_app(SQLALCHEMY_DATABASE_URI=empty_database_url)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        from privacy_center.extensions import db

        tables = set(sa.inspect(db.engine).get_table_names())
        db.engine.dispose()
    assert {"alembic_version", "site"} <= tables
    check = runner.invoke(args=["db", "check"])
    assert check.exit_code == 0, check.output
    downgrade = runner.invoke(args=["db", "downgrade", "base"])
    assert downgrade.exit_code == 0, downgrade.output
    with app.app_context():
        assert "site" not in sa.inspect(db.engine).get_table_names()
        db.engine.dispose()
