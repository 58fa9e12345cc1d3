"""The retention run over 1,000,000 raw visit rows: rows per second and the longest transaction.

Budget (issue 7): a run over 1,000,000 visit rows older than 13 months works in batches without
holding long locks: every transaction it opens (measured on the database connection, from BEGIN
to COMMIT) lasts at most MAX_TRANSACTION_SECONDS, and afterwards nothing older than the limit is
left while the recent rows are all there.

    python bench/retention.py [--rows 1000000] [--batch-size 5000] [--admin-url postgresql://...]

It creates a throw-away PostgreSQL database (127.0.0.1:5432, user postgres, by default),
migrates it, loads the rows with COPY, runs the real executor (retention.services.run_retention
with the "raw-visits" rule of content/retention.yaml) and drops the database at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import production_env

MAX_TRANSACTION_SECONDS = 1.0
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
RECENT_ROWS = 10_000
COLUMNS = "browsing_event (account_id, occurred_at, path, referrer, device)"


def load_rows(connection: Any, account_id: int, old: int, recent: int, now: datetime) -> None:
    """``old`` rows between 2 and 3 years old, ``recent`` rows of the last month (COPY)."""
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(f"COPY {COLUMNS} FROM STDIN") as copy:
        start = now - timedelta(days=3 * 365)
        for number in range(old):
            copy.write_row(
                (account_id, start + timedelta(seconds=number * 31), f"/p/{number % 500}", None,
                 "mobile" if number % 2 else "desktop")
            )  # fmt: skip
        for number in range(recent):
            copy.write_row(
                (account_id, now - timedelta(minutes=number + 1), "/recent", None, "desktop")
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument(
        "--admin-url", default=os.environ.get("PC_BENCH_POSTGRES_ADMIN_URL", ADMIN_URL)
    )
    arguments = parser.parse_args()

    import sqlalchemy as sa

    admin = sa.create_engine(arguments.admin_url, isolation_level="AUTOCOMMIT")
    name = f"pc_bench_retention_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(arguments.admin_url).set(database=name)
    database_url = url.render_as_string(hide_password=False)
    try:
        with tempfile.TemporaryDirectory(prefix="pc-bench-retention-") as folder:
            os.environ.update(production_env(database_url, folder))
            return measure(database_url, arguments.rows, arguments.batch_size)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def measure(database_url: str, rows: int, batch_size: int) -> int:
    import sqlalchemy as sa
    from dateutil.relativedelta import relativedelta
    from flask_migrate import upgrade

    from privacy_center import create_app
    from privacy_center.content import get_content
    from privacy_center.extensions import db
    from privacy_center.models import Account, BrowsingEvent
    from privacy_center.retention.rules import enforced_rules
    from privacy_center.retention.services import run_retention
    from privacy_center.retention.steps import Context

    app = create_app(overrides={"SQLALCHEMY_DATABASE_URI": database_url})
    now = datetime.now(UTC)
    with app.app_context():
        upgrade()
        account = Account(email="bench@example.org", first_name="Zoé", last_name="Bench")
        db.session.add(account)
        db.session.commit()
        began = time.perf_counter()
        with db.engine.begin() as connection:
            load_rows(connection, account.id, rows, RECENT_ROWS, now)
        with db.engine.connect() as connection:
            connection.execute(sa.text("ANALYZE browsing_event"))
        print(f"loaded {rows:,} old and {RECENT_ROWS:,} recent visit rows in "
              f"{time.perf_counter() - began:.1f} s")  # fmt: skip

        # Every transaction on the engine's connections, BEGIN to COMMIT (or ROLLBACK).
        durations: list[float] = []
        opened: dict[int, float] = {}

        def begin(connection: Any) -> None:
            opened[id(connection)] = time.perf_counter()

        def end(connection: Any) -> None:
            started = opened.pop(id(connection), None)
            if started is not None:
                durations.append(time.perf_counter() - started)

        sa.event.listen(db.engine, "begin", begin)
        sa.event.listen(db.engine, "commit", end)
        sa.event.listen(db.engine, "rollback", end)

        rule = next(item for item in enforced_rules() if item.key == "raw-visits")
        context = Context(now=now, content=get_content(), settings=app.config)
        began = time.perf_counter()
        run = run_retention(db.session, [rule], context, batch_size=batch_size)
        seconds = time.perf_counter() - began
        status, results = run.status, run.results
        db.session.close()
        sa.event.remove(db.engine, "begin", begin)
        sa.event.remove(db.engine, "commit", end)
        sa.event.remove(db.engine, "rollback", end)

        step = results["raw-visits"]["deleted:browsing_event"]
        deleted, batches = step["count"], step["batches"]
        limit = now - relativedelta(months=13)
        left_old = db.session.scalar(
            sa.select(sa.func.count()).where(BrowsingEvent.occurred_at <= limit)
        )
        left_recent = db.session.scalar(sa.select(sa.func.count()).select_from(BrowsingEvent))
        db.session.close()
        db.engine.dispose()

    longest = max(durations)
    rate = deleted / seconds
    passed = (
        status == "completed"
        and deleted == rows
        and left_old == 0
        and left_recent == RECENT_ROWS
        and longest <= MAX_TRANSACTION_SECONDS
    )
    print(
        f"deleted {deleted:,} rows in {batches} batches of {batch_size:,} in {seconds:.1f} s: "
        f"{rate:,.0f} rows/s; {len(durations)} transactions, longest {longest * 1000:.0f} ms, "
        f"median {sorted(durations)[len(durations) // 2] * 1000:.0f} ms"
    )
    print(
        f"left older than 13 months: {left_old}; recent rows kept: {left_recent:,}/"
        f"{RECENT_ROWS:,}: {'PASS' if passed else 'FAIL'}"
    )
    print(
        json.dumps(
            {
                "budget": f"retention of {rows:,} visit rows: longest transaction <= "
                f"{MAX_TRANSACTION_SECONDS:.0f} s, nothing old left",
                "figure": f"{rate:,.0f} rows/s, longest transaction {longest * 1000:.0f} ms",
                "pass": passed,
            }
        )
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
