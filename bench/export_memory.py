"""Memory and time of the data download for one person with 1,000,000 browsing events.

Budget (DESIGN.md): the streamed zip of one subject with 1,000,000 browsing events costs under
200 MB of memory, and time grows linearly with rows (time per row at 1M within 1.5x of the time
per row at 250k). Three subjects (250k, 500k and 1M events) are exported to /dev/null through
the real streaming code path (exports.services.stream_to_person, as the download view does),
each in a child process whose peak resident memory (getrusage's ru_maxrss) is measured against
its level once the application is loaded.

    python bench/export_memory.py [--database-url postgresql://...] [--rows 1000000]

Without --database-url, a SQLite file in a temporary folder; with it, the database is migrated
and the bench's subjects are deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import production_env

MEMORY_BUDGET_MB = 200
LINEARITY_BUDGET = 1.5


def rss_mb() -> float:
    # Linux reports ru_maxrss in kilobytes.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_app(database_url: str) -> Any:
    from privacy_center import create_app

    return create_app(overrides={"SQLALCHEMY_DATABASE_URI": database_url})


# --- the child: one export, measured ----------------------------------------------------------


def export_once(database_url: str, account_id: int) -> dict[str, float]:
    from privacy_center.connectors import get_connectors
    from privacy_center.content import get_content
    from privacy_center.exports.services import start_export, stream_to_person
    from privacy_center.extensions import db
    from privacy_center.models import Account

    app = load_app(database_url)
    with app.app_context():
        account = db.session.get(Account, account_id)
        baseline = rss_mb()
        started = time.perf_counter()
        export = start_export(
            db.session,
            account=account,
            language="fr",
            fee_acknowledged=True,
            operator=get_content().operator,
            connectors=get_connectors(),
        )
        size = 0
        with open(os.devnull, "wb") as sink:
            for chunk in stream_to_person(db.session, export.id, base_url="http://bench/"):
                sink.write(chunk)
                size += len(chunk)
        seconds = time.perf_counter() - started
        state = db.session.get(type(export), export.id).state
        db.engine.dispose()
    if state != "ready":
        raise SystemExit(f"the export ended {state!r}")
    peak = rss_mb()
    return {
        "seconds": seconds,
        "baseline_mb": baseline,
        "peak_mb": peak,
        "delta_mb": peak - baseline,
        "zip_mb": size / 2**20,
    }


# --- the parent: data, children, verdict ------------------------------------------------------


COLUMNS = "browsing_event (account_id, occurred_at, path, referrer, device)"


def insert_events(connection: Any, account_id: int, count: int, start: datetime) -> None:
    """Bulk insert through the driver: COPY on PostgreSQL, executemany on SQLite."""

    def rows(moment: Any) -> Any:
        for number in range(count):
            yield (
                account_id,
                moment(start + timedelta(seconds=number)),
                f"/services/{number % 500}?page={number % 7}",
                None if number % 3 else "https://www.example.org/",
                "mobile" if number % 2 else "desktop",
            )

    driver = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        with driver.cursor() as cursor, cursor.copy(f"COPY {COLUMNS} FROM STDIN") as copy:
            for row in rows(lambda value: value):
                copy.write_row(row)
    else:
        # How SQLAlchemy stores a UTC datetime in SQLite.
        cursor = driver.cursor()
        cursor.executemany(
            f"INSERT INTO {COLUMNS} VALUES (?, ?, ?, ?, ?)",  # noqa: S608
            rows(lambda value: value.strftime("%Y-%m-%d %H:%M:%S.%f")),
        )
        cursor.close()


def seed(database_url: str, sizes: list[int]) -> dict[int, int]:
    """One subject per size, each with that many browsing events; returns size -> account id."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from privacy_center.extensions import db
    from privacy_center.models import Account

    app = load_app(database_url)
    accounts: dict[int, int] = {}
    with app.app_context():
        upgrade()
        tag = secrets.token_hex(4)
        for size in sizes:
            account = Account(
                email=f"bench-{tag}-{size}@example.org", first_name="Zoé", last_name="Bench"
            )
            db.session.add(account)
            db.session.flush()
            accounts[size] = account.id
        db.session.commit()
        largest = max(sizes)
        start = datetime(2024, 1, 1, tzinfo=UTC)
        began = time.perf_counter()
        with db.engine.begin() as connection:
            insert_events(connection, accounts[largest], largest, start)
            # The smaller subjects get the first events of the largest one.
            for size in sizes:
                if size == largest:
                    continue
                connection.execute(
                    sa.text(
                        "INSERT INTO browsing_event (account_id, occurred_at, path, referrer, "
                        "device) SELECT :target, occurred_at, path, referrer, device "
                        "FROM browsing_event WHERE account_id = :source ORDER BY id LIMIT :size"
                    ),
                    {"target": accounts[size], "source": accounts[largest], "size": size},
                )
        print(f"seeded {sum(sizes):,} browsing events in {time.perf_counter() - began:.1f} s")
        db.engine.dispose()
    return accounts


def clean(database_url: str, accounts: dict[int, int]) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        for account_id in accounts.values():
            connection.execute(
                sa.text("DELETE FROM browsing_event WHERE account_id = :id"), {"id": account_id}
            )
            connection.execute(
                sa.text("DELETE FROM data_export WHERE account_id = :id"), {"id": account_id}
            )
            connection.execute(sa.text("DELETE FROM account WHERE id = :id"), {"id": account_id})
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary folder")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="pc-bench-export-") as folder:
        from privacy_center.config import database_url as normalise

        if arguments.child is not None:
            # The parent's settings and database, inherited through the environment.
            print(json.dumps(export_once(normalise(folder), arguments.child)))
            return 0
        database = arguments.database_url or f"sqlite:///{folder}/bench.sqlite3"
        os.environ.update(production_env(database, folder))
        url = normalise(folder)

        sizes = [arguments.rows // 4, arguments.rows // 2, arguments.rows]
        accounts = seed(url, sizes)
        results: dict[int, dict[str, float]] = {}
        try:
            for size in sizes:
                child = subprocess.run(
                    [sys.executable, __file__, "--child", str(accounts[size])],
                    capture_output=True,
                    text=True,
                    check=False,
                    env=os.environ,
                )
                if child.returncode != 0:
                    print(child.stderr, file=sys.stderr)
                    raise SystemExit(f"the export of {size:,} rows failed")
                results[size] = json.loads(child.stdout.strip().splitlines()[-1])
                figures = results[size]
                per_row = figures["seconds"] / size * 1e6
                print(
                    f"{size:>9,} rows: {figures['seconds']:6.1f} s, "
                    f"{per_row:5.2f} µs/row, zip {figures['zip_mb']:.1f} MB, "
                    f"memory +{figures['delta_mb']:.0f} MB (peak {figures['peak_mb']:.0f} MB, "
                    f"{figures['baseline_mb']:.0f} MB once loaded)"
                )
        finally:
            if arguments.database_url:
                clean(url, accounts)

    smallest, largest = sizes[0], sizes[-1]
    per_row = {size: results[size]["seconds"] / size for size in sizes}
    linearity = per_row[largest] / per_row[smallest]
    memory = max(figures["delta_mb"] for figures in results.values())
    passed = memory < MEMORY_BUDGET_MB and linearity <= LINEARITY_BUDGET
    print(
        f"memory: +{memory:.0f} MB at most (budget < {MEMORY_BUDGET_MB} MB); time per row at "
        f"{largest:,} vs {smallest:,}: {linearity:.2f}x (budget <= {LINEARITY_BUDGET}x): "
        f"{'PASS' if passed else 'FAIL'}"
    )
    print(
        json.dumps(
            [
                {
                    "budget": f"export {largest:,} rows (streamed zip): peak memory < "
                    f"{MEMORY_BUDGET_MB} MB",
                    "figure": f"+{memory:.0f} MB",
                    "pass": memory < MEMORY_BUDGET_MB,
                },
                {
                    "budget": f"export time linear in rows (per-row time at {largest:,} <= "
                    f"{LINEARITY_BUDGET}x that at {smallest:,})",
                    "figure": f"{linearity:.2f}x ({results[largest]['seconds']:.1f} s for "
                    f"{largest:,})",
                    "pass": linearity <= LINEARITY_BUDGET,
                },
            ]
        )
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
